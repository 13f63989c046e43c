"""The saved-query catalogue: queries/NAME.rq files, their headers and typed parameters.

Each queries/NAME.rq starts with a header (grlc-style):

    #+ summary: One-line title
    #+ description: What question it answers (continuation lines start with "#+  ").
    #+ tags: targets, 33618
    #+ param: subject iri = cq:Chongqing ; whose metrics to list
    #+ param: year year ; only this year (all years when omitted)
    #+ chart: line x=year y=value color=item ; the default view (see charts.py)

Parameters are parsed into RDF terms of their declared type; queries.py binds them.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pyoxigraph as ox

from .errors import CqkgError
from .project import Project
from .sparql import strip_comments
from .terms import XSD, Term, expand_iri

PARAM_TYPES = ("iri", "string", "integer", "decimal", "year", "date")
_TYPE_HINTS = {
    "iri": "an IRI (cq:Chongqing or <https://...>)",
    "string": "a string",
    "integer": "an integer",
    "decimal": "a decimal number",
    "year": "a year like 2025",
    "date": "a date like 2025-01-21",
}


@dataclass(frozen=True)
class Param:
    """A declared parameter of a saved query: `#+ param: NAME TYPE [= DEFAULT] [; description]`."""

    name: str
    type: str
    default: str | None
    description: str

    def parse(self, raw: str, where: str = "") -> ox.NamedNode | ox.Literal:
        """Turn a user's string into an RDF term of the declared type, or say why it cannot be one.

        >>> str(Param("year", "year", None, "").parse("2025"))
        '"2025"^^<http://www.w3.org/2001/XMLSchema#gYear>'
        """
        bad = f"{where}parameter {self.name!r} expects {self.type_hint()}, got {raw!r}"
        if self.type == "iri":
            try:
                return expand_iri(raw)
            except ValueError as e:
                reason = str(e)
                raise CqkgError(f"{bad} ({reason})" if reason.startswith("unknown prefix") else bad) from None
        if self.type == "string":
            return ox.Literal(raw)
        if self.type == "integer":
            if not re.fullmatch(r"[+-]?\d+", raw.strip()):
                raise CqkgError(bad)
            return ox.Literal(str(int(raw)), datatype=ox.NamedNode(XSD + "integer"))
        if self.type == "decimal":
            try:
                d = Decimal(raw.strip())
            except InvalidOperation:
                raise CqkgError(bad) from None
            if not d.is_finite():
                raise CqkgError(bad)
            return ox.Literal(format(d, "f"), datatype=ox.NamedNode(XSD + "decimal"))
        if self.type == "year":
            if not re.fullmatch(r"\d{4}", raw.strip()):
                raise CqkgError(bad)
            return ox.Literal(raw.strip(), datatype=ox.NamedNode(XSD + "gYear"))
        if self.type == "date":
            try:
                return ox.Literal(date.fromisoformat(raw.strip()).isoformat(), datatype=ox.NamedNode(XSD + "date"))
            except ValueError:
                raise CqkgError(bad) from None
        raise CqkgError(f"{where}parameter {self.name!r} has unknown type {self.type!r}")

    def type_hint(self) -> str:
        """What a value of this type looks like, for messages."""
        return _TYPE_HINTS[self.type]


@dataclass
class SavedQuery:
    """One queries/NAME.rq: its text, header and parameters."""

    name: str
    path: Path
    text: str
    title: str = ""
    description: str = ""
    tags: list[str] = field(default_factory=list)
    params: list[Param] = field(default_factory=list)
    chart: str = ""  # the `#+ chart:` declaration, read by charts.ChartDeclaration

    @property
    def is_violation_check(self) -> bool:
        """`*-violation` queries are quality checks the build runs; each must return no rows."""
        return self.name.endswith("-violation")

    def bindings(self, given: dict[str, str]) -> dict[str, Term]:
        """Validate user parameters (and defaults) into RDF terms keyed by variable name."""
        declared = {p.name: p for p in self.params}
        unknown = sorted(set(given) - set(declared))
        if unknown:
            names = ", ".join(declared) or "none"
            raise CqkgError(f"query {self.name!r} has no parameter {unknown[0]!r} (its parameters: {names})")
        out: dict[str, Term] = {}
        for name, value in given.items():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:  # bytes that are not UTF-8 reach us as lone surrogates
                raise CqkgError(f"query {self.name!r}: parameter {name!r}: the value is not valid UTF-8 text") from None
        for p in self.params:
            raw = given.get(p.name, p.default)
            if raw is not None:
                out[p.name] = p.parse(raw, f"query {self.name!r}: ")
        return out


_HEADER = re.compile(r"^#\+\s?(.*)$")
_PARAM = re.compile(
    r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s+(?P<type>\w+)(?:\s*=\s*(?P<default>[^;]*?))?\s*(?:;\s*(?P<desc>.*))?$"
)


def parse_query_file(path: Path, project: Project | None = None) -> SavedQuery:
    """Read a .rq file and its header; header mistakes name the file and line."""
    where = project.rel(path) if project else str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CqkgError(f"{where}: cannot read: {e}") from None
    q = SavedQuery(name=path.stem, path=path, text=text)
    key = None
    for lineno, line in enumerate(text.splitlines(), 1):
        m = _HEADER.match(line)
        if not m:
            if line.strip() and not line.startswith("#"):
                break
            continue
        body = m.group(1)
        kv = re.match(r"^(\w+):\s*(.*)$", body)
        if kv and not body.startswith(" "):
            key, value = kv.group(1), kv.group(2).strip()
            if key == "summary":
                q.title = value
            elif key == "description":
                q.description = value
            elif key == "tags":
                q.tags = [t.strip() for t in value.split(",") if t.strip()]
            elif key == "param":
                q.params.append(_parse_param(value, text, f"{where}:{lineno}"))
            elif key == "chart":
                q.chart = value
            else:
                raise CqkgError(
                    f"{where}:{lineno}: unknown header key {key!r} (use summary, description, tags, param, chart)"
                )
        elif key == "description" and body.strip():
            q.description = (q.description + " " + body.strip()).strip()
    if not q.title:
        raise CqkgError(f"{where}: missing '#+ summary:' header line")
    return q


def _parse_param(value: str, text: str, where: str) -> Param:
    pm = _PARAM.match(value)
    if not pm or pm.group("type") not in PARAM_TYPES:
        raise CqkgError(
            f"{where}: bad parameter declaration {value!r}; expected "
            f"'NAME TYPE [= DEFAULT] [; description]' with TYPE one of {', '.join(PARAM_TYPES)}"
        )
    p = Param(pm.group("name"), pm.group("type"), (pm.group("default") or None), (pm.group("desc") or "").strip())
    code = strip_comments(text)
    if not re.search(r"[?$]" + re.escape(p.name) + r"\b", code):
        raise CqkgError(f"{where}: parameter {p.name!r} is not used as ?{p.name} in the query")
    if not _projects(code, p.name):
        raise CqkgError(
            f"{where}: parameter ?{p.name} must appear in the SELECT clause, so every row shows the value it answers for"  # noqa: E501
        )
    if p.default is not None:
        p.parse(p.default, f"{where}: default of ")
    return p


def _projects(text: str, var: str) -> bool:
    """Does the first SELECT clause list ?var (or use SELECT *)?"""
    m = re.search(r"\bSELECT\b(.*?)\bWHERE\b|\bSELECT\b(.*?)\{", text, re.S | re.I)
    if not m:
        return False
    clause = m.group(1) if m.group(1) is not None else m.group(2)
    return "*" in clause or re.search(r"[?$]" + re.escape(var) + r"\b", clause) is not None


class Catalog:
    """The saved queries of a project, by name (file name without .rq)."""

    def __init__(self, project: Project):
        self.project = project
        self.dir = project.queries_dir

    def names(self) -> list[str]:
        """Every saved query's name, sorted."""
        self.project.require_dirs("queries")
        return [p.stem for p in self.project.query_files()]

    def get(self, name: str) -> SavedQuery:
        """The query NAME; an unknown name gets close matches as suggestions."""
        path = self.dir / f"{name}.rq"
        if "/" in name or not path.is_file():
            names = self.names()
            close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
            close += [n for n in names if name and name in n and n not in close][:3]
            hint = f"; did you mean {', '.join(close)}?" if close else "; run 'cqkg queries' to list them"
            raise CqkgError(f"no saved query named {name!r}{hint}")
        return parse_query_file(path, self.project)

    def all(self) -> list[SavedQuery]:
        """Every saved query, parsed."""
        return [self.get(n) for n in self.names()]

    def violation_checks(self) -> list[SavedQuery]:
        """The `*-violation` quality checks."""
        return [q for q in self.all() if q.is_violation_check]
