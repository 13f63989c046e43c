"""Validation: SHACL shapes, the quote check, and the *-violation.rq quality-check queries.

All three feed one Report whose items name the focus node (with its label), the property, the
message and the seed file that describes the node.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pyoxigraph as ox

from .build import Sources, check_quotes, parse_file
from .export import TermWriter
from .project import CqkgError, Project

SH = "http://www.w3.org/ns/shacl#"
SEVERITY = {SH + "Violation": "Violation", SH + "Warning": "Warning", SH + "Info": "Info"}


@dataclass(frozen=True, order=True)
class Issue:
    severity: str      # Violation | Warning | Info
    file: str
    focus: str
    label: str
    path: str
    message: str
    check: str         # shacl | quote | query name


@dataclass
class Report:
    issues: list[Issue] = field(default_factory=list)

    @property
    def violations(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "Violation"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity != "Violation"]

    @property
    def conforms(self) -> bool:
        return not self.violations

    def text(self, show_warnings: bool = True) -> str:
        shown = sorted(set(self.issues if show_warnings else self.violations))
        lines = []
        for i in shown:
            where = f"{i.file}: " if i.file and i.file != "?" else ""
            name = f"{i.label} <{i.focus}>" if i.label else f"<{i.focus}>"
            path = f" {i.path}:" if i.path else ""
            lines.append(f"{i.severity}: {where}{name}{path} {i.message} [{i.check}]")
        lines.append(f"{len(self.violations)} violation(s), {len(self.warnings)} warning(s)")
        return "\n".join(lines)


def labels(store: ox.Store) -> dict[str, str]:
    out = {}
    for r in store.query("""
        SELECT ?s ?l WHERE {
          { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?l }
          UNION { ?s <http://www.w3.org/2004/02/skos/core#prefLabel> ?l }
          UNION { ?s <http://purl.org/dc/terms/title> ?l }
          FILTER(langMatches(lang(?l), "en") || lang(?l) = "")
        } ORDER BY ?s ?l"""):
        out.setdefault(r["s"].value, r["l"].value)
    return out


def shapes_graph(project: Project):
    """The shapes as an rdflib graph (for pyshacl), converted from the pyoxigraph parse."""
    return to_rdflib(q.triple for q in shapes_store(project).quads_for_pattern(None, None, None, None))


def to_rdflib(triples):
    """Convert pyoxigraph triples to an rdflib Graph without re-parsing text."""
    import rdflib

    cache: dict = {}

    def conv(t):
        r = cache.get(t)
        if r is None:
            if isinstance(t, ox.NamedNode):
                r = rdflib.URIRef(t.value)
            elif isinstance(t, ox.BlankNode):
                r = rdflib.BNode(t.value)
            else:
                r = rdflib.Literal(t.value, lang=t.language,
                                   datatype=None if t.language else rdflib.URIRef(t.datatype.value))
            cache[t] = r
        return r

    g = rdflib.Graph()
    for t in triples:
        g.add((conv(t.subject), conv(t.predicate), conv(t.object)))
    return g


def shapes_store(project: Project) -> ox.Store:
    files = project.shape_files()
    if not files:
        raise CqkgError(f"{project.rel(project.shapes_dir)}: no .ttl shapes file found")
    store = ox.Store()
    store.bulk_extend(ox.Quad(t.subject, t.predicate, t.object) for f in files for t in parse_file(f, project))
    return store


def shacl_issues(project: Project, src: Sources, store: ox.Store, names: dict[str, str]) -> list[Issue]:
    """SHACL results: the SPARQL-compiled validator, or pyshacl if the shapes need it (or CQKG_SHACL=pyshacl)."""
    from . import shacl

    if os.environ.get("CQKG_SHACL", "fast") != "pyshacl":
        try:
            results = shacl.validate(store, shapes_store(project))
        except shacl.Unsupported:
            results = None
        if results is not None:
            w = TermWriter()
            issues = []
            for r in results:
                focus = r.focus[1:-1] if r.focus.startswith("<") else r.focus
                text = r.message
                if r.value is not None and r.value != r.focus and r.value not in text:
                    text += f" (value: {r.value})"
                issues.append(Issue(SEVERITY.get(r.severity, "Violation"), src.file_of(focus), focus,
                                    names.get(focus, ""), w.iri(r.path) if r.path else "", text, "shacl"))
            return issues
    return pyshacl_issues(project, src, store, names)


def pyshacl_issues(project: Project, src: Sources, store: ox.Store, names: dict[str, str]) -> list[Issue]:
    import pyshacl
    import rdflib

    data = to_rdflib(q.triple for q in store.quads_for_pattern(None, None, None, ox.DefaultGraph()))
    conforms, results, _ = pyshacl.validate(
        data, shacl_graph=shapes_graph(project), inference="none", allow_warnings=True,
        advanced=True,
    )
    w = TermWriter()
    sh = rdflib.Namespace(SH)
    issues = []
    for r in results.subjects(rdflib.RDF.type, sh.ValidationResult):
        focus = results.value(r, sh.focusNode)
        path = results.value(r, sh.resultPath)
        msg = results.value(r, sh.resultMessage)
        sev = SEVERITY.get(str(results.value(r, sh.resultSeverity)), "Violation")
        value = results.value(r, sh.value)
        text = str(msg) if msg else "does not conform"
        if value is not None and str(value) not in text:
            text += f" (value: {value.n3() if isinstance(value, rdflib.term.Identifier) else value})"
        path_s = w.iri(str(path)) if isinstance(path, rdflib.URIRef) else ("" if path is None else "(complex path)")
        issues.append(Issue(sev, src.file_of(focus), str(focus), names.get(str(focus), ""),
                            path_s, text, "shacl"))
    return issues


def query_issues(project: Project, src: Sources, store: ox.Store, names: dict[str, str]) -> list[Issue]:
    from .queries import Catalog, run_local

    issues = []
    checks = Catalog(project).violation_checks()
    with ThreadPoolExecutor(min(4, os.cpu_count() or 1)) as pool:  # queries run without the GIL
        results = list(pool.map(lambda q: run_local(store, q, {}), checks))
    for q, result in zip(checks, results):
        for row in result.rows:
            focus = row[0]
            fv = focus.value if focus is not None else ""
            detail = ", ".join(f"{v}={t.value}" for v, t in zip(result.variables[1:], row[1:]) if t is not None)
            issues.append(Issue("Violation", src.file_of(fv), fv, names.get(fv, ""), "",
                                q.title + (f" ({detail})" if detail else ""), q.name))
    return issues


def validate_store(project: Project, src: Sources, store: ox.Store) -> Report:
    names = labels(store)
    # The quote check is Python work; it overlaps with the SPARQL checks, which run without the
    # GIL. The quality-check queries share the cores with the SHACL queries rather than wait for them.
    with ThreadPoolExecutor(2) as pool:
        quotes = pool.submit(check_quotes, project, src)
        checks = pool.submit(query_issues, project, src, store, names)
        issues = shacl_issues(project, src, store, names)
        issues += checks.result()
        issues += [Issue("Violation", p.file, p.node, names.get(p.node, ""), "cqkg:quote", p.message, "quote")
                   for p in quotes.result()]
    return Report(issues)
