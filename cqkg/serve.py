"""`cqkg serve`: the built store over HTTP, read-only, with a query UI; it never reaches the network.

The SPARQL endpoint is served here rather than by the Oxigraph server binary because that
server evaluates SERVICE clauses: any client could make it send requests to any address. Here
every query is parsed first (sparql.uses_service) and one that calls another endpoint, or
cannot be checked, is refused. The store is reopened when a new build lands, so the server
always answers from the latest complete build.

Routes: `/` the site of the graph (site.py, written to build/site and rewritten when a new
build lands); `/ui` the query UI; `/query` the SPARQL 1.1 protocol (GET or POST, form or
`application/sparql-query`); `/saved` the saved queries as JSON; `/saved/NAME?PARAM=VALUE` one
of them run with validated parameters; anything that writes is refused (405).
"""

from __future__ import annotations

import errno
import gc
import html
import json
import signal
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

import pyoxigraph as ox

from .catalog import Catalog
from .errors import CqkgError
from .formats import format_result
from .manifest import build_is_current, open_store
from .ordering import Ordering
from .project import Project
from .queries import QueryResult, ordering_rows, run_local, unorderable_by_store
from .sparql import UncheckableQuery, uses_service
from .terms import PREFIXES

Log = Callable[[str], None]

_RESULT_TYPES = {  # media type -> pyoxigraph results format, for SELECT and ASK
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/json": ox.QueryResultsFormat.JSON,
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "text/csv": ox.QueryResultsFormat.CSV,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
}
_GRAPH_TYPES = {  # media type -> RDF format, for CONSTRUCT and DESCRIBE
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "text/turtle": ox.RdfFormat.TURTLE,
}


def _build_stamp(project: Project) -> int | None:
    """When the latest build landed: its manifest is written last, so its mtime marks a build."""
    try:
        return project.manifest_path.stat().st_mtime_ns
    except OSError:
        return None


class LatestBuild:
    """The project's built store, reopened whenever a newer build has landed."""

    def __init__(self, project: Project, log: Log):
        self.project, self.log = project, log
        self._lock = threading.Lock()
        self._stamp: int | None = None
        self._store: ox.Store | None = None
        self._stale_warned = False

    def store(self) -> ox.Store:
        """The store of the latest complete build."""
        stamp = _build_stamp(self.project)
        with self._lock:
            if self._store is None or stamp != self._stamp:
                if self._store is not None:
                    self.log("a new build landed; serving it")
                self._store, self._stamp = open_store(self.project), stamp
                self._stale_warned = False
            if not self._stale_warned and not build_is_current(self.project):
                self.log("warning: the inputs changed since the last build; serving that build until 'cqkg build' runs")
                self._stale_warned = True
            return self._store

    def reopen(self) -> ox.Store:
        """Forget the open store (its files were replaced under it) and open the current one."""
        with self._lock:
            self._store = None
        return self.store()


def negotiate(accept: str, table: dict[str, Any], default: str) -> tuple[str, Any] | None:
    """The first media type of an Accept header that `table` knows (None: none acceptable)."""
    wanted = []
    for i, part in enumerate(accept.split(",")):
        fields = [f.strip() for f in part.split(";")]
        q = 1.0
        for f in fields[1:]:
            if f.startswith("q="):
                try:
                    q = float(f[2:])
                except ValueError:
                    q = 0.0
        wanted.append((-q, i, fields[0].lower()))
    for _, _, media in sorted(wanted):
        if media in table:
            return media, table[media]
        if media in ("*/*", "application/*", "text/*", ""):
            return default, table[default]
    return None if accept.strip() else (default, table[default])


class Refused(Exception):
    """A request the endpoint will not run: status and a one-line reason for the client."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status


def check_query(text: str) -> None:
    """Refuse queries that would reach the network (or that cannot be checked)."""
    try:
        if uses_service(text):
            raise Refused(403, "SERVICE is disabled: this endpoint never calls other endpoints")
    except UncheckableQuery as e:
        raise Refused(400, f"cannot check this query for SERVICE calls (rdflib cannot parse it): {e}") from None


def run_query(build: LatestBuild, text: str, accept: str, default_graphs: list[str]) -> tuple[str, bytes]:
    """Evaluate a client's query on the latest build; (content type, body) or Refused."""
    check_query(text)
    options: dict[str, Any] = {}
    if default_graphs:
        try:
            options["default_graph"] = [ox.NamedNode(g) for g in default_graphs]
        except ValueError:
            raise Refused(400, "default-graph-uri must be an IRI") from None
    # Oxigraph's sort stops the whole process on a column that mixes kinds of literals (its
    # comparison of a number with a string is no total order). A SELECT's ORDER BY is applied by
    # cqkg (which orders as SPARQL and Oxigraph do, and each kind apart: cqkg.ordering), on the rows
    # read once without it; what the store still sorts (a subquery's, a CONSTRUCT's) is looked at
    # first, and refused when it mixes kinds.
    ordering = Ordering.of(text)
    for attempt in (1, 2):
        store = build.store() if attempt == 1 else build.reopen()
        try:
            why = unorderable_by_store(store, text, **options)
            if why:
                raise Refused(400, why)
            rows = ordering_rows(store, ordering, **options) if ordering is not None else None
            if ordering is not None and rows is not None:
                chosen = _results_type(accept)
                # cqkg's rows as SPARQL JSON; Oxigraph's own serialisers for the other formats.
                body = format_result(QueryResult(*ordering.sort(*rows)), "json").encode()
                if chosen[1] != ox.QueryResultsFormat.JSON:
                    body = ox.parse_query_results(body, ox.QueryResultsFormat.JSON).serialize(format=chosen[1]) or b""
                return chosen[0], body
            result = store.query(text, **options)
            if isinstance(result, ox.QueryTriples):
                graph_type = negotiate(accept, _GRAPH_TYPES, "application/n-triples")
                if graph_type is None:
                    raise Refused(406, "a graph result can be sent as application/n-triples or text/turtle")
                return graph_type[0], result.serialize(format=graph_type[1]) or b""
            chosen = _results_type(accept)
            return chosen[0], result.serialize(format=chosen[1]) or b""
        except SyntaxError as e:
            raise Refused(400, f"SPARQL syntax error: {e}") from None
        except (OSError, RuntimeError) as e:
            if attempt == 2:  # a fresh store failed too: a real problem
                raise Refused(500, f"the query failed: {e}") from None
            # The build replaced the store's files under the open handle; reopen and try again.
    raise AssertionError("unreachable")


def _results_type(accept: str) -> tuple[str, ox.QueryResultsFormat]:
    """The media type and format for a SELECT or ASK answer, as the client accepts; or 406."""
    chosen = negotiate(accept, _RESULT_TYPES, "application/sparql-results+json")
    if chosen is None:
        raise Refused(406, f"results can be sent as {', '.join(_RESULT_TYPES)}")
    return chosen


def run_saved(build: LatestBuild, project: Project, name: str, raw: dict[str, str]) -> bytes:
    """A saved query with parameters validated into RDF terms, as SPARQL JSON results."""
    try:
        q = Catalog(project).get(name)
        bindings = q.bindings(raw)
    except CqkgError as e:
        raise Refused(404 if "no saved query" in str(e) else 400, str(e)) from None
    check_query(q.text)
    try:
        # As `cqkg query` runs it: parameters as a VALUES block, the ORDER BY applied by cqkg (which
        # Oxigraph's sort could not survive on a column mixing numbers and strings).
        result = run_local(build.store(), q, bindings)
    except CqkgError as e:
        raise Refused(500, str(e)) from None
    return format_result(result, "json").encode()


def catalogue(project: Project) -> list[dict[str, Any]]:
    """The saved queries as JSON-able records for the UI."""
    out = []
    for q in Catalog(project).all():
        params = [
            {"name": p.name, "type": p.type, "default": p.default, "description": p.description} for p in q.params
        ]
        out.append({"name": q.name, "title": q.title, "description": q.description, "params": params})
    return out


_FILE_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


class SiteFiles:
    """The site of the served build, written under build/site, and rewritten once a new build
    has landed (on the first request after it)."""

    def __init__(self, project: Project, build: LatestBuild, log: Log):
        self.project, self.build, self.log = project, build, log
        self.root = project.build_dir / "site"
        self._stamp: int | None = None
        self._lock = threading.Lock()

    def file(self, path: str) -> tuple[str, bytes] | None:
        """The content type and bytes of a site path ("/" is the index), or None."""
        from .site import build_site

        with self._lock:
            stamp = _build_stamp(self.project)
            if stamp != self._stamp or not (self.root / "index.html").is_file():
                pages = build_site(self.project, self.build.store(), self.root)
                # Query results are pyoxigraph objects that must be freed by the thread that made
                # them: collect any left in reference cycles now, not in another request's thread.
                gc.collect()
                self.log(f"wrote the site: {pages:,} pages in {self.project.rel(self.root)}/")
                self._stamp = stamp
        rel = urllib.parse.unquote(path).lstrip("/") or "index.html"
        target = (self.root / rel).resolve()
        if not target.is_relative_to(self.root.resolve()) or not target.is_file():
            return None
        kind = _FILE_TYPES.get(target.suffix.lower())
        if kind is None:
            return None
        return kind, target.read_bytes()


def make_server(project: Project, host: str, port: int, log: Log) -> ThreadingHTTPServer:
    """The HTTP server, bound (a busy port is a CqkgError), not yet serving."""
    build = LatestBuild(project, log)
    build.store()  # fail now, with a clear message, if there is no build
    page = _ui_page(project)
    site = SiteFiles(project, build, log)

    class Handler(BaseHTTPRequestHandler):
        server_version = "cqkg"

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _error(self, e: Refused) -> None:
            self._send(e.status, "text/plain; charset=utf-8", (str(e) + "\n").encode())

        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            url = urllib.parse.urlsplit(self.path)
            params = urllib.parse.parse_qs(url.query)
            try:
                if url.path in ("/ui", "/ui/"):
                    self._send(200, "text/html; charset=utf-8", page)
                elif url.path == "/query":
                    if "query" not in params:
                        raise Refused(400, "pass the query as ?query=...")
                    self._query(params["query"][0], params.get("default-graph-uri", []))
                elif url.path == "/saved":
                    self._send(200, "application/json", json.dumps(catalogue(project), ensure_ascii=False).encode())
                elif url.path.startswith("/saved/"):
                    raw = {k: v[0] for k, v in params.items()}
                    body = run_saved(build, project, url.path[len("/saved/") :], raw)
                    self._send(200, "application/sparql-results+json", body)
                else:
                    found = site.file(url.path)
                    if found is None:
                        raise Refused(404, f"no such page: {url.path}")
                    self._send(200, *found)
            except Refused as e:
                self._error(e)

        do_HEAD = do_GET

        def do_POST(self) -> None:  # noqa: N802
            url = urllib.parse.urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
            kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            try:
                if url.path != "/query":
                    raise Refused(405, "this endpoint is read-only: only queries, at /query")
                params = urllib.parse.parse_qs(url.query)
                if kind == "application/sparql-query":
                    text = body
                elif kind == "application/x-www-form-urlencoded":
                    form = urllib.parse.parse_qs(body)
                    if "update" in form:
                        raise Refused(405, "this endpoint is read-only: updates are refused")
                    if "query" not in form:
                        raise Refused(400, "pass the query as a 'query' form field")
                    text = form["query"][0]
                    params = {**params, **form}
                elif kind == "application/sparql-update":
                    raise Refused(405, "this endpoint is read-only: updates are refused")
                else:
                    raise Refused(415, "send application/sparql-query or a form with 'query'")
                self._query(text, params.get("default-graph-uri", []))
            except Refused as e:
                self._error(e)

        def do_PUT(self) -> None:  # noqa: N802
            self._error(Refused(405, "this endpoint is read-only"))

        do_DELETE = do_PATCH = do_PUT

        def _query(self, text: str, default_graphs: list[str]) -> None:
            content_type, body = run_query(build, text, self.headers.get("Accept", ""), default_graphs)
            self._send(200, content_type, body)

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            # A client that hangs up before its answer is written is no error of the server's.
            import sys

            if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)):
                return
            super().handle_error(request, client_address)

    try:
        server = Server((host, port), Handler)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise CqkgError(f"{host}:{port} is already in use (another server?); pass --port") from None
        raise CqkgError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    server.daemon_threads = True
    site.file("/")  # write the site before the first visitor waits for it
    return server


def serve(project: Project, host: str, port: int, log: Log) -> None:
    """Serve until Ctrl-C or SIGTERM, then stop cleanly."""
    server = make_server(project, host, port, log)
    shown = f"[{host}]" if ":" in host else host
    log(
        f"serving {project.rel(project.store_dir)} read-only at http://{shown}:{port}/ (the site; query UI "
        f"http://{shown}:{port}/ui, SPARQL endpoint http://{shown}:{port}/query); Ctrl-C to stop"
    )

    def stop(signum: int, frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.server_close()
    log("stopped.")


def _ui_page(project: Project) -> bytes:
    prefixes = "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in sorted(PREFIXES.items()))
    data = json.dumps({"prefixes": PREFIXES, "header": prefixes}, ensure_ascii=False).replace("</", "<\\/")
    page = resources.files("cqkg").joinpath("ui/query.html").read_text(encoding="utf-8")
    return page.replace("__DATA__", data).replace("__TITLE__", html.escape(project.root.name)).encode()
