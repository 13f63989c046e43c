"""The quote check: every fact's quote occurs verbatim (modulo whitespace) in its source's text."""

from __future__ import annotations

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
            if not docs:
                message = "has a quote but no cqkg:source"
            elif not held:
                message = f"no text is held for source(s) {', '.join(sorted(docs))}"
            elif any(normalise_text(q) in text for text in held):
                continue
            else:
                message = f'quote not found in its source text: "{q[:120]}"'
            problems.append(QuoteProblem(node, src.file_of(node), message))
    return problems
