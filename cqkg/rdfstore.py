"""Typed helpers over pyoxigraph's Store: a SELECT that returns solutions, a count, a dump to bytes."""

from __future__ import annotations

from typing import Any

import pyoxigraph as ox


def select(store: ox.Store, query: str, substitutions: dict[ox.Variable, Any] | None = None) -> ox.QuerySolutions:
    """The solutions of a SELECT query (a TypeError for ASK or CONSTRUCT, which callers never send).

    >>> s = ox.Store(); s.add(ox.Quad(ox.NamedNode("http://e/a"), ox.NamedNode("http://e/p"), ox.Literal("x")))
    >>> [r["o"].value for r in select(s, "SELECT ?o WHERE { ?s ?p ?o }")]
    ['x']
    """
    res = store.query(query, substitutions=substitutions)
    if not isinstance(res, ox.QuerySolutions):
        raise TypeError(f"not a SELECT query: {query[:60]!r}")
    return res


def count(store: ox.Store, query: str) -> int:
    """The integer in the first column of the first row of a `SELECT (COUNT(*) AS ?n)` query."""
    first = next(iter(select(store, query)))[0]
    assert first is not None
    return int(first.value)


def dump(store: ox.Store, fmt: ox.RdfFormat, graph: ox.NamedNode | ox.DefaultGraph | None = None) -> bytes:
    """A graph (or, with no graph and a dataset format, the whole store) serialised to bytes."""
    data = store.dump(format=fmt, from_graph=graph) if graph is not None else store.dump(format=fmt)
    assert data is not None  # no output stream was given, so pyoxigraph returns the bytes
    return data


def serialize(items: Any, fmt: ox.RdfFormat, prefixes: dict[str, str] | None = None) -> bytes:
    """Triples or quads serialised to bytes by pyoxigraph's writer."""
    data = ox.serialize(items, format=fmt, prefixes=prefixes)
    assert data is not None
    return data
