"""The build pipeline: parse → expand claims → check quotes → infer → validate → write artefacts.

Artefacts under build/ (never edit them by hand):
  store/            pyoxigraph on-disk store: default graph = ontology + asserted + inferred
                    (deduplicated, what queries see); one named graph per source document, one for
                    the ontology and one for inferred triples (what TriG/N-Quads export and loads use).
  manifest.json     every input's size, time and SHA-256 at the start of the build; counts, timings.
  incremental.json  what the next build needs to follow a change incrementally (incremental.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from . import __version__, incremental, reason, shacl
from .errors import CqkgError
from .manifest import BUILD_FORMAT_VERSION, made_by_this_version, open_store, read_manifest, staleness
from .project import Project, atomic_output, describe_changes, pid_alive, remove_stale_temporaries
from .rdfstore import count, dump
from .report import Report
from .sources import Sources, assemble, load_sources
from .sparql import ServiceCheckCache
from .terms import GRAPH, INFERRED_GRAPH, ONTOLOGY_GRAPH
from .validate import footprints, shapes_store, validate_store

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


def _show(node: Any) -> str:
    return f"<{node.value}>" if isinstance(node, ox.NamedNode) else "a blank node"


def default_graph_size(store: ox.Store) -> int:
    """Triples in the default graph."""
    return count(store, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")


@dataclass(frozen=True)
class BuildOptions:
    """How a build runs: whether it writes build/, which SHACL engine, where notes go."""

    write: bool = True
    shacl_engine: str = "fast"  # or "pyshacl"
    strict_shacl: bool = False  # refuse shapes the compiled validator cannot run
    service_checks: ServiceCheckCache | None = None  # remembers which check texts were parsed
    log: Log = _quiet
    stage: Log = _quiet  # told the name of each stage as it starts (for progress on a terminal)
    incremental: str = "auto"  # "auto": follow a small change of the seeds; "never"; "always" (tests)


def run(
    project: Project,
    write: bool = True,
    log: Log = _quiet,
    shacl_engine: str = "fast",
    service_checks: ServiceCheckCache | None = None,
    strict_shacl: bool = False,
    stage: Log = _quiet,
    incremental: str = "auto",
) -> BuildResult:
    """Build (or, with write=False, only validate) the project's graph.

    `shacl_engine` is "fast" (shapes compiled to SPARQL) or "pyshacl"; `service_checks`
    remembers which quality-check texts were checked for SERVICE; `incremental` is "auto"
    (update the previous build when only a few seed files changed), "never" or "always".
    """
    opts = BuildOptions(write, shacl_engine, strict_shacl, service_checks, log, stage, incremental)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        # The inputs as they are before anything is read: an edit during the build then leaves a
        # manifest that no longer matches them, and the next command builds again.
        started_from = project.input_state()
        result = _run_once(project, opts, started_from)
        changed = project.changed_inputs(started_from) if result.written else []
        if not changed:
            return result
        if attempt < MAX_ATTEMPTS:
            log(f"the inputs changed during the build ({describe_changes(changed)}); building again ...")
    log(f"warning: the inputs kept changing during {MAX_ATTEMPTS} builds; the next command builds again")
    return result


# The stages a build reports (parsing, inference, validation, writing); validate has all but the last.
STAGES = 4

# A build restarts when its inputs change under it; this many times, then it reports and stops.
MAX_ATTEMPTS = 3


def _run_once(project: Project, opts: BuildOptions, inputs: dict[str, Any]) -> BuildResult:
    if opts.incremental != "never" and opts.shacl_engine == "fast":
        manifest = read_manifest(project)
        if manifest is not None and made_by_this_version(manifest):
            try:
                change = incremental.plan(project, manifest, always=opts.incremental == "always")
                return _run_incremental(project, opts, inputs, manifest, change)
            except incremental.FullBuild as e:
                opts.log(f"building in full: {e}")
    return _run_full(project, opts, inputs)


def _run_full(project: Project, opts: BuildOptions, inputs: dict[str, Any]) -> BuildResult:
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    opts.stage("parsing")
    src = load_sources(project)
    # The source graphs are final now: a background thread starts writing them to the on-disk
    # store while inference and validation run (RocksDB ingestion is the slowest part of a write).
    disk = StoreWriter(project) if opts.write else None
    if disk:
        disk.load(dump(src.store, ox.RdfFormat.N_QUADS), ox.RdfFormat.N_QUADS)
    try:
        return _infer_validate_write(project, src, disk, timings, t0, opts, inputs)
    finally:
        if disk:
            disk.discard()


def _infer_validate_write(
    project: Project,
    src: Sources,
    disk: StoreWriter | None,
    timings: dict[str, float],
    t0: float,
    opts: BuildOptions,
    inputs: dict[str, Any],
) -> BuildResult:
    log = opts.log
    store = assemble(src)
    asserted = default_graph_size(store)
    if disk:  # the asserted default graph is final too; only inferred triples are added at the end
        disk.load(
            dump(store, ox.RdfFormat.N_TRIPLES, ox.DefaultGraph()),
            ox.RdfFormat.N_TRIPLES,
            ox.DefaultGraph(),
        )
    timings["parse"] = time.perf_counter() - t0

    shapes = shapes_store(project)
    refused = reason.unsupported_axioms(store, shapes)
    if refused:
        lines = [f"{src.file_of(s)}: {_show(s)} {term}: {why}" for s, term, why in refused[:10]]
        more = f"\n(and {len(refused) - 10} more)" if len(refused) > 10 else ""
        raise CqkgError("OWL that cqkg's inference does not implement (nothing was built):\n" + "\n".join(lines) + more)

    # Validate the closure without domain/range typing (see reason.materialise), then complete it.
    opts.stage("inference")
    t = time.perf_counter()
    reason.materialise(store, typing=False)
    if disk:  # so is this closure: the disk store takes it while validation runs, the typing pass at the end
        closure = dump(store, ox.RdfFormat.N_TRIPLES, ox.NamedNode(INFERRED_GRAPH))
        disk.load(closure, ox.RdfFormat.N_TRIPLES, ox.DefaultGraph())
        disk.load(closure, ox.RdfFormat.N_TRIPLES, ox.NamedNode(INFERRED_GRAPH))
    timings["inference"] = time.perf_counter() - t

    opts.stage("validation")
    t = time.perf_counter()
    report = validate_store(project, src, store, shapes, opts.shacl_engine, opts.service_checks, opts.strict_shacl, log)
    timings["validation"] = time.perf_counter() - t

    t = time.perf_counter()
    inferred = reason.materialise(store, untyped_done=True, record=TYPING_GRAPH)
    typing_only = [(q.subject, q.predicate, q.object) for q in store.quads_for_pattern(None, None, None, TYPING)]
    typing_nt = dump(store, ox.RdfFormat.N_TRIPLES, TYPING) if disk is not None and report.conforms else b""
    store.remove_graph(TYPING)
    timings["inference"] += time.perf_counter() - t

    total = asserted + inferred
    n_sources = sum(1 for g in src.graph_files if g != ONTOLOGY_GRAPH)
    if disk is None or not report.conforms:
        return BuildResult(asserted, inferred, total, n_sources, report, timings, False)

    opts.stage("writing")
    t = time.perf_counter()
    disk.load(typing_nt, ox.RdfFormat.N_TRIPLES, ox.DefaultGraph())  # what the typing pass added
    disk.load(typing_nt, ox.RdfFormat.N_TRIPLES, ox.NamedNode(INFERRED_GRAPH))
    # The in-memory store is done with. Freeing it takes ~1 s at 1M triples: here, while the disk
    # store takes its last loads without the GIL, rather than after the build, when nothing else runs.
    del store
    src.release()
    manifest = _manifest(inputs, asserted, inferred, src.graph_files)
    write_artefacts(project, disk, manifest, typing_only, report)
    timings["write"] = time.perf_counter() - t
    log(f"wrote {project.rel(project.build_dir)}/ in {timings['write']:.2f}s")
    return BuildResult(asserted, inferred, total, n_sources, report, timings, True)


# Where the full build's typing pass also writes what it adds (in memory only, never written).
TYPING_GRAPH = GRAPH + "typing"
TYPING = ox.NamedNode(TYPING_GRAPH)


def _manifest(inputs: dict[str, Any], asserted: int, inferred: int, graph_files: dict[str, str]) -> dict[str, Any]:
    return {
        "format": BUILD_FORMAT_VERSION,
        "cqkg_version": __version__,
        "inputs": inputs,
        "asserted_triples": asserted,
        "inferred_triples": inferred,
        "total_triples": asserted + inferred,
        "sources": {g: f for g, f in sorted(graph_files.items())},
    }


def _run_incremental(
    project: Project, opts: BuildOptions, inputs: dict[str, Any], manifest: dict[str, Any], change: incremental.Change
) -> BuildResult:
    """Update a copy of the previous build's store for `change` (see incremental.py)."""
    opts.log(f"updating the previous build: {describe_changes(change.summary) or 'nothing changed'}")
    try:
        disk = StoreWriter(project)
    except CqkgError as e:
        raise incremental.FullBuild(str(e)) from None
    try:
        # _update holds the working store only while it runs: when the writer then closes it, no
        # reference keeps RocksDB open (its background compaction then wrote into a removed
        # folder, and the process waited a second for it on exit). A failure's traceback would
        # keep _update's frame, and the store, alive: it is raised without it.
        failure: Exception | None = None
        try:
            result, typing_only, graph_files = _update(project, opts, manifest, change, disk)
        except shacl.Unsupported as e:  # (pyshacl, or --strict-shacl's refusal, takes the whole graph)
            failure = incremental.FullBuild(f"{e}, which only a full validation handles")
        except (CqkgError, incremental.FullBuild) as e:  # (a bug keeps its traceback, for CQKG_DEBUG)
            failure = e.with_traceback(None)
            failure.__context__ = failure.__cause__ = None
        if failure is not None:
            raise failure  # its traceback is this frame alone: the finally below closes the store
        if not opts.write or not result.report.conforms:
            return result
        opts.stage("writing")
        t = time.perf_counter()
        write_artefacts(project, disk, _manifest(inputs, result.asserted, result.inferred, graph_files), typing_only,
                        result.report)  # fmt: skip
        result.timings["write"] = time.perf_counter() - t
        opts.log(f"wrote {project.rel(project.build_dir)}/ in {result.timings['write']:.2f}s")
        result.written = True
        return result
    finally:
        disk.discard()


def _update(
    project: Project, opts: BuildOptions, manifest: dict[str, Any], change: incremental.Change, disk: StoreWriter
) -> tuple[BuildResult, Any, dict[str, str]]:
    """Apply the change to a copy of the previous store and validate it; the typing goes in when it
    conforms. Returns the result (not written yet), the typing-only triples and the graphs' files."""
    timings: dict[str, float] = {}
    t = time.perf_counter()
    opts.stage("parsing")
    store = disk.start_from(project.store_dir.resolve())
    shapes = shapes_store(project)
    started: dict[str, float] = {}  # when each stage apply() announces started

    def stage(name: str) -> None:
        started[name] = time.perf_counter()
        opts.stage(name)

    applied = incremental.apply(
        project, store, manifest, change, footprints(project, shapes, opts.service_checks), stage
    )
    ended = time.perf_counter()
    timings["parse"] = started.get("inference", ended) - t
    timings["inference"] = ended - started.get("inference", ended)  # with which nodes to check again
    opts.stage("validation")
    t = time.perf_counter()
    report = validate_store(
        project, applied.src, store, shapes, opts.shacl_engine, opts.service_checks, opts.strict_shacl,
        opts.log, scope=applied.scope, kept=applied.kept,
    )  # fmt: skip
    timings["validation"] = time.perf_counter() - t
    if opts.write and report.conforms:
        incremental.add_typing(store, applied.typing)
    n_sources = sum(1 for g in applied.src.graph_files if g != ONTOLOGY_GRAPH)
    total = applied.asserted + applied.inferred
    result = BuildResult(applied.asserted, applied.inferred, total, n_sources, report, timings, False)
    return result, applied.typing, applied.src.graph_files


class StoreWriter:
    """Fills a new on-disk store under build/stores/ in a background thread, one bulk load after another.

    pyoxigraph's bulk loader releases the GIL, so the loads overlap the rest of the build. The
    store is written to `stores/<time>-<pid>.partial` and only becomes `build/store` in
    write_artefacts; discard() removes what is left of a failed build.
    """

    def __init__(self, project: Project):
        self._made_build_dir = not project.build_dir.exists()
        try:
            project.build_dir.mkdir(exist_ok=True)
            remove_leftovers(project)
            (project.build_dir / STORES).mkdir(exist_ok=True)
        except OSError as e:
            raise CqkgError(
                f"{project.rel(project.build_dir)}: cannot write the build ({e.strerror or e}); "
                f"build in a folder you can write to, or use 'cqkg validate', which writes nothing"
            ) from None
        self.build_dir = project.build_dir
        # Not ".tmp": RocksDB's backup of `stores/X` goes through a folder `stores/X.tmp` of its own.
        self.path = project.build_dir / STORES / f"{time.time_ns()}-{os.getpid()}.partial"
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="cqkg-store-writer")
        self._jobs: list[Future[None]] = []
        self._store: ox.Store | None = None

    def start_from(self, previous: Path) -> ox.Store:
        """Start from a copy of the store at `previous` (a RocksDB backup: hard links); the
        caller then changes it in place, in its own thread."""
        try:
            ox.Store.read_only(str(previous)).backup(str(self.path))
            self._store = ox.Store(str(self.path))
        except OSError as e:
            raise CqkgError(f"{self.path}: cannot copy the previous build's store: {e}") from None
        return self._store

    def load(self, data: bytes, fmt: ox.RdfFormat, graph: Any = None) -> None:
        """Queue a bulk load of `data` (into `graph`, or as the quads say when None)."""
        self._jobs.append(self._pool.submit(self._load, data, fmt, graph))

    def _load(self, data: bytes, fmt: ox.RdfFormat, graph: Any) -> None:
        if self._store is None:
            self._store = ox.Store(str(self.path))
        # lenient: the data is Oxigraph's own serialisation of terms it parsed strictly (IRIs,
        # language tags and literals checked once); checking them again cost ~10% of the load.
        self._store.bulk_load(data, format=fmt, lenient=True, **({} if graph is None else {"to_graph": graph}))

    def finish(self, final: Path) -> None:
        """Wait for every load and leave a consistent copy of the store at `final`; raises the first failure.

        The copy is a RocksDB backup (hard links on the same file system, so it costs little): a
        closed, complete store that readers may open at once, whatever the writer's own files are
        still doing. Renaming the written folder instead let readers see files RocksDB had not
        finished with ("Sst file size mismatch").
        """
        try:
            for job in self._jobs:
                job.result()
            if self._store is None:
                self._store = ox.Store(str(self.path))
            self._store.flush()
            self._store.backup(str(final))
        finally:
            self._store = None
            shutil.rmtree(self.path, ignore_errors=True)

    def discard(self) -> None:
        """Stop, and remove the store unless write_artefacts has handed it over."""
        for job in self._jobs:
            job.cancel()
        self._pool.shutdown(wait=True)
        self._store = None
        shutil.rmtree(self.path, ignore_errors=True)
        if self._made_build_dir and not (self.build_dir / "manifest.json").exists():
            shutil.rmtree(self.build_dir, ignore_errors=True)  # a failed first build leaves no build/ behind


STORES = "stores"  # build/stores/<generation>: build/store is a symbolic link to the current one


def remove_leftovers(project: Project) -> list[str]:
    """Remove what killed builds left under build/: half-written stores and temporary files whose
    process is gone (a build running in parallel keeps its own). Returns what was removed."""
    build = project.build_dir
    removed = []
    stores = [*build.glob(".store-*"), *build.glob(f"{STORES}/*.partial"), *build.glob(f"{STORES}/*.tmp")]
    for path in stores:
        if not path.is_dir() or path.is_symlink():
            continue
        m = re.search(r"-(\d+)\.(?:partial|tmp)$", path.name)  # <time>-<pid>.partial, or RocksDB's <that>.tmp
        if m and pid_alive(int(m.group(1))):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path.name)
    for name in ("graph.ttl", "manifest.json", incremental.STATE_FILE, "store-link"):  # written by rename
        removed += remove_stale_temporaries(build, name)
    return removed


def _swap_store_link(project: Project, new_store: Path) -> Path | None:
    """Point build/store at `new_store` in one rename; return the store it pointed at before."""
    link = project.store_dir
    previous = None
    if link.is_symlink():
        previous = link.resolve()
    elif link.is_dir():  # the layout of older builds: a plain folder
        previous = link.with_name(f".store-old-{time.time_ns()}")
        link.rename(previous)
    tmp = link.with_name(f".store-link.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    os.symlink(os.path.relpath(new_store, link.parent), tmp)
    os.replace(tmp, link)  # readers open build/store: they see the old store or the new, whole
    return previous


def write_artefacts(
    project: Project, disk: StoreWriter, manifest: dict[str, Any], typing_only: Any, report: Report
) -> None:
    """Finish the store and write incremental.json and manifest.json; each lands by rename, so a
    failure keeps the old build.

    `disk` holds the whole new store once its queued loads finish. build/store then points at
    it; the store before it is kept (a query may still be reading it) and older ones are removed.
    """
    build = project.build_dir
    try:
        final = disk.path.with_name(disk.path.name.removesuffix(".partial"))
        disk.finish(final)
        previous = _swap_store_link(project, final)
        store = os.path.relpath(final, build)
        with atomic_output(build / incremental.STATE_FILE) as f:
            json.dump(incremental.state(store, typing_only, report.issues), f, indent=1, sort_keys=True)
            f.write("\n")
        # The manifest goes last: it is what marks the build as complete and current.
        with atomic_output(project.manifest_path) as f:
            json.dump({**manifest, "store": store}, f, indent=2, sort_keys=True)
            f.write("\n")
    except (OSError, RuntimeError, ValueError) as e:
        raise CqkgError(f"{project.rel(build)}: cannot write the build: {getattr(e, 'strerror', None) or e}") from None
    (build / "graph.ttl").unlink(missing_ok=True)  # written by builds before 0.2: `cqkg export` writes it now
    keep = {final.name} | ({previous.name} if previous is not None else set())
    for old in build.glob(f"{STORES}/*"):
        if old.name not in keep and not old.name.endswith((".partial", ".tmp")):
            shutil.rmtree(old, ignore_errors=True)
    if previous is not None and previous.parent == build:  # an old plain-folder store
        shutil.rmtree(previous, ignore_errors=True)


def ensure_built(project: Project, log: Log, service_checks: ServiceCheckCache | None = None) -> ox.Store:
    """Open the built store, rebuilding first if it is missing or older than its inputs."""
    why = staleness(project)
    if why is not None:  # checked once: the inputs are hashed once
        log(f"build is {why}; building first ...")
        result = run(project, log=log, service_checks=service_checks)
        if not result.report.conforms:
            raise CqkgError(result.report.text(), exit_code=1)
    return open_store(project)
