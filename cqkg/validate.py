"""Validation: SHACL shapes, the quote check, and the *-violation.rq quality-check queries.

All three feed one Report whose items name the focus node (with its label), the property, the
message and the seed file that describes the node. SHACL runs on the compiled validator
(shacl.py); the `pyshacl` engine, or shapes that use a feature the compiler lacks, run pyshacl.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyoxigraph as ox

from . import guards, shacl
from .catalog import Catalog
from .errors import CqkgError
from .parallel import run_all
from .project import Project
from .queries import check_safe, run_local
from .quotes import check_quotes
from .rdfstore import select
from .report import SEVERITY, Issue, Report
from .sources import Sources, index_sources, parse_file
from .sparql import ServiceCheckCache
from .terms import SH, TermWriter, to_rdflib_graph

SHACL_ENGINES = ("fast", "pyshacl")


def labels(store: ox.Store) -> dict[str, str]:
    """The English (or untagged) label of every labelled node, for messages."""
    out: dict[str, str] = {}
    rows = select(
        store,
        """
        SELECT ?s ?l WHERE {
          { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?l }
          UNION { ?s <http://www.w3.org/2004/02/skos/core#prefLabel> ?l }
          UNION { ?s <http://purl.org/dc/terms/title> ?l }
          FILTER(langMatches(lang(?l), "en") || lang(?l) = "")
        } ORDER BY ?s ?l""",
    )
    for r in rows:
        s, label = r["s"], r["l"]
        assert s is not None and label is not None
        out.setdefault(s.value, label.value)
    return out


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
) -> list[Issue]:
    """SHACL results as Issues: from the compiled validator, or from pyshacl when `engine` is
    "pyshacl" or the shapes use a feature the compiler does not implement."""
    if engine not in SHACL_ENGINES:
        raise CqkgError(f"unknown SHACL engine {engine!r}; choose one of {', '.join(SHACL_ENGINES)}")
    shacl.check_shapes(shapes)  # malformed parameters and SHACL-SPARQL are refused by every engine
    if engine == "fast":
        try:
            results = shacl.validate(store, shapes)
        except shacl.Unsupported as e:
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
    return pyshacl_issues(src, store, shapes, names)


def _compact_path(w: TermWriter, path: str | None) -> str:
    """A SPARQL property path with its IRIs abbreviated (`^cqkg:locatedIn`)."""
    return re.sub(r"<([^<>]+)>", lambda m: w.iri(m.group(1)), path) if path else ""


def pyshacl_issues(src: Sources, store: ox.Store, shapes: ox.Store, names: dict[str, str]) -> list[Issue]:
    """SHACL results from pyshacl (slow: it walks the graph in Python) as Issues."""
    import pyshacl
    import rdflib

    data = to_rdflib_graph(q.triple for q in store.quads_for_pattern(None, None, None, ox.DefaultGraph()))
    shapes_graph = to_rdflib_graph(q.triple for q in shapes.quads_for_pattern(None, None, None, None))
    _, results, _ = pyshacl.validate(
        data, shacl_graph=shapes_graph, inference="none", allow_warnings=True, advanced=True
    )
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
    project: Project, src: Sources, store: ox.Store, names: dict[str, str], cache: ServiceCheckCache | None = None
) -> list[Issue]:
    """One Violation per row of each `*-violation` quality-check query (none may call SERVICE)."""
    issues = []
    checks = Catalog(project).violation_checks()
    for q in checks:  # checked here, one after the other: the cache is not shared between threads
        check_safe(q, allow_service=False, checks=cache)
    results = run_all([lambda q=q: run_local(store, q, {}, allow_service=True) for q in checks])  # type: ignore[misc]
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


def quote_issues(project: Project, src: Sources, names: dict[str, str]) -> list[Issue]:
    """The quote check's problems as Issues."""
    return [
        Issue("Violation", p.file, p.node, names.get(p.node, ""), "cqkg:quote", p.message, "quote")
        for p in check_quotes(index_sources(project, src), src)
    ]


def guard_issues(project: Project, src: Sources, store: ox.Store, names: dict[str, str]) -> list[Issue]:
    """The curator's slips SHACL cannot see (see guards.py)."""
    return (
        guards.undescribed_terms(src, store, names)
        + guards.orphan_texts(project, src)
        + guards.stated_values(src, store, names)
        + guards.unstated_parts(src, store, names)
        + guards.drafted_unchecked(src, store, names)
    )


def validate_store(
    project: Project,
    src: Sources,
    store: ox.Store,
    shapes: ox.Store,
    shacl_engine: str = "fast",
    service_checks: ServiceCheckCache | None = None,
    strict_shacl: bool = False,
    log: Callable[[str], None] = lambda msg: None,
) -> Report:
    """Run every check on the store's default graph and collect one Report."""
    names = labels(store)
    # The quote check is Python work; it overlaps with the SPARQL checks, which run without the
    # GIL. The quality-check queries share the cores with the SHACL queries rather than wait for them.
    with ThreadPoolExecutor(3) as pool:
        quotes = pool.submit(quote_issues, project, src, names)
        slips = pool.submit(guard_issues, project, src, store, names)
        checks = pool.submit(query_issues, project, src, store, names, service_checks)
        issues = shacl_issues(src, store, shapes, names, shacl_engine, strict_shacl, log)
        issues += checks.result()
        issues += quotes.result()
        issues += slips.result()
    return Report(issues)
