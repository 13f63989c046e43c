"""Shared fixtures: project copies in a temporary folder, so tests never touch the repo's build/."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import types
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyoxigraph as ox
import pytest
from click.testing import CliRunner

from cqkg import reason, shacl
from cqkg.catalog import Catalog, SavedQuery
from cqkg.cli import main
from cqkg.export import graph_triples
from cqkg.project import Project
from cqkg.queries import QueryResult
from cqkg.remote import Http, sparql_select
from cqkg.sources import assemble, load_sources
from cqkg.terms import OWL, RDF, RDFS, SH, from_rdflib, to_rdflib, to_rdflib_graph
from cqkg.validate import shapes_store

REPO = Path(__file__).resolve().parent.parent
# The per-user cache of SERVICE checks goes to a fresh folder, not the developer's ~/.cache.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="cqkg-test-cache-")
# Property-based tests (hypothesis) explore new examples on every local run; CI replays a fixed
# set (derandomize), so that a red CI run can be repeated exactly.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    _hypothesis_settings.load_profile("ci")

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PROJECT_DIRS = ("ontology", "shapes", "seeds", "queries")


def copy_project(dest: Path, seeds: Path | None = None) -> Path:
    """Copy the repo's project folders to dest; seeds from another folder when given."""
    for d in PROJECT_DIRS:
        source = seeds if (d == "seeds" and seeds is not None) else REPO / d
        shutil.copytree(source, dest / d)
    return dest


def cqkg_command() -> list[str]:
    """The installed console script (falls back to python -m cqkg)."""
    exe = shutil.which("cqkg", path=os.path.dirname(sys.executable)) or shutil.which("cqkg")
    return [exe] if exe else [sys.executable, "-m", "cqkg"]


def one_line_error(result, code=2) -> str:
    """Assert a CLI result failed with `code` and one 'Error:' line, no traceback; return that line."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def run_cli(project: Path, *args: str, **kwargs):
    """Run `cqkg --project PROJECT ARGS` in-process; returns click's Result."""
    return CliRunner().invoke(main, ["--project", str(project), *args], catch_exceptions=False, **kwargs)


@pytest.fixture
def seed_project(tmp_path) -> Path:
    """A fresh copy of the real project (five articles), not yet built."""
    return copy_project(tmp_path / "proj")


@pytest.fixture
def mini_project(tmp_path) -> Path:
    """The real ontology, shapes and queries over the small fixture article in tests/fixtures/mini."""
    return copy_project(tmp_path / "mini", seeds=FIXTURES / "mini" / "seeds")


@pytest.fixture(scope="session")
def built_project(tmp_path_factory) -> Path:
    """The real project, built once per test session (read-only for tests)."""
    root = copy_project(tmp_path_factory.mktemp("built") / "proj")
    result = run_cli(root, "build")
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture(scope="session")
def built_mini(tmp_path_factory) -> Path:
    root = copy_project(tmp_path_factory.mktemp("mini") / "mini", seeds=FIXTURES / "mini" / "seeds")
    result = run_cli(root, "build")
    assert result.exit_code == 0, result.output
    return root


@contextlib.contextmanager
def read_only(directory: Path):
    """Make a folder unwritable, even for root (CI runs as root, where chmod alone does not bind).

    Tries chmod, then the immutable attribute (chattr +i), then a read-only bind mount over it.
    """
    directory.chmod(0o500)
    undo = None
    try:
        if os.access(directory, os.W_OK):
            if subprocess.run(["chattr", "+i", str(directory)], capture_output=True).returncode == 0:
                undo = ["chattr", "-i", str(directory)]
            elif (
                subprocess.run(
                    ["mount", "--bind", "-o", "ro", str(directory), str(directory)], capture_output=True
                ).returncode
                == 0
            ):
                undo = ["umount", str(directory)]
            else:
                pytest.fail(
                    f"cannot make {directory} read-only for this user (tried chmod, chattr +i, a ro bind mount)"
                )
        probe = directory / ".probe"
        try:
            probe.write_text("x")
        except OSError:
            pass
        else:
            probe.unlink()
            pytest.fail(f"{directory} is still writable after making it read-only")
        yield directory
    finally:
        if undo:
            subprocess.run(undo, check=True)
        directory.chmod(0o700)


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="Rewrite tests/golden/*.csv from the current build (review the diff!).",
    )


# ------------------------------------------------------------------ saved queries and golden rows

CATALOG = Catalog(Project.at(REPO))
NAMES = CATALOG.names()
CHECKS = [n for n in NAMES if n.endswith("-violation")]
ANALYST = [n for n in NAMES if not n.endswith("-violation")]
GOLDEN = Path(__file__).resolve().parent / "golden"

# Golden cases: every query with its defaults, plus the non-default parameters below.
PARAM_CASES = {
    "metrics-for-subject": ["subject=cq:IntelligentConnectedNEVCluster"],
    "facts-from-source": ["source=src:cq-daily-2021-08-14th-fyp-manufacturing"],
    "located-in": ["place=cq:LiangjiangNewArea"],
    "fastest-growing": ["year=2024"],
    "targets-progress": ["year=2027"],
    "metrics-by-indicator": ["indicator=ind:Share"],
}
GOLDEN_CASES = [(n, None) for n in NAMES] + [(n, p) for n, ps in PARAM_CASES.items() for p in ps]


def golden_path(name: str, param: str | None) -> Path:
    suffix = "" if param is None else "@" + re.sub(r"[^A-Za-z0-9=-]+", "_", param)
    return GOLDEN / f"{name}{suffix}.csv"


def run_rdflib(graph, q: SavedQuery, bindings: dict) -> QueryResult:
    """Run a saved query on rdflib's SPARQL engine (to cross-check the embedded engine)."""
    res = graph.query(q.text, initBindings={k: to_rdflib(v) for k, v in bindings.items()})
    variables = [str(v) for v in res.vars]
    rows = [tuple(from_rdflib(row[i]) for i in range(len(variables))) for row in res]
    return QueryResult(variables, rows)


# ------------------------------------------------------------------ SHACL: ours against pyshacl


def pyshacl_keys(store: ox.Store, project: Project) -> set:
    import pyshacl
    import rdflib

    data = to_rdflib_graph(q.triple for q in store.quads_for_pattern(None, None, None, ox.DefaultGraph()))
    shapes = to_rdflib_graph(q.triple for q in shapes_store(project).quads_for_pattern(None, None, None, None))
    _, results, _ = pyshacl.validate(data, shacl_graph=shapes, inference="none", advanced=True, allow_warnings=True)
    ns = rdflib.Namespace(SH)
    keys = set()
    for r in results.subjects(rdflib.RDF.type, ns.ValidationResult):
        path = results.value(r, ns.resultPath)
        value = results.value(r, ns.value)
        keys.add(
            (
                results.value(r, ns.focusNode).n3(),
                str(path) if path is not None else None,
                str(results.value(r, ns.resultSeverity)),
                str(results.value(r, ns.sourceConstraintComponent)),
                value.n3() if value is not None else None,
            )
        )
    return keys


def fast_keys(store: ox.Store, project: Project) -> set:
    return {(r.focus, r.path, r.severity, r.component, r.value) for r in shacl.validate(store, shapes_store(project))}


def validation_store(root: Path) -> tuple[ox.Store, Project]:
    project = Project.at(root)
    store = assemble(load_sources(project))
    reason.materialise(store, typing=False)
    return store, project


def normalise(keys: set) -> set:
    # pyshacl leaves `value` out for count-type results and names the focus for node-level ones
    # and the engines spell plain literals differently ("x" vs "x"^^xsd:string)
    plain = "^^<http://www.w3.org/2001/XMLSchema#string>"
    return {
        (
            f,
            p,
            s,
            c,
            None
            if c.endswith(("MinCountConstraintComponent", "MaxCountConstraintComponent", "HasValueConstraintComponent"))
            or v is None
            else v.removesuffix(plain),
        )
        for f, p, s, c, v in keys
    }


def assert_same(root: Path) -> set:
    store, project = validation_store(root)
    ours, theirs = normalise(fast_keys(store, project)), normalise(pyshacl_keys(store, project))
    assert ours == theirs, {"only ours": ours - theirs, "only pyshacl": theirs - ours}
    return ours


# ------------------------------------------------------------------ inference: ours against owlrl


def closure_pair(project_root, as_built: bool = True) -> tuple[set, set]:
    """Our instance-level closure and owlrl's; as_built runs the build's two passes."""
    store = assemble(load_sources(Project.at(project_root)))
    asserted = graph_triples(store)
    closed = closure(store, as_built)
    return instance_level(graph_triples(closed)), instance_level(owlrl_closure(asserted))


def closure(store: ox.Store, as_built: bool) -> ox.Store:
    if as_built:  # the untyped closure is validated first, then the typing rules complete it
        reason.materialise(store, typing=False)
        reason.materialise(store, untyped_done=True)
    else:
        reason.materialise(store)
    return store


# Vocabulary that only says something about the schema, or that owlrl adds to every resource.
_SCHEMA_PREDICATES = {RDFS + n for n in ("subClassOf", "subPropertyOf", "domain", "range")} | {
    OWL + n
    for n in (
        "equivalentClass",
        "equivalentProperty",
        "inverseOf",
        "propertyChainAxiom",
        "disjointWith",
        "propertyDisjointWith",
        "sameAs",
        "differentFrom",
        "onProperty",
        "someValuesFrom",
        "allValuesFrom",
        "hasValue",
        "unionOf",
        "intersectionOf",
        "members",
        "distinctMembers",
        "oneOf",
    )
}
_META_CLASSES_NS = (RDFS, OWL, RDF)


def instance_level(triples) -> set[str]:
    """The triples about individuals, as N-Triples lines (comparable across engines).

    Leaves out schema axioms, types from the RDF/RDFS/OWL vocabularies (owl:Thing, rdfs:Resource,
    owl:Class…) and triples whose subject is a literal or a term of those vocabularies.
    """
    out = set()
    for s, p, o in triples:
        s, p, o = (from_rdflib(t) for t in (s, p, o))
        if isinstance(s, ox.Literal) or p.value in _SCHEMA_PREDICATES:
            continue
        if isinstance(s, ox.NamedNode) and s.value.startswith(_META_CLASSES_NS):
            continue
        if p.value == RDF + "type" and isinstance(o, ox.NamedNode) and o.value.startswith(_META_CLASSES_NS):
            continue
        if p.value.startswith((RDF + "_", RDF + "first", RDF + "rest")):
            continue
        out.add(f"{s} {p} {o} .")
    return out


def owlrl_closure(triples) -> list:
    """The full OWL-RL closure by owlrl (slow; the reference the targeted rules are checked against)."""
    import owlrl

    g = to_rdflib_graph(triples)
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics, axiomatic_triples=False, datatype_axioms=False).expand(g)
    return list(g)


# ------------------------------------------------------------------ servers on loopback

OXIGRAPH = shutil.which("oxigraph", path=os.path.dirname(sys.executable)) or shutil.which("oxigraph")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen | None = None, timeout: float = 20) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


class OxigraphServer:
    """`oxigraph serve` on a free loopback port over a folder; stopped by its PID."""

    def __init__(self, location: Path):
        self.location = location
        self.port = free_port()
        self.proc = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> OxigraphServer:
        if OXIGRAPH is None:  # a dependency of cqkg: missing, it is a broken install, not a skip
            pytest.fail(
                "the oxigraph server binary is missing: it is a dependency of cqkg; reinstall with pip install -e ."
            )
        self.proc = subprocess.Popen(
            [OXIGRAPH, "serve", "--location", str(self.location), "--bind", f"127.0.0.1:{self.port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.base + "/", self.proc)
        return self

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            self.proc.wait(timeout=20)

    def graph_ntriples(self, graph: str) -> list[str]:
        """The graph's triples, sorted, blank node labels blanked (the store renames them)."""
        url = f"{self.base}/store?graph={graph}" if graph != "default" else f"{self.base}/store?default"
        req = urllib.request.Request(url, headers={"Accept": "application/n-triples"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return sorted(
                    re.sub(r"_:\w+", "_:b", str(t)) for t in ox.parse(r.read(), format=ox.RdfFormat.N_TRIPLES)
                )
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return []
            raise

    def graph_names(self) -> set[str]:
        data = sparql_select(self.base + "/query", "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", Http())
        return {b["g"]["value"] for b in data["results"]["bindings"]}


class StubServer:
    """A loopback HTTP server whose answers come from `handler(request) -> (status, headers, body)`.

    `request` has method, path, headers and body; every request is recorded in `requests`. A
    handler may also take over the connection (`request.handler.wfile`) and return None.
    """

    def __init__(self, handler):
        stub = self
        self.requests = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.body = self.rfile.read(length) if length else b""
                # a snapshot: on a kept-alive connection this handler object serves the next request too
                stub.requests.append(
                    types.SimpleNamespace(
                        command=self.command, path=self.path, headers=dict(self.headers.items()), body=self.body
                    )
                )
                answer = handler(self)
                if answer is None:
                    return
                status, headers, body = answer
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, client_address: None  # a dead upstream is the point
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class StoreProxy(StubServer):
    """An HTTP proxy in front of a store that can misbehave on chosen requests.

    `decide(request, counts)` (counts: requests seen so far per method and per path, this one
    included) returns "forward", "cut" (send the upstream the headers and half the body, then
    drop both connections; on_cut runs), "forward-then-503" (the store applies the request, the
    client is told 503), or ("delay", seconds) before forwarding.
    """

    on_cut = None

    def __init__(self, upstream_port: int, decide):
        import collections

        self.upstream_port = upstream_port
        self.counts = collections.Counter()
        self.cuts = 0
        lock = threading.Lock()

        def handle(req):
            with lock:
                self.counts[req.command] += 1
                self.counts[req.path.split("?")[0]] += 1
                action = decide(req, self.counts)
            if isinstance(action, tuple) and action[0] == "delay":
                time.sleep(action[1])
                action = "forward"
            if action == "cut":
                self._cut(req)
                return None
            status, headers, body = self._forward(req)
            if action == "forward-then-503":
                return 503, {"Content-Type": "text/plain"}, b"service unavailable (injected)"
            return status, headers, body

        super().__init__(handle)

    def _forward(self, req):
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=60)
        try:
            headers = {k: v for k, v in req.headers.items() if k.lower() not in ("host", "connection")}
            conn.request(req.command, req.path, body=req.body or None, headers=headers)
            r = conn.getresponse()
            body = r.read()
            keep = {
                k: v
                for k, v in r.getheaders()
                if k.lower() not in ("content-length", "connection", "transfer-encoding")
            }
            return r.status, keep, body
        finally:
            conn.close()

    def _cut(self, req):
        head = (
            f"{req.command} {req.path} HTTP/1.1\r\n".encode()
            + b"".join(f"{k}: {v}\r\n".encode() for k, v in req.headers.items())
            + b"\r\n"
        )
        with socket.create_connection(("127.0.0.1", self.upstream_port)) as s:
            s.sendall(head + req.body[: len(req.body) // 2])
            s.shutdown(socket.SHUT_RDWR)
        self.cuts += 1
        if self.on_cut:
            self.on_cut()
        req.close_connection = True
        req.connection.shutdown(socket.SHUT_RDWR)


# ------------------------------------------------------------------ Virtuoso 7 (Debian's virtuoso-opensource)

VIRTUOSO = shutil.which("virtuoso-t")
ISQL = shutil.which("isql-vt") or shutil.which("isql")

VIRTUOSO_INI = """[Database]
DatabaseFile = {d}/virtuoso.db
ErrorLogFile = {d}/virtuoso.log
LockFile = {d}/virtuoso.lck
TransactionFile = {d}/virtuoso.trx
xa_persistent_file = {d}/virtuoso.pxa
ErrorLogLevel = 7
FileExtend = 200
MaxCheckpointRemap = 2000
Striping = 0
TempStorage = TempDatabase
[TempDatabase]
DatabaseFile = {d}/virtuoso-temp.db
TransactionFile = {d}/virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping = 0
[Parameters]
ServerPort = 127.0.0.1:{sql_port}
DisableUnixSocket = 1
MaxClientConnections = 10
CheckpointInterval = 60
CaseMode = 2
DirsAllowed = ., {d}
NumberOfBuffers = 10000
MaxDirtyBuffers = 6000
MaxQueryMem = 500M
[HTTPServer]
ServerPort = 127.0.0.1:{http_port}
ServerRoot = /var/lib/virtuoso-opensource-7/vsp
MaxClientConnections = 10
ServerThreads = 10
Charset = UTF-8
EnabledGzipContent = 0
[SPARQL]
ResultSetMaxRows = 1000000
MaxQueryExecutionTime = 120
MaxQueryCostEstimationTime = 0
"""


class VirtuosoServer:
    """A Virtuoso 7 server of its own (ini and database in `folder`) on free loopback ports, dba's
    password set through isql; stopped by its PID."""

    password = "dbaTestPw42"  # isql's SET PASSWORD takes it as an identifier: letters and digits

    def __init__(self, folder: Path):
        self.folder = folder
        self.sql_port, self.http_port = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.http_port}"
        self.proc = None

    def start(self) -> VirtuosoServer:
        if VIRTUOSO is None or ISQL is None:
            message = "Virtuoso is not installed: apt-get install virtuoso-opensource (bash .ci/run does)"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        self.folder.mkdir(parents=True, exist_ok=True)
        ini = self.folder / "virtuoso.ini"
        ini.write_text(VIRTUOSO_INI.format(d=self.folder, sql_port=self.sql_port, http_port=self.http_port))
        self.proc = subprocess.Popen(
            [VIRTUOSO, "+configfile", str(ini), "+foreground"],
            cwd=self.folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.base + "/sparql?query=ASK%7B%7D", self.proc, timeout=120)
        subprocess.run(
            [ISQL, f"127.0.0.1:{self.sql_port}", "dba", "dba", f"exec=set password dba {self.password};"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)

    def graph_count(self, graph: str) -> int:
        data = sparql_select(
            self.base + "/sparql", f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}", Http()
        )
        return int(data["results"]["bindings"][0]["n"]["value"])

    def graph_names(self, containing: str = "cqkg") -> set[str]:
        data = sparql_select(self.base + "/sparql", "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", Http())
        return {b["g"]["value"] for b in data["results"]["bindings"] if containing in b["g"]["value"]}


@pytest.fixture(scope="session")
def virtuoso(tmp_path_factory):
    server = VirtuosoServer(tmp_path_factory.mktemp("virtuoso")).start()
    yield server
    server.stop()


class Served:
    """`cqkg serve` on a free loopback port, as a subprocess; stopped by a signal."""

    def __init__(self, project, port=None):
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [*cqkg_command(), "--project", str(project), "serve", "--port", str(self.port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for(self.base + "/", self.proc, timeout=60)

    def get(self, path, accept="application/sparql-results+json"):
        req = urllib.request.Request(self.base + path, headers={"Accept": accept})
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers.get("Content-Type"), r.read()

    def post(self, path, data: bytes, content_type: str, accept="application/sparql-results+json"):
        req = urllib.request.Request(
            self.base + path, data=data, method="POST", headers={"Content-Type": content_type, "Accept": accept}
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def query(self, text):
        return self.post(
            "/query", urllib.parse.urlencode({"query": text}).encode(), "application/x-www-form-urlencoded"
        )

    def stop(self, sig=signal.SIGINT):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, err
