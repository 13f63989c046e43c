"""RDF vocabulary, prefixes and term conversions: the one place namespaces are spelled out.

Kept light (pyoxigraph only; rdflib is imported inside the converters that need it), because
`cqkg query` imports this module on its hot path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

if TYPE_CHECKING:
    import rdflib

# Our namespaces.
CQKG = "https://w3id.org/cqkg/ontology#"
ID = "https://w3id.org/cqkg/id/"
SRC = "https://w3id.org/cqkg/source/"
GRAPH = "https://w3id.org/cqkg/graph/"
ONTOLOGY_GRAPH = GRAPH + "ontology"
INFERRED_GRAPH = GRAPH + "inferred"
ALL_GRAPH = GRAPH + "all"  # where `cqkg load` puts the whole graph, and what remote queries read
GENID = ID + "genid/"  # skolem IRIs of the blank nodes in seed files

# W3C and other vocabularies.
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"
SH = "http://www.w3.org/ns/shacl#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
DCTERMS = "http://purl.org/dc/terms/"

PREFIXES: dict[str, str] = {
    "cqkg": CQKG,
    "cq": ID,
    "obs": ID + "obs/",
    "genid": GENID,
    "src": SRC,
    "ind": "https://w3id.org/cqkg/indicator/",
    "unit": "https://w3id.org/cqkg/unit/",
    "period": "https://w3id.org/cqkg/period/",
    "owl": OWL,
    "rdf": RDF,
    "rdfs": RDFS,
    "xsd": XSD,
    "skos": SKOS,
    "dcterms": DCTERMS,
    "prov": "http://www.w3.org/ns/prov#",
    "org": "http://www.w3.org/ns/org#",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "qb": "http://purl.org/linked-data/cube#",
    "sh": SH,
}

RDF_TYPE = ox.NamedNode(RDF + "type")

Term = ox.NamedNode | ox.BlankNode | ox.Literal


def cqkg(name: str) -> ox.NamedNode:
    """A term of the cqkg ontology.

    >>> cqkg("quote").value
    'https://w3id.org/cqkg/ontology#quote'
    """
    return ox.NamedNode(CQKG + name)


def node_key(node: Any) -> str:
    """One spelling for a node whether it comes from pyoxigraph, rdflib or a plain string."""
    return getattr(node, "value", None) or str(node)


# --------------------------------------------------------------------------- IRIs

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_ABSOLUTE_IRI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s<>\"{}|^`\\]*$")


def expand_iri(text: str) -> ox.NamedNode:
    """An IRI written `<https://…>`, `https://…` or with one of our prefixes (`cq:Chongqing`).

    Raises ValueError saying why the text is not one.

    >>> expand_iri("cq:Chongqing").value
    'https://w3id.org/cqkg/id/Chongqing'
    """
    value = text.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    elif ":" in value and not _SCHEME.match(value):
        prefix, local = value.split(":", 1)
        if prefix not in PREFIXES:
            raise ValueError(f"unknown prefix {prefix!r}; known: {', '.join(sorted(PREFIXES))}")
        value = PREFIXES[prefix] + local
    if not _ABSOLUTE_IRI.match(value):
        raise ValueError("not an absolute IRI")
    return ox.NamedNode(value)  # raises ValueError for what the regex let through


# A conservative PN_LOCAL: anything else is written as a full IRI, which is always valid.
_SAFE_LOCAL = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_\-])?$")


class TermWriter:
    """Formats IRIs as Turtle, abbreviating them with the fixed prefix table.

    >>> TermWriter().iri("https://w3id.org/cqkg/ontology#quote")
    'cqkg:quote'
    """

    def __init__(self, prefixes: dict[str, str] = PREFIXES):
        # Longest namespace first so "cqkg:" wins over a shorter overlapping one.
        self._ns = sorted(((ns, p) for p, ns in prefixes.items()), key=lambda x: -len(x[0]))
        self._cache: dict[str, str] = {}

    def iri(self, value: str) -> str:
        """`prefix:local` when the local part is a safe Turtle name, else `<value>`."""
        out = self._cache.get(value)
        if out is None:
            out = f"<{value}>"
            for ns, prefix in self._ns:
                if value.startswith(ns) and _SAFE_LOCAL.match(value[len(ns) :]):
                    out = f"{prefix}:{value[len(ns) :]}"
                    break
            self._cache[value] = out
        return out


def compact(value: str) -> str:
    """An IRI with the longest matching prefix, for tables (no check that the rest is a valid name)."""
    for prefix, ns in _BY_LENGTH:
        if value.startswith(ns):
            return f"{prefix}:{value[len(ns) :]}"
    return value


_BY_LENGTH = sorted(PREFIXES.items(), key=lambda x: -len(x[1]))


# --------------------------------------------------------------------------- rdflib


def to_rdflib(term: Term) -> Any:
    """A pyoxigraph term as an rdflib term."""
    import rdflib

    if isinstance(term, ox.NamedNode):
        return rdflib.URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return rdflib.BNode(term.value)
    return rdflib.Literal(
        term.value, lang=term.language, datatype=None if term.language else rdflib.URIRef(term.datatype.value)
    )


def to_rdflib_graph(triples: Iterable[ox.Triple]) -> rdflib.Graph:
    """pyoxigraph triples as an rdflib Graph, without re-parsing text (terms converted once each)."""
    import rdflib

    cache: dict[Any, Any] = {}

    def conv(t: Any) -> Any:
        r = cache.get(t)
        if r is None:
            r = cache[t] = to_rdflib(t)
        return r

    g = rdflib.Graph()
    for t in triples:
        g.add((conv(t.subject), conv(t.predicate), conv(t.object)))
    return g


def from_rdflib(t: Any) -> Any:
    """An rdflib (or already pyoxigraph) term as a pyoxigraph term; None stays None."""
    if t is None or isinstance(t, (ox.NamedNode, ox.BlankNode, ox.Literal)):
        return t
    import rdflib

    if isinstance(t, rdflib.URIRef):
        return ox.NamedNode(str(t))
    if isinstance(t, rdflib.BNode):
        return ox.BlankNode(str(t))
    if t.language:
        return ox.Literal(str(t), language=t.language)
    return ox.Literal(str(t), datatype=ox.NamedNode(str(t.datatype or XSD + "string")))


# --------------------------------------------------------------------------- SPARQL JSON results


def term_from_json(b: dict[str, Any] | None) -> Term | None:
    """A SPARQL 1.1 JSON results binding as a pyoxigraph term (None when unbound).

    Raises ValueError for a binding that is not a valid term (a non-IRI `uri`, no `value`).
    """
    if b is None:
        return None
    if not isinstance(b, dict) or not isinstance(b.get("value"), str):
        raise ValueError(f"binding without a string value: {str(b)[:80]}")
    kind, value = b.get("type"), b["value"]
    if kind == "uri":
        return ox.NamedNode(value)
    if kind == "bnode":
        return ox.BlankNode(value)
    if kind not in ("literal", "typed-literal"):
        raise ValueError(f"unknown term type {kind!r}")
    if "xml:lang" in b:
        return ox.Literal(value, language=b["xml:lang"])
    return ox.Literal(value, datatype=ox.NamedNode(b.get("datatype", XSD + "string")))


def term_to_json(t: Term) -> dict[str, str]:
    """A pyoxigraph term as a SPARQL 1.1 JSON results binding."""
    if isinstance(t, ox.NamedNode):
        return {"type": "uri", "value": t.value}
    if isinstance(t, ox.BlankNode):
        return {"type": "bnode", "value": t.value}
    d = {"type": "literal", "value": t.value}
    if t.language:
        d["xml:lang"] = t.language
    elif t.datatype.value != XSD + "string":
        d["datatype"] = t.datatype.value
    return d
