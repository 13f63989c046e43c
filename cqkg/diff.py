"""What changed between two versions of the graph, fact by fact: the changelog of a release.

A version is a git revision of the project, a project folder, a built store, or an export
(Turtle, N-Triples, TriG, N-Quads, gzipped or not, or a release folder). Only asserted triples
are compared (what inference adds follows from them). Each side is cut into descriptions: every
subject with what it states, blank nodes and content-named nodes (the skolem IRIs of blank
nodes in seed files) written out inside the description that uses them, so relabelling them or
reordering a file is no change. Observations and claims are facts, grouped by subject and
indicator (claims: by subject and predicate); the ontology and the shapes are listed apart, and
so is everything else the seeds describe (enterprises, sources, periods).

>>> d = Description({"cqkg:value": frozenset({"5"})})
>>> [c.property for c in d.changes_to(Description({"cqkg:value": frozenset({"6"})}))]
['cqkg:value']
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from .errors import CqkgError
from .project import Project, git
from .terms import CQKG, GENID, INFERRED_GRAPH, ONTOLOGY_GRAPH, OWL, RDF, RDFS, SKOS, TermWriter

FACT_CLASSES = {CQKG + "Observation": "observation", CQKG + "Claim": "claim"}
# Where the interesting parts of a fact are; listed first, in this order, in the changelog.
FACT_PARTS = [CQKG + p for p in ("value", "unit", "period", "status", "comparator", "source")]
_SCHEMA_TYPES = {
    OWL + t for t in ("Ontology", "Class", "ObjectProperty", "DatatypeProperty", "AnnotationProperty",
                      "FunctionalProperty", "TransitiveProperty", "SymmetricProperty")
} | {RDFS + "Class", RDF + "Property", SKOS + "ConceptScheme"}  # fmt: skip
_FILE_FORMATS = {
    ".ttl": ox.RdfFormat.TURTLE, ".nt": ox.RdfFormat.N_TRIPLES, ".nq": ox.RdfFormat.N_QUADS,
    ".trig": ox.RdfFormat.TRIG, ".jsonld": ox.RdfFormat.JSON_LD,
}  # fmt: skip
_VERSION_STAMPS = {OWL + "versionIRI", OWL + "versionInfo", OWL + "priorVersion"}
SHAPES_FILE = "shapes.ttl"  # the shapes in a release folder


# --------------------------------------------------------------------------- one version


@dataclass
class Version:
    """One side of a diff: its asserted data and ontology triples, its shapes when known."""

    label: str
    data: list[ox.Triple]
    ontology: list[ox.Triple]
    shapes: list[ox.Triple] | None = None


def open_version(spec: str, project: Project) -> Version:
    """The version `spec` names: an existing path (file, release folder, project folder, built
    store), else a git revision of the repository that holds `project`."""
    path = Path(spec)
    if path.is_file():
        return _from_file(path, spec)
    if path.is_dir():
        if (path / "ontology").is_dir() and (path / "seeds").is_dir():
            return _from_project(Project.at(path), spec)
        if (path / "CURRENT").is_file() or (path / "store").exists():  # a store, or a project's build/
            return _from_store(path / "store" if (path / "store").exists() else path, spec)
        dumps = sorted(path.glob("*.nq.gz")) or sorted(path.glob("*.nq"))
        if len(dumps) == 1:  # a release folder
            version = _from_file(dumps[0], spec)
            shapes = sorted(path.glob(f"*{SHAPES_FILE}"))
            if shapes:
                version.shapes = _parse(shapes[0].read_bytes(), ox.RdfFormat.TURTLE, shapes[0])
            return version
        raise CqkgError(f"{spec}: a folder, but no project, built store or release (one .nq.gz) in it")
    return _from_git(spec, project)


def _parse(data: bytes, fmt: ox.RdfFormat, where: Path) -> list[Any]:
    try:
        return list(ox.parse(data, format=fmt))
    except SyntaxError as e:
        raise CqkgError(f"{where}: cannot read it as {fmt.name}: {e}") from None


def _from_file(path: Path, label: str) -> Version:
    name = path.name.removesuffix(".gz")
    fmt = _FILE_FORMATS.get(Path(name).suffix)
    if fmt is None:
        raise CqkgError(f"{path}: unknown format; give .ttl, .nt, .nq, .trig or .jsonld (optionally .gz)")
    try:
        raw = path.read_bytes()
        data = gzip.decompress(raw) if path.name.endswith(".gz") else raw
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise CqkgError(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}") from None
    items = _parse(data, fmt, path)
    if fmt in (ox.RdfFormat.N_QUADS, ox.RdfFormat.TRIG) and any(isinstance(q.graph_name, ox.NamedNode) for q in items):
        return split_graphs(label, items)
    triples = [q.triple if isinstance(q, ox.Quad) else q for q in items]
    return _split_by_kind(label, triples)


def split_graphs(label: str, quads: Iterable[ox.Quad], shapes: list[ox.Triple] | None = None) -> Version:
    """Quads with one graph per source: the ontology graph apart; the inferred graph and the
    default graph (in a built store, the union of all the others) left out."""
    data: set[ox.Triple] = set()
    ontology: set[ox.Triple] = set()
    for q in quads:
        if not isinstance(q.graph_name, ox.NamedNode) or q.graph_name.value == INFERRED_GRAPH:
            continue
        (ontology if q.graph_name.value == ONTOLOGY_GRAPH else data).add(q.triple)
    return Version(label, sorted(data, key=str), sorted(ontology, key=str), shapes)


def _split_by_kind(label: str, triples: list[ox.Triple]) -> Version:
    """One graph (a Turtle export): the ontology is what describes classes, properties, schemes."""
    schema = {
        t.subject
        for t in triples
        if t.predicate.value == RDF + "type" and isinstance(t.object, ox.NamedNode) and t.object.value in _SCHEMA_TYPES
    }
    ontology = [t for t in triples if t.subject in schema or isinstance(t.subject, ox.BlankNode)]
    data = [t for t in triples if not (t.subject in schema or isinstance(t.subject, ox.BlankNode))]
    return Version(label, data, ontology)


def _from_store(path: Path, label: str) -> Version:
    try:
        store = ox.Store.read_only(str(path))
    except OSError as e:
        raise CqkgError(f"{label}: cannot open the store: {e}") from None
    return split_graphs(label, store.quads_for_pattern(None, None, None, None))


def _from_project(project: Project, label: str) -> Version:
    from .sources import load_sources
    from .validate import shapes_store

    return split_graphs(label, load_sources(project).store, [q.triple for q in shapes_store(project)])


def _from_git(rev: str, project: Project) -> Version:
    """The project as it was at a git revision, read from `git archive` into a temporary folder."""
    if rev.startswith("-"):
        raise CqkgError(f"{rev}: not a file, a folder or a git revision")
    try:
        git(project.root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    except CqkgError:
        raise CqkgError(f"{rev}: no such file, folder or git revision (of the repository at {project.root})") from None
    prefix = git(project.root, "rev-parse", "--show-prefix").decode().strip()
    parts = [f"{prefix}{d}" for d in ("ontology", "shapes", "seeds")]
    listed = git(project.root, "ls-tree", "--name-only", rev, "--", *parts).decode().split()
    if len(listed) < 3:
        raise CqkgError(f"{rev}: the project has no {', '.join(sorted(set(parts) - set(listed)))} at this revision")
    archive = git(project.root, "archive", "--format=tar", rev, "--", *parts)
    with tempfile.TemporaryDirectory(prefix="cqkg-diff-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        return _from_project(Project.at(Path(tmp) / prefix), rev)


# --------------------------------------------------------------------------- descriptions


@dataclass(frozen=True)
class Change:
    """One property of a description whose values differ."""

    property: str
    old: list[str]
    new: list[str]


@dataclass(frozen=True)
class Description:
    """What one subject states: property -> its values, as text (nested nodes written out)."""

    parts: dict[str, frozenset[str]]

    def get(self, prop: str) -> list[str]:
        """The values of one property (compact form, e.g. "cqkg:value"), sorted."""
        return sorted(self.parts.get(prop, ()))

    def changes_to(self, other: Description) -> list[Change]:
        """The properties whose values differ in `other`, the fact's main parts first."""
        props = sorted(set(self.parts) | set(other.parts), key=_part_order)
        return [
            Change(p, sorted(self.parts.get(p, set()) - other.parts.get(p, set())),
                   sorted(other.parts.get(p, set()) - self.parts.get(p, set())))
            for p in props if self.parts.get(p) != other.parts.get(p)
        ]  # fmt: skip


_W = TermWriter()
_ORDER = [_W.iri(p) for p in FACT_PARTS]


def _part_order(prop: str) -> tuple[int, str]:
    return (_ORDER.index(prop) if prop in _ORDER else len(_ORDER), prop)


def _term(t: Any) -> str:
    if isinstance(t, ox.NamedNode):
        return _W.iri(t.value)
    if isinstance(t, ox.Literal):
        text = json.dumps(t.value, ensure_ascii=False)
        if t.language:
            return f"{text}@{t.language}"
        dt = t.datatype.value
        if dt.endswith(("#decimal", "#integer", "#double", "#boolean")):
            return t.value
        return text if dt.endswith("#string") else f"{text}^^{_W.iri(dt)}"
    return "[]"


def _nested(t: Any) -> bool:
    return isinstance(t, ox.BlankNode) or (isinstance(t, ox.NamedNode) and t.value.startswith(GENID))


class Descriptions:
    """The top-level subjects of a set of triples, each with its Description."""

    def __init__(self, triples: Iterable[ox.Triple]):
        self.edges: dict[Any, list[tuple[Any, Any]]] = {}
        referenced = set()
        for t in triples:
            self.edges.setdefault(t.subject, []).append((t.predicate, t.object))
            if _nested(t.object):
                referenced.add(t.object)
        self.types = {s: {o.value for p, o in es if p.value == RDF + "type"} for s, es in self.edges.items()}
        self.top = [s for s in self.edges if not _nested(s) or s not in referenced or self.kind(s)]
        self._text: dict[Any, str] = {}

    def kind(self, s: Any) -> str:
        """ "observation", "claim" or ""."""
        return next((k for c, k in FACT_CLASSES.items() if c in self.types.get(s, ())), "")

    def describe(self, s: Any) -> Description:
        """What subject `s` states, nested nodes written out."""
        parts: dict[str, set[str]] = {}
        for p, o in self.edges.get(s, []):
            parts.setdefault(_W.iri(p.value), set()).add(self.text(o, (s,)))
        return Description({p: frozenset(v) for p, v in parts.items()})

    def text(self, o: Any, stack: tuple[Any, ...] = ()) -> str:
        """A term as text; a nested node as `[ p v ; ... ]` (a list as `( a b )`)."""
        if not _nested(o) or o not in self.edges or o in stack:
            return _term(o) if not _nested(o) else "[]"
        if o in self._text:
            return self._text[o]
        items = self._list(o)
        if items is not None:
            out = "( " + " ".join(self.text(i, (*stack, o)) for i in items) + " )"
        else:
            inner = sorted(f"{_W.iri(p.value)} {self.text(v, (*stack, o))}" for p, v in self.edges[o])
            out = "[ " + " ; ".join(inner) + " ]"
        self._text[o] = out
        return out

    def _list(self, node: Any) -> list[Any] | None:
        items = []
        while _nested(node):
            es = {p.value: v for p, v in self.edges.get(node, [])}
            if set(es) != {RDF + "first", RDF + "rest"}:
                return None
            items.append(es[RDF + "first"])
            node = es[RDF + "rest"]
        return items if node == ox.NamedNode(RDF + "nil") else None

    def keyed(self, facts: bool | None) -> dict[str, tuple[Any, Description]]:
        """Top-level subjects by a key that survives relabelling: their IRI, or for a nested fact
        (a claim written as a blank node) its statement, or for other nested nodes their text.
        facts=True: only facts; False: only the rest; None: all."""
        out: dict[str, tuple[Any, Description]] = {}
        for s in self.top:
            if facts is not None and bool(self.kind(s)) != facts:
                continue
            d = self.describe(s)
            if not _nested(s):
                key = _W.iri(s.value)
            elif self.kind(s) == "claim":
                key = " ".join(" ".join(d.get(_W.iri(RDF + p))) for p in ("subject", "predicate", "object"))
                if key in out:  # the same statement from two sources: tell them apart by source
                    key += " · " + " ".join(d.get("cqkg:source"))
            else:
                key = self.text(s)
            out[key] = (s, d)
        return out


# --------------------------------------------------------------------------- the changelog


@dataclass
class Entry:
    """One added, removed or changed description."""

    key: str
    change: str  # added | removed | changed
    kind: str  # observation | claim | term | shape | other
    group: str = ""
    description: Description | None = None  # the new one (the old one when removed)
    changes: list[Change] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The entry as a JSON object (a description for added and removed, changes for changed)."""
        out: dict[str, Any] = {"key": self.key, "change": self.change, "kind": self.kind}
        if self.group:
            out["group"] = self.group
        if self.change != "changed" and self.description is not None:
            out["description"] = {p: self.description.get(p) for p in sorted(self.description.parts, key=_part_order)}
        if self.changes:
            out["changes"] = [{"property": c.property, "old": c.old, "new": c.new} for c in self.changes]
        return out


@dataclass
class Changelog:
    """Every change between two versions, by section."""

    old: str
    new: str
    facts: list[Entry]
    other: list[Entry]
    ontology: list[Entry]
    shapes: list[Entry] | None  # None: one side has no shapes (an export)

    def counts(self) -> dict[str, dict[str, int]]:
        """kind -> added/removed/changed -> how many."""
        out: dict[str, dict[str, int]] = {}
        rows = [*self.facts, *self.other, *self.ontology, *(self.shapes or [])]
        for kind in ("observation", "claim", "other", "term", "shape"):
            out[kind] = {
                c: sum(1 for e in rows if e.kind == kind and e.change == c) for c in ("added", "removed", "changed")
            }
        return out

    @property
    def empty(self) -> bool:
        """True when nothing changed."""
        return not (self.facts or self.other or self.ontology or self.shapes)

    def as_json(self) -> str:
        """The changelog as a JSON document."""
        doc = {
            "old": self.old,
            "new": self.new,
            "counts": self.counts(),
            "facts": [e.as_json() for e in self.facts],
            "other": [e.as_json() for e in self.other],
            "ontology": [e.as_json() for e in self.ontology],
            "shapes": None if self.shapes is None else [e.as_json() for e in self.shapes],
        }
        return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"

    def as_markdown(self, title: str | None = None) -> str:
        """The changelog as Markdown: counts, then facts by subject and indicator, then the rest."""
        out = [f"# {title or f'Changes from {self.old} to {self.new}'}", ""]
        if self.empty:
            return "\n".join([*out, "No changes.", ""])
        out += ["| | added | removed | changed |", "|---|---:|---:|---:|"]
        names = {"observation": "observations", "claim": "claims", "other": "other descriptions",
                 "term": "ontology terms", "shape": "shapes"}  # fmt: skip
        for kind, c in self.counts().items():
            if kind == "shape" and self.shapes is None:
                out.append("| shapes | – | – | – |")
            else:
                out.append(f"| {names[kind]} | {c['added']} | {c['removed']} | {c['changed']} |")
        out.append("")
        if self.facts:
            out += ["## Facts", ""]
            group = None
            for e in self.facts:
                if e.group != group:
                    out += [""] if group is not None else []
                    group = e.group
                    out += [f"### {group}", ""]
                out.append(_markdown_line(e))
            out.append("")
        for heading, entries in (("Other descriptions", self.other), ("Ontology", self.ontology),
                                 ("Shapes", self.shapes)):  # fmt: skip
            if entries is None:
                out += [f"## {heading}", "", "Not compared: one side is an export, which holds no shapes.", ""]
            elif entries:
                out += [f"## {heading}", "", *(_markdown_line(e) for e in entries), ""]
        return "\n".join(out)


def _short(text: str, width: int = 90) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _markdown_line(e: Entry) -> str:
    key = f"`{e.key}`"
    if e.change == "changed":
        parts = "; ".join(
            f"{c.property} {', '.join(map(_short, c.old)) or '(none)'} → {', '.join(map(_short, c.new)) or '(none)'}"
            for c in e.changes
        )
        return f"- **changed** {key}: {parts}"
    d = e.description or Description({})
    if e.kind == "observation":
        value = " ".join(d.get("cqkg:comparator") + d.get("cqkg:value") + d.get("cqkg:unit"))
        summary = ", ".join(x for x in (value, *d.get("cqkg:period"), *d.get("cqkg:status")) if x)
    elif e.kind == "claim":
        summary = " ".join(" ".join(d.get(f"rdf:{p}")) for p in ("subject", "predicate", "object"))
    else:
        labels = d.get("rdfs:label") + d.get("skos:prefLabel") + d.get("dcterms:title")
        summary = ", ".join(_short(x, 60) for x in labels[:2]) or ", ".join(d.get("rdf:type"))
    source = ", ".join(d.get("cqkg:source"))
    quotes = d.get("cqkg:quote")
    tail = (f" — {source}" if source else "") + (f": {_short(quotes[0])}" if quotes else "")
    return f"- **{e.change}** {key}: {summary}{tail}"


def _compare(
    old: dict[str, tuple[Any, Description]], new: dict[str, tuple[Any, Description]], kind: Any
) -> list[Entry]:
    out = []
    for key in sorted(set(old) | set(new)):
        if key not in old:
            out.append(Entry(key, "added", kind(key, new), description=new[key][1]))
        elif key not in new:
            out.append(Entry(key, "removed", kind(key, old), description=old[key][1]))
        elif changes := old[key][1].changes_to(new[key][1]):
            out.append(Entry(key, "changed", kind(key, new), description=new[key][1], changes=changes))
    return out


def diff(old: Version, new: Version) -> Changelog:
    """The changelog from `old` to `new`."""
    old_data, new_data = Descriptions(old.data), Descriptions(new.data)
    old_facts, new_facts = old_data.keyed(True), new_data.keyed(True)

    def fact_kind(key: str, side: dict[str, tuple[Any, Description]]) -> str:
        return (new_data if side is new_facts else old_data).kind(side[key][0])

    facts = _compare(old_facts, new_facts, fact_kind)
    for e in facts:
        d = e.description or Description({})
        if e.kind == "observation":
            e.group = f"{' '.join(d.get('cqkg:subject')) or '(no subject)'} · {' '.join(d.get('cqkg:indicator'))}"
        else:
            e.group = f"{' '.join(d.get('rdf:subject'))} · {' '.join(d.get('rdf:predicate'))}"
    facts.sort(key=lambda e: (e.group, ["removed", "changed", "added"].index(e.change), e.key))
    other = _compare(old_data.keyed(False), new_data.keyed(False), lambda k, s: "other")
    # A release stamps its version on the ontology: that is no change of the ontology.
    old_onto = [t for t in old.ontology if t.predicate.value not in _VERSION_STAMPS]
    new_onto = [t for t in new.ontology if t.predicate.value not in _VERSION_STAMPS]
    ontology = _compare(Descriptions(old_onto).keyed(None), Descriptions(new_onto).keyed(None),
                        lambda k, s: "term")  # fmt: skip
    shapes = None
    if old.shapes is not None and new.shapes is not None:
        shapes = _compare(Descriptions(old.shapes).keyed(None), Descriptions(new.shapes).keyed(None),
                          lambda k, s: "shape")  # fmt: skip
    return Changelog(old.label, new.label, facts, other, ontology, shapes)
