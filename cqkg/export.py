"""Serialise the built graph, deterministically.

Every format starts from the graph's N-Triples lines, sorted (blank nodes relabelled by
content); pyoxigraph's writers then only group and abbreviate, under a fixed prefix block. So
two builds of the same inputs are byte-identical and a diff of the graph shows only what changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import IO, Any

import pyoxigraph as ox

from .canonical import canonical_blank_nodes
from .errors import CqkgError
from .rdfstore import dump, serialize
from .terms import INFERRED_GRAPH, PREFIXES

FORMATS = {
    "turtle": ox.RdfFormat.TURTLE,
    "nt": ox.RdfFormat.N_TRIPLES,
    "nquads": ox.RdfFormat.N_QUADS,
    "trig": ox.RdfFormat.TRIG,
    "jsonld": ox.RdfFormat.JSON_LD,
}
DATASET_FORMATS = {"nquads", "trig"}


def sorted_lines(data: bytes) -> list[bytes]:
    """The non-empty lines of N-Triples/N-Quads, sorted (each triple's lines then sit together)."""
    lines = data.split(b"\n")
    lines.sort()
    return [ln for ln in lines if ln]


def graph_ntriples(store: ox.Store, graph: str | None = None) -> list[bytes]:
    """One graph (default graph when None) as sorted N-Triples lines, dumped natively.

    A store names blank nodes as it likes (a reload renames them), so lines with blank nodes
    are relabelled by a hash of what the node describes, keeping the output stable.
    """
    g = ox.DefaultGraph() if graph is None else ox.NamedNode(graph)
    lines = sorted_lines(dump(store, ox.RdfFormat.N_TRIPLES, g))
    blank = [ln for ln in lines if b"_:" in ln]
    if not blank:
        return lines
    triples = [
        t
        for t in ox.parse(b"\n".join(blank) + b"\n", format=ox.RdfFormat.N_TRIPLES)
        if isinstance(t.subject, ox.BlankNode) or isinstance(t.object, ox.BlankNode)
    ]
    if not triples:
        return lines  # "_:" only inside literals
    drop = {f"{t.subject} {t.predicate} {t.object} .".encode() for t in triples}
    relabelled = {f"{t.subject} {t.predicate} {t.object} .".encode() for t in canonical_blank_nodes(triples, None)}
    # The kept lines stay in order, so this sort only merges two sorted runs (linear, not n log n).
    kept = [ln for ln in lines if ln not in drop and ln not in relabelled]
    return sorted(kept + sorted(relabelled))


def graph_names(store: ox.Store, asserted_only: bool) -> list[str]:
    """The store's named graphs, sorted; without the inferred graph when `asserted_only`."""
    names = sorted(n.value for n in store.named_graphs())
    return [g for g in names if not (asserted_only and g == INFERRED_GRAPH)]


def asserted_ntriples(store: ox.Store) -> list[bytes]:
    """The union of the asserted graphs (ontology and sources), deduplicated, sorted."""
    lines = set()
    for g in graph_names(store, asserted_only=True):
        lines.update(graph_ntriples(store, g))
    return sorted(lines)


def _native(triples: Iterable[Any], fmt: ox.RdfFormat) -> bytes:
    """pyoxigraph's writer with our prefixes, its own prefix block replaced by the sorted one.

    The input is in sorted order, so the output is too; the writer only groups and abbreviates.
    """
    data = serialize(triples, fmt, PREFIXES)
    if fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.TRIG):
        head = "".join(f"@prefix {p}: <{PREFIXES[p]}> .\n" for p in sorted(PREFIXES)).encode() + b"\n"
        body = data
        while body.startswith(b"@prefix "):
            body = body[body.index(b"\n") + 1 :]
        data = head + body
    return data


def graph_triples(store: ox.Store, graph: str | None = None) -> list[ox.Triple]:
    """Triples of one graph of the store (the default graph when `graph` is None)."""
    g = ox.DefaultGraph() if graph is None else ox.NamedNode(graph)
    return [q.triple for q in store.quads_for_pattern(None, None, None, g)]


def named_graphs(store: ox.Store, asserted_only: bool) -> dict[str, list[ox.Triple]]:
    """One graph per source document and one for the ontology; inferred triples in their own graph."""
    return {g: graph_triples(store, g) for g in graph_names(store, asserted_only)}


def asserted_triples(store: ox.Store) -> list[ox.Triple]:
    """The asserted graphs' triples, deduplicated, in sorted order."""
    return list(ox.parse(b"\n".join(asserted_ntriples(store)) + b"\n", format=ox.RdfFormat.N_TRIPLES))


def export_bytes(store: ox.Store, fmt: str, asserted_only: bool = False) -> tuple[bytes, int]:
    """The built graph in `fmt`, deterministic, and the number of triples (or quads) in it."""
    if fmt not in FORMATS:
        raise CqkgError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt in DATASET_FORMATS:
        per_graph = [(g, graph_ntriples(store, g)) for g in graph_names(store, asserted_only)]
        n = sum(len(lines) for _, lines in per_graph)
        if fmt == "nquads":
            lines = sorted(ln[:-1] + f"<{g}> .".encode() for g, ls in per_graph for ln in ls)
            return b"\n".join(lines) + b"\n" if lines else b"", n

        def quads() -> Iterator[ox.Quad]:
            for g, lines in per_graph:
                name = ox.NamedNode(g)
                for t in ox.parse(b"\n".join(lines) + b"\n", format=ox.RdfFormat.N_TRIPLES):
                    yield ox.Quad(t.subject, t.predicate, t.object, name)

        return _native(quads(), ox.RdfFormat.TRIG), n
    lines = asserted_ntriples(store) if asserted_only else graph_ntriples(store)
    data = b"\n".join(lines) + b"\n" if lines else b""
    if fmt == "nt":
        return data, len(lines)
    return _native(ox.parse(data, format=ox.RdfFormat.N_TRIPLES), FORMATS[fmt]), len(lines)


def graph_bytes(store: ox.Store, graph: str | None, fmt: str = "turtle") -> bytes:
    """One graph of the store (the default graph when None) in a triple format, deterministic."""
    data = b"\n".join(graph_ntriples(store, graph)) + b"\n"
    return data if fmt == "nt" else _native(ox.parse(data, format=ox.RdfFormat.N_TRIPLES), FORMATS[fmt])


def triples_bytes(triples: Iterable[ox.Triple], fmt: str = "turtle") -> bytes:
    """Triples in a triple format, deterministic: sorted, blank nodes labelled by content."""
    data = "".join(sorted(f"{t.subject} {t.predicate} {t.object} .\n" for t in triples)).encode()
    store = ox.Store()
    store.bulk_load(data, format=ox.RdfFormat.N_TRIPLES)
    return graph_bytes(store, None, fmt)


def export(store: ox.Store, fmt: str, out: IO[str], asserted_only: bool = False) -> int:
    """Write the built graph in `fmt` to a text stream; returns the number of triples/quads."""
    data, n = export_bytes(store, fmt, asserted_only)
    out.write(data.decode("utf-8"))
    return n
