"""The project's RDF files parsed into one store, and the index of articles, quotes and sources.

Each file goes into its own named graph (so every triple keeps its file); blank nodes get
content-hash labels (skolem IRIs in seed data), and claims are expanded into the triples they
state. The SourceIndex maps source documents to their texts and facts to their quotes and
sources; the quote check and the number audit both read it.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pyoxigraph as ox

from .canonical import canonical_blank_nodes
from .errors import CqkgError
from .footprint import among
from .project import Project
from .rdfstore import select
from .terms import CQKG, GENID, GRAPH, ONTOLOGY_GRAPH, RDF, cqkg, node_key

T = TypeVar("T")

TEXT_FILE = cqkg("textFile")
TRANSCRIBED_IN = cqkg("transcribedIn")
QUOTE = cqkg("quote")
SOURCE = cqkg("source")


@dataclass
class Sources:
    """The project's RDF files loaded into one store: one named graph per file (see load_sources)."""

    store: ox.Store
    graph_files: dict[str, str] = field(default_factory=dict)  # graph IRI -> relative file

    def release(self) -> None:
        """Let go of the parsed store (freeing a large one takes a while: see build._infer_validate_write)."""
        self.store = ox.Store()

    def pairs_with(self, predicate: ox.NamedNode, subjects: set[str] | None = None) -> list[tuple[Any, Any]]:
        """(subject, object) of the triples with this predicate, from all the files as parsed
        (not what inference added to the default graph), duplicates across files kept once;
        with `subjects` (N-Triples terms), of those subjects only."""
        # DISTINCT in Oxigraph costs less than deduplicating quads in Python (0.18 s against
        # 0.43 s for the 123k quotes of the 1M benchmark).
        rows = select(
            self.store, f"SELECT DISTINCT ?s ?p ?o WHERE {{ {among('?s', subjects)}GRAPH ?g {{ ?s {predicate} ?o }} }}"
        )
        # Read here, in the calling thread: pyoxigraph's result iterators must be dropped by the
        # thread that made them, and a lazy generator may be collected anywhere.
        return [(r[0], r[2]) for r in rows]

    def file_of(self, node: Any) -> str:
        """The seed files that describe `node` (as a subject); for locating problems."""
        key = node_key(node)
        if key.startswith("_:"):
            return "?"
        try:
            term = ox.NamedNode(key)
        except ValueError:
            return "?"
        files = {
            self.graph_files.get(q.graph_name.value)
            for q in self.store.quads_for_pattern(term, None, None, None)
            if isinstance(q.graph_name, ox.NamedNode)
        }
        named = sorted(f for f in files if f is not None)
        return ", ".join(named) if named else "?"


def read_turtle(path: Path, project: Project, read: Callable[[], T]) -> T:
    """Run `read()` on a Turtle file, turning syntax and I/O errors into one located message."""
    try:
        return read()
    except SyntaxError as e:
        loc = f":{e.lineno}" + (f":{e.offset}" if e.offset else "") if e.lineno else ""
        msg = re.sub(r"^Parser error (at|between) line .*?: ", "", e.msg or str(e))
        raise CqkgError(f"{project.rel(path)}{loc}: invalid Turtle: {msg}") from None
    except OSError as e:
        raise CqkgError(f"{project.rel(path)}: cannot read: {e.strerror or e}") from None


def parse_file(path: Path, project: Project) -> list[ox.Quad]:
    """Parse one Turtle file with pyoxigraph (quads in the default graph); syntax errors name file:line:column."""
    return read_turtle(path, project, lambda: list(ox.parse(path=str(path), format=ox.RdfFormat.TURTLE)))


def _source_document_of(path: Path) -> str | None:
    """The source document a seed file describes: the subject of its cqkg:textFile triple.

    Streams the file and stops at the first such triple (by convention near the top), so the
    file is only fully parsed once, natively, by the bulk loader.
    """
    try:
        for t in ox.parse(path=str(path), format=ox.RdfFormat.TURTLE):
            if t.predicate == TEXT_FILE and isinstance(t.subject, ox.NamedNode):
                return t.subject.value
    except SyntaxError:
        return None  # the bulk load reports it with file and line
    return None


def _bulk_load(store: ox.Store, path: Path, project: Project, graph: str) -> None:
    read_turtle(
        path,
        project,
        lambda: store.bulk_load(path=str(path), format=ox.RdfFormat.TURTLE, to_graph=ox.NamedNode(graph)),
    )


def _canonicalise_blank_nodes(store: ox.Store, graph: str, skolem_base: str | None) -> None:
    """Give a graph's blank nodes content-hash labels (or skolem IRIs), so output is stable."""
    g = ox.NamedNode(graph)
    # Found natively: a Python loop over every quad of every file cost ~1 s per million triples.
    rows = select(store, f"SELECT ?s ?p ?o WHERE {{ GRAPH {g} {{ ?s ?p ?o FILTER(isBlank(?s) || isBlank(?o)) }} }}")
    triples = [ox.Triple(r[0], r[1], r[2]) for r in rows]
    if not triples:
        return
    relabelled = canonical_blank_nodes(triples, skolem_base)
    for t in triples:
        store.remove(ox.Quad(t.subject, t.predicate, t.object, g))
    store.extend(ox.Quad(t.subject, t.predicate, t.object, g) for t in relabelled)


# A cqkg:Claim states rdf:subject rdf:predicate rdf:object: assert that triple too, in its graph.
EXPAND_CLAIMS = f"""
INSERT {{ GRAPH ?g {{ ?s ?p ?o }} }} WHERE {{
  GRAPH ?g {{ ?c a <{CQKG}Claim> ; <{RDF}subject> ?s ; <{RDF}predicate> ?p ; <{RDF}object> ?o }}
  FILTER(isIRI(?p) && !isLiteral(?s))
}}"""


def load_sources(project: Project) -> Sources:
    """Parse the ontology and every seed file (natively, by pyoxigraph's bulk loader) into one store.

    The ontology goes to the ontology graph; each seed file to a graph named after the source
    document whose text it holds (other files, such as periods.ttl, to .../graph/seeds/NAME).
    """
    project.require_dirs("ontology", "shapes", "seeds")
    store = ox.Store()
    src = Sources(store)
    ont_files = project.ontology_files()
    if not ont_files:
        raise CqkgError(f"{project.rel(project.ontology_dir)}: no .ttl ontology file found")
    for f in ont_files:
        _bulk_load(store, f, project, ONTOLOGY_GRAPH)
        src.graph_files[ONTOLOGY_GRAPH] = project.rel(f)
    _canonicalise_blank_nodes(store, ONTOLOGY_GRAPH, None)
    load_seeds(project, project.seed_files(), src)
    return src


def load_seeds(project: Project, files: list[Path], src: Sources | None = None) -> Sources:
    """Parse seed files into `src` (a new in-memory Sources by default), one named graph each:
    the graph of the source document whose text the file holds (others: .../graph/seeds/NAME).

    Blank nodes become skolem IRIs named by content and claims are expanded, so a file's graph
    depends on that file alone (an incremental build parses only the files that changed).
    """
    src = src if src is not None else Sources(ox.Store())
    store = src.store
    for f in files:
        g = _source_document_of(f) or GRAPH + "seeds/" + urllib.parse.quote(f.stem)
        if g in src.graph_files:
            raise CqkgError(
                f"{project.rel(f)}: describes the same source document as "
                f"{src.graph_files[g]}; keep one seed file per source"
            )
        _bulk_load(store, f, project, g)
        src.graph_files[g] = project.rel(f)
        _canonicalise_blank_nodes(store, g, GENID)
    rows = select(
        store,
        f"""SELECT ?g (COUNT(DISTINCT ?d) AS ?n) WHERE {{ GRAPH ?g {{ ?d <{CQKG}textFile> ?t }} }}
                           GROUP BY ?g HAVING (COUNT(DISTINCT ?d) > 1)""",
    )
    for r in rows:
        graph, n = r["g"], r["n"]
        assert graph is not None and n is not None
        raise CqkgError(
            f"{src.graph_files.get(graph.value, graph.value)}: holds the text of "
            f"{n.value} source documents; keep one seed file per source"
        )
    store.update(EXPAND_CLAIMS)
    return src


def assemble(src: Sources) -> ox.Store:
    """The store, with the default graph = the deduplicated union of the named graphs."""
    src.store.update("INSERT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }")
    return src.store


def union_store(project: Project) -> ox.Store:
    """The project's files parsed, the default graph their union (no inference): for look-ups."""
    return assemble(load_sources(project))


# --------------------------------------------------------------------------- the source index

_WS = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """Quotes match the article text modulo whitespace.

    >>> normalise_text("  two\\n  lines ")
    'two lines'
    """
    return _WS.sub(" ", text).strip()


@dataclass
class SourceIndex:
    """Which text each source document has, and which quotes and sources each fact has."""

    text_files: dict[str, str]  # source document -> its own text file (relative to seeds/)
    text_file_of: dict[str, str]  # source document -> the text file its quotes are checked against
    texts: dict[str, str]  # source document -> normalised text (readable files only)
    unreadable: dict[str, str]  # source document -> why its text file cannot be read
    quotes: dict[str, set[str]]  # node -> its quotes, as written
    sources: dict[str, set[str]]  # node -> its cqkg:source documents

    def documents_of(self, node: str) -> set[str]:
        """The documents a node's quotes come from: its sources, or itself when it is a document
        with a text (a source document may quote itself, e.g. its dateline)."""
        return self.sources.get(node) or ({node} if node in self.texts else set())


def index_sources(project: Project, src: Sources, only: set[str] | None = None) -> SourceIndex:
    """Build the SourceIndex from the parsed files (reads and normalises every text file once).

    With `only` (N-Triples terms), the quotes and sources of those nodes, and the texts they need.
    """
    files = {s.value: o.value for s, o in src.pairs_with(TEXT_FILE)}
    quotes: dict[str, set[str]] = {}
    sources: dict[str, set[str]] = {}
    for s, o in src.pairs_with(QUOTE, only):
        quotes.setdefault(node_key(s), set()).add(o.value)
    for s, o in src.pairs_with(SOURCE, only):
        sources.setdefault(node_key(s), set()).add(o.value)
    transcribed = {s.value: o.value for s, o in src.pairs_with(TRANSCRIBED_IN)}
    if only is None:
        wanted = set(files)
    else:  # the nodes' documents, the nodes that are documents, and the notes they are transcribed in
        keys = {t[1:-1] for t in only if t.startswith("<")}
        wanted = {d for n in quotes for d in sources.get(n, ())} | keys
        wanted |= {transcribed[d] for d in wanted if d in transcribed}
    texts: dict[str, str] = {}
    unreadable: dict[str, str] = {}
    for doc, rel in files.items():
        if doc not in wanted:
            continue
        try:
            texts[doc] = normalise_text((project.seeds_dir / rel).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as e:
            unreadable[doc] = f"text file seeds/{rel} cannot be read: {e}"
    text_file_of = dict(files)
    # A document transcribed in another one (a note quoting it) is checked against that text.
    for doc, note in transcribed.items():
        if note in files and doc not in files:
            text_file_of[doc] = files[note]
            if note in texts:
                texts[doc] = texts[note]
    if only is not None:  # an unreadable text is reported on its document, when that is checked
        unreadable = {d: why for d, why in unreadable.items() if d in keys}
    return SourceIndex(files, text_file_of, texts, unreadable, quotes, sources)


# What the quote check reads from a node (see shacl.ShapesGraph.footprint); cqkg:textFile is also
# "changed" when the text file's content is.
QUOTE_FOOTPRINT: set[tuple[tuple[str | None, bool], ...]] = {
    tuple((CQKG + p, True) for p in chain)
    for chain in (
        ("quote",), ("source",), ("source", "textFile"), ("source", "transcribedIn"),
        ("source", "transcribedIn", "textFile"), ("textFile",), ("transcribedIn",), ("transcribedIn", "textFile"),
    )
}  # fmt: skip
