"""Running saved queries: on the built store (pyoxigraph) or on a remote SPARQL endpoint.

Parameters are bound as RDF terms: a VALUES block built from each validated term's N-Triples
form, locally and remotely alike. The query text is
never assembled from user input.

This module must stay light: `cqkg query` imports it on its hot path (no rdflib here).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from .catalog import SavedQuery
from .errors import CqkgError
from .ordering import Ordering
from .sparql import ServiceCheckCache, UncheckableQuery, with_values
from .terms import XSD, Term, term_from_json

if TYPE_CHECKING:
    from .remote import Http


@dataclass
class QueryResult:
    """A table of RDF terms: the projected variables and one tuple per row (None = unbound)."""

    variables: list[str]
    rows: list[tuple[Term | None, ...]]

    def normalised(self) -> list[tuple[Any, ...]]:
        """Rows with numbers compared by value, for engine-to-engine comparison."""
        return [tuple(_norm(t) for t in row) for row in self.rows]


_NUMERIC = {XSD + n for n in ("integer", "decimal", "double", "float", "long", "int")}


def _norm(t: Term | None) -> Any:
    if isinstance(t, ox.Literal) and t.datatype.value in _NUMERIC:
        try:
            return ("num", round(Decimal(t.value), 6))
        except InvalidOperation:
            return ("num", t.value)
    return None if t is None else str(t)


def _boolean(value: bool) -> QueryResult:
    return QueryResult(
        ["result"], [(ox.Literal("true" if value else "false", datatype=ox.NamedNode(XSD + "boolean")),)]
    )


def check_safe(q: SavedQuery, allow_service: bool, checks: ServiceCheckCache | None = None) -> None:
    """Refuse a query with a SERVICE clause (or one that cannot be checked) unless allowed."""
    if allow_service:
        return
    try:
        calls_out = (checks or ServiceCheckCache(None)).uses_service(q.text)
    except UncheckableQuery as e:
        raise CqkgError(
            f"{q.path.name}:{e.line}:{e.column}: SPARQL syntax error in query {q.name!r} (as read by rdflib, "
            f"which checks every query for SERVICE calls): {e.reason}; if the query is valid SPARQL, "
            f"--allow-service runs it unchecked"
        ) from None
    if calls_out:
        raise CqkgError(
            f"query {q.name!r} contains a SERVICE clause, which would send data to "
            f"another endpoint; pass --allow-service to run it anyway"
        )


def _syntax_error(q: SavedQuery, e: SyntaxError) -> CqkgError:
    msg = str(e)
    m = re.match(r"error at (\d+):(\d+): (.*)", msg, re.S)
    loc = f":{m.group(1)}:{m.group(2)}" if m else ""
    return CqkgError(f"{q.path.name}{loc}: SPARQL syntax error in query {q.name!r}: {m.group(3) if m else msg}")


def run_local(
    store: ox.Store,
    q: SavedQuery,
    bindings: dict[str, Term],
    allow_service: bool = False,
    checks: ServiceCheckCache | None = None,
) -> QueryResult:
    """Run a saved query on a pyoxigraph store, with parameters bound as RDF terms.

    `checks` remembers which query texts were checked for SERVICE (see ServiceCheckCache).
    """
    check_safe(q, allow_service, checks)
    try:
        # Parameters go in as a VALUES block of validated terms (their N-Triples form), the same text
        # an endpoint gets: Oxigraph plans substitutions before it knows the value, and a lookup of
        # one subject scanned the whole graph (152 ms at 1M triples, against 1.7 ms with VALUES).
        text = with_values(q.text, bindings)
        # The ORDER BY is applied here when it orders by variables (see cqkg.ordering: Oxigraph
        # reads strings back from the store at each comparison), otherwise by the store.
        # A subquery's ORDER BY is the store's: what it sorts is looked at first (unorderable_by_store).
        why = unorderable_by_store(store, text)
        if why:
            raise CqkgError(f"{q.path.name}: {why}")
        ordering = Ordering.of(text)
        if ordering is not None:
            rows = ordering_rows(store, ordering)
            if rows is not None:
                return QueryResult(*ordering.sort(*rows))
        res = store.query(text)
        if isinstance(res, ox.QueryBoolean):
            return _boolean(bool(res))
        return QueryResult(*_solutions(q, res))
    except SyntaxError as e:
        raise _syntax_error(q, e) from None
    except (OSError, RuntimeError, ValueError) as e:
        raise CqkgError(f"{q.path.name}: query {q.name!r} failed: {e}") from None


def ordering_rows(
    store: ox.Store, ordering: Ordering, **options: Any
) -> tuple[list[str], list[tuple[Term | None, ...]]] | None:
    """(variables, rows) of an Ordering's text (the query without its ORDER BY), in no order; None
    when that text does not parse or is no SELECT (the query's own text then says why).
    `options` go to Store.query (e.g. default_graph)."""
    try:
        solutions = store.query(ordering.text, **options)
    except SyntaxError:
        return None
    return _table(solutions) if isinstance(solutions, ox.QuerySolutions) else None


def unorderable_by_store(store: ox.Store, text: str, **options: Any) -> str | None:
    """Why the store could not sort what the query leaves it to sort (Ordering.left_to_store: a
    subquery's ORDER BY; a CONSTRUCT's), or None. Oxigraph's sort aborts the whole process on a
    column that mixes kinds of literals, so those values are read first, without the ORDER BY."""
    for ordering in Ordering.left_to_store(text):
        rows = ordering_rows(store, ordering, **options)
        why = ordering.unorderable(*rows) if rows is not None else None
        if why:
            return why
    return None


def _solutions(q: SavedQuery, res: object) -> tuple[list[str], list[tuple[Term | None, ...]]]:
    if not isinstance(res, ox.QuerySolutions):
        raise CqkgError(f"query {q.name!r} is not a SELECT or ASK query; saved queries return tables")
    return _table(res)


def _table(res: ox.QuerySolutions) -> tuple[list[str], list[tuple[Term | None, ...]]]:
    variables = [v.value for v in res.variables]
    # Evaluation is lazy: errors (a SERVICE endpoint that is down, a store being replaced)
    # surface while the rows are read, so they are read here.
    # A solution iterates over its values in the order of the variables, unbound as None: faster
    # than a lookup by name per cell (12,000 rows of six columns: 0.76 -> 0.68 s at 1M).
    return variables, [tuple(sol) for sol in res]


def run_remote(
    endpoint: str,
    q: SavedQuery,
    bindings: dict[str, Term],
    http: Http,
    allow_service: bool = False,
    graph: str | None = None,
    warn: Callable[[str], None] | None = None,
    checks: ServiceCheckCache | None = None,
) -> QueryResult:
    """Run a saved query on a remote SPARQL endpoint, parameters bound in a VALUES block.

    `graph` (an IRI) is the graph the query reads as its default graph (None: the store's own
    default graph). With no rows, `warn` is told when that graph is empty: a query of the wrong
    graph answers "nothing" without any error.
    """
    from .remote import sparql_select

    check_safe(q, allow_service, checks)
    data = sparql_select(endpoint, with_values(q.text, bindings), http, default_graph=graph)
    if "boolean" in data:
        return _boolean(bool(data["boolean"]))
    variables = [str(v) for v in data["head"].get("vars", [])]
    try:
        rows = [tuple(term_from_json(b.get(v)) for v in variables) for b in data["results"]["bindings"]]
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise CqkgError(f"{endpoint}: the answer holds a value that is not a valid RDF term ({e})") from None
    if not rows and warn is not None:
        probe = sparql_select(endpoint, "ASK { ?s ?p ?o }", http, default_graph=graph)
        if probe.get("boolean") is False:
            where = f"graph <{graph}>" if graph else "default graph"
            warn(f"warning: the {where} at {endpoint} is empty; load it with 'cqkg load' or pass --graph")
    return QueryResult(variables, rows)
