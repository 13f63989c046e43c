"""Footprints: what a check reads from its focus node, so that a change is checked where it matters.

A footprint is a set of chains. A chain is the steps from a focus node to a triple the check
reads, that triple being the last step: ((cqkg:period, forward), (cqkg:startDate, forward))
reads the start date of the focus node's period. A change to a triple can only change the
check's result for the nodes from which some chain reaches it (affected()), and the check's
result for those nodes only needs the triples along the chains from them (extract()).

The SHACL shapes (shacl.ShapesGraph.footprint), the curator checks and the quote check declare
theirs; a quality-check query's is read from its SPARQL (query_footprint) when the query stays
within what that analysis understands, and the query runs whole otherwise.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable
from typing import Any

import pyoxigraph as ox

# A step along the data graph from a focus node: (predicate IRI, or None for any; forward?).
Step = tuple[str | None, bool]
Chain = tuple[Step, ...]

DEFAULT = ox.DefaultGraph()


def _step(store: ox.Store, nodes: Iterable[Any], step: Step, backward: bool) -> Iterable[ox.Quad]:
    """The triples one step away from `nodes` (walking the step the other way when `backward`)."""
    pred = ox.NamedNode(step[0]) if step[0] is not None else None
    out_edge = step[1] != backward  # follow subject -> object
    for n in nodes:
        if out_edge:
            if not isinstance(n, ox.Literal):
                yield from store.quads_for_pattern(n, pred, None, DEFAULT)
        else:
            yield from store.quads_for_pattern(None, pred, n, DEFAULT)


def affected(store: ox.Store, footprint: Iterable[Chain], changed: Iterable[tuple[Any, Any, Any]]) -> set[str]:
    """The nodes (N-Triples) from which some chain of the footprint reaches a changed triple.

    Walking back in the new graph is enough: on a path that only the old graph had, the first
    removed triple is itself changed, and the steps before it are still there.
    """
    by_predicate: dict[str | None, list[Chain]] = {}
    for chain in footprint:
        by_predicate.setdefault(chain[-1][0], []).append(chain)
    out: set[Any] = set()
    for s, p, o in changed:
        for chain in by_predicate.get(p.value, []) + by_predicate.get(None, []):
            nodes = {s if chain[-1][1] else o}
            for step in reversed(chain[:-1]):
                forward = step[1]
                nodes = {q.subject if forward else q.object for q in _step(store, nodes, step, backward=True)}
            out |= nodes
    return {str(n) for n in out if not isinstance(n, ox.Literal)}


def among(var: str, nodes: Iterable[str] | None) -> str:
    """A VALUES block keeping `var` among the nodes (N-Triples terms, as affected() gives them), or
    nothing when `nodes` is None: how a check is run on the nodes an incremental build names.

    >>> among("?s", {"<https://e/b>", "<https://e/a>"})
    'VALUES ?s { <https://e/a> <https://e/b> } '
    """
    return "" if nodes is None else f"VALUES {var} {{ {' '.join(sorted(nodes))} }} "


def parse_node(nt: str) -> Any:
    """An IRI or blank node from its N-Triples form (as affected() gives them).

    >>> parse_node("<https://e/a>")
    <NamedNode value=https://e/a>
    """
    return ox.NamedNode(nt[1:-1]) if nt.startswith("<") else ox.BlankNode(nt[2:])


def extract(store: ox.Store, footprint: Iterable[Chain], focus: Iterable[Any]) -> ox.Store:
    """An in-memory store with every triple along the footprint's chains from the focus nodes."""
    out = ox.Store()
    start = set(focus)
    for chain in footprint:
        nodes = start
        for step in chain:
            quads = list(_step(store, nodes, step, backward=False))
            out.extend(ox.Quad(q.subject, q.predicate, q.object) for q in quads)
            nodes = {q.object if step[1] else q.subject for q in quads}
    return out


# --------------------------------------------------------------------------- SPARQL checks


class _Global(Exception):
    """The query reads something its footprint cannot say: it runs on the whole store."""


@functools.lru_cache(maxsize=64)
def query_footprint(text: str) -> set[Chain] | None:
    """The footprint of a quality-check query from its focus variable (its first column), or
    None when the analysis cannot bound what it reads.

    Understood: triple patterns with an IRI or a variable as predicate, anywhere (groups,
    OPTIONAL, UNION, MINUS, FILTER (NOT) EXISTS, sub-selects), each linked to the focus variable
    through the patterns' subjects and objects; GROUP BY only on the focus variable (with
    others), so that a focus node's rows depend on its triples alone. Anything else (property
    paths, GRAPH, SERVICE, LIMIT/OFFSET, the focus node as a predicate, a pattern no variable
    path links to the focus node, a focus that may be unbound) leaves the query whole.
    """
    from rdflib import BNode, Literal, URIRef, Variable
    from rdflib.plugins.sparql.algebra import translateQuery
    from rdflib.plugins.sparql.parser import parseQuery
    from rdflib.plugins.sparql.parserutils import CompValue

    try:
        query = translateQuery(parseQuery(text)).algebra
    except Exception:  # noqa: BLE001 - rdflib raises many kinds; such a query simply runs whole
        return None
    if query.name != "SelectQuery" or not query.PV:
        return None
    focus = query.PV[0]
    triples: list[tuple[Any, Any, Any]] = []
    counter = itertools.count()

    def term(t: Any, scope: dict[Any, Any]) -> Any:
        if isinstance(t, Variable | BNode):
            return scope.get(t, t) if isinstance(t, Variable) else ("bnode", str(t), id(scope))
        if isinstance(t, URIRef | Literal):
            return t
        raise _Global

    def add(s: Any, p: Any, o: Any, scope: dict[Any, Any]) -> None:
        s, o = term(s, scope), term(o, scope)
        if isinstance(p, Variable):
            p = scope.get(p, p)
        elif not isinstance(p, URIRef):
            raise _Global  # a property path
        triples.append((s, p, o))

    def walk(node: Any, scope: dict[Any, Any], top: bool) -> None:
        if isinstance(node, CompValue):
            name = node.name
            if name in ("Slice", "Graph", "ServiceGraphPattern", "GraphGraphPattern", "SERVICE"):
                raise _Global
            if name == "Group":
                keys = [scope.get(k, k) for k in (node.expr or [])]
                if focus not in keys:
                    raise _Global
            if name == "Project" and not top:  # a sub-select: its other variables are its own
                own = {v: Variable(f"{v}__{next(counter)}") for v in node.get("_vars") or () if v not in node.PV}
                scope = {**scope, **own}
                walk(node.p, scope, False)
                return
            if name == "BGP":
                for s, p, o in node.triples:
                    add(s, p, o, scope)
            elif name == "TriplesBlock":
                for t in node.triples:
                    if len(t) < 3 or (len(t) - 1) % 2:
                        raise _Global
                    for i in range(1, len(t), 2):
                        add(t[0], t[i], t[i + 1], scope)
            for key, value in node.items():
                if key not in ("triples", "_vars", "PV"):
                    walk(value, scope, top and name == "SelectQuery")
        elif isinstance(node, list | tuple):
            for item in node:
                walk(item, scope, False)

    def binds(node: Any) -> bool:
        """Is the focus variable bound in every solution of `node`?"""
        if not isinstance(node, CompValue):
            return False
        name = node.name
        if name == "BGP":
            return any(focus in t for t in node.triples)
        if name == "Join":
            return binds(node.p1) or binds(node.p2)
        if name in ("LeftJoin", "Minus"):
            return binds(node.p1)
        if name == "Union":
            return binds(node.p1) and binds(node.p2)
        if name in ("Filter", "Extend", "Project", "ToMultiSet", "Group", "AggregateJoin", "OrderBy", "Distinct",
                    "Reduced", "SelectQuery"):  # fmt: skip
            return binds(node.p)
        return False

    try:
        walk(query, {}, True)
        if not binds(query):
            raise _Global
        return _chains(focus, triples)
    except _Global:
        return None


def _chains(focus: Any, triples: list[tuple[Any, Any, Any]]) -> set[Chain]:
    """Chains from the focus variable to each pattern, along a breadth-first tree of the patterns."""
    from rdflib import Variable

    def is_var(t: Any) -> bool:
        return isinstance(t, Variable | tuple)

    for _, p, _ in triples:  # a variable predicate is read only as a predicate
        if is_var(p) and (p == focus or any(p in (s, o) for s, _, o in triples)):
            raise _Global
    reached: dict[Any, Chain] = {focus: ()}
    todo = [focus]
    chains: set[Chain] = set()
    done: set[int] = set()
    while todo:
        var = todo.pop(0)
        for i, (s, p, o) in enumerate(triples):
            if i in done or var not in (s, o):
                continue
            done.add(i)
            forward = s == var
            step = (str(p) if not is_var(p) else None, forward)
            chain = reached[var] + (step,)
            chains.add(chain)
            other = o if forward else s
            if is_var(other) and other not in reached:
                reached[other] = chain
                todo.append(other)
    if len(done) != len(triples):
        raise _Global  # a pattern not linked to the focus node
    return chains
