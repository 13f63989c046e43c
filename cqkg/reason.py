"""Targeted OWL 2 RL materialisation of the rules our ontology uses.

owlrl computes the full RL closure in Python (~50 s at 100k triples). The ontology only relies on
a handful of rules, so we compute the schema closure once in Python and run each instance-level
rule as one SPARQL update with a VALUES table inside pyoxigraph, running a rule again only
while rules after it add triples it reads. tests/test_reason.py checks the result equals owlrl's
instance-level closure (the reference reasoner lives in tests/owlrl_reference.py).

Rules (OWL 2 RL names): cax-sco, cax-eqc1/2 (via the subclass closure), prp-dom, prp-rng,
prp-spo1, prp-eqp1/2, prp-inv1/2, prp-symp, prp-trp, prp-spo2 (chains of two properties).
Not materialised: owl:sameAs consequences of functional/inverse-functional properties and
inconsistency rules; the SHACL shapes reject data that would trigger them instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox

from .rdfstore import count, select
from .terms import INFERRED_GRAPH, OWL, RDF, RDFS


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
        self.chains = [
            (r[0], r[1], r[2])
            for r in select(
                store,
                f"""
            SELECT ?r ?p ?q WHERE {{
              ?r <{OWL}propertyChainAxiom> ?l . ?l <{RDF}first> ?p ; <{RDF}rest> ?l2 .
              ?l2 <{RDF}first> ?q ; <{RDF}rest> <{RDF}nil> }}""",
            )
        ]


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
    reads: frozenset
    writes: frozenset
    closed: bool = True  # one run also derives everything its own output implies by this rule
    typing: bool = False  # prp-dom / prp-rng


def rules(schema: Schema, typing: bool = True) -> list[Rule]:
    """One update per rule, in dependency order; each inserts into the default and the inferred graph.

    typing=False leaves out prp-dom and prp-rng (types from domains and ranges).
    """
    inf = f"<{INFERRED_GRAPH}>"
    rdf_type = ox.NamedNode(RDF + "type")
    out = []

    def add(template: str, where: str, reads: Iterable[Any], writes: Iterable[Any], **kw: bool) -> None:
        update = (
            f"INSERT {{ {template} GRAPH {inf} {{ {template} }} }} WHERE {{ {where} "
            f"FILTER NOT EXISTS {{ {template} }} }}"
        )
        out.append(Rule(update, frozenset(reads), frozenset(writes), **kw))

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
    if schema.chains:
        add(
            "?x ?r ?z .",
            f"{_values('?r ?p ?q', schema.chains)} ?x ?p ?y . ?y ?q ?z .",
            {t for _, p, q in schema.chains for t in (p, q)},
            {r for r, _, _ in schema.chains},
            closed=False,
        )
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


def materialise(store: ox.Store, typing: bool = True, untyped_done: bool = False, max_rounds: int = 50) -> int:
    """Add the inferred triples to the default graph (and the inferred graph); return how many.

    The build first runs with typing=False and validates that: with domain and range typing,
    every sh:class check on a property with a declared range would pass whatever the data says
    (a cluster "memberOf" a district would make the district a grouping). Then it runs again
    with typing=True and untyped_done=True (the store is closed under the other rules already)
    to complete the closure that queries and exports see.

    Rules run in order, and a rule runs again only when a later one added triples with a
    predicate it reads (semi-naive evaluation at the level of rules). Repeating every rule until
    a whole round adds nothing cost a full extra round of scans (~0.7 s per million triples),
    and the typing pass re-ran rules whose input had not changed.
    """
    todo = rules(Schema(store), typing=typing)
    dirty = [r.typing or not untyped_done for r in todo]
    n = inferred_count(store)
    for _ in range(max_rounds):
        if not any(dirty):
            break
        for i, rule in enumerate(todo):
            if not dirty[i]:
                continue
            dirty[i] = False
            store.update(rule.update)
            fed = [j for j, other in enumerate(todo) if rule.writes & other.reads and (j != i or not rule.closed)]
            if fed and (m := inferred_count(store)) != n:
                n = m
                for j in fed:
                    dirty[j] = True
    return inferred_count(store)  # rules that feed nothing were not counted after they ran
