"""Keeping a materialised closure current when asserted triples come and go (an incremental build).

reason.materialise computes the closure of a whole graph with one SPARQL update per rule. When a
curator edits one seed file, the closure changes only around that file's triples, so this module
updates it in place with the delete-and-rederive algorithm (DRed; Gupta, Mumick and Subrahmanian,
SIGMOD 1993), one triple at a time through the store's indexes:

1. overdelete: every closure triple with a derivation that uses a removed triple (transitively);
2. rederive: put back those that still follow in one step from what is left;
3. insert: add the new asserted triples and everything they (and the rederived ones) imply.

The rules are the ones reason.rules runs, read from the same Schema, without domain/range typing
(the build validates the closure without it; typing() then derives those types node by node).
tests/test_incremental.py checks the result equals reason.materialise on random graphs and edits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pyoxigraph as ox

from .footprint import DEFAULT
from .reason import Schema
from .terms import RDF

Triple = tuple[Any, Any, Any]  # (subject, predicate, object) as pyoxigraph terms

RDF_TYPE = ox.NamedNode(RDF + "type")


class Rules:
    """The untyped OWL 2 RL rules of reason.rules as look-ups: what a triple implies, and whether
    a triple follows from the graph in one step."""

    def __init__(self, schema: Schema):
        self.super_props = {p: sorted(qs, key=str) for p, qs in schema.super_props.items()}
        self.sub_props = _grouped((q, p) for p, qs in self.super_props.items() for q in qs)
        self.inverse_of = _grouped(schema.inverse)
        self.symmetric = set(schema.symmetric)
        self.transitive = set(schema.transitive)
        self.chains = [(r, links) for r, links in schema.chains]
        self.super_classes = {c: sorted(ds, key=str) for c, ds in schema.super_classes.items()}
        self.sub_classes = _grouped((d, c) for c, ds in self.super_classes.items() for d in ds)
        self.domain = _grouped(schema.domain)
        self.range = _grouped(schema.range)


def _grouped(pairs: Iterable[tuple[Any, Any]]) -> dict[Any, list[Any]]:
    """(key, value) pairs as key -> its values, in the pairs' order."""
    out: dict[Any, list[Any]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out


def _objects(store: ox.Store, s: Any, p: Any) -> Iterator[Any]:
    if isinstance(s, ox.Literal):
        return iter(())
    return (q.object for q in store.quads_for_pattern(s, p, None, DEFAULT))


def _subjects(store: ox.Store, p: Any, o: Any) -> Iterator[Any]:
    return (q.subject for q in store.quads_for_pattern(None, p, o, DEFAULT))


def has(store: ox.Store, t: Triple) -> bool:
    """Is the triple in the default graph? (A literal is never a subject.)"""
    return not isinstance(t[0], ox.Literal) and ox.Quad(t[0], t[1], t[2], DEFAULT) in store


class Closure:
    """A store's default graph, kept closed under the untyped rules (see the module's docstring)."""

    def __init__(self, store: ox.Store, rules: Rules, asserted: Callable[[Triple], bool], inferred: ox.NamedNode):
        self.store = store
        self.rules = rules
        self.asserted = asserted  # is the triple stated by a source or the ontology (after the edit)?
        self.inferred = inferred  # the named graph that holds the closure minus the asserted triples
        self.added_inferred = 0
        self.removed_inferred = 0
        self.changed: set[Triple] = set()  # every triple whose presence in the default graph changed

    # ------------------------------------------------------------------ the rules, one triple at a time

    def consequences(self, t: Triple) -> Iterator[Triple]:
        """The triples one rule derives from `t` together with triples of the default graph."""
        s, p, o = t
        r, g = self.rules, self.store
        literal = isinstance(o, ox.Literal)
        for q in r.super_props.get(p, ()):  # prp-spo1
            yield (s, q, o)
        if not literal:
            for q in r.inverse_of.get(p, ()):  # prp-inv1/2
                yield (o, q, s)
            if p in r.symmetric:  # prp-symp
                yield (o, p, s)
        if p in r.transitive:  # prp-trp, with t as either premise
            for z in _objects(g, o, p):
                yield (s, p, z)
            for w in _subjects(g, p, s):
                yield (w, p, o)
        for head, links in r.chains:  # prp-spo2, with t as any link of the chain
            for i, link in enumerate(links):
                if link != p:
                    continue
                starts = self._walk(links[:i][::-1], {s}, backward=True)
                ends = self._walk(links[i + 1 :], {o}, backward=False)
                for a in starts:
                    for b in ends:
                        yield (a, head, b)
        if p == RDF_TYPE:  # cax-sco
            for d in r.super_classes.get(o, ()):
                yield (s, p, d)

    def _walk(self, links: Iterable[Any], nodes: set[Any], backward: bool) -> set[Any]:
        for link in links:
            step: set[Any] = set()
            for n in nodes:
                step.update(_subjects(self.store, link, n) if backward else _objects(self.store, n, link))
            nodes = step
        return nodes

    def derivable(self, t: Triple) -> bool:
        """Does `t` follow in one step from the default graph?"""
        s, q, o = t
        r, g = self.rules, self.store
        if any(has(g, (s, p, o)) for p in r.sub_props.get(q, ())):
            return True
        if not isinstance(o, ox.Literal):
            for p, qs in r.inverse_of.items():
                if q in qs and has(g, (o, p, s)):
                    return True
            if q in r.symmetric and has(g, (o, q, s)):
                return True
        if q in r.transitive and any(has(g, (m, q, o)) for m in _objects(g, s, q)):
            return True
        for head, links in r.chains:
            if head == q and o in self._walk(links, {s}, backward=False):
                return True
        if q == RDF_TYPE:
            return any(has(g, (s, q, c)) for c in r.sub_classes.get(o, ()))
        return False

    # ------------------------------------------------------------------ writing

    def _insert(self, t: Triple, inferred: bool) -> None:
        self.store.add(ox.Quad(*t, DEFAULT))
        if inferred:
            self.store.add(ox.Quad(*t, self.inferred))
            self.added_inferred += 1
        self.changed.add(t)

    def _remove(self, t: Triple) -> None:
        self.store.remove(ox.Quad(*t, DEFAULT))
        quad = ox.Quad(*t, self.inferred)
        if quad in self.store:
            self.store.remove(quad)
            self.removed_inferred += 1
        self.changed.add(t)

    def update(self, removed: Iterable[Triple], added: Iterable[Triple]) -> None:
        """Apply an edit: `removed` are no longer asserted, `added` are newly asserted.

        Call it after the source graphs hold the new triples (self.asserted answers for the edit)
        and before the default graph does.
        """
        g = self.store
        # 1. Overdelete, on the closure as it was.
        deleted: set[Triple] = set()
        frontier = [t for t in removed if has(g, t)]
        deleted.update(frontier)
        while frontier:
            step = []
            for t in frontier:
                for c in self.consequences(t):
                    if c not in deleted and not self.asserted(c) and has(g, c):
                        deleted.add(c)
                        step.append(c)
            frontier = step
        for t in sorted(deleted, key=str):
            self._remove(t)
        # 2. The new asserted triples (one that was inferred is asserted now).
        frontier = []
        for t in added:
            quad = ox.Quad(*t, self.inferred)
            if quad in g:
                g.remove(quad)
                self.removed_inferred += 1
            elif not has(g, t):
                self._insert(t, inferred=False)
                frontier.append(t)
        # 3. Rederive what still follows in one step; then insert everything implied (semi-naive).
        for t in sorted(deleted, key=str):
            if not has(g, t) and self.derivable(t):
                self._insert(t, inferred=True)
                frontier.append(t)
        while frontier:
            step = []
            for t in frontier:
                for c in list(self.consequences(t)):
                    if not has(g, c):
                        self._insert(c, inferred=True)
                        step.append(c)
            frontier = step


def typed_nodes(rules: Rules, changed: Iterable[Triple]) -> set[Any]:
    """The nodes whose typing can differ after these triples changed: subjects of properties with
    a domain, objects of properties with a range, subjects of rdf:type (a type held already is
    not typing)."""
    out = set()
    for s, p, o in changed:
        if p in rules.domain or p == RDF_TYPE:
            out.add(s)
        if p in rules.range and not isinstance(o, ox.Literal):
            out.add(o)
    return out


def typing(store: ox.Store, rules: Rules, node: Any) -> set[Triple]:
    """The types `node` gets from the domains and ranges of its properties (and their super-classes)
    that the default graph does not already hold: what reason.materialise's typing pass adds."""
    if isinstance(node, ox.Literal):
        return set()
    classes: set[Any] = set()
    for q in store.quads_for_pattern(node, None, None, DEFAULT):
        classes.update(rules.domain.get(q.predicate, ()))
    # Incoming triples one ranged property at a time: a class or a period has thousands of them.
    for p, ranges in rules.range.items():
        if next(store.quads_for_pattern(None, p, node, DEFAULT), None) is not None:
            classes.update(ranges)
    for c in list(classes):
        classes.update(rules.super_classes.get(c, ()))
    return {(node, RDF_TYPE, c) for c in classes if not has(store, (node, RDF_TYPE, c))}
