"""Talk to triple stores over HTTP: SPARQL queries, and loads through the Graph Store Protocol.

Only the standard library (urllib) is used, so `cqkg query --endpoint` stays light.

A load is atomic from the reader's point of view:
  1. each target graph is uploaded (one PUT per graph) to a fresh temporary graph;
  2. each temporary graph is counted and compared with what was sent;
  3. one SPARQL update moves every temporary graph onto its target (`MOVE ... TO ...`), which a
     transactional store (Oxigraph, Fuseki/TDB2, GraphDB, Virtuoso) applies all or nothing.
A failure or an interruption before step 3 leaves the targets as they were; the temporary
graphs are dropped on the way out (best effort: their names start with the target's IRI and
`-cqkg-tmp-` if one is ever left behind).

Credentials are passed in as a Credentials object (the CLI reads them from CQKG_STORE_USER,
CQKG_STORE_PASSWORD and CQKG_STORE_AUTH); they are never printed.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox

from .errors import CqkgError
from .terms import GRAPH

TEMP_BASE = GRAPH + "default"
USER_AGENT = "cqkg (+https://w3id.org/cqkg)"
RETRY_STATUS = {500, 502, 503, 504}


# --------------------------------------------------------------------------- HTTP with retries

AUTH_SCHEMES = ("basic", "digest")


@dataclass(frozen=True)
class Credentials:
    """A user name and password for a store, and the HTTP authentication scheme to send them with.

    >>> Credentials("dba", "secret", "digest")
    Credentials(user='dba', scheme='digest')
    """

    user: str
    password: str = field(default="", repr=False)  # never in a repr, a log line or a message
    scheme: str = "basic"

    def __post_init__(self) -> None:
        if self.scheme not in AUTH_SCHEMES:
            raise CqkgError(f"authentication scheme {self.scheme!r}: use basic or digest")


@dataclass
class Http:
    """An HTTP client with optional credentials and retries with back-off."""

    retries: int = 4
    backoff: float = 0.5
    timeout: float = 120.0
    credentials: Credentials | None = None
    sleep: Callable[[float], None] = time.sleep
    log: Callable[[str], None] = lambda msg: None
    _opener: Any = field(default=None, repr=False)

    def opener(self, url: str) -> Any:
        """The urllib opener, with a digest handler when the credentials ask for digest."""
        if self._opener is None:
            handlers = []
            if self.credentials is not None and self.credentials.scheme == "digest":
                mgr = urllib.request.HTTPPasswordMgrWithDefaultRealm()
                mgr.add_password(None, url, self.credentials.user, self.credentials.password)
                handlers.append(urllib.request.HTTPDigestAuthHandler(mgr))
            self._opener = urllib.request.build_opener(*handlers)
        return self._opener

    def request(
        self, method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """Send one request, retrying connection errors and 5xx answers; a final failure is a CqkgError."""
        check_url(url)
        headers = {"User-Agent": USER_AGENT, **(headers or {})}
        c = self.credentials
        if c is not None and c.scheme == "basic":
            token = base64.b64encode(f"{c.user}:{c.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        attempt = 0
        while True:
            attempt += 1
            req = urllib.request.Request(url, data=body, method=method, headers=headers)
            try:
                with self.opener(url).open(req, timeout=self.timeout) as resp:
                    return resp.status, dict(resp.headers), resp.read()
            except urllib.error.HTTPError as e:
                detail = _reason(e)
                if e.code in RETRY_STATUS and attempt <= self.retries:
                    self._wait(attempt, f"{method} {url}: HTTP {e.code}")
                    continue
                raise CqkgError(_http_message(method, url, e.code, detail)) from None
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as e:
                reason = getattr(e, "reason", e)
                if attempt <= self.retries:
                    self._wait(attempt, f"{method} {url}: {reason}")
                    continue
                raise CqkgError(f"{method} {url}: cannot reach the store ({reason}) after {attempt} attempts") from None

    def _wait(self, attempt: int, what: str) -> None:
        delay = self.backoff * 2 ** (attempt - 1)
        self.log(f"{what}; retrying in {delay:g}s ({attempt}/{self.retries})")
        self.sleep(delay)


def check_url(url: str) -> None:
    """Refuse anything but an http(s) URL with a host, and URLs that carry credentials."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CqkgError(f"{url!r} is not an http(s) URL")
    if parts.username or parts.password:
        # Never echo the URL back: it holds a secret.
        raise CqkgError("do not put credentials in the URL; set CQKG_STORE_USER and CQKG_STORE_PASSWORD")


def _reason(e: urllib.error.HTTPError) -> str:
    try:
        text = e.read().decode("utf-8", "replace").strip()
    except Exception:  # the body is a courtesy; the status code is what matters
        text = ""
    text = " ".join(text.split())
    return text[:300] or (e.reason or "")


def _http_message(method: str, url: str, code: int, detail: str) -> str:
    hint = {
        400: "the server rejected the request",
        401: "authentication failed: check CQKG_STORE_USER / CQKG_STORE_PASSWORD (and CQKG_STORE_AUTH)",
        403: "the credentials are not allowed to do this",
        404: "no such endpoint: check the URL (e.g. Oxigraph /store, Fuseki /DATASET/data)",
        405: "the endpoint does not accept this method (read-only server, or not a Graph Store endpoint?)",
        415: "the server does not accept this RDF format",
    }.get(code, "the server failed")
    return f"{method} {url}: HTTP {code}: {hint}" + (f" (server says: {detail})" if detail else "")


# --------------------------------------------------------------------------- SPARQL queries


def sparql_select(endpoint: str, query: str, http: Http | None = None) -> dict[str, Any]:
    """POST a query to a SPARQL endpoint; returns the SPARQL 1.1 JSON results."""
    http = http or Http(timeout=60.0)
    body = urllib.parse.urlencode({"query": query}).encode()
    _, headers, data = http.request(
        "POST",
        endpoint,
        body,
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/sparql-results+json",
        },
    )
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        kind = headers.get("Content-Type", "?")
        raise CqkgError(
            f"{endpoint}: the answer is not SPARQL JSON results (Content-Type {kind}); is this a SPARQL query endpoint?"
        ) from None


def sparql_update(endpoint: str, update: str, http: Http) -> None:
    """POST a SPARQL update."""
    body = urllib.parse.urlencode({"update": update}).encode()
    http.request("POST", endpoint, body, {"Content-Type": "application/x-www-form-urlencoded"})


# --------------------------------------------------------------------------- Graph Store Protocol

DEFAULT_GRAPH = "default"  # a load target meaning the store's default graph, not a named one


def graph_url(gsp: str, graph: str) -> str:
    """The Graph Store Protocol URL of a graph (`?default` or `?graph=IRI`)."""
    sep = "&" if "?" in gsp else "?"
    if graph == DEFAULT_GRAPH:
        return f"{gsp}{sep}default"
    return f"{gsp}{sep}{urllib.parse.urlencode({'graph': graph})}"


def graph_ref(graph: str) -> str:
    """The graph in SPARQL Update syntax."""
    return "DEFAULT" if graph == DEFAULT_GRAPH else f"GRAPH <{graph}>"


_FORMATS = {
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "text/plain": ox.RdfFormat.N_TRIPLES,
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/x-turtle": ox.RdfFormat.TURTLE,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
}


def count_graph(gsp: str, graph: str, http: Http) -> int:
    """Number of triples in a graph, fetched through the Graph Store Protocol (0 if it does not exist)."""
    try:
        _, headers, data = http.request(
            "GET", graph_url(gsp, graph), None, {"Accept": "application/n-triples, text/turtle;q=0.9"}
        )
    except CqkgError as e:
        if "HTTP 404" in str(e):
            return 0
        raise
    kind = headers.get("Content-Type", "application/n-triples").split(";")[0].strip().lower()
    fmt = _FORMATS.get(kind)
    if fmt is None:
        raise CqkgError(f"GET {graph_url(gsp, graph)}: unexpected Content-Type {kind!r}")
    return sum(1 for _ in ox.parse(data, format=fmt))


def put_graph(gsp: str, graph: str, ntriples: bytes, http: Http) -> None:
    """Replace a graph with the given N-Triples through the Graph Store Protocol."""
    # N-Triples is valid Turtle; text/turtle is the one type every Graph Store accepts.
    http.request("PUT", graph_url(gsp, graph), ntriples, {"Content-Type": "text/turtle; charset=utf-8"})


def serialise(triples: list[ox.Triple]) -> bytes:
    """Triples as N-Triples bytes."""
    return b"".join(f"{t.subject} {t.predicate} {t.object} .\n".encode() for t in triples)


def guess_update_endpoint(gsp: str) -> str | None:
    """The SPARQL update URL of well-known servers, from their Graph Store URL."""
    parts = urllib.parse.urlsplit(gsp)
    path = parts.path.rstrip("/")
    for suffix, replacement in (
        ("/store", "/update"),  # Oxigraph
        ("/data", "/update"),  # Apache Jena Fuseki
        ("/rdf-graphs/service", "/statements"),  # GraphDB
        ("/sparql-graph-crud-auth", "/sparql-auth"),  # Virtuoso
        ("/sparql-graph-crud", "/sparql"),
    ):
        if path.endswith(suffix):
            return urllib.parse.urlunsplit(parts._replace(path=path[: -len(suffix)] + replacement, query=""))
    return None


@dataclass
class LoadReport:
    """What a load sent and what the store holds afterwards, per target graph."""

    graphs: dict[str, tuple[int, int]]  # target graph -> (triples sent, triples in the store after)
    replaced: dict[str, int]  # target graph -> triples it held before


def load(
    gsp: str,
    graphs: dict[str, list[ox.Triple]],
    update_endpoint: str | None = None,
    replace: bool = False,
    http: Http | None = None,
) -> LoadReport:
    """Replace each target graph with the given triples, all or nothing (see module docstring)."""
    http = http or Http()
    update_endpoint = update_endpoint or guess_update_endpoint(gsp)
    if not update_endpoint:
        raise CqkgError(
            f"{gsp}: cannot tell this server's SPARQL update URL; pass --update-endpoint "
            f"(it is used to swap the uploaded graph in atomically)"
        )
    before = {g: count_graph(gsp, g, http) for g in graphs}
    occupied = {g: n for g, n in before.items() if n}
    if occupied and not replace:
        listing = ", ".join(f"{graph_ref(g).replace('GRAPH ', '')} ({n} triples)" for g, n in sorted(occupied.items()))
        raise CqkgError(f"the store already holds {listing}; pass --replace to replace it", exit_code=1)

    run = uuid.uuid4().hex[:12]
    temps = {g: f"{TEMP_BASE if g == DEFAULT_GRAPH else g}-cqkg-tmp-{run}" for g in graphs}
    moved = False
    try:
        sent = {}
        for g, triples in graphs.items():
            body = serialise(triples)
            sent[g] = len(triples)
            http.log(f"uploading {len(triples)} triples for <{g}> ({len(body) / 1e6:.1f} MB)")
            put_graph(gsp, temps[g], body, http)
            got = count_graph(gsp, temps[g], http)
            if got != sent[g]:
                raise CqkgError(
                    f"upload of <{g}> is incomplete: sent {sent[g]} triples, the store holds "
                    f"{got}; nothing was replaced",
                    exit_code=1,
                )
        sparql_update(
            update_endpoint, " ;\n".join(f"MOVE SILENT GRAPH <{temps[g]}> TO {graph_ref(g)}" for g in graphs), http
        )
        moved = True
    finally:
        if not moved:
            _drop_quietly(update_endpoint, temps.values(), http)
    after = {g: count_graph(gsp, g, http) for g in graphs}
    return LoadReport({g: (sent[g], after[g]) for g in graphs}, occupied)


def _drop_quietly(update_endpoint: str, graphs: Iterable[str], http: Http) -> None:
    """Best-effort clean-up of temporary graphs after a failed load (one attempt, no retries)."""
    quick = Http(retries=0, timeout=15, credentials=http.credentials, log=http.log)
    quick._opener = http._opener
    try:
        sparql_update(update_endpoint, " ;\n".join(f"DROP SILENT GRAPH <{g}>" for g in graphs), quick)
    except CqkgError as e:
        http.log(f"could not drop the temporary graphs ({e}); they start with '-cqkg-tmp-' and are safe to drop")
