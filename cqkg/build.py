"""The build pipeline: parse → expand claims → check quotes → infer → validate → write artefacts.

Artefacts under build/ (never edit them by hand):
  store/         pyoxigraph on-disk store: default graph = ontology + asserted + inferred
                 (deduplicated, what queries see); one named graph per source document, one for
                 the ontology and one for inferred triples (what TriG/N-Quads export and loads use).
  graph.ttl      the default graph as deterministic Turtle.
  manifest.json  input fingerprint, counts, timings.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from .project import (
    BUILD_FORMAT_VERSION, CQKG, GRAPH, ID, INFERRED_GRAPH, ONTOLOGY_GRAPH,
    CqkgError, Project, atomic_output,
)

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
C = {name: ox.NamedNode(CQKG + name) for name in (
    "Claim", "SourceDocument", "Observation", "source", "quote", "textFile", "transcribedIn",
    "value",
)}


def node_key(node) -> str:
    """One spelling for a node whether it comes from pyoxigraph, rdflib or a plain string."""
    return getattr(node, "value", None) or str(node)


@dataclass
class Sources:
    """The project's RDF files loaded into one store: one named graph per file (see load_sources)."""
    store: ox.Store
    graph_files: dict[str, str] = field(default_factory=dict)  # graph IRI -> relative file

    def pairs_with(self, predicate: ox.NamedNode):
        """(subject, object) of the triples with this predicate, from all the files as parsed
        (not what inference added to the default graph), duplicates across files kept once."""
        # DISTINCT in Oxigraph costs less than deduplicating quads in Python (0.18 s against
        # 0.43 s for the 123k quotes of the 1M benchmark).
        rows = self.store.query("SELECT DISTINCT ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } }",
                                substitutions={ox.Variable("p"): predicate})
        return ((r[0], r[2]) for r in rows)

    def file_of(self, node) -> str:
        """The seed files that describe `node` (as a subject); for locating problems."""
        key = node_key(node)
        if key.startswith("_:"):
            return "?"
        try:
            term = ox.NamedNode(key)
        except ValueError:
            return "?"
        files = {self.graph_files.get(q.graph_name.value) for q in self.store.quads_for_pattern(term, None, None, None)
                 if isinstance(q.graph_name, ox.NamedNode)}
        files.discard(None)
        return ", ".join(sorted(files)) if files else "?"


def read_turtle(path: Path, project: Project, read):
    """Run `read()` on a Turtle file, turning syntax and I/O errors into one located message."""
    try:
        return read()
    except SyntaxError as e:
        loc = f":{e.lineno}" + (f":{e.offset}" if e.offset else "") if e.lineno else ""
        msg = re.sub(r"^Parser error (at|between) line .*?: ", "", e.msg or str(e))
        raise CqkgError(f"{project.rel(path)}{loc}: invalid Turtle: {msg}") from None
    except OSError as e:
        raise CqkgError(f"{project.rel(path)}: cannot read: {e.strerror or e}") from None


def parse_file(path: Path, project: Project) -> list:
    """Parse one Turtle file with pyoxigraph; syntax errors name file:line:column."""
    return read_turtle(path, project, lambda: list(ox.parse(path=str(path), format=ox.RdfFormat.TURTLE)))


def canonical_blank_nodes(triples: list, skolem_base: str | None) -> list:
    """Relabel blank nodes by a hash of what they describe, so output does not depend on parse order.

    With `skolem_base`, blank nodes become IRIs under it (data: claims can then be referenced in
    queries and in remote stores); without, they stay blank nodes with stable labels (ontology lists).
    """
    out_edges: dict = {}
    for t in triples:
        if isinstance(t.subject, ox.BlankNode):
            out_edges.setdefault(t.subject, []).append(t)
    if not out_edges and not any(isinstance(t.object, ox.BlankNode) for t in triples):
        return triples
    digests: dict = {}

    def digest(node, stack=()) -> str:
        if node in digests:
            return digests[node]
        if node in stack:
            raise CqkgError("blank nodes form a cycle; give one of them an IRI")
        parts = []
        for t in out_edges.get(node, []):
            o = t.object
            o_repr = "_:" + digest(o, stack + (node,)) if isinstance(o, ox.BlankNode) else str(o)
            parts.append(f"{t.predicate} {o_repr}")
        d = hashlib.sha1("\n".join(sorted(parts)).encode()).hexdigest()[:16]
        digests[node] = d
        return d

    def relabel(term):
        if not isinstance(term, ox.BlankNode):
            return term
        d = digest(term)
        return ox.NamedNode(skolem_base + d) if skolem_base else ox.BlankNode("b" + d)

    return [ox.Triple(relabel(t.subject), t.predicate, relabel(t.object)) for t in triples]


def _source_document_of(path: Path, project: Project) -> str | None:
    """The source document a seed file describes: the subject of its cqkg:textFile triple.

    Streams the file and stops at the first such triple (by convention near the top), so the
    file is only fully parsed once, natively, by the bulk loader.
    """
    try:
        for t in ox.parse(path=str(path), format=ox.RdfFormat.TURTLE):
            if t.predicate == C["textFile"] and isinstance(t.subject, ox.NamedNode):
                return t.subject.value
    except SyntaxError:
        return None  # the bulk load below reports it with file and line
    return None


def _bulk_load(store: ox.Store, path: Path, project: Project, graph: str) -> None:
    read_turtle(path, project, lambda: store.bulk_load(path=str(path), format=ox.RdfFormat.TURTLE,
                                                       to_graph=ox.NamedNode(graph)))


def _canonicalise_blank_nodes(store: ox.Store, graph: str, skolem_base: str | None) -> None:
    """Give a graph's blank nodes content-hash labels (or skolem IRIs), so output is stable."""
    g = ox.NamedNode(graph)
    # Found natively: a Python loop over every quad of every file cost ~1 s per million triples.
    triples = [ox.Triple(r[0], r[1], r[2]) for r in store.query(
        f"SELECT ?s ?p ?o WHERE {{ GRAPH {g} {{ ?s ?p ?o FILTER(isBlank(?s) || isBlank(?o)) }} }}")]
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
    for f in project.seed_files():
        g = _source_document_of(f, project) or GRAPH + "seeds/" + f.stem
        if g in src.graph_files:
            raise CqkgError(f"{project.rel(f)}: describes the same source document as "
                            f"{src.graph_files[g]}; keep one seed file per source")
        _bulk_load(store, f, project, g)
        src.graph_files[g] = project.rel(f)
        _canonicalise_blank_nodes(store, g, ID + "genid/")
    for r in store.query(f"""SELECT ?g (COUNT(DISTINCT ?d) AS ?n) WHERE {{ GRAPH ?g {{ ?d <{CQKG}textFile> ?t }} }}
                             GROUP BY ?g HAVING (COUNT(DISTINCT ?d) > 1)"""):
        raise CqkgError(f"{src.graph_files.get(r['g'].value, r['g'].value)}: holds the text of "
                        f"{r['n'].value} source documents; keep one seed file per source")
    store.update(EXPAND_CLAIMS)
    return src


# --------------------------------------------------------------------------- quotes

_WS = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """Quotes match the article text modulo whitespace."""
    return _WS.sub(" ", text).strip()


@dataclass
class QuoteProblem:
    node: str
    file: str
    message: str


def source_texts(project: Project, src: Sources) -> tuple[dict[str, str], list[QuoteProblem]]:
    """Map each source document to the normalised text its quotes are checked against."""
    files, via, problems = {}, {}, []
    for subject, obj in src.pairs_with(C["textFile"]):
        files[subject.value] = obj.value
    for subject, obj in src.pairs_with(C["transcribedIn"]):
        via[subject.value] = obj.value
    texts: dict[str, str] = {}
    for doc, rel in files.items():
        path = project.seeds_dir / rel
        try:
            texts[doc] = normalise_text(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as e:
            problems.append(QuoteProblem(doc, src.file_of(doc),
                                         f"text file seeds/{rel} cannot be read: {e}"))
    for doc, note in via.items():
        if note in texts and doc not in texts:
            texts[doc] = texts[note]
    return texts, problems


def check_quotes(project: Project, src: Sources) -> list[QuoteProblem]:
    """Every quote must occur verbatim (modulo whitespace) in the text of one of its fact's sources."""
    texts, problems = source_texts(project, src)
    quotes: dict = {}
    sources: dict = {}
    for subject, obj in src.pairs_with(C["quote"]):
        quotes.setdefault(subject, set()).add(obj.value)
    for subject, obj in src.pairs_with(C["source"]):
        sources.setdefault(subject, set()).add(obj.value)
    for node, qs in quotes.items():
        # A source document may quote itself (e.g. its dateline) without a cqkg:source.
        docs = sources.get(node) or ({node.value} if node.value in texts else set())
        held = [texts[d] for d in docs if d in texts]
        for q in sorted(qs):
            if not docs:
                message = "has a quote but no cqkg:source"
            elif not held:
                message = f"no text is held for source(s) {', '.join(sorted(docs))}"
            elif any(normalise_text(q) in text for text in held):
                continue
            else:
                message = f"quote not found in its source text: \"{q[:120]}\""
            problems.append(QuoteProblem(node_key(node), src.file_of(node), message))
    return problems


# --------------------------------------------------------------------------- the pipeline

@dataclass
class BuildResult:
    asserted: int
    inferred: int
    total: int
    sources: int
    report: "object"  # validate.Report
    timings: dict
    written: bool


def assemble(src: Sources) -> ox.Store:
    """The store, with the default graph = the deduplicated union of the named graphs."""
    src.store.update("INSERT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }")
    return src.store


def default_graph_size(store: ox.Store) -> int:
    r = store.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    return int(next(iter(r))["n"].value)


def run(project: Project, write: bool = True, log=lambda msg: None) -> BuildResult:
    """Build (or, with write=False, only validate) the project's graph."""
    timings = {}
    t0 = time.perf_counter()
    src = load_sources(project)
    # The source graphs are final now: a background thread starts writing them to the on-disk
    # store while inference and validation run (RocksDB ingestion is the slowest part of a write).
    disk = StoreWriter(project) if write else None
    if disk:
        disk.load(src.store.dump(format=ox.RdfFormat.N_QUADS), ox.RdfFormat.N_QUADS)
    try:
        return _infer_validate_write(project, src, disk, timings, t0, log)
    finally:
        if disk:
            disk.discard()


def _infer_validate_write(project: Project, src: Sources, disk: "StoreWriter | None", timings: dict,
                          t0: float, log) -> BuildResult:
    from . import reason, validate  # heavy imports (pyshacl, rdflib) only when building

    store = assemble(src)
    asserted = default_graph_size(store)
    if disk:  # the asserted default graph is final too; only inferred triples are added at the end
        disk.load(store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=ox.DefaultGraph()),
                  ox.RdfFormat.N_TRIPLES, ox.DefaultGraph())
    timings["parse"] = time.perf_counter() - t0

    # Validate the closure without domain/range typing (see reason.materialise), then complete it.
    t = time.perf_counter()
    reason.materialise(store, typing=False)
    timings["inference"] = time.perf_counter() - t

    t = time.perf_counter()
    report = validate.validate_store(project, src, store)
    timings["validation"] = time.perf_counter() - t

    t = time.perf_counter()
    inferred = reason.materialise(store, untyped_done=True)
    timings["inference"] += time.perf_counter() - t

    total = asserted + inferred
    n_sources = sum(1 for g in src.graph_files if g != ONTOLOGY_GRAPH)
    if disk is None or not report.conforms:
        return BuildResult(asserted, inferred, total, n_sources, report, timings, False)

    t = time.perf_counter()
    write_artefacts(project, store, disk, {
        "format": BUILD_FORMAT_VERSION,
        "fingerprint": project.fingerprint(),
        "asserted_triples": asserted,
        "inferred_triples": inferred,
        "total_triples": total,
        "sources": {g: f for g, f in sorted(src.graph_files.items())},
    })
    timings["write"] = time.perf_counter() - t
    log(f"wrote {project.rel(project.build_dir)}/ in {timings['write']:.2f}s")
    return BuildResult(asserted, inferred, total, n_sources, report, timings, True)


class StoreWriter:
    """Fills a new on-disk store under build/ in a background thread, one bulk load after another.

    pyoxigraph's bulk loader releases the GIL, so the loads overlap the rest of the build. The
    store only replaces build/store when finish() succeeds; discard() removes what is left.
    """

    def __init__(self, project: Project):
        self._made_build_dir = not project.build_dir.exists()
        project.build_dir.mkdir(exist_ok=True)
        self.path = project.build_dir / f".store-{time.time_ns()}"
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="cqkg-store-writer")
        self._jobs: list = []
        self._store: ox.Store | None = None

    def load(self, data: bytes, fmt: ox.RdfFormat, graph=None) -> None:
        self._jobs.append(self._pool.submit(self._load, data, fmt, graph))

    def _load(self, data: bytes, fmt: ox.RdfFormat, graph) -> None:
        if self._store is None:
            self._store = ox.Store(str(self.path))
        self._store.bulk_load(data, format=fmt, **({} if graph is None else {"to_graph": graph}))

    def finish(self) -> Path:
        """Wait for every load, close the store and return its path; raises the first failure."""
        try:
            for job in self._jobs:
                job.result()
            if self._store is not None:
                self._store.flush()
        finally:
            self._store = None  # closes the RocksDB store, so it can be renamed and reopened
        return self.path

    def discard(self) -> None:
        for job in self._jobs:
            job.cancel()
        self._pool.shutdown(wait=True)
        self._store = None
        shutil.rmtree(self.path, ignore_errors=True)
        if self._made_build_dir:  # a failed first build leaves no build/ behind
            try:
                self.path.parent.rmdir()
            except OSError:
                pass  # not empty: the build succeeded


def write_artefacts(project: Project, store: ox.Store, disk: StoreWriter, manifest: dict) -> None:
    """Write store/, graph.ttl and manifest.json; each lands by rename, so a failure keeps the old build.

    `disk` already holds the source graphs and the asserted default graph; the inferred triples
    are added to it (to the default and the inferred graph) in its thread while this one writes
    graph.ttl.
    """
    from .export import export_bytes

    build = project.build_dir
    inferred = store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=ox.NamedNode(INFERRED_GRAPH))
    disk.load(inferred, ox.RdfFormat.N_TRIPLES, ox.DefaultGraph())
    disk.load(inferred, ox.RdfFormat.N_TRIPLES, ox.NamedNode(INFERRED_GRAPH))
    turtle, _ = export_bytes(store, "turtle")
    old = None
    with atomic_output(build / "graph.ttl", "wb") as f:
        f.write(turtle)
        try:
            new_store = disk.finish()
        except (OSError, RuntimeError, ValueError) as e:
            raise CqkgError(f"{project.rel(project.store_dir)}: cannot write the store: {e}") from None
        old = build / f".store-old-{time.time_ns()}"
        if project.store_dir.exists():
            project.store_dir.rename(old)
        new_store.rename(project.store_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    # The manifest goes last: it is what marks the build as complete and current.
    with atomic_output(project.manifest_path) as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")


def open_store(project: Project) -> ox.Store:
    try:
        return ox.Store.read_only(str(project.store_dir))
    except OSError as e:
        raise CqkgError(f"{project.rel(project.store_dir)}: cannot open the built store: {e}") from None


def ensure_built(project: Project, log) -> ox.Store:
    """Open the built store, rebuilding first if it is missing or older than its inputs."""
    if not project.build_is_current():
        log("build is missing or out of date; building first ...")
        result = run(project, log=log)
        if not result.report.conforms:
            raise CqkgError(result.report.text(), exit_code=1)
    return open_store(project)
