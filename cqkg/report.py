"""The validation report: one Issue per problem, whichever check found it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox

from .terms import CQKG, PREFIXES, RDF, SH, XSD, expand_iri

SEVERITY = {SH + "Violation": "Violation", SH + "Warning": "Warning", SH + "Info": "Info"}


@dataclass(frozen=True, order=True)
class Issue:
    """One problem: severity, the seed file and node at fault, the property, what is wrong, which check."""

    severity: str  # Violation | Warning | Info
    file: str
    focus: str
    label: str
    path: str
    message: str
    check: str  # shacl | quote | query name
    # For the report as RDF (sh:ValidationResult): what SHACL results carry besides the above.
    path_iri: str = ""  # the predicate's IRI when the path is one predicate
    value: str = ""  # N-Triples form of the value node, when there is one
    component: str = ""  # IRI of the constraint component (SHACL checks)
    shape: str = ""  # IRI of the shape (SHACL checks), when the shape has one


@dataclass
class Report:
    """All the issues of one validation run.

    >>> Report([Issue("Warning", "seeds/x.ttl", "https://e/a", "A", "", "no zh label", "shacl")]).conforms
    True
    """

    issues: list[Issue] = field(default_factory=list)

    @property
    def violations(self) -> list[Issue]:
        """The issues of severity Violation (they fail the build)."""
        return [i for i in self.issues if i.severity == "Violation"]

    @property
    def warnings(self) -> list[Issue]:
        """Warnings and infos (they do not fail the build)."""
        return [i for i in self.issues if i.severity != "Violation"]

    @property
    def conforms(self) -> bool:
        """True when there is no violation."""
        return not self.violations

    def text(self, show_warnings: bool = True) -> str:
        """One line per issue (sorted, duplicates once), then the counts."""
        shown = sorted(set(self.issues if show_warnings else self.violations))
        lines = []
        for i in shown:
            where = f"{i.file}: " if i.file and i.file != "?" else ""
            name = (f"{i.label} <{i.focus}> " if i.label else f"<{i.focus}> ") if i.focus else ""
            path = f"{i.path}: " if i.path else ""
            lines.append(f"{i.severity}: {where}{name}{path}{i.message} [{i.check}]")
        lines.append(f"{len(self.violations)} violation(s), {len(self.warnings)} warning(s)")
        return "\n".join(lines)


# --------------------------------------------------------------------------- as RDF

# Checks that are not SHACL shapes still report as sh:ValidationResult; their source is named by
# these components (SHACL requires one per result) and by cqkg:check.
CHECK_COMPONENTS = {
    "quote": CQKG + "QuoteCheckComponent",
    "guard": CQKG + "CuratorCheckComponent",
    "query": SH + "SPARQLConstraintComponent",
}
_SEVERITY_IRI = {v: k for k, v in SEVERITY.items()}


def report_triples(report: Report) -> list[Any]:
    """The report as a SHACL validation report (sh:ValidationReport with one sh:ValidationResult
    per issue, in the text report's order), as pyoxigraph triples.

    Every issue is a result, whichever check found it: SHACL results keep their constraint
    component, shape and value; a quality-check query's results name sh:SPARQLConstraintComponent
    and the query (cqkg:check); the quote check and the curator checks name a cqkg component. Each
    result also names the seed file (cqkg:file) that describes its focus node.

    >>> ts = report_triples(Report([Issue("Violation", "seeds/x.ttl", "https://e/a", "A", "", "bad", "quote")]))
    >>> sorted(t.predicate.value.split("#")[-1] for t in ts)[:3]
    ['check', 'conforms', 'file']
    """

    def iri(local: str, base: str = SH) -> Any:
        return ox.NamedNode(base + local)

    def term(text: str) -> Any:
        """A focus node as the issue names it: a blank node, an IRI, or else its text."""
        if text.startswith("_:"):
            return ox.BlankNode(text[2:])
        try:
            return expand_iri(f"<{text}>")
        except ValueError:
            return ox.Literal(text)

    def path_iri(issue: Issue) -> str:
        """The predicate of a one-predicate path: given, or written as one prefixed name."""
        if issue.path_iri:
            return issue.path_iri
        m = re.fullmatch(r"([a-z][a-z0-9]*):([A-Za-z0-9_.-]+)", issue.path)
        return PREFIXES[m.group(1)] + m.group(2) if m and m.group(1) in PREFIXES else ""

    root = ox.BlankNode("report")
    rdf_type = ox.NamedNode(RDF + "type")
    conforms = ox.Literal("true" if report.conforms else "false", datatype=ox.NamedNode(XSD + "boolean"))
    out = [ox.Triple(root, rdf_type, iri("ValidationReport")), ox.Triple(root, iri("conforms"), conforms)]
    for n, issue in enumerate(sorted(set(report.issues)), start=1):
        r = ox.BlankNode(f"result{n:05d}")
        kind = "query" if issue.check.endswith("-violation") else "quote" if issue.check == "quote" else "guard"
        component = issue.component or CHECK_COMPONENTS[kind]
        out.insert(n + 1, ox.Triple(root, iri("result"), r))  # the report's own triples first, together
        out += [
            ox.Triple(r, rdf_type, iri("ValidationResult")),
            ox.Triple(r, iri("resultSeverity"), ox.NamedNode(_SEVERITY_IRI.get(issue.severity, SH + "Violation"))),
            ox.Triple(r, iri("sourceConstraintComponent"), ox.NamedNode(component)),
            ox.Triple(r, iri("resultMessage"), ox.Literal(issue.message)),
            ox.Triple(r, iri("check", CQKG), ox.Literal(issue.check)),
        ]
        if issue.focus:
            out.append(ox.Triple(r, iri("focusNode"), term(issue.focus)))
        if p := path_iri(issue):
            out.append(ox.Triple(r, iri("resultPath"), ox.NamedNode(p)))
        if issue.value:
            value = next(iter(ox.parse(f"<x:s> <x:p> {issue.value} .", format=ox.RdfFormat.N_TRIPLES))).object
            out.append(ox.Triple(r, iri("value"), value))
        if issue.shape:
            out.append(ox.Triple(r, iri("sourceShape"), ox.NamedNode(issue.shape)))
        if issue.file and issue.file != "?":
            out.append(ox.Triple(r, iri("file", CQKG), ox.Literal(issue.file)))
    return out


def report_rdf(report: Report, fmt: str = "turtle") -> bytes:
    """The report as a SHACL validation report in Turtle (or N-Triples with fmt="nt"), deterministic."""
    formats = {"turtle": ox.RdfFormat.TURTLE, "nt": ox.RdfFormat.N_TRIPLES}
    prefixes = {p: PREFIXES[p] for p in ("sh", "cqkg", "xsd")}
    data = ox.serialize(report_triples(report), format=formats[fmt], prefixes=prefixes if fmt == "turtle" else None)
    assert data is not None
    return data
