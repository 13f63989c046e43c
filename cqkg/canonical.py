"""Blank nodes labelled by what they describe, so output never depends on parse or store order."""

from __future__ import annotations

import hashlib

import pyoxigraph as ox

from .errors import CqkgError


def canonical_blank_nodes(triples: list[ox.Triple], skolem_base: str | None) -> list[ox.Triple]:
    """Relabel blank nodes by a hash of what they describe.

    With `skolem_base`, blank nodes become IRIs under it (data: claims can then be referenced in
    queries and in remote stores); without, they stay blank nodes with stable labels (ontology lists).

    >>> t = ox.Triple(ox.BlankNode(), ox.NamedNode("http://e/p"), ox.Literal("x"))
    >>> canonical_blank_nodes([t], "http://e/genid/")[0].subject.value
    'http://e/genid/bae83f3d9d59ddca'
    """
    out_edges: dict[ox.BlankNode, list[ox.Triple]] = {}
    for t in triples:
        if isinstance(t.subject, ox.BlankNode):
            out_edges.setdefault(t.subject, []).append(t)
    if not out_edges and not any(isinstance(t.object, ox.BlankNode) for t in triples):
        return triples
    digests: dict[ox.BlankNode, str] = {}

    def digest(node: ox.BlankNode, stack: tuple[ox.BlankNode, ...] = ()) -> str:
        if node in digests:
            return digests[node]
        if node in stack:
            raise CqkgError("blank nodes form a cycle; give one of them an IRI")
        parts = []
        for t in out_edges.get(node, []):
            o = t.object
            o_repr = "_:" + digest(o, (*stack, node)) if isinstance(o, ox.BlankNode) else str(o)
            parts.append(f"{t.predicate} {o_repr}")
        d = hashlib.sha1("\n".join(sorted(parts)).encode()).hexdigest()[:16]
        digests[node] = d
        return d

    def relabel(term):  # type: ignore[no-untyped-def]
        if not isinstance(term, ox.BlankNode):
            return term
        d = digest(term)
        return ox.NamedNode(skolem_base + d) if skolem_base else ox.BlankNode("b" + d)

    return [ox.Triple(relabel(t.subject), t.predicate, relabel(t.object)) for t in triples]
