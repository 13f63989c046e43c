"""The build pipeline: parse → expand claims → check quotes → infer → validate → write artefacts.

Artefacts under build/ (never edit them by hand):
  store/         pyoxigraph on-disk store: default graph = ontology + asserted + inferred
                 (deduplicated, what queries see); one named graph per source document, one for
                 the ontology and one for inferred triples (what TriG/N-Quads export and loads use).
  graph.ttl      the default graph as deterministic Turtle.
  manifest.json  input fingerprint, counts, timings.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from . import reason
from .errors import CqkgError
from .export import export_bytes
from .project import Project, atomic_output
from .rdfstore import count, dump
from .report import Report
from .sources import Sources, load_sources
from .sparql import ServiceCheckCache
from .terms import INFERRED_GRAPH, ONTOLOGY_GRAPH
from .validate import validate_store

# Bump when the layout of build/ changes, so an older build is rebuilt rather than misread.
BUILD_FORMAT_VERSION = 1

Log = Callable[[str], None]


def _quiet(msg: str) -> None:
    pass


# --------------------------------------------------------------------------- the pipeline


@dataclass
class BuildResult:
    """What a build (or a validation) produced: counts, the report, stage timings, whether it wrote."""

    asserted: int
    inferred: int
    total: int
    sources: int
    report: Report
    timings: dict[str, float]
    written: bool


def assemble(src: Sources) -> ox.Store:
    """The store, with the default graph = the deduplicated union of the named graphs."""
    src.store.update("INSERT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }")
    return src.store


def default_graph_size(store: ox.Store) -> int:
    """Triples in the default graph."""
    return count(store, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")


def run(
    project: Project,
    write: bool = True,
    log: Log = _quiet,
    shacl_engine: str = "fast",
    service_checks: ServiceCheckCache | None = None,
) -> BuildResult:
    """Build (or, with write=False, only validate) the project's graph.

    `shacl_engine` is "fast" (shapes compiled to SPARQL) or "pyshacl"; `service_checks`
    remembers which quality-check texts were checked for SERVICE.
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    src = load_sources(project)
    # The source graphs are final now: a background thread starts writing them to the on-disk
    # store while inference and validation run (RocksDB ingestion is the slowest part of a write).
    disk = StoreWriter(project) if write else None
    if disk:
        disk.load(dump(src.store, ox.RdfFormat.N_QUADS), ox.RdfFormat.N_QUADS)
    try:
        return _infer_validate_write(project, src, disk, timings, t0, log, shacl_engine, service_checks)
    finally:
        if disk:
            disk.discard()


def _infer_validate_write(
    project: Project,
    src: Sources,
    disk: StoreWriter | None,
    timings: dict[str, float],
    t0: float,
    log: Log,
    shacl_engine: str,
    service_checks: ServiceCheckCache | None,
) -> BuildResult:
    store = assemble(src)
    asserted = default_graph_size(store)
    if disk:  # the asserted default graph is final too; only inferred triples are added at the end
        disk.load(
            dump(store, ox.RdfFormat.N_TRIPLES, ox.DefaultGraph()),
            ox.RdfFormat.N_TRIPLES,
            ox.DefaultGraph(),
        )
    timings["parse"] = time.perf_counter() - t0

    # Validate the closure without domain/range typing (see reason.materialise), then complete it.
    t = time.perf_counter()
    reason.materialise(store, typing=False)
    timings["inference"] = time.perf_counter() - t

    t = time.perf_counter()
    report = validate_store(project, src, store, shacl_engine, service_checks)
    timings["validation"] = time.perf_counter() - t

    t = time.perf_counter()
    inferred = reason.materialise(store, untyped_done=True)
    timings["inference"] += time.perf_counter() - t

    total = asserted + inferred
    n_sources = sum(1 for g in src.graph_files if g != ONTOLOGY_GRAPH)
    if disk is None or not report.conforms:
        return BuildResult(asserted, inferred, total, n_sources, report, timings, False)

    t = time.perf_counter()
    write_artefacts(
        project,
        store,
        disk,
        {
            "format": BUILD_FORMAT_VERSION,
            "fingerprint": project.fingerprint(),
            "asserted_triples": asserted,
            "inferred_triples": inferred,
            "total_triples": total,
            "sources": {g: f for g, f in sorted(src.graph_files.items())},
        },
    )
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
        self._jobs: list[Future[None]] = []
        self._store: ox.Store | None = None

    def load(self, data: bytes, fmt: ox.RdfFormat, graph: Any = None) -> None:
        """Queue a bulk load of `data` (into `graph`, or as the quads say when None)."""
        self._jobs.append(self._pool.submit(self._load, data, fmt, graph))

    def _load(self, data: bytes, fmt: ox.RdfFormat, graph: Any) -> None:
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
        """Stop, and remove the store unless finish() has handed it over."""
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


def write_artefacts(project: Project, store: ox.Store, disk: StoreWriter, manifest: dict[str, Any]) -> None:
    """Write store/, graph.ttl and manifest.json; each lands by rename, so a failure keeps the old build.

    `disk` already holds the source graphs and the asserted default graph; the inferred triples
    are added to it (to the default and the inferred graph) in its thread while this one writes
    graph.ttl.
    """
    build = project.build_dir
    inferred = dump(store, ox.RdfFormat.N_TRIPLES, ox.NamedNode(INFERRED_GRAPH))
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


def read_manifest(project: Project) -> dict[str, Any] | None:
    """build/manifest.json, or None when it is missing or unreadable."""
    try:
        data = json.loads(project.manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def build_is_current(project: Project) -> bool:
    """Is build/ complete, of this format, and built from the inputs as they are now?"""
    m = read_manifest(project)
    return (
        m is not None
        and m.get("format") == BUILD_FORMAT_VERSION
        and m.get("fingerprint") == project.fingerprint()
        and project.store_dir.is_dir()
    )


def open_store(project: Project) -> ox.Store:
    """The built store, opened read-only."""
    try:
        return ox.Store.read_only(str(project.store_dir))
    except OSError as e:
        raise CqkgError(f"{project.rel(project.store_dir)}: cannot open the built store: {e}") from None


def ensure_built(project: Project, log: Log, service_checks: ServiceCheckCache | None = None) -> ox.Store:
    """Open the built store, rebuilding first if it is missing or older than its inputs."""
    if not build_is_current(project):
        log("build is missing or out of date; building first ...")
        result = run(project, log=log, service_checks=service_checks)
        if not result.report.conforms:
            raise CqkgError(result.report.text(), exit_code=1)
    return open_store(project)
