"""Targeted OWL 2 RL materialisation of the rules our ontology uses.

owlrl computes the full RL closure in Python (~50 s at 100k triples). The ontology only relies on
a handful of rules, so we compute the schema closure once in Python and run each instance-level
rule as one SPARQL update with a VALUES table inside pyoxigraph, running a rule again only
while rules after it add triples it reads. tests/test_reason.py checks the result equals owlrl's
instance-level closure (the reference reasoner lives in tests/owlrl_reference.py).

Rules (OWL 2 RL names): cax-sco, cax-eqc1/2 (via the subclass closure), prp-dom, prp-rng,
prp-spo1, prp-eqp1/2, prp-inv1/2, prp-symp, prp-trp, prp-spo2 (property chains of any length).
Functional properties are accepted only with a SHACL `sh:maxCount 1` on them (prp-fp would make
two values owl:sameAs; the shapes reject the data instead). Every other OWL construct, and
owl:sameAs in the data, is refused by unsupported_axioms(), naming the axiom: a reasoner that
silently ignores an axiom gives answers that look complete and are not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox

from .errors import CqkgError
from .rdfstore import count, select
from .terms import INFERRED_GRAPH, OWL, RDF, RDFS, SH


class Schema:
    """The schema-level closure, computed from the triples of the default graph."""

    def __init__(self, store: ox.Store):
        def pairs(query: str) -> list[tuple[Any, Any]]:
            return [(r[0], r[1]) for r in select(store, query)]

        sub_class = pairs(f"""SELECT ?a ?b WHERE {{
            {{ ?a <{RDFS}subClassOf> ?b }} UNION {{ ?a <{OWL}equivalentClass> ?b }}
            UNION {{ ?b <{OWL}equivalentClass> ?a }} FILTER(isIRI(?a) && isIRI(?b)) }}""")
        sub_prop = pairs(f"""SELECT ?a ?b WHERE {{
            {{ ?a <{RDFS}subPropertyOf> ?b }} UNION {{ ?a <{OWL}equivalentProperty> ?b }}
            UNION {{ ?b <{OWL}equivalentProperty> ?a }} FILTER(isIRI(?a) && isIRI(?b)) }}""")
        self.super_classes = _closure(sub_class)
        self.super_props = _closure(sub_prop)
        self.domain = pairs(f"SELECT ?p ?c WHERE {{ ?p <{RDFS}domain> ?c FILTER(isIRI(?c)) }}")
        self.range = pairs(f"SELECT ?p ?c WHERE {{ ?p <{RDFS}range> ?c FILTER(isIRI(?c)) }}")
        inv = pairs(f"SELECT ?p ?q WHERE {{ ?p <{OWL}inverseOf> ?q }}")
        self.inverse = sorted(set(inv) | {(q, p) for p, q in inv}, key=str)
        self.symmetric = [r[0] for r in select(store, f"SELECT ?p WHERE {{ ?p a <{OWL}SymmetricProperty> }}")]
        self.transitive = [r[0] for r in select(store, f"SELECT ?p WHERE {{ ?p a <{OWL}TransitiveProperty> }}")]
        self.chains: list[tuple[Any, list[Any]]] = []  # (super-property, [links]) of any length
        for r in select(store, f"SELECT ?r ?l WHERE {{ ?r <{OWL}propertyChainAxiom> ?l }}"):
            links = _rdf_list(store, r[1])
            if links is not None and len(links) >= 2 and all(isinstance(p, ox.NamedNode) for p in links):
                self.chains.append((r[0], links))
        self.chains.sort(key=str)


def _rdf_list(store: ox.Store, head: Any) -> list[Any] | None:
    """The members of an RDF list in the default graph, or None when it is malformed."""
    out: list[Any] = []
    nil = ox.NamedNode(RDF + "nil")
    while head != nil:
        first = [q.object for q in store.quads_for_pattern(head, ox.NamedNode(RDF + "first"), None, ox.DefaultGraph())]
        rest = [q.object for q in store.quads_for_pattern(head, ox.NamedNode(RDF + "rest"), None, ox.DefaultGraph())]
        if len(first) != 1 or len(rest) != 1 or len(out) > 1000:
            return None
        out.append(first[0])
        head = rest[0]
    return out


def _closure(pairs: list[tuple[Any, Any]]) -> dict[Any, set[Any]]:
    """Reflexive-free transitive closure: node -> every strict ancestor."""
    parents: dict[Any, set[Any]] = {}
    for a, b in pairs:
        if a != b:
            parents.setdefault(a, set()).add(b)
    out = {}
    for start in parents:
        seen, todo = set(), list(parents[start])
        while todo:
            n = todo.pop()
            if n not in seen and n != start:
                seen.add(n)
                todo.extend(parents.get(n, ()))
        out[start] = seen
    return out


def _values(variables: str, rows: Iterable[Iterable[Any]]) -> str:
    body = " ".join("(" + " ".join(str(t) for t in row) + ")" for row in rows)
    return f"VALUES ({variables}) {{ {body} }}"


@dataclass(frozen=True)
class Rule:
    """One rule as a SPARQL update, with the predicates it reads and writes (for scheduling)."""

    update: str
    ask: str  # would the update add a triple?
    reads: frozenset
    writes: frozenset
    closed: bool = True  # one run also derives everything its own output implies by this rule
    typing: bool = False  # prp-dom / prp-rng


def rules(schema: Schema, typing: bool = True, record: str | None = None) -> list[Rule]:
    """One update per rule, in dependency order; each inserts into the default and the inferred graph
    (and into the graph `record`, when given).

    typing=False leaves out prp-dom and prp-rng (types from domains and ranges).
    """
    graphs = [INFERRED_GRAPH] + ([record] if record else [])
    rdf_type = ox.NamedNode(RDF + "type")
    out = []

    def add(template: str, where: str, reads: Iterable[Any], writes: Iterable[Any], **kw: bool) -> None:
        into = " ".join(f"GRAPH <{g}> {{ {template} }}" for g in graphs)
        new = f"{where} FILTER NOT EXISTS {{ {template} }}"
        update = f"INSERT {{ {template} {into} }} WHERE {{ {new} }}"
        out.append(Rule(update, f"ASK {{ {new} }}", frozenset(reads), frozenset(writes), **kw))

    sub_prop = [(p, q) for p, qs in schema.super_props.items() for q in sorted(qs, key=str)]
    if sub_prop:  # closed: the super-properties are already the transitive closure
        add(
            "?x ?q ?y .", f"{_values('?p ?q', sub_prop)} ?x ?p ?y .", {p for p, _ in sub_prop}, {q for _, q in sub_prop}
        )
    if schema.inverse:  # closed: the pairs hold both directions
        add(
            "?y ?q ?x .",
            f"{_values('?p ?q', schema.inverse)} ?x ?p ?y . FILTER(!isLiteral(?y))",
            {p for p, _ in schema.inverse},
            {q for _, q in schema.inverse},
        )
    if schema.symmetric:
        add(
            "?y ?p ?x .",
            f"{_values('?p', [(p,) for p in schema.symmetric])} ?x ?p ?y . FILTER(!isLiteral(?y))",
            schema.symmetric,
            schema.symmetric,
        )
    for p in schema.transitive:  # closed: the property path follows chains of any length
        add(f"?x {p} ?z .", f"?x {p} ?y . ?y {p}+ ?z .", {p}, {p})
    two = [(r, links[0], links[1]) for r, links in schema.chains if len(links) == 2]
    if two:  # the common case, one update for all of them
        add(
            "?x ?r ?z .",
            f"{_values('?r ?p ?q', two)} ?x ?p ?y . ?y ?q ?z .",
            {t for _, p, q in two for t in (p, q)},
            {r for r, _, _ in two},
            closed=False,
        )
    for r, links in schema.chains:  # longer chains, one update each
        if len(links) > 2:
            steps = " ".join(f"?y{i} {p} ?y{i + 1} ." for i, p in enumerate(links))
            add(f"?y0 {r} ?y{len(links)} .", steps, set(links), {r}, closed=False)
    types, reads = [], set()
    if typing and schema.domain:
        types.append(f"{{ {_values('?p ?c', schema.domain)} ?x ?p ?o . }}")
        reads |= {p for p, _ in schema.domain}
    if typing and schema.range:
        types.append(f"{{ {_values('?p ?c', schema.range)} ?o ?p ?x . FILTER(!isLiteral(?x)) }}")
        reads |= {p for p, _ in schema.range}
    if types:
        add(f"?x <{RDF}type> ?c .", " UNION ".join(types), reads, {rdf_type}, closed=False, typing=True)
    sub_class = [(c, d) for c, ds in schema.super_classes.items() for d in sorted(ds, key=str)]
    if sub_class:  # closed: the super-classes are already the transitive closure
        add(f"?x <{RDF}type> ?d .", f"{_values('?c ?d', sub_class)} ?x <{RDF}type> ?c .", {rdf_type}, {rdf_type})
    return out


def inferred_count(store: ox.Store) -> int:
    """Triples in the inferred graph."""
    return count(store, f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{INFERRED_GRAPH}> {{ ?s ?p ?o }} }}")


def materialise(
    store: ox.Store, typing: bool = True, untyped_done: bool = False, max_rounds: int = 50, record: str | None = None
) -> int:
    """Add the inferred triples to the default graph (and the inferred graph); return how many.

    The build first runs with typing=False and validates that: with domain and range typing,
    every sh:class check on a property with a declared range would pass whatever the data says
    (a cluster "memberOf" a district would make the district a grouping). Then it runs again
    with typing=True and untyped_done=True (the store is closed under the other rules already)
    to complete the closure that queries and exports see.

    Rules run in order, and a rule runs again only when a later one added triples with a
    predicate it reads (semi-naive evaluation at the level of rules). Whether a rule adds
    anything is an ASK of its pattern before its update (an ASK stops at the first new triple;
    when there is none, the update would have read as much): counting the inferred graph after
    each rule cost ~1 s of a 1M build. Repeating every rule until
    a whole round adds nothing cost a full extra round of scans (~0.7 s per million triples),
    and the typing pass re-ran rules whose input had not changed.

    `record` names a graph that also receives what this call adds: the build keeps the typing
    pass's triples apart, for the next incremental build (see maintain.py).
    """
    todo = rules(Schema(store), typing=typing, record=record)
    dirty = [r.typing or not untyped_done for r in todo]
    for _ in range(max_rounds + 1):
        if not any(dirty):
            break
        if _ == max_rounds:
            raise CqkgError(
                f"inference did not reach a fixpoint in {max_rounds} rounds; the closure is incomplete "
                f"(this is a bug in the rule scheduling: please report it with the ontology)",
                exit_code=1,
            )
        for i, rule in enumerate(todo):
            if not dirty[i]:
                continue
            dirty[i] = False
            fed = [j for j, other in enumerate(todo) if rule.writes & other.reads and (j != i or not rule.closed)]
            if not fed:
                store.update(rule.update)
            elif store.query(rule.ask):  # it adds something: the rules it feeds run again
                store.update(rule.update)
                for j in fed:
                    dirty[j] = True
    return inferred_count(store)


# --------------------------------------------------------------------------- what is refused

# OWL vocabulary whose consequences the rules above do not derive, with what to do instead.
_REFUSED = {
    "sameAs": "owl:sameAs is not materialised: use one IRI for the thing (skos:exactMatch links two that differ)",
    "differentFrom": "owl:differentFrom only detects inconsistencies, which cqkg does not check",
    "AllDifferent": "owl:AllDifferent only detects inconsistencies, which cqkg does not check",
    "hasValue": "class restrictions (owl:hasValue) are not materialised: state the triples, or check with SHACL",
    "someValuesFrom": "class restrictions (owl:someValuesFrom) are not materialised: state the triples",
    "allValuesFrom": "class restrictions (owl:allValuesFrom) are not materialised: state the types",
    "intersectionOf": "class expressions (owl:intersectionOf) are not materialised: use named classes",
    "unionOf": "class expressions (owl:unionOf) are not materialised: use named classes",
    "complementOf": "class expressions (owl:complementOf) are not materialised",
    "oneOf": "enumerations (owl:oneOf) are not materialised: use sh:in in a shape",
    "maxCardinality": "cardinality restrictions are not enforced by inference: use sh:maxCount in a shape",
    "minCardinality": "cardinality restrictions are not enforced by inference: use sh:minCount in a shape",
    "cardinality": "cardinality restrictions are not enforced by inference: use sh:minCount/sh:maxCount",
    "maxQualifiedCardinality": "cardinality restrictions are not enforced: use sh:qualifiedMaxCount in a shape",
    "minQualifiedCardinality": "cardinality restrictions are not enforced: use sh:qualifiedMinCount in a shape",
    "qualifiedCardinality": "cardinality restrictions are not enforced: use sh:qualifiedValueShape in a shape",
    "hasKey": "owl:hasKey (which derives owl:sameAs) is not materialised",
    "InverseFunctionalProperty": "inverse-functional properties (which derive owl:sameAs) are not materialised",
    "disjointWith": "class disjointness only detects inconsistencies: check it with a *-violation query",
    "AllDisjointClasses": "class disjointness only detects inconsistencies: check it with a *-violation query",
    "propertyDisjointWith": "property disjointness only detects inconsistencies",
    "AsymmetricProperty": "asymmetric properties only detect inconsistencies",
    "IrreflexiveProperty": "irreflexive properties only detect inconsistencies",
    "ReflexiveProperty": "reflexive properties are not materialised",
    "NegativePropertyAssertion": "negative property assertions are not checked",
    "imports": "owl:imports is not followed: put the imported axioms in ontology/",
}


def unsupported_axioms(store: ox.Store, shapes: ox.Store | None = None) -> list[tuple[Any, str, str]]:
    """(subject, OWL term, reason) for each axiom in the default graph the rules cannot honour.

    `shapes` holds the SHACL shapes: a functional property is honoured when a shape caps it
    with sh:maxCount 1.
    """
    out: list[tuple[Any, str, str]] = []
    terms = " ".join(f"<{OWL}{n}>" for n in _REFUSED)
    for r in select(
        store,
        f"""SELECT DISTINCT ?s ?t WHERE {{
              {{ ?s ?t ?o }} UNION {{ ?s a ?t }} VALUES ?t {{ {terms} }} }} ORDER BY ?s ?t""",
    ):
        s, t = r[0], r[1]
        assert t is not None
        out.append((s, "owl:" + t.value[len(OWL) :], _REFUSED[t.value[len(OWL) :]]))
    for r in select(store, f"SELECT ?p ?q WHERE {{ ?p <{OWL}inverseOf> ?q FILTER(!isIRI(?p) || !isIRI(?q)) }}"):
        out.append((r[0], "owl:inverseOf", "an inverse of an anonymous property expression is not supported"))
    for r in select(
        store,
        f"""SELECT ?c ?d WHERE {{
              {{ ?c <{RDFS}subClassOf> ?d }} UNION {{ ?c <{OWL}equivalentClass> ?d }}
              FILTER(isBlank(?c) || isBlank(?d)) }}""",
    ):
        out.append((r[0], "rdfs:subClassOf", "a class expression (blank node) in a class axiom is not supported"))
    for r in select(store, f"SELECT ?r ?l WHERE {{ ?r <{OWL}propertyChainAxiom> ?l }}"):
        links = _rdf_list(store, r[1])
        if links is None or len(links) < 2 or not all(isinstance(p, ox.NamedNode) for p in links):
            out.append((r[0], "owl:propertyChainAxiom", "the chain must be a list of two or more named properties"))
    capped: set[str] = set()
    if shapes is not None:
        query = (
            f"SELECT DISTINCT ?p WHERE {{ {{ ?s <{SH}path> ?p ; <{SH}maxCount> ?n }} UNION "
            f"{{ GRAPH ?g {{ ?s <{SH}path> ?p ; <{SH}maxCount> ?n }} }} FILTER(isIRI(?p) && ?n = 1) }}"
        )
        capped = {r[0].value for r in select(shapes, query) if r[0] is not None}
    for r in select(store, f"SELECT ?p WHERE {{ ?p a <{OWL}FunctionalProperty> }} ORDER BY ?p"):
        p = r[0]
        if shapes is not None and isinstance(p, ox.NamedNode) and p.value not in capped:
            out.append(
                (
                    p,
                    "owl:FunctionalProperty",
                    "a second value would make two things owl:sameAs, which is not "
                    "materialised: cap the property with sh:maxCount 1 in a shape",
                )
            )
    return out
