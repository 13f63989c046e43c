"""Talk to triple stores over HTTP: SPARQL queries, and loads through the Graph Store Protocol.

The HTTP client is httpx: it handles Basic and Digest authentication for every URL of a store
(urllib's digest handler registered one path and gave up after a few 404s), and it never
follows redirects, so a request and its credentials only ever go where the user pointed.

A load never leaves a target graph half-replaced, even when a request is retried:
  1. each target graph is uploaded (one PUT per graph) to a fresh temporary graph, and counted;
  2. one SPARQL update copies every temporary graph onto its target (`COPY GRAPH … TO …`),
     which a transactional store (Oxigraph, Fuseki/TDB2, GraphDB, Virtuoso) applies all or
     nothing. COPY keeps its source, so repeating it after a lost answer gives the same result;
     before a retry the temporary graphs are counted again, because some stores (Virtuoso)
     copy a missing graph as an empty one;
  3. the temporary graphs are dropped, and the targets counted against what was sent.
A failure or an interruption before step 2 leaves the targets as they were; the temporary
graphs are dropped on the way out. A load that was killed outright leaves temporary graphs
named `<target>-cqkg-tmp-<unix time>-<id>`; the next load drops those that are old enough.

Credentials are passed in as a Credentials object (the CLI reads them from the environment);
they are sent only to the origin of the store's URL, and no message ever contains them.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pyoxigraph as ox

from .errors import CqkgError
from .terms import GRAPH

TEMP_MARK = "-cqkg-tmp-"
TEMP_BASE = GRAPH + "default"  # the temporary graph of a load into the default graph starts here
DEFAULT_GRAPH = "default"  # a graph argument meaning the store's default graph, not a named one
USER_AGENT = "cqkg (+https://w3id.org/cqkg)"
RETRY_STATUS = {502, 503, 504}  # a gateway or an overloaded server; 500 is an answer, not a hiccup
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


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL: what a credential is scoped to.

    >>> origin("http://localhost:7878/store?graph=x")
    ('http', 'localhost', 7878)
    """
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, (parts.hostname or "").lower(), port


class _OriginAuth(httpx.Auth):
    """Basic or Digest authentication, applied only to requests for one origin."""

    def __init__(self, credentials: Credentials, allowed: tuple[str, str, int]):
        self._allowed = allowed
        self._inner: httpx.Auth = (
            httpx.DigestAuth(credentials.user, credentials.password)
            if credentials.scheme == "digest"
            else httpx.BasicAuth(credentials.user, credentials.password)
        )

    def auth_flow(self, request: httpx.Request) -> Any:
        if origin(str(request.url)) != self._allowed:
            yield request  # another origin gets no credentials
            return
        yield from self._inner.auth_flow(request)


@dataclass
class Answer:
    """An HTTP answer: status, headers (lower-case names) and body."""

    status: int
    headers: dict[str, str]
    body: bytes


class StoreUnavailable(CqkgError):
    """The store could not be reached, or answered 502/503/504, on every attempt."""


class _Transient(Exception):
    """A failure worth retrying (connection trouble, 502/503/504); carries the final message."""


@dataclass
class Http:
    """An HTTP client for one store: credentials for the store's origin, timeouts, retries.

    `timeout` bounds each request with its retries and back-off waits, however slowly a server
    answers; `connect_timeout` bounds each connection attempt.

    >>> Http(timeout=30).timeout
    30
    """

    retries: int = 4
    backoff: float = 0.5
    timeout: float = 120.0
    connect_timeout: float = 10.0
    credentials: Credentials | None = None
    sleep: Callable[[float], None] = time.sleep
    log: Callable[[str], None] = lambda msg: None
    _client: httpx.Client | None = field(default=None, repr=False)
    _origin: tuple[str, str, int] | None = field(default=None, repr=False)
    server: str = ""  # the Server header of the last answer (to recognise Virtuoso)

    def bind(self, url: str) -> None:
        """Scope the credentials to this URL's origin (the first URL used, unless bound first)."""
        check_url(url)
        if self._origin is None:
            self._origin = origin(url)

    def client(self) -> httpx.Client:
        """The httpx client (made on first use)."""
        if self._client is None:
            auth = None
            if self.credentials is not None:
                assert self._origin is not None
                auth = _OriginAuth(self.credentials, self._origin)
            read = max(1.0, min(30.0, self.timeout))
            self._client = httpx.Client(
                auth=auth,
                follow_redirects=False,
                headers={"User-Agent": USER_AGENT},
                timeout=httpx.Timeout(read, connect=min(self.connect_timeout, self.timeout)),
                trust_env=False,  # no proxy or netrc credentials from the environment
            )
        return self._client

    def derive(self, **changes: Any) -> Http:
        """A client like this one (same credentials, scoped to the same origin) with other settings."""
        return dataclasses.replace(self, _client=None, **changes)

    def close(self) -> None:
        """Close the connections."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def redact(self, text: str) -> str:
        """The text with every form of the credentials replaced by '***'."""
        text = re.sub(r"(?i)\b(authorization|proxy-authorization)\s*:\s*[^\r\n]*", r"\1: ***", text)
        text = re.sub(r"(?i)\b(basic|digest)\s+[A-Za-z0-9+/=._~-]{8,}[^\s]*", r"\1 ***", text)
        c = self.credentials
        if c is not None and c.password:
            for secret in (c.password, base64.b64encode(f"{c.user}:{c.password}".encode()).decode()):
                text = text.replace(secret, "***")
        return text

    def request(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        retries: int | None = None,
    ) -> Answer:
        """Send one request, retrying connection errors and 502/503/504 with back-off.

        Any other answer that is not 2xx, an answer that never completes within `timeout`, or a
        redirect (never followed: it would take the request, and perhaps credentials,
        elsewhere) is a CqkgError naming the URL. 404 is returned, not raised.
        """
        self.bind(url)
        retries = self.retries if retries is None else retries
        deadline = time.monotonic() + self.timeout
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._once(method, url, body, headers or {}, deadline)
            except _Transient as e:
                delay = self.backoff * 2 ** (attempt - 1)
                if attempt > retries or time.monotonic() + delay >= deadline:
                    tries = f" after {attempt} attempts" if attempt > 1 else ""
                    raise StoreUnavailable(f"{e}{tries}") from None
                self.log(f"{e}; retrying in {delay:g}s ({attempt}/{retries})")
                self.sleep(delay)

    def _once(self, method: str, url: str, body: bytes | None, headers: dict[str, str], deadline: float) -> Answer:
        what = f"{method} {url}"
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CqkgError(f"{what}: no complete answer within {self.timeout:g}s (--timeout)")
        box: dict[str, Any] = {}
        done = threading.Event()
        client = self.client()

        def send() -> None:
            try:
                box["response"] = client.request(method, url, content=body, headers=headers)
            except BaseException as e:  # handed to the waiting thread
                box["error"] = e
            finally:
                done.set()

        # httpx bounds each read, not the whole exchange: a server that sends a byte every few
        # seconds would hold a request for ever. The request runs in a daemon thread that is
        # abandoned (and its connections closed) when the deadline passes.
        threading.Thread(target=send, name="cqkg-http", daemon=True).start()
        if not done.wait(remaining):
            self.close()
            raise CqkgError(f"{what}: no complete answer within {self.timeout:g}s (--timeout)")
        error = box.get("error")
        if isinstance(error, httpx.TimeoutException):
            raise _Transient(f"{what}: the store did not answer in time ({type(error).__name__})")
        if isinstance(error, (httpx.TransportError, OSError)):
            reason = self.redact(str(error) or type(error).__name__)
            raise _Transient(f"{what}: cannot reach the store ({reason})")
        if error is not None:
            raise error
        r: httpx.Response = box["response"]
        answer = Answer(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content)
        self.server = answer.headers.get("server", self.server)
        if 200 <= r.status_code < 300 or r.status_code == 404:
            return answer
        if 300 <= r.status_code < 400:
            where = self.redact(answer.headers.get("location", "(no Location header)"))
            raise CqkgError(
                f"{what}: HTTP {r.status_code}: the store redirects to {where}; cqkg does not follow "
                f"redirects (they could carry credentials elsewhere): use that URL if you trust it"
            )
        detail = self.redact(_text(answer.body) or r.reason_phrase)
        if r.status_code in RETRY_STATUS:
            raise _Transient(_http_message(what, r.status_code, detail))
        raise CqkgError(_http_message(what, r.status_code, detail))


def check_url(url: str) -> None:
    """Refuse anything but an http(s) URL with a host, and URLs that carry credentials."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a bad port
    except ValueError as e:
        raise CqkgError(f"{url!r} is not a valid URL ({e})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CqkgError(f"{url!r} is not an http(s) URL")
    if parts.username or parts.password:
        # Never echo the URL back: it holds a secret.
        raise CqkgError("do not put credentials in the URL; set CQKG_STORE_USER and CQKG_STORE_PASSWORD")


def _text(body: bytes) -> str:
    text = body.decode("utf-8", "replace")
    text = re.sub(r"<[^>]+>", " ", text)  # HTML error pages
    return " ".join(text.split())[:300]


def _http_message(what: str, code: int, detail: str) -> str:
    hint = {
        400: "the server rejected the request",
        401: "authentication failed: check CQKG_STORE_USER / CQKG_STORE_PASSWORD (and CQKG_STORE_AUTH)",
        403: "the credentials are not allowed to do this",
        404: "no such endpoint: check the URL (e.g. Oxigraph /store, Fuseki /DATASET/data)",
        405: "the endpoint does not accept this method (read-only server, or not a Graph Store endpoint?)",
        415: "the server does not accept this RDF format",
    }.get(code, "the server failed")
    return f"{what}: HTTP {code}: {hint}" + (f" (server says: {detail})" if detail else "")


# --------------------------------------------------------------------------- SPARQL protocol


def sparql_select(endpoint: str, query: str, http: Http, default_graph: str | None = None) -> dict[str, Any]:
    """POST a query to a SPARQL endpoint; returns the SPARQL 1.1 JSON results, checked for shape.

    `default_graph` (an IRI) is sent as `default-graph-uri`: the query then reads that graph alone.
    """
    form = [("query", query)]
    if default_graph is not None:
        form.append(("default-graph-uri", default_graph))
    answer = http.request(
        "POST",
        endpoint,
        urllib.parse.urlencode(form).encode(),
        {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/sparql-results+json"},
    )
    if answer.status == 404:
        raise CqkgError(_http_message(f"POST {endpoint}", 404, ""))
    kind = answer.headers.get("content-type", "?")
    try:
        data = json.loads(answer.body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        data = None
    if not _is_results(data):
        raise CqkgError(
            f"{endpoint}: the answer is not SPARQL JSON results (Content-Type {kind}); is this a SPARQL query endpoint?"
        )
    assert isinstance(data, dict)
    return data


def _is_results(data: Any) -> bool:
    if not isinstance(data, dict):
        return False
    if isinstance(data.get("boolean"), bool):
        return True
    head, results = data.get("head"), data.get("results")
    return (
        isinstance(head, dict)
        and isinstance(head.get("vars", []), list)
        and isinstance(results, dict)
        and isinstance(results.get("bindings"), list)
        and all(isinstance(b, dict) for b in results["bindings"])
    )


def sparql_update(endpoint: str, update: str, http: Http, retries: int | None = None) -> None:
    """POST a SPARQL update (retried only when it is safe to repeat; see load)."""
    answer = http.request(
        "POST",
        endpoint,
        urllib.parse.urlencode({"update": update}).encode(),
        {"Content-Type": "application/x-www-form-urlencoded"},
        retries=retries,
    )
    if answer.status == 404:
        raise CqkgError(_http_message(f"POST {endpoint}", 404, ""))


# --------------------------------------------------------------------------- Graph Store Protocol


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
    url = graph_url(gsp, graph)
    answer = http.request("GET", url, None, {"Accept": "application/n-triples, text/turtle;q=0.9"})
    if answer.status == 404:
        return 0
    kind = answer.headers.get("content-type", "application/n-triples").split(";")[0].strip().lower()
    fmt = _FORMATS.get(kind)
    if fmt is None:
        raise CqkgError(f"GET {url}: unexpected Content-Type {kind!r}; is this a Graph Store endpoint?")
    try:
        return sum(1 for _ in ox.parse(answer.body, format=fmt))
    except SyntaxError as e:
        raise CqkgError(f"GET {url}: the store sent unreadable {kind}: {e}") from None


def put_graph(gsp: str, graph: str, ntriples: bytes, http: Http) -> None:
    """Replace a graph with the given N-Triples through the Graph Store Protocol."""
    url = graph_url(gsp, graph)
    # N-Triples is valid Turtle; text/turtle is the one type every Graph Store accepts.
    answer = http.request("PUT", url, ntriples, {"Content-Type": "text/turtle; charset=utf-8"})
    if answer.status == 404:
        raise CqkgError(_http_message(f"PUT {url}", 404, ""))


def serialise(triples: list[ox.Triple]) -> bytes:
    """Triples as N-Triples bytes."""
    return b"".join(f"{t.subject} {t.predicate} {t.object} .\n".encode() for t in triples)


_KNOWN_SERVERS = (  # Graph Store path, update path, query path
    ("/store", "/update", "/query"),  # Oxigraph
    ("/data", "/update", "/query"),  # Apache Jena Fuseki
    ("/rdf-graphs/service", "/statements", ""),  # GraphDB (the repository URL answers queries)
    ("/sparql-graph-crud-auth", "/sparql-auth", "/sparql-auth"),  # Virtuoso
    ("/sparql-graph-crud", "/sparql", "/sparql"),
)


def _guess(gsp: str, which: int) -> str | None:
    parts = urllib.parse.urlsplit(gsp)
    path = parts.path.rstrip("/")
    for known in _KNOWN_SERVERS:
        if path.endswith(known[0]):
            return urllib.parse.urlunsplit(parts._replace(path=path[: -len(known[0])] + known[which], query=""))
    return None


def guess_update_endpoint(gsp: str) -> str | None:
    """The SPARQL update URL of well-known servers, from their Graph Store URL."""
    return _guess(gsp, 1)


def guess_query_endpoint(gsp: str) -> str | None:
    """The SPARQL query URL of well-known servers, from their Graph Store URL."""
    return _guess(gsp, 2)


@dataclass
class LoadReport:
    """What a load sent and what the store holds afterwards, per target graph."""

    graphs: dict[str, tuple[int, int]]  # target graph -> (triples sent, triples in the store after)
    replaced: dict[str, int]  # target graph -> triples it held before
    stale_dropped: list[str] = field(default_factory=list)  # temporary graphs of killed loads


def temp_graph(target: str, now: float | None = None) -> str:
    """A fresh temporary graph name for a target: `<target>-cqkg-tmp-<unix time>-<id>`."""
    base = TEMP_BASE if target == DEFAULT_GRAPH else target
    return f"{base}{TEMP_MARK}{int(time.time() if now is None else now)}-{uuid.uuid4().hex[:8]}"


def _temp_age(name: str, now: float) -> float | None:
    m = re.search(re.escape(TEMP_MARK) + r"(\d+)-[0-9a-f]+$", name)
    return now - int(m.group(1)) if m else None


def load(
    gsp: str,
    graphs: dict[str, list[ox.Triple]],
    http: Http,
    *,
    update_endpoint: str | None = None,
    query_endpoint: str | None = None,
    replace: bool = False,
    stale_after: float = 600.0,
    stage: Callable[[str], None] = lambda _: None,
) -> LoadReport:
    """Replace each target graph with the given triples, all or nothing (see the module docstring).

    Temporary graphs of earlier loads older than `stale_after` seconds are dropped first (they
    need `query_endpoint` to be found). `stage` is told each step as it starts (for progress):
    checking the targets, each upload, the swap, the final count; LOAD_STEPS + len(graphs) in all.
    """
    stage("checking the target graphs")
    update_endpoint = update_endpoint or guess_update_endpoint(gsp)
    if not update_endpoint:
        raise CqkgError(
            f"{gsp}: cannot tell this server's SPARQL update URL; pass --update-endpoint "
            f"(it is used to swap the uploaded graph in atomically)"
        )
    query_endpoint = query_endpoint or guess_query_endpoint(gsp)
    for url in (gsp, update_endpoint, query_endpoint):  # every URL is checked before anything is sent
        if url:
            check_url(url)
    http.bind(gsp)
    try:
        before = {g: count_graph(gsp, g, http) for g in graphs}
    except CqkgError:
        if DEFAULT_GRAPH in graphs and "virtuoso" in http.server.lower():
            raise CqkgError(
                "Virtuoso has no default graph of its own (its default graph is every graph): "
                "load into a named graph (leave out --graph); `cqkg query --endpoint` reads that graph"
            ) from None
        raise
    occupied = {g: n for g, n in before.items() if n}
    if occupied and not replace:
        listing = ", ".join(f"{graph_ref(g).replace('GRAPH ', '')} ({n} triples)" for g, n in sorted(occupied.items()))
        raise CqkgError(f"the store already holds {listing}; pass --replace to replace it", exit_code=1)
    stale: list[str] = []
    if query_endpoint:
        try:
            stale = _drop_stale_temps(query_endpoint, update_endpoint, graphs, http, stale_after)
        except CqkgError as e:  # housekeeping: it must not stop the load
            http.log(f"warning: could not look for temporary graphs of interrupted loads ({e})")
    else:
        http.log("note: cannot look for temporary graphs of interrupted loads without --query-endpoint")

    temps = {g: temp_graph(g) for g in graphs}
    sent = {g: len(triples) for g, triples in graphs.items()}
    copied = False
    try:
        for i, (g, triples) in enumerate(graphs.items(), start=1):
            stage(f"uploading {i}/{len(graphs)}: {_name(g)}")
            body = serialise(triples)
            http.log(f"uploading {len(triples)} triples for {_name(g)} ({len(body) / 1e6:.1f} MB)")
            put_graph(gsp, temps[g], body, http)
            got = count_graph(gsp, temps[g], http)
            if got != sent[g]:
                raise CqkgError(
                    f"upload of {_name(g)} is incomplete: sent {sent[g]} triples, the store holds {got}; "
                    f"nothing was replaced",
                    exit_code=1,
                )
        stage("swapping the uploaded graphs in")
        _swap(gsp, update_endpoint, temps, sent, http)
        copied = True
    finally:
        if not copied:
            _drop_quietly(update_endpoint, temps.values(), http)
    stage("counting what the store holds")
    _drop(update_endpoint, temps.values(), http)  # a DROP is safe to repeat, so it is retried
    after = {g: count_graph(gsp, g, http) for g in graphs}
    return LoadReport({g: (sent[g], after[g]) for g in graphs}, occupied, stale)


LOAD_STEPS = 3  # the steps of a load besides one upload per graph: check, swap, count


def _name(graph: str) -> str:
    return "the default graph" if graph == DEFAULT_GRAPH else f"<{graph}>"


def _swap(gsp: str, update_endpoint: str, temps: dict[str, str], sent: dict[str, int], http: Http) -> None:
    """Copy every temporary graph onto its target in one update; repeat only while the copies are intact."""
    update = " ;\n".join(f"COPY GRAPH <{temps[g]}> TO {graph_ref(g)}" for g in temps)
    attempt = 0
    while True:
        attempt += 1
        try:
            sparql_update(update_endpoint, update, http, retries=0)
            return
        except CqkgError as e:  # StoreUnavailable is repeated below; any other answer is final
            # A lost answer may hide a copy that happened: repeating it is harmless while the
            # temporary graphs still hold what was sent (Virtuoso copies a missing graph as
            # an empty one, which would empty the target).
            if attempt > http.retries or not isinstance(e, StoreUnavailable):
                raise
            held = {g: count_graph(gsp, t, http) for g, t in temps.items()}
            changed = [g for g in temps if held[g] != sent[g]]
            if changed:
                raise CqkgError(
                    f"the swap failed ({e}) and the uploaded copy of {_name(changed[0])} changed since "
                    f"(another writer?); not retrying: check the targets",
                    exit_code=1,
                ) from None
            delay = http.backoff * 2 ** (attempt - 1)
            http.log(f"{e}; the uploaded graphs are intact; repeating the swap in {delay:g}s")
            http.sleep(delay)


def _drop(update_endpoint: str, graphs: Iterable[str], http: Http) -> None:
    graphs = list(graphs)
    if graphs:
        sparql_update(update_endpoint, " ;\n".join(f"DROP SILENT GRAPH <{g}>" for g in graphs), http)


def _drop_quietly(update_endpoint: str, graphs: Iterable[str], http: Http) -> None:
    """Best-effort clean-up of temporary graphs after a failed load (one attempt, a short timeout)."""
    graphs = list(graphs)
    quick = http.derive(retries=0, timeout=15)
    try:
        _drop(update_endpoint, graphs, quick)
    except CqkgError as e:
        http.log(
            f"could not drop the temporary graphs ({e}); their names contain '{TEMP_MARK}' and are "
            f"safe to drop; the next cqkg load drops them: {', '.join(f'<{g}>' for g in graphs)}"
        )
    finally:
        quick.close()


def _drop_stale_temps(
    query_endpoint: str, update_endpoint: str, graphs: dict[str, list[ox.Triple]], http: Http, stale_after: float
) -> list[str]:
    """Drop the temporary graphs of earlier, killed loads of these targets; say what was dropped."""
    data = sparql_select(query_endpoint, "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", http)
    names = [b["g"]["value"] for b in data.get("results", {}).get("bindings", []) if "g" in b]
    bases = tuple((TEMP_BASE if g == DEFAULT_GRAPH else g) + TEMP_MARK for g in graphs)
    now = time.time()
    ours = sorted(n for n in names if isinstance(n, str) and n.startswith(bases))
    stale = [n for n in ours if (_temp_age(n, now) or 0) >= stale_after]
    young = [n for n in ours if n not in stale]
    if young:
        http.log(f"leaving {len(young)} recent temporary graph(s) alone (a load may be running): {', '.join(young)}")
    if stale:
        _drop(update_endpoint, stale, http)
        http.log(f"dropped {len(stale)} temporary graph(s) left by an interrupted load: {', '.join(stale)}")
    return stale
