"""Scanning SPARQL text: comments, the SERVICE check, and binding values for an endpoint.

A small tokenizer that knows comments, strings, IRIs, words and braces: enough to find
keywords outside strings and comments. The query text is never assembled from user input.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from .errors import CqkgError
from .terms import Term

_TOKEN = re.compile(
    r"""
    (?P<comment>\#[^\n]*)
  | (?P<string>\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"|'''(?:[^'\\]|\\.|'(?!''))*'''
               |"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<brace>[{}])
  | (?P<other>.)
""",
    re.VERBOSE | re.DOTALL,
)


def tokens(text: str) -> Iterator[tuple[str, str, int]]:
    """(kind, text, offset) for each token: comment, string, iri, word, brace or other."""
    for m in _TOKEN.finditer(text):
        assert m.lastgroup is not None
        yield m.lastgroup, m.group(), m.start()


def strip_comments(text: str) -> str:
    """The query without its comments (strings and IRIs that contain '#' are kept)."""
    return "".join(t for kind, t, _ in tokens(text) if kind != "comment")


@functools.lru_cache(maxsize=256)  # checked before every run; tokenising costs ~0.1 ms
def uses_service(text: str) -> bool:
    """True when the query contains a SERVICE clause (a federated call to another endpoint)."""
    return any(kind == "word" and tok.upper() == "SERVICE" for kind, tok, _ in tokens(text))


def with_values(text: str, bindings: dict[str, Term]) -> str:
    """Bind variables for an endpoint: a VALUES block at the start of the outer WHERE group.

    The terms are pyoxigraph terms already validated by Param.parse; str(term) is their
    N-Triples form with every special character escaped, so a value cannot end the block.

    >>> import pyoxigraph as ox
    >>> with_values("SELECT ?x WHERE { ?x ?p ?o }", {"x": ox.NamedNode("http://e/a")})
    'SELECT ?x WHERE { VALUES (?x) { (<http://e/a>) }  ?x ?p ?o }'
    """
    if not bindings:
        return text
    seen_where = False
    for kind, tok, pos in tokens(text):
        if kind == "word" and tok.upper() == "WHERE":
            seen_where = True
        elif kind == "brace" and tok == "{" and seen_where:
            names = " ".join(f"?{k}" for k in bindings)
            vals = " ".join(str(v) for v in bindings.values())
            return f"{text[: pos + 1]} VALUES ({names}) {{ ({vals}) }} {text[pos + 1 :]}"
    raise CqkgError("cannot bind parameters: the query has no WHERE { ... } group")
