"""The quote check: every fact's quote occurs verbatim (modulo whitespace) in its source's text."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from .sources import SourceIndex, Sources, normalise_text


@dataclass(frozen=True)
class QuoteProblem:
    """A quote that cannot be checked or is not in its text; `file` is the seed file of `node`."""

    node: str
    file: str
    message: str


def check_quotes(index: SourceIndex, src: Sources) -> list[QuoteProblem]:
    """Every quote must occur verbatim (modulo whitespace) in the text of one of its fact's sources.

    Also reports source documents whose text file cannot be read.
    """
    problems = [QuoteProblem(doc, src.file_of(doc), why) for doc, why in index.unreadable.items()]
    for node, qs in index.quotes.items():
        docs = index.documents_of(node)
        held = [index.texts[d] for d in docs if d in index.texts]
        for q in sorted(qs):
            quote = normalise_text(q)  # (once, not once per text)
            if not docs:
                message = "has a quote but no cqkg:source"
            elif not held:
                message = f"no text is held for source(s) {', '.join(sorted(docs))}"
            elif any(quote in text for text in held):
                continue
            else:
                message = f'quote not found in its source text: "{q[:120]}"; ' + nearest_passage(quote, held)
            problems.append(QuoteProblem(node, src.file_of(node), message))
    return problems


def nearest_passage(quote: str, texts: list[str]) -> str:
    """Where the quote goes wrong: the longest start of it that the text has, and the first
    character that differs; else the most similar sentence.

    >>> nearest_passage("Example Motors in Fixture City", ["Example Motors in Example District."])
    'the text has "Example Motors in Example …": they differ at character 19 (quote "F", text "E")'
    """
    best = (0, "", 0)
    for text in texts:
        lo, hi = 0, len(quote)  # the longest prefix of the quote that occurs in the text
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if quote[:mid] in text:
                lo = mid
            else:
                hi = mid - 1
        if lo > best[0]:
            best = (lo, text, text.find(quote[:lo]))
    n, text, at = best
    if n >= 8:
        shown = text[max(at, at + n - 60) : at + n + 8]
        return (f'the text has "{shown}…": they differ at character {n + 1} '
                f'(quote "{quote[n : n + 1]}", text "{text[at + n : at + n + 1]}")')  # fmt: skip
    sentences = [s for t in texts for s in re.split(r"(?<=[.!?。！？])\s*", t) if s]
    close = difflib.get_close_matches(quote, sentences, n=1, cutoff=0.4)
    return f'the nearest passage is "{close[0][:160]}"' if close else "no passage of the text is like it"
