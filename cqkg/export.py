"""Serialise the built graph: deterministic Turtle/TriG written here, other formats via pyoxigraph.

The Turtle writer sorts subjects, predicates and objects by their N-Triples form and always
declares the same prefixes, so two builds of the same inputs are byte-identical and a diff of
the graph shows only what changed.
"""
from __future__ import annotations

import re
from typing import IO, Iterable

import pyoxigraph as ox

from .project import INFERRED_GRAPH, PREFIXES, CqkgError

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"

FORMATS = {
    "turtle": ox.RdfFormat.TURTLE,
    "nt": ox.RdfFormat.N_TRIPLES,
    "nquads": ox.RdfFormat.N_QUADS,
    "trig": ox.RdfFormat.TRIG,
    "jsonld": ox.RdfFormat.JSON_LD,
}
DATASET_FORMATS = {"nquads", "trig"}

# A conservative PN_LOCAL: anything else is written as a full IRI, which is always valid.
_SAFE_LOCAL = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_\-])?$")


class TermWriter:
    """Formats pyoxigraph terms as Turtle, abbreviating IRIs with the fixed prefix table."""

    def __init__(self, prefixes: dict[str, str] = PREFIXES):
        # Longest namespace first so "cqkg:" wins over a shorter overlapping one.
        self._ns = sorted(((ns, p) for p, ns in prefixes.items()), key=lambda x: -len(x[0]))
        self._cache: dict[str, str] = {}

    def iri(self, value: str) -> str:
        out = self._cache.get(value)
        if out is None:
            out = f"<{value}>"
            for ns, prefix in self._ns:
                if value.startswith(ns) and _SAFE_LOCAL.match(value[len(ns):]):
                    out = f"{prefix}:{value[len(ns):]}"
                    break
            self._cache[value] = out
        return out

    def term(self, t) -> str:
        if isinstance(t, ox.NamedNode):
            return self.iri(t.value)
        if isinstance(t, ox.BlankNode):
            return str(t)
        if isinstance(t, ox.Literal):
            quoted = str(ox.Literal(t.value))
            if t.language:
                return f"{quoted}@{t.language}"
            if t.datatype.value == XSD_STRING:
                return quoted
            return f"{quoted}^^{self.iri(t.datatype.value)}"
        raise CqkgError(f"unsupported RDF term {t!r}")


def _sort_key(t) -> tuple:
    # Subjects: IRIs before blank nodes; objects: IRIs, blank nodes, then literals.
    if isinstance(t, ox.NamedNode):
        return (0, t.value, "", "")
    if isinstance(t, ox.BlankNode):
        return (1, t.value, "", "")
    return (2, t.value, t.datatype.value if t.datatype else "", t.language or "")


def write_turtle_block(triples: Iterable, out: IO[str], w: TermWriter, indent: str = "") -> int:
    """Write triples grouped by subject, sorted; returns how many were written."""
    rows = sorted(
        triples,
        key=lambda t: (
            _sort_key(t.subject),
            t.predicate.value != RDF_TYPE,
            t.predicate.value,
            _sort_key(t.object),
        ),
    )
    n = len(rows)
    i = 0
    while i < n:
        subj = rows[i].subject
        lines = []
        j = i
        while j < n and rows[j].subject == subj:
            pred = rows[j].predicate
            objs = []
            while j < n and rows[j].subject == subj and rows[j].predicate == pred:
                objs.append(w.term(rows[j].object))
                j += 1
            p = "a" if pred.value == RDF_TYPE else w.iri(pred.value)
            lines.append(f"{indent}    {p} " + f" ,\n{indent}        ".join(objs))
        out.write(f"{indent}{w.term(subj)}\n" + " ;\n".join(lines) + " .\n\n")
        i = j
    return n


def write_prefixes(out: IO[str]) -> None:
    for prefix in sorted(PREFIXES):
        out.write(f"@prefix {prefix}: <{PREFIXES[prefix]}> .\n")
    out.write("\n")


def write_turtle(triples: Iterable, out: IO[str]) -> int:
    write_prefixes(out)
    return write_turtle_block(triples, out, TermWriter())


def write_trig(graphs: dict[str, list], out: IO[str]) -> int:
    """`graphs` maps a graph IRI to its triples; graphs are written in IRI order."""
    write_prefixes(out)
    w = TermWriter()
    n = 0
    for name in sorted(graphs):
        out.write(f"{w.iri(name)} {{\n\n")
        n += write_turtle_block(graphs[name], out, w, indent="    ")
        out.write("}\n\n")
    return n


def _ntriples_line(q, with_graph: bool) -> str:
    parts = [str(q.subject), str(q.predicate), str(q.object)]
    if with_graph and not isinstance(q.graph_name, ox.DefaultGraph):
        parts.append(str(q.graph_name))
    return " ".join(parts) + " .\n"


def graph_triples(store: ox.Store, graph=None) -> list:
    """Triples of one graph of the store (the default graph when `graph` is None)."""
    g = ox.DefaultGraph() if graph is None else ox.NamedNode(graph)
    return [q.triple for q in store.quads_for_pattern(None, None, None, g)]


def named_graphs(store: ox.Store, asserted_only: bool) -> dict[str, list]:
    """One graph per source document and one for the ontology; inferred triples in their own graph."""
    graphs = {g: graph_triples(store, g) for g in sorted(n.value for n in store.named_graphs())}
    if asserted_only:
        graphs.pop(INFERRED_GRAPH, None)
    return graphs


def asserted_triples(store: ox.Store) -> list:
    seen = set()
    for name, triples in named_graphs(store, asserted_only=True).items():
        seen.update(triples)
    return list(seen)


def export(store: ox.Store, fmt: str, out: IO[str], asserted_only: bool = False) -> int:
    """Write the built graph in `fmt`; returns the number of triples/quads written."""
    if fmt not in FORMATS:
        raise CqkgError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt in DATASET_FORMATS:
        graphs = named_graphs(store, asserted_only)
        if fmt == "trig":
            return write_trig(graphs, out)
        lines = sorted(
            _ntriples_line(ox.Quad(t.subject, t.predicate, t.object, ox.NamedNode(g)), True)
            for g, triples in graphs.items()
            for t in triples
        )
        out.writelines(lines)
        return len(lines)
    triples = asserted_triples(store) if asserted_only else graph_triples(store)
    if fmt == "turtle":
        return write_turtle(triples, out)
    if fmt == "nt":
        lines = sorted(_ntriples_line(t, False) for t in triples)
        out.writelines(lines)
        return len(lines)
    # JSON-LD: pyoxigraph's writer, fed in sorted order so the output is stable.
    triples.sort(key=lambda t: (_sort_key(t.subject), t.predicate.value, _sort_key(t.object)))
    data = ox.serialize(triples, format=FORMATS[fmt], prefixes=PREFIXES)
    out.write(data.decode("utf-8"))
    return len(triples)
