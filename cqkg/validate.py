"""Validation: SHACL shapes, the quote check, and the *-violation.rq quality-check queries.

All three feed one Report whose items name the focus node (with its label), the property, the
message and the seed file that describes the node. SHACL runs on the compiled validator
(shacl.py); the `pyshacl` engine, or shapes that use a feature the compiler lacks, run pyshacl.
"""

from __future__ import annotations

import dataclasses
import re
import urllib.parse
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox

from . import guards, shacl
from .catalog import Catalog
from .errors import CqkgError
from .footprint import Chain, among, extract, parse_node, query_footprint
from .parallel import run_all
from .project import Project
from .queries import check_safe, run_local
from .quotes import check_quotes
from .rdfstore import select
from .report import SEVERITY, Issue, Report
from .sources import QUOTE_FOOTPRINT, Sources, index_sources, parse_file
from .sparql import ServiceCheckCache
from .terms import SH, TermWriter, to_rdflib_graph

SHACL_ENGINES = ("fast", "pyshacl")


def labels(store: ox.Store, only: set[str] | None = None) -> dict[str, str]:
    """The English (or untagged) label of every labelled node, for messages (or of the nodes
    `only` names, N-Triples terms)."""
    out: dict[str, str] = {}
    rows = select(
        store,
        f"""
        SELECT ?s ?l WHERE {{ {among("?s", only)}
          {{ ?s <http://www.w3.org/2000/01/rdf-schema#label> ?l }}
          UNION {{ ?s <http://www.w3.org/2004/02/skos/core#prefLabel> ?l }}
          UNION {{ ?s <http://purl.org/dc/terms/title> ?l }}
          FILTER(langMatches(lang(?l), "en") || lang(?l) = "")
        }} ORDER BY ?s ?l""",
    )
    for r in rows:
        s, label = r["s"], r["l"]
        assert s is not None and label is not None
        out.setdefault(s.value, label.value)
    return out


class NodeLabels(dict[str, str]):
    """labels() looked up one node at a time, for a validation that reports on a few nodes of a
    large store (reading every label of a million-triple store costs ~0.5 s)."""

    def __init__(self, store: ox.Store):
        super().__init__()
        self.store = store

    def get(self, key: str, default: Any = None) -> Any:
        """The node's label (looked up once), or `default` when it has none."""
        if key not in self:
            named = key.startswith(("http:", "https:", "urn:"))
            self[key] = labels(self.store, {f"<{key}>"}).get(key, "") if named else ""
        return super().get(key) or default


def shapes_store(project: Project) -> ox.Store:
    """The project's shapes files parsed into one in-memory store."""
    files = project.shape_files()
    if not files:
        raise CqkgError(f"{project.rel(project.shapes_dir)}: no .ttl shapes file found")
    store = ox.Store()
    for f in files:  # one named graph per file, so a shape's problems can name its file
        graph = ox.NamedNode(shacl.SHAPES_GRAPH + urllib.parse.quote(project.rel(f)))
        store.bulk_extend(ox.Quad(t.subject, t.predicate, t.object, graph) for t in parse_file(f, project))
    return store


def shacl_issues(
    src: Sources,
    store: ox.Store,
    shapes: ox.Store,
    names: dict[str, str],
    engine: str = "fast",
    strict: bool = False,
    log: Callable[[str], None] = lambda msg: None,
    only: set[str] | None = None,
) -> list[Issue]:
    """SHACL results as Issues: from the compiled validator, or from pyshacl when `engine` is
    "pyshacl" or the shapes use a feature the compiler does not implement.

    `only` (N-Triples terms): the focus nodes to check (the compiled validator only; shapes
    whose footprint is unbounded check every focus node).
    """
    if engine not in SHACL_ENGINES:
        raise CqkgError(f"unknown SHACL engine {engine!r}; choose one of {', '.join(SHACL_ENGINES)}")
    shacl.check_shapes(shapes)  # malformed parameters and SHACL-SPARQL are refused by every engine
    if engine == "fast":
        try:
            results = shacl.validate(store, shapes, only)
        except shacl.Unsupported as e:
            if only is not None:
                raise
            if strict:
                raise CqkgError(
                    f"{e}, which cqkg's SHACL compiler does not implement; without --strict-shacl, "
                    f"pyshacl validates instead (slower)"
                ) from None
            log(f"note: {e}, which the compiled validator does not implement; validating with pyshacl (slower)")
            results = None
        if results is not None:
            w = TermWriter()
            issues = []
            for r in results:
                focus = r.focus[1:-1] if r.focus.startswith("<") else r.focus
                text = r.message
                if r.value is not None and r.value != r.focus and r.value not in text:
                    text += f" (value: {r.value})"
                issues.append(
                    Issue(
                        SEVERITY.get(r.severity, "Violation"),
                        src.file_of(focus),
                        focus,
                        names.get(focus, ""),
                        w.iri(r.path) if r.path and r.simple_path else _compact_path(w, r.path),
                        text,
                        "shacl",
                        path_iri=r.path if r.path and r.simple_path else "",
                        value=r.value or "",
                        component=r.component,
                        shape=r.shape if r.shape.startswith(("http:", "https:", "urn:")) else "",
                    )
                )
            return issues
    return pyshacl_issues(src, store, shapes, names, log)


def _compact_path(w: TermWriter, path: str | None) -> str:
    """A SPARQL property path with its IRIs abbreviated (`^cqkg:locatedIn`)."""
    return re.sub(r"<([^<>]+)>", lambda m: w.iri(m.group(1)), path) if path else ""


def pyshacl_issues(
    src: Sources,
    store: ox.Store,
    shapes: ox.Store,
    names: dict[str, str],
    log: Callable[[str], None] = lambda msg: None,
) -> list[Issue]:
    """SHACL results from pyshacl (slow: it walks the graph in Python) as Issues; its warnings
    (a recursive shape it backed out of) go to `log`, a line each."""
    import pyshacl
    import rdflib

    data = to_rdflib_graph(q.triple for q in store.quads_for_pattern(None, None, None, ox.DefaultGraph()))
    shapes_graph = to_rdflib_graph(q.triple for q in shapes.quads_for_pattern(None, None, None, None))
    with warnings.catch_warnings(record=True) as caught:  # (its warnings as notes, not Python's printout)
        warnings.simplefilter("always")
        _, results, _ = pyshacl.validate(
            data, shacl_graph=shapes_graph, inference="none", allow_warnings=True, advanced=True
        )
    for note in dict.fromkeys(str(w.message).splitlines()[0] for w in caught if str(w.message).strip()):
        log(f"note: pyshacl: {note}")
    w = TermWriter()
    sh = rdflib.Namespace(SH)
    issues = []
    for r in results.subjects(rdflib.RDF.type, sh.ValidationResult):
        focus = results.value(r, sh.focusNode)
        path = results.value(r, sh.resultPath)
        msg = results.value(r, sh.resultMessage)
        sev = SEVERITY.get(str(results.value(r, sh.resultSeverity)), "Violation")
        value: Any = results.value(r, sh.value)
        text = str(msg) if msg else "does not conform"
        if value is not None and str(value) not in text:
            text += f" (value: {value.n3() if isinstance(value, rdflib.term.Identifier) else value})"
        path_s = w.iri(str(path)) if isinstance(path, rdflib.URIRef) else ("" if path is None else "(complex path)")
        component, shape = results.value(r, sh.sourceConstraintComponent), results.value(r, sh.sourceShape)
        issues.append(
            Issue(
                sev, src.file_of(focus), str(focus), names.get(str(focus), ""), path_s, text, "shacl",
                path_iri=str(path) if isinstance(path, rdflib.URIRef) else "",
                value=value.n3() if isinstance(value, rdflib.term.Identifier) else "",
                component=str(component or ""),
                shape=str(shape) if isinstance(shape, rdflib.URIRef) else "",
            )
        )  # fmt: skip
    return issues


def query_issues(
    project: Project,
    src: Sources,
    store: ox.Store,
    names: dict[str, str],
    cache: ServiceCheckCache | None = None,
    scope: Scope | None = None,
) -> list[Issue]:
    """One Violation per row of each `*-violation` quality-check query (none may call SERVICE).

    With `scope`, a query with a footprint runs on the triples its footprint reaches from the
    nodes to check again (footprint.extract), and reports on those nodes only.
    """
    issues = []
    checks = Catalog(project).violation_checks()
    for q in checks:  # checked here, one after the other: the cache is not shared between threads
        check_safe(q, allow_service=False, checks=cache)

    def run(q: Any) -> Any:
        nodes = scope.nodes.get("query:" + q.name) if scope is not None else None
        if scope is None or nodes is None:
            return run_local(store, q, {}, allow_service=True)
        focus = [parse_node(n) for n in sorted(nodes)]
        result = run_local(extract(store, scope.chains["query:" + q.name], focus), q, {}, allow_service=True)
        result.rows = [row for row in result.rows if row[0] is not None and str(row[0]) in nodes]
        return result

    results = run_all([lambda q=q: run(q) for q in checks])  # type: ignore[misc]
    for q, result in zip(checks, results, strict=True):
        for row in result.rows:
            focus = row[0]
            fv = focus.value if focus is not None else ""
            detail = ", ".join(
                f"{v}={t.value}" for v, t in zip(result.variables[1:], row[1:], strict=True) if t is not None
            )
            issues.append(
                Issue(
                    "Violation",
                    src.file_of(fv),
                    fv,
                    names.get(fv, ""),
                    "",
                    q.title + (f" ({detail})" if detail else ""),
                    q.name,
                )
            )
    return issues


def quote_issues(project: Project, src: Sources, names: dict[str, str], only: set[str] | None = None) -> list[Issue]:
    """The quote check's problems as Issues (with `only`, about those nodes: N-Triples terms)."""
    return [
        Issue("Violation", p.file, p.node, names.get(p.node, ""), "cqkg:quote", p.message, "quote")
        for p in check_quotes(index_sources(project, src, only), src)
    ]


def guard_issues(
    project: Project, src: Sources, store: ox.Store, names: dict[str, str], only: set[str] | None = None
) -> list[Issue]:
    """The curator's slips SHACL cannot see (see guards.py); with `only`, about those nodes."""
    return (
        guards.undescribed_terms(src, store, names, only)
        + guards.orphan_texts(project, src)
        + guards.stated_values(src, store, names, only)
        + guards.unstated_parts(src, store, names, only)
        + guards.drafted_unchecked(src, store, names, only)
    )


@dataclass(frozen=True)
class Scope:
    """The nodes (N-Triples terms) an incremental validation checks again, per node check.

    A node check's result for a node depends only on the triples its footprint reaches from it
    (footprint.py): the SHACL shapes, the quote check, the curator checks, and the quality-check
    queries whose footprint their SPARQL tells. The nodes from which a changed triple can be
    reached are checked again and the other nodes' issues kept from the previous report; the
    other quality-check queries run whole.
    """

    nodes: dict[str, set[str]]  # "shacl", "quote", "guards", "query:NAME" -> the nodes to check
    chains: dict[str, set[Chain]]  # the same keys -> their footprints

    def covers(self, issue: Issue) -> bool:
        """Did this validation look again at what the issue is about (so it is not kept)?"""
        key = issue.check if issue.check in ("shacl", "quote") else "guards" if issue.check in guards.CHECKS else ""
        nodes = self.nodes.get(key or "query:" + issue.check)
        if nodes is None:
            return True  # a check that ran whole
        return f"<{issue.focus}>" in nodes or issue.focus in nodes


def footprints(project: Project, shapes: ox.Store, cache: ServiceCheckCache | None = None) -> dict[str, set[Chain]]:
    """What each node check reads from its focus nodes, keyed as Scope's fields are (`cache`
    remembers the quality checks' footprints)."""
    out = {"shacl": shacl.footprint(shapes), "quote": QUOTE_FOOTPRINT, "guards": guards.FOOTPRINT}
    for q in Catalog(project).violation_checks():
        chains = cache.footprint(q.text) if cache is not None else query_footprint(q.text)
        if chains is not None:
            out["query:" + q.name] = chains
    return out


def validate_store(
    project: Project,
    src: Sources,
    store: ox.Store,
    shapes: ox.Store,
    shacl_engine: str = "fast",
    service_checks: ServiceCheckCache | None = None,
    strict_shacl: bool = False,
    log: Callable[[str], None] = lambda msg: None,
    scope: Scope | None = None,
    kept: list[Issue] | None = None,
) -> Report:
    """Run every check on the store's default graph and collect one Report.

    An incremental validation passes `scope`, the nodes each node check looks at again, and
    `kept`, the previous report's issues: those about other nodes stay (with their file and
    label as they are now).
    """
    names = labels(store) if scope is None else NodeLabels(store)
    nodes = scope.nodes if scope is not None else {}
    shacl_nodes, quote_nodes, guard_nodes = (nodes.get(k) for k in ("shacl", "quote", "guards"))
    # The quote check is Python work; it overlaps with the SPARQL checks, which run without the
    # GIL. The quality-check queries share the cores with the SHACL queries rather than wait for them.
    with ThreadPoolExecutor(3) as pool:
        quotes = pool.submit(quote_issues, project, src, names, quote_nodes)
        slips = pool.submit(guard_issues, project, src, store, names, guard_nodes)
        checks = pool.submit(query_issues, project, src, store, names, service_checks, scope)
        issues = shacl_issues(src, store, shapes, names, shacl_engine, strict_shacl, log, shacl_nodes)
        issues += checks.result()
        issues += quotes.result()
        issues += slips.result()
    if scope is not None and kept:
        issues += [
            dataclasses.replace(i, file=src.file_of(i.focus), label=names.get(i.focus, ""))
            for i in kept
            if not scope.covers(i)
        ]
    return Report(issues)
