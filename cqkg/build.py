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
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from .project import (
    BUILD_FORMAT_VERSION, CQKG, GRAPH, ID, INFERRED_GRAPH, ONTOLOGY_GRAPH,
    CqkgError, Project, atomic_output,
)

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDF_TYPE = ox.NamedNode(RDF + "type")
RDFS_LABEL = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
SKOS_PREFLABEL = ox.NamedNode("http://www.w3.org/2004/02/skos/core#prefLabel")
C = {name: ox.NamedNode(CQKG + name) for name in (
    "Claim", "SourceDocument", "Observation", "source", "quote", "textFile", "transcribedIn",
    "value",
)}
R_SUBJECT, R_PREDICATE, R_OBJECT = (ox.NamedNode(RDF + n) for n in ("subject", "predicate", "object"))


def node_key(node) -> str:
    """One spelling for a node whether it comes from pyoxigraph, rdflib or a plain string."""
    return getattr(node, "value", None) or str(node)


@dataclass
class Sources:
    """Everything parsed from the project's RDF files, by named graph."""
    graphs: dict[str, list] = field(default_factory=dict)      # graph IRI -> triples
    graph_files: dict[str, str] = field(default_factory=dict)  # graph IRI -> relative file
    node_files: dict[str, set] = field(default_factory=dict)   # node -> files that describe it

    def all_triples(self):
        for triples in self.graphs.values():
            yield from triples

    def file_of(self, node) -> str:
        files = self.node_files.get(node_key(node))
        return ", ".join(sorted(files)) if files else "?"


def parse_file(path: Path, project: Project, base_iri: str | None = None) -> list:
    """Parse one Turtle file with pyoxigraph; syntax errors name file:line:column."""
    try:
        return [t for t in ox.parse(path=str(path), format=ox.RdfFormat.TURTLE, base_iri=base_iri)]
    except SyntaxError as e:
        loc = ""
        if e.lineno:
            loc = f":{e.lineno}" + (f":{e.offset}" if e.offset else "")
        msg = re.sub(r"^Parser error at line \d+ between columns \d+ and \d+: ", "", e.msg or str(e))
        raise CqkgError(f"{project.rel(path)}{loc}: invalid Turtle: {msg}") from None
    except OSError as e:
        raise CqkgError(f"{project.rel(path)}: cannot read: {e.strerror or e}") from None


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


def _graph_for_seed(path: Path, triples: list) -> str:
    """A seed file's graph is named after the one source document whose text it holds."""
    docs = {t.subject for t in triples if t.predicate == C["textFile"]}
    if len(docs) == 1:
        return next(iter(docs)).value
    return GRAPH + "seeds/" + path.stem


def expand_claims(triples: list) -> list:
    """A cqkg:Claim states rdf:subject rdf:predicate rdf:object: assert that triple too."""
    parts: dict = {}
    claims = set()
    for t in triples:
        if t.predicate == RDF_TYPE and t.object == C["Claim"]:
            claims.add(t.subject)
        elif t.predicate in (R_SUBJECT, R_PREDICATE, R_OBJECT):
            parts.setdefault(t.subject, {})[t.predicate] = t.object
    extra = []
    for c in claims:
        p = parts.get(c, {})
        s, pr, o = p.get(R_SUBJECT), p.get(R_PREDICATE), p.get(R_OBJECT)
        if s is not None and isinstance(pr, ox.NamedNode) and o is not None and not isinstance(s, ox.Literal):
            extra.append(ox.Triple(s, pr, o))
    return triples + extra


def load_sources(project: Project) -> Sources:
    project.require_dirs("ontology", "shapes", "seeds")
    src = Sources()
    ont_files = project.ontology_files()
    if not ont_files:
        raise CqkgError(f"{project.rel(project.ontology_dir)}: no .ttl ontology file found")
    ont: list = []
    for f in ont_files:
        ont += canonical_blank_nodes(parse_file(f, project), None)
        src.graph_files[ONTOLOGY_GRAPH] = project.rel(f)
    src.graphs[ONTOLOGY_GRAPH] = ont
    for f in project.seed_files():
        triples = canonical_blank_nodes(parse_file(f, project), ID + "genid/")
        triples = expand_claims(triples)
        g = _graph_for_seed(f, triples)
        if g in src.graphs:
            raise CqkgError(f"{project.rel(f)}: describes the same source document as "
                            f"{src.graph_files[g]}; keep one seed file per source")
        src.graphs[g] = triples
        src.graph_files[g] = project.rel(f)
        rel = project.rel(f)
        for t in triples:
            src.node_files.setdefault(node_key(t.subject), set()).add(rel)
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
    for t in src.all_triples():
        if t.predicate == C["textFile"]:
            files[t.subject.value] = t.object.value
        elif t.predicate == C["transcribedIn"]:
            via[t.subject.value] = t.object.value
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
    for t in src.all_triples():
        if t.predicate == C["quote"]:
            quotes.setdefault(t.subject, set()).add(t.object.value)
        elif t.predicate == C["source"]:
            sources.setdefault(t.subject, set()).add(t.object.value)
    for node, qs in quotes.items():
        # A source document may quote itself (e.g. its dateline) without a cqkg:source.
        docs = sources.get(node) or ({node.value} if node.value in texts else set())
        key = node_key(node)
        for q in sorted(qs):
            nq = normalise_text(q)
            if not docs:
                problems.append(QuoteProblem(key, src.file_of(node), "has a quote but no cqkg:source"))
                continue
            held = [d for d in docs if d in texts]
            if not held:
                problems.append(QuoteProblem(key, src.file_of(node),
                                             f"no text is held for source(s) {', '.join(sorted(docs))}"))
            elif not any(nq in texts[d] for d in held):
                problems.append(QuoteProblem(key, src.file_of(node),
                                             f"quote not found in its source text: \"{q[:120]}\""))
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
    """In-memory store: named graphs as parsed, default graph = their deduplicated union."""
    store = ox.Store()
    quads = []
    for g, triples in src.graphs.items():
        gn = ox.NamedNode(g)
        quads.extend(ox.Quad(t.subject, t.predicate, t.object, gn) for t in triples)
    store.bulk_extend(quads)
    store.update("INSERT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }")
    return store


def default_graph_size(store: ox.Store) -> int:
    r = store.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    return int(next(iter(r))["n"].value)


def run(project: Project, write: bool = True, log=lambda msg: None) -> BuildResult:
    """Build (or, with write=False, only validate) the project's graph."""
    from . import reason, validate  # heavy imports (pyshacl, rdflib) only when building

    timings = {}
    t0 = time.perf_counter()
    src = load_sources(project)
    store = assemble(src)
    asserted = default_graph_size(store)
    timings["parse"] = time.perf_counter() - t0

    # Validate the closure without domain/range typing (see reason.materialise), then complete it.
    t = time.perf_counter()
    reason.materialise(store, typing=False)
    timings["inference"] = time.perf_counter() - t

    t = time.perf_counter()
    report = validate.validate_store(project, src, store)
    timings["validation"] = time.perf_counter() - t

    t = time.perf_counter()
    inferred = reason.materialise(store)
    timings["inference"] += time.perf_counter() - t

    total = asserted + inferred
    n_sources = sum(1 for g in src.graphs if g != ONTOLOGY_GRAPH)
    if not write or not report.conforms:
        return BuildResult(asserted, inferred, total, n_sources, report, timings, False)

    t = time.perf_counter()
    write_artefacts(project, store, {
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


def write_artefacts(project: Project, store: ox.Store, manifest: dict) -> None:
    """Write store/, graph.ttl and manifest.json; each lands by rename, so a failure keeps the old build."""
    from .export import export

    build = project.build_dir
    build.mkdir(exist_ok=True)
    tmp_store = build / f".store-{time.time_ns()}"
    try:
        disk = ox.Store(str(tmp_store))
        disk.bulk_extend(store.quads_for_pattern(None, None, None, None))
        disk.flush()
        del disk
        with atomic_output(build / "graph.ttl") as f:
            export(store, "turtle", f)
        old = build / f".store-old-{time.time_ns()}"
        if project.store_dir.exists():
            project.store_dir.rename(old)
        tmp_store.rename(project.store_dir)
        shutil.rmtree(old, ignore_errors=True)
        # The manifest goes last: it is what marks the build as complete and current.
        with atomic_output(project.manifest_path) as f:
            json.dump(manifest, f, indent=2, sort_keys=True)
            f.write("\n")
    finally:
        shutil.rmtree(tmp_store, ignore_errors=True)


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
