"""SPARQL text: the SERVICE check (a real parse), comments, and binding values for an endpoint.

The small tokenizer knows comments, strings, IRIs, words and braces: enough to find the WHERE
group for a VALUES block and to strip comments. Whether a query calls another endpoint is
decided by rdflib's SPARQL parser. The query text is never assembled from user input.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import CqkgError
from .footprint import Chain, query_footprint
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


Token = tuple[str, str, int]  # (kind, text, offset)


def tokens(text: str) -> Iterator[Token]:
    """(kind, text, offset) for each token: comment, string, iri, word, brace or other."""
    for m in _TOKEN.finditer(text):
        assert m.lastgroup is not None
        yield m.lastgroup, m.group(), m.start()


def significant_tokens(text: str) -> list[Token]:
    """The query's tokens without comments and white space."""
    return [(k, tok, pos) for k, tok, pos in tokens(text) if k != "comment" and not tok.isspace()]


def variable_at(toks: list[Token], i: int) -> str | None:
    """The name of the variable written at toks[i] (`?x` or `$x`), or None."""
    if toks[i][1] in ("?", "$") and i + 1 < len(toks) and toks[i + 1][0] == "word":
        return toks[i + 1][1]
    return None


def strip_comments(text: str) -> str:
    """The query without its comments (strings and IRIs that contain '#' are kept)."""
    return "".join(t for kind, t, _ in tokens(text) if kind != "comment")


class UncheckableQuery(CqkgError):
    """The query cannot be parsed, so whether it calls another endpoint cannot be told."""

    def __init__(self, line: int, column: int, reason: str):
        super().__init__(f"line {line}, column {column}: {reason}")
        self.line, self.column, self.reason = line, column, reason


@functools.lru_cache(maxsize=256)
def uses_service(text: str) -> bool:
    """True when the query has a SERVICE clause (a federated call to another endpoint).

    Decided from a real parse (rdflib's SPARQL 1.1 grammar), not from scanning the text: escapes
    in prefixed names, strings and comments with '#', nested groups and subqueries cannot hide a
    SERVICE, and a variable named ?service is not one. A query rdflib cannot parse raises
    UncheckableQuery: what cannot be read may call anything.
    """
    from pyparsing import ParseBaseException
    from rdflib.plugins.sparql.parser import parseQuery

    try:
        tree = parseQuery(text)
    except ParseBaseException as e:
        raise UncheckableQuery(e.lineno, e.col, e.msg) from None
    return _has_service(tree)


def _has_service(node: Any) -> bool:
    from pyparsing import ParseResults
    from rdflib.plugins.sparql.parserutils import CompValue

    todo = [node]
    while todo:
        n = todo.pop()
        if isinstance(n, CompValue):
            if n.name == "ServiceGraphPattern":
                return True
            todo.extend(n.values())
        elif isinstance(n, (list, tuple, ParseResults)):
            todo.extend(n)
    return False


class ServiceCheckCache:
    """Remembers uses_service() (and the footprint of a quality check) per query text in a JSON
    file, so a saved query is parsed (and rdflib imported, ~0.2-0.5 s) once, not on every run.

    >>> ServiceCheckCache(None).uses_service("SELECT * WHERE { ?s ?p ?o }")
    False
    """

    def __init__(self, path: Path | None):
        self.path = path
        self._known: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        if self._known is None:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8")) if self.path else {}
            except (OSError, ValueError):
                data = {}
            self._known = {k: v for k, v in data.items() if _cached(k, v)} if isinstance(data, dict) else {}
        return self._known

    def footprint(self, text: str) -> set[Chain] | None:
        """footprint.query_footprint(text), from the file when this text was analysed before."""
        key = "footprint:" + hashlib.sha256(text.encode()).hexdigest()
        known = self._load()
        if key not in known:
            chains = query_footprint(text)
            known[key] = None if chains is None else sorted(([list(s) for s in c] for c in chains), key=json.dumps)
            self._save()
        value = known[key]
        return None if value is None else {tuple((p, bool(f)) for p, f in chain) for chain in value}

    def uses_service(self, text: str) -> bool:
        """uses_service(text), from the file when this text was checked before."""
        key = hashlib.sha256(text.encode()).hexdigest()
        known = self._load()
        if key not in known:
            known[key] = uses_service(text)
            self._save()
        return known[key]

    def _save(self) -> None:
        if self.path is None:
            return
        try:  # a cache: if it cannot be written, the check simply runs again next time
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self._known, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            pass


def _cached(key: str, value: Any) -> bool:
    """Is this a well-formed entry of the cache file (a footprint, or a SERVICE check's answer)?"""
    if not key.startswith("footprint:"):
        return isinstance(value, bool)

    def step(s: Any) -> bool:
        return isinstance(s, list) and len(s) == 2 and isinstance(s[0], str | None) and isinstance(s[1], bool)

    chains = value if isinstance(value, list) else [] if value is None else [None]
    return all(isinstance(chain, list) and all(map(step, chain)) for chain in chains)


def with_values(text: str, bindings: dict[str, Term]) -> str:
    """Bind variables for an endpoint: a VALUES block at the start of the outer WHERE group.

    The terms are pyoxigraph terms already validated by Param.parse; str(term) is their
    N-Triples form with every special character escaped, so a value cannot end the block.

    >>> import pyoxigraph as ox
    >>> with_values("SELECT ?x WHERE { ?x ?p ?o }", {"x": ox.NamedNode("http://e/a")})
    'SELECT ?x WHERE { VALUES (?x) { (<http://e/a>) }  ?x ?p ?o }'

    A subquery is evaluated on its own, before the outer VALUES block can narrow it. Where the
    query's author knows that narrowing it changes nothing (its rows join the outer ones on that
    variable), the subquery says so with `VALUES ?x { UNDEF }`, which matches any value when the
    text is run as it is, and the value is put in its place:

    >>> with_values("SELECT ?x WHERE { { SELECT ?x WHERE { VALUES ?x { UNDEF } ?x ?p ?o } } }",
    ...             {"x": ox.NamedNode("http://e/a")})
    'SELECT ?x WHERE { VALUES (?x) { (<http://e/a>) }  { SELECT ?x WHERE { VALUES ?x { <http://e/a> } ?x ?p ?o } } }'
    """
    if not bindings:
        return text
    text = _fill_undef(text, bindings)
    seen_where = False
    for kind, tok, pos in tokens(text):
        if kind == "word" and tok.upper() == "WHERE":
            seen_where = True
        elif kind == "brace" and tok == "{" and seen_where:
            names = " ".join(f"?{k}" for k in bindings)
            vals = " ".join(str(v) for v in bindings.values())
            return f"{text[: pos + 1]} VALUES ({names}) {{ ({vals}) }} {text[pos + 1 :]}"
    raise CqkgError("cannot bind parameters: the query has no WHERE { ... } group")


def _fill_undef(text: str, bindings: dict[str, Term]) -> str:
    """Each `VALUES ?x { UNDEF }` of a bound variable ?x, with the value in place of UNDEF."""
    toks = significant_tokens(text)
    places: list[tuple[int, int, str]] = []
    for i in range(len(toks) - 5):
        (k0, t0, _), _, _, (_, t3, _), (k4, t4, pos), (_, t5, _) = toks[i : i + 6]
        var = variable_at(toks, i + 1)
        if k0 == "word" and t0.upper() == "VALUES" and var in bindings and t3 == "{":
            if k4 == "word" and t4.upper() == "UNDEF" and t5 == "}":
                places.append((pos, pos + len(t4), str(bindings[var])))
    for start, end, value in reversed(places):
        text = text[:start] + value + text[end:]
    return text
