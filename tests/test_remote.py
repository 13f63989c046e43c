"""Loads and remote queries under faults: retried swaps, redirects, echoed secrets, slow or silent
servers, interruptions, leftovers, and answers that are not what they should be."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import threading
import time
import urllib.request

import pytest

from cqkg.terms import ALL_GRAPH

from conftest import OxigraphServer, StoreProxy, StubServer, one_line_error, run_cli

PASSWORD = "pa55-w0rd-xyz"
TOKEN = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()


@pytest.fixture
def server(tmp_path):
    srv = OxigraphServer(tmp_path / "oxidb").start()
    yield srv
    srv.stop()


@pytest.fixture
def stub():
    servers = []

    def make(handler):
        servers.append(StubServer(handler))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


@pytest.fixture
def alice(monkeypatch):
    monkeypatch.setenv("CQKG_STORE_USER", "alice")
    monkeypatch.setenv("CQKG_STORE_PASSWORD", PASSWORD)
    monkeypatch.delenv("CQKG_STORE_AUTH", raising=False)


def query_and_load(base: str) -> list[list[str]]:
    """A remote query and a load against the same stub store."""
    return [
        ["query", "sources", "--endpoint", base + "/query"],
        ["load", "--endpoint", base + "/store", "--retries", "0"],
    ]


def temp_graphs(srv: OxigraphServer) -> set[str]:
    return {g for g in srv.graph_names() if "-cqkg-tmp-" in g}


# ------------------------------------------------------------------ 1. a retried swap never loses the graph


@pytest.mark.parametrize("failing", ["first", "every"])
def test_a_swap_answered_503_after_it_was_applied_never_empties_the_target(built_project, server, failing):
    """The store applies the swap, the client is told 503 and repeats it: the target must hold the graph."""
    proxy = StoreProxy(
        server.port,
        lambda req, counts: (
            "forward-then-503"
            if req.path.startswith("/update") and (failing == "every" or counts["/update"] == 1)
            else "forward"
        ),
    )
    base = f"http://127.0.0.1:{proxy.port}"
    try:
        result = run_cli(built_project, "load", "--endpoint", base + "/store", "--retries", "2")
    finally:
        proxy.close()
    sent = len(server.graph_ntriples(ALL_GRAPH))
    manifest = json.loads((built_project / "build" / "manifest.json").read_text())
    assert sent == manifest["total_triples"]  # the new graph is there, whole
    if failing == "first":
        assert result.exit_code == 0, result.output
        assert f"store holds {sent}" in result.stdout
        assert temp_graphs(server) == set()
    else:
        one_line_error(result)
        assert "HTTP 503" in result.stderr


# ------------------------------------------------------------------ 3. redirects are not followed


def test_a_redirect_to_another_origin_is_an_error_and_gets_no_credentials(built_project, stub, alice):
    elsewhere = stub(lambda req: (200, {"Content-Type": "application/sparql-results+json"}, b"{}"))

    def redirect(req):
        return 302, {"Location": elsewhere.base + "/query"}, b""

    store = stub(redirect)
    for args in query_and_load(store.base):
        result = run_cli(built_project, *args)
        line = one_line_error(result)
        assert f"redirects to {elsewhere.base}/query" in line
    assert elsewhere.requests == []  # never contacted, so never sent the credentials
    assert all(r.headers.get("Authorization", "").startswith("Basic ") for r in store.requests)


def test_credentials_go_only_to_the_stores_origin(built_project, stub, alice):
    """An update URL on another origin gets no Authorization header."""
    other = stub(lambda req: (401, {}, b"no"))
    store = stub(lambda req: (201, {}, b"") if req.command == "PUT" else (404, {}, b""))  # uploads vanish
    run_cli(
        built_project,
        "load",
        "--endpoint",
        store.base + "/store",
        "--update-endpoint",
        other.base + "/update",
        "--retries",
        "0",
    )
    assert store.requests and all("Authorization" in r.headers for r in store.requests)
    assert other.requests and not any("Authorization" in r.headers for r in other.requests)


# ------------------------------------------------------------------ 4. secrets are never printed


def test_a_401_body_echoing_the_credentials_is_redacted(built_project, stub, alice):
    def echo(req):
        headers = "\n".join(f"{k}: {v}" for k, v in req.headers.items())
        return 401, {"Content-Type": "text/plain"}, f"denied. you sent:\n{headers}\npassword={PASSWORD}".encode()

    srv = stub(echo)
    for args in query_and_load(srv.base):
        result = run_cli(built_project, *args)
        line = one_line_error(result)
        assert "HTTP 401" in line and "***" in line
        assert PASSWORD not in result.output and TOKEN not in result.output


# ------------------------------------------------------------------ 5. timeouts


def hang(req):
    time.sleep(20)
    return None


def drip(req):
    w = req.wfile
    w.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/sparql-results+json\r\nContent-Length: 1000\r\n\r\n")
    for _ in range(60):  # a byte every 0.3 s: each read is quick, the answer never completes
        w.write(b" ")
        w.flush()
        time.sleep(0.3)
    return None


@pytest.mark.parametrize("behaviour", [hang, drip], ids=["silent", "drip"])
@pytest.mark.parametrize("command", ["query", "load"])
def test_a_server_that_never_finishes_answering_is_given_up_on(built_project, stub, behaviour, command):
    srv = stub(behaviour)
    args = (
        ["query", "sources", "--endpoint", srv.base + "/query"]
        if command == "query"
        else ["load", "--endpoint", srv.base + "/store", "--retries", "0"]
    )
    t = time.monotonic()
    result = run_cli(built_project, *args, "--timeout", "2")
    elapsed = time.monotonic() - t
    line = one_line_error(result)
    assert "within 2s" in line or "did not answer in time" in line
    assert elapsed < 8, elapsed


# ------------------------------------------------------------------ 7. leftovers


def test_sigterm_during_a_per_source_load_drops_its_temporary_graphs(built_project, server):
    third_put = threading.Event()

    def decide(req, counts):
        if req.command == "PUT" and counts["PUT"] == 3:
            third_put.set()
            return ("delay", 3)
        return "forward"

    proxy = StoreProxy(server.port, decide)
    base = f"http://127.0.0.1:{proxy.port}"
    cmd = [
        os.path.join(os.path.dirname(os.sys.executable), "cqkg"),
        "--project",
        str(built_project),
        "load",
        "--endpoint",
        base + "/store",
        "--update-endpoint",
        server.base + "/update",
        "--per-source-graphs",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert third_put.wait(60)
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proxy.close()
    assert proc.returncode == 130 and "Interrupted" in err and "Traceback" not in err
    assert temp_graphs(server) == set()  # the two uploaded temporary graphs were dropped on the way out
    assert server.graph_names() == set()


def put_graph(srv: OxigraphServer, graph: str) -> None:
    req = urllib.request.Request(
        f"{srv.base}/store?graph={graph}",
        data=b"<http://e/a> <http://e/p> <http://e/o> .\n",
        method="PUT",
        headers={"Content-Type": "application/n-triples"},
    )
    urllib.request.urlopen(req, timeout=10).close()


def test_the_next_load_drops_stale_temporary_graphs_and_says_so(built_project, server):
    stale = f"{ALL_GRAPH}-cqkg-tmp-1000-deadbeef"  # from a load killed long ago
    young = f"{ALL_GRAPH}-cqkg-tmp-{int(time.time())}-cafef00d"  # perhaps a load running now
    put_graph(server, stale)
    put_graph(server, young)
    result = run_cli(built_project, "load", "--endpoint", server.base + "/store")
    assert result.exit_code == 0, result.output
    assert f"dropped 1 temporary graph(s) left by an interrupted load: {stale}" in result.stderr
    assert "leaving 1 recent temporary graph(s) alone" in result.stderr
    assert temp_graphs(server) == {young}


def test_every_url_is_checked_before_anything_is_sent(built_project, stub):
    srv = stub(lambda req: (404, {}, b""))
    for bad in (f"http://bob:hunter2@127.0.0.1:{srv.port}/update", "ftp://127.0.0.1/update", "http://[::1:7878/update"):
        result = run_cli(built_project, "load", "--endpoint", srv.base + "/store", "--update-endpoint", bad)
        one_line_error(result)
        assert "hunter2" not in result.output
    assert srv.requests == []


# ------------------------------------------------------------------ 9. bad answers are one-line errors


def answering(body: bytes, content_type: str = "application/sparql-results+json"):
    return lambda req: (200, {"Content-Type": content_type}, body)


@pytest.mark.parametrize(
    "body,expect",
    [
        (b"[]", "not SPARQL JSON results"),
        (
            b'{"head": {"vars": ["x"]}, "results": {"bindings": [{"x": {"type": "uri", "value": "not an iri"}}]}}',
            "not a valid RDF term",
        ),
        (b'{"head": {"vars": ["x"]}, "results": {"bindings": [{"x": {"type": "literal"}}]}}', "not a valid RDF term"),
        (b'{"head": {"vars": ["x"]}, "results": {"bindings": [["x"]]}}', "not SPARQL JSON results"),
        (b"<html>oops</html>", "not SPARQL JSON results"),
    ],
    ids=["list", "non-iri-uri", "literal-without-value", "binding-not-object", "html"],
)
def test_a_bad_query_answer_is_a_one_line_error(built_project, stub, body, expect):
    srv = stub(answering(body))
    line = one_line_error(run_cli(built_project, "query", "sources", "--endpoint", srv.base + "/query"))
    assert expect in line and srv.base in line


def test_broken_ntriples_from_the_graph_store_is_a_one_line_error(built_project, stub):
    srv = stub(answering(b"<http://e/a> <http://e/p> broken .\n", "application/n-triples"))
    line = one_line_error(run_cli(built_project, "load", "--endpoint", srv.base + "/store", "--retries", "0"))
    assert "unreadable" in line and srv.base in line


@pytest.mark.parametrize("url", ["http://[::1:7878/query", "http://127.0.0.1:99999/query", "localhost:7878/query"])
def test_a_malformed_endpoint_url_is_a_one_line_error(built_project, url):
    line = one_line_error(run_cli(built_project, "query", "sources", "--endpoint", url))
    assert "URL" in line
