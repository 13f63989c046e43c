"""Saved SPARQL queries: the catalogue, parameter binding, execution and result formats.

Each queries/NAME.rq starts with a header (grlc-style):

    #+ summary: One-line title
    #+ description: What question it answers (continuation lines start with "#+  ").
    #+ tags: targets, 33618
    #+ param: subject iri = cq:Chongqing ; whose metrics to list
    #+ param: year year ; only this year (all years when omitted)

Parameters are bound as RDF terms: locally through pyoxigraph's substitutions (SEP-0007), with
rdflib through initBindings, remotely as a VALUES block built from the validated term's N-Triples
form. The query text is never assembled from user input.

This module must stay light: `cqkg query` imports it on its hot path (no rdflib here).
"""
from __future__ import annotations

import csv
import difflib
import functools
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pyoxigraph as ox

from .project import PREFIXES, CqkgError, Project

XSD = "http://www.w3.org/2001/XMLSchema#"
PARAM_TYPES = ("iri", "string", "integer", "decimal", "year", "date")
OUTPUT_FORMATS = ("table", "csv", "tsv", "json", "md")


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: str | None
    description: str

    def parse(self, raw: str, where: str = "") -> ox.NamedNode | ox.Literal:
        """Turn a user's string into an RDF term of the declared type, or say why it cannot be one."""
        bad = f"{where}parameter {self.name!r} expects {self.type_hint()}, got {raw!r}"
        if self.type == "iri":
            value = raw.strip()
            if value.startswith("<") and value.endswith(">"):
                value = value[1:-1]
            elif ":" in value and not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", value):
                prefix, local = value.split(":", 1)
                if prefix not in PREFIXES:
                    raise CqkgError(f"{bad} (unknown prefix {prefix!r}; known: {', '.join(sorted(PREFIXES))})")
                value = PREFIXES[prefix] + local
            if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s<>\"{}|^`\\]*$", value):
                raise CqkgError(bad)
            try:
                return ox.NamedNode(value)
            except ValueError:
                raise CqkgError(bad) from None
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
        return {
            "iri": "an IRI (cq:Chongqing or <https://...>)",
            "string": "a string",
            "integer": "an integer",
            "decimal": "a decimal number",
            "year": "a year like 2025",
            "date": "a date like 2025-01-21",
        }[self.type]


@dataclass
class SavedQuery:
    name: str
    path: Path
    text: str
    title: str = ""
    description: str = ""
    tags: list[str] = field(default_factory=list)
    params: list[Param] = field(default_factory=list)

    @property
    def is_violation_check(self) -> bool:
        return self.name.endswith("-violation")

    def bindings(self, given: dict[str, str]) -> dict[str, ox.NamedNode | ox.Literal]:
        """Validate user parameters (and defaults) into RDF terms keyed by variable name."""
        declared = {p.name: p for p in self.params}
        unknown = sorted(set(given) - set(declared))
        if unknown:
            names = ", ".join(declared) or "none"
            raise CqkgError(f"query {self.name!r} has no parameter {unknown[0]!r} (its parameters: {names})")
        out = {}
        for p in self.params:
            raw = given.get(p.name, p.default)
            if raw is not None:
                out[p.name] = p.parse(raw, f"query {self.name!r}: ")
        return out


# --------------------------------------------------------------------------- parsing .rq files

_HEADER = re.compile(r"^#\+\s?(.*)$")
_PARAM = re.compile(
    r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s+(?P<type>\w+)(?:\s*=\s*(?P<default>[^;]*?))?\s*(?:;\s*(?P<desc>.*))?$")


def parse_query_file(path: Path, project: Project | None = None) -> SavedQuery:
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
                pm = _PARAM.match(value)
                if not pm or pm.group("type") not in PARAM_TYPES:
                    raise CqkgError(f"{where}:{lineno}: bad parameter declaration {value!r}; expected "
                                    f"'NAME TYPE [= DEFAULT] [; description]' with TYPE one of {', '.join(PARAM_TYPES)}")
                p = Param(pm.group("name"), pm.group("type"), (pm.group("default") or None),
                          (pm.group("desc") or "").strip())
                if not re.search(r"[?$]" + re.escape(p.name) + r"\b", strip_comments(text)):
                    raise CqkgError(f"{where}:{lineno}: parameter {p.name!r} is not used as ?{p.name} in the query")
                if not _projects(strip_comments(text), p.name):
                    raise CqkgError(f"{where}:{lineno}: parameter ?{p.name} must appear in the SELECT "
                                    f"clause so it can be bound (SPARQL substitution rule)")
                if p.default is not None:
                    p.parse(p.default, f"{where}:{lineno}: default of ")
                q.params.append(p)
            else:
                raise CqkgError(f"{where}:{lineno}: unknown header key {key!r} "
                                f"(use summary, description, tags, param)")
        elif key == "description" and body.strip():
            q.description = (q.description + " " + body.strip()).strip()
    if not q.title:
        raise CqkgError(f"{where}: missing '#+ summary:' header line")
    return q


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
        if not self.dir.is_dir():
            raise CqkgError(f"{self.project.rel(self.dir)}: directory not found")
        return sorted(p.stem for p in self.dir.glob("*.rq"))

    def get(self, name: str) -> SavedQuery:
        path = self.dir / f"{name}.rq"
        if "/" in name or not path.is_file():
            names = self.names()
            close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
            close += [n for n in names if name and name in n and n not in close][:3]
            hint = f"; did you mean {', '.join(close)}?" if close else "; run 'cqkg queries' to list them"
            raise CqkgError(f"no saved query named {name!r}{hint}")
        return parse_query_file(path, self.project)

    def all(self) -> list[SavedQuery]:
        return [self.get(n) for n in self.names()]

    def violation_checks(self) -> list[SavedQuery]:
        return [q for q in self.all() if q.is_violation_check]


# --------------------------------------------------------------------------- SPARQL text scanning

_TOKEN = re.compile(r"""
    (?P<comment>\#[^\n]*)
  | (?P<string>\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"|'''(?:[^'\\]|\\.|'(?!''))*'''|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<brace>[{}])
  | (?P<other>.)
""", re.VERBOSE | re.DOTALL)


def tokens(text: str):
    for m in _TOKEN.finditer(text):
        yield m.lastgroup, m.group(), m.start()


def strip_comments(text: str) -> str:
    return "".join(t for kind, t, _ in tokens(text) if kind != "comment")


@functools.lru_cache(maxsize=256)  # run_local checks before every run; tokenising costs ~0.1 ms
def uses_service(text: str) -> bool:
    """True when the query contains a SERVICE clause (a federated call to another endpoint)."""
    return any(kind == "word" and tok.upper() == "SERVICE" for kind, tok, _ in tokens(text))


def with_values(text: str, bindings: dict) -> str:
    """Bind variables for an endpoint: a VALUES block at the start of the outer WHERE group.

    The terms are pyoxigraph terms already validated by Param.parse; str(term) is their
    N-Triples form with every special character escaped, so a value cannot end the block.
    """
    if not bindings:
        return text
    seen_where = False
    for kind, tok, pos in tokens(text):
        if kind == "word" and tok.upper() == "WHERE":
            seen_where = True
        elif kind == "brace" and tok == "{" and seen_where:
            names = " ".join(f"?{k}" for k in bindings)
            vals = " ".join(str(v) for v in bindings.values())
            return f"{text[:pos + 1]} VALUES ({names}) {{ ({vals}) }} {text[pos + 1:]}"
    raise CqkgError("cannot bind parameters: the query has no WHERE { ... } group")


# --------------------------------------------------------------------------- execution

@dataclass
class Result:
    variables: list[str]
    rows: list[tuple]  # pyoxigraph terms or None for unbound

    def normalised(self) -> list[tuple]:
        """Rows with numbers compared by value, for engine-to-engine comparison."""
        return [tuple(_norm(t) for t in row) for row in self.rows]


_NUMERIC = {XSD + n for n in ("integer", "decimal", "double", "float", "long", "int")}


def _norm(t):
    if isinstance(t, ox.Literal) and t.datatype.value in _NUMERIC:
        try:
            return ("num", round(Decimal(t.value), 6))
        except InvalidOperation:
            return ("num", t.value)
    return None if t is None else str(t)


def check_safe(q: SavedQuery, allow_service: bool) -> None:
    if uses_service(q.text) and not allow_service:
        raise CqkgError(f"query {q.name!r} contains a SERVICE clause, which would send data to "
                        f"another endpoint; pass --allow-service to run it anyway")


def _syntax_error(q: SavedQuery, e: SyntaxError) -> CqkgError:
    msg = str(e)
    m = re.match(r"error at (\d+):(\d+): (.*)", msg, re.S)
    loc = f":{m.group(1)}:{m.group(2)}" if m else ""
    return CqkgError(f"{q.path.name}{loc}: SPARQL syntax error in query {q.name!r}: {m.group(3) if m else msg}")


def run_local(store: ox.Store, q: SavedQuery, bindings: dict, allow_service: bool = False) -> Result:
    check_safe(q, allow_service)
    subs = {ox.Variable(k): v for k, v in bindings.items()}
    try:
        res = store.query(q.text, substitutions=subs or None)
    except SyntaxError as e:
        raise _syntax_error(q, e) from None
    except (OSError, RuntimeError, ValueError) as e:
        raise CqkgError(f"{q.path.name}: query {q.name!r} failed: {e}") from None
    if isinstance(res, ox.QueryBoolean):
        return Result(["result"], [(ox.Literal("true" if bool(res) else "false",
                                               datatype=ox.NamedNode(XSD + "boolean")),)])
    if not isinstance(res, ox.QuerySolutions):
        raise CqkgError(f"query {q.name!r} is not a SELECT or ASK query; saved queries return tables")
    variables = [v.value for v in res.variables]
    return Result(variables, [tuple(sol[v] for v in variables) for sol in res])


def run_rdflib(graph, q: SavedQuery, bindings: dict) -> Result:
    """Run on rdflib's SPARQL engine (used by tests to cross-check the embedded engine)."""
    import rdflib

    def to_rdflib(t):
        if isinstance(t, ox.NamedNode):
            return rdflib.URIRef(t.value)
        return rdflib.Literal(t.value, lang=t.language,
                              datatype=None if t.language else rdflib.URIRef(t.datatype.value))

    res = graph.query(q.text, initBindings={k: to_rdflib(v) for k, v in bindings.items()})
    variables = [str(v) for v in res.vars]
    rows = [tuple(from_rdflib(row[i]) for i in range(len(variables))) for row in res]
    return Result(variables, rows)


def from_rdflib(t):
    """An rdflib (or already pyoxigraph) term as a pyoxigraph term; None stays None."""
    if t is None or isinstance(t, (ox.NamedNode, ox.BlankNode, ox.Literal)):
        return t
    import rdflib

    if isinstance(t, rdflib.URIRef):
        return ox.NamedNode(str(t))
    if isinstance(t, rdflib.BNode):
        return ox.BlankNode(str(t))
    if t.language:
        return ox.Literal(str(t), language=t.language)
    return ox.Literal(str(t), datatype=ox.NamedNode(str(t.datatype or XSD + "string")))


def term_from_json(b: dict | None):
    """A SPARQL 1.1 JSON results binding → pyoxigraph term."""
    if b is None:
        return None
    kind = b.get("type")
    if kind == "uri":
        return ox.NamedNode(b["value"])
    if kind == "bnode":
        return ox.BlankNode(b["value"])
    if "xml:lang" in b:
        return ox.Literal(b["value"], language=b["xml:lang"])
    return ox.Literal(b["value"], datatype=ox.NamedNode(b.get("datatype", XSD + "string")))


def run_remote(endpoint: str, q: SavedQuery, bindings: dict, allow_service: bool = False,
               timeout: float = 60.0) -> Result:
    from .store import sparql_select

    check_safe(q, allow_service)
    data = sparql_select(endpoint, with_values(q.text, bindings), timeout=timeout)
    variables = data.get("head", {}).get("vars", [])
    if "boolean" in data:
        return Result(["result"], [(ox.Literal("true" if data["boolean"] else "false",
                                               datatype=ox.NamedNode(XSD + "boolean")),)])
    rows = [tuple(term_from_json(b.get(v)) for v in variables)
            for b in data.get("results", {}).get("bindings", [])]
    return Result(variables, rows)


# --------------------------------------------------------------------------- output

def _term_json(t) -> dict:
    if isinstance(t, ox.NamedNode):
        return {"type": "uri", "value": t.value}
    if isinstance(t, ox.BlankNode):
        return {"type": "bnode", "value": t.value}
    d = {"type": "literal", "value": t.value}
    if t.language:
        d["xml:lang"] = t.language
    elif t.datatype.value != XSD + "string":
        d["datatype"] = t.datatype.value
    return d


def display(t, compact: bool = True) -> str:
    if t is None:
        return ""
    if isinstance(t, ox.NamedNode):
        if compact:
            for prefix, ns in sorted(PREFIXES.items(), key=lambda x: -len(x[1])):
                if t.value.startswith(ns):
                    return f"{prefix}:{t.value[len(ns):]}"
        return t.value
    if isinstance(t, ox.BlankNode):
        return f"_:{t.value}"
    return t.value


def format_result(result: Result, fmt: str, max_width: int = 0) -> str:
    if fmt == "json":
        body = {"head": {"vars": result.variables},
                "results": {"bindings": [
                    {v: _term_json(t) for v, t in zip(result.variables, row) if t is not None}
                    for row in result.rows]}}
        return json.dumps(body, ensure_ascii=False, indent=2) + "\n"
    if fmt in ("csv", "tsv"):
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter="," if fmt == "csv" else "\t", lineterminator="\n")
        writer.writerow(result.variables)
        for row in result.rows:
            writer.writerow([display(t, compact=False) for t in row])
        return buf.getvalue()
    cells = [[display(t) for t in row] for row in result.rows]
    if fmt == "md":
        esc = lambda s: s.replace("|", "\\|").replace("\n", " ")
        lines = ["| " + " | ".join(result.variables) + " |",
                 "|" + "|".join("---" for _ in result.variables) + "|"]
        lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in cells]
        return "\n".join(lines) + "\n"
    if fmt == "table":
        if max_width:
            cells = [[c if len(c) <= max_width else c[: max_width - 1] + "…" for c in row] for row in cells]
        cells = [[c.replace("\n", " ") for c in row] for row in cells]
        widths = [max([len(v)] + [len(r[i]) for r in cells]) for i, v in enumerate(result.variables)]
        fmt_row = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
        lines = [fmt_row(result.variables), fmt_row(["-" * w for w in widths])]
        lines += [fmt_row(r) for r in cells]
        lines.append(f"({len(cells)} row{'s' if len(cells) != 1 else ''})")
        return "\n".join(lines) + "\n"
    raise CqkgError(f"unknown output format {fmt!r}; choose one of {', '.join(OUTPUT_FORMATS)}")
