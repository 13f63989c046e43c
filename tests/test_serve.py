"""`cqkg serve`: queries, the UI and saved queries; read-only; no SERVICE; signals; a busy port;
a new build is served as it lands."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import Served, StubServer, copy_project, cqkg_command, run_cli


@pytest.fixture
def served(built_project):
    s = Served(built_project)
    yield s
    if s.proc.poll() is None:
        s.stop()


def count(served) -> int:
    status, body = served.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    assert status == 200, body
    return int(json.loads(body)["results"]["bindings"][0]["n"]["value"])


def test_sparql_protocol_ui_and_saved_queries(served, built_project):
    status, kind, page = served.get("/ui", accept="text/html")
    assert status == 200 and kind.startswith("text/html") and b"Saved queries" in page and b"PREFIX cq:" in page
    status, kind, page = served.get("/", accept="text/html")  # the site
    assert status == 200 and kind.startswith("text/html") and "重庆制造业知识图谱".encode() in page
    for outside in ("/../manifest.json", "/%2e%2e/manifest.json", "/e/%2e%2e/%2e%2e/manifest.json"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            served.get(outside)
        assert refused.value.code == 404  # nothing outside the site is served
    assert count(served) > 5000
    q = urllib.parse.quote("ASK { ?s ?p ?o }")
    assert json.loads(served.get(f"/query?query={q}")[2])["boolean"] is True
    status, body = served.post(
        "/query", b"SELECT ?s WHERE { ?s ?p ?o } LIMIT 2", "application/sparql-query", accept="text/csv"
    )
    assert status == 200 and body.decode().splitlines()[0] == "s"
    saved = json.loads(served.get("/saved")[2])
    assert {"cluster-targets", "metrics-for-subject"} <= {q["name"] for q in saved}
    rows = json.loads(served.get("/saved/metrics-for-subject?subject=cq:IntelligentConnectedNEVCluster")[2])
    local = json.loads(
        run_cli(
            built_project,
            "query",
            "metrics-for-subject",
            "-p",
            "subject=cq:IntelligentConnectedNEVCluster",
            "-f",
            "json",
        ).stdout
    )
    assert len(rows["results"]["bindings"]) == len(local["results"]["bindings"]) > 0
    status, body = served.post("/query", b"", "application/x-www-form-urlencoded")
    assert status == 400
    with pytest.raises(urllib.error.HTTPError) as e:
        served.get("/saved/metrics-for-subject?subject=not%20an%20iri")
    assert e.value.code == 400 and b"expects an IRI" in e.value.read()


def test_the_endpoint_is_read_only(served):
    before = count(served)
    for path, data, kind in [
        ("/query", b"update=CLEAR%20ALL", "application/x-www-form-urlencoded"),
        ("/query", b"CLEAR ALL", "application/sparql-update"),
        ("/update", b"update=CLEAR%20ALL", "application/x-www-form-urlencoded"),
        ("/store", b"<http://e/a> <http://e/p> <http://e/o> .", "application/n-triples"),
    ]:
        status, _ = served.post(path, data, kind)
        assert status == 405, path
    assert count(served) == before


SERVICE_QUERIES = [
    "SELECT * WHERE { SERVICE <{url}> { ?s ?p ?o } }",
    "PREFIX ex: <http://e/> SELECT * WHERE { VALUES ?z { ex:a\\# } SERVICE <{url}> { ?s ?p ?o } }",
    "select * where { { select ?s where { service <{url}> { ?s ?p ?o } } } }",
    'SELECT * WHERE { ?s ?p "#" . SERVICE SILENT <{url}> { ?s ?p ?o } }',
]


@pytest.mark.parametrize("text", SERVICE_QUERIES)
def test_clients_cannot_make_the_endpoint_call_out(served, text):
    listener = StubServer(
        lambda req: (
            200,
            {"Content-Type": "application/sparql-results+json"},
            b'{"head":{"vars":[]},"results":{"bindings":[]}}',
        )
    )
    try:
        status, body = served.query(text.replace("{url}", listener.base + "/x"))
        assert status in (400, 403), body
        assert b"SERVICE" in body
        time.sleep(0.2)
        assert listener.requests == []
    finally:
        listener.close()


def test_a_variable_named_service_is_fine(served):
    status, body = served.query("SELECT ?service WHERE { ?service ?p ?o } LIMIT 1")
    assert status == 200, body


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_server_and_frees_the_port(built_project, sig):
    s = Served(built_project)
    code, err = s.stop(sig)
    assert code == 0 and "stopped." in err and "Traceback" not in err
    with socket.socket() as probe:  # nothing listens on the port any more (TIME_WAIT may linger, as usual)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", s.port))


def test_a_busy_port_is_one_line_and_exit_2(built_project):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [*cqkg_command(), "--project", str(built_project), "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"Error: 127.0.0.1:{port} is already in use (another server?); pass --port"
    ]


def test_a_new_build_is_served_as_it_lands(tmp_path):
    proj = copy_project(tmp_path / "p")
    assert run_cli(proj, "build").exit_code == 0
    s = Served(proj)
    try:
        ask = (
            "ASK { <https://w3id.org/cqkg/id/obs/qc25-ev-production> "
            "<https://w3id.org/cqkg/ontology#value> ?v FILTER(?v = {v}) }"
        )
        assert json.loads(s.query(ask.replace("{v}", "489300"))[1])["boolean"] is True
        seed = proj / "seeds" / "2025-h1-quality-chain-new-productive-forces.ttl"
        seed.write_text(
            seed.read_text().replace(
                "cqkg:value 489300.0 ;", 'cqkg:value 489301.0 ; cqkg:derivation "an edit by the test" ;'
            )
        )
        assert json.loads(s.query(ask.replace("{v}", "489300"))[1])["boolean"] is True  # the last build, ...
        assert run_cli(proj, "build").exit_code == 0
        assert json.loads(s.query(ask.replace("{v}", "489301"))[1])["boolean"] is True  # ... then the new one
    finally:
        code, err = s.stop()
    assert "the inputs changed since the last build" in err and "a new build landed" in err


def test_an_order_over_numbers_and_strings_is_answered_or_refused_and_the_server_stays_up(served):
    # Oxigraph's ORDER BY aborts the whole process when a column mixes numbers and strings (its
    # comparison is no total order): one client query stopped the server.
    before = count(served)
    # A SELECT's ORDER BY is cqkg's: each kind of literal apart, each by value (SPARQL leaves the
    # order between a number and a string open). A DISTINCT query ordered by what it does not
    # project, and an ORDER BY before a trailing VALUES, were the store's to sort, and refused.
    for text in (
        "SELECT ?o WHERE { ?s ?p ?o } ORDER BY ?o",
        "SELECT ?o WHERE { ?s ?p ?o } ORDER BY DESC(?o) LIMIT 5",
        "SELECT ?o WHERE { ?s ?p ?o } ORDER BY (?o)",
        "SELECT ?s WHERE { ?s ?p ?o } ORDER BY COALESCE(?o, 1)",
        "SELECT * WHERE { ?s ?p ?o } ORDER BY DESC(IF(isLiteral(?o), ?o, 0)) LIMIT 2",
        "SELECT DISTINCT ?s WHERE { ?s ?p ?o } ORDER BY ?o",
        "SELECT ?s ?o WHERE { ?s ?p ?o } ORDER BY ?o VALUES ?p { <http://www.w3.org/2000/01/rdf-schema#label> "
        "<https://w3id.org/cqkg/ontology#value> }",
    ):
        status, body = served.query(text)
        assert status == 200, (text, body)
        assert json.loads(body)["results"]["bindings"]
    # What the store still sorts itself, a subquery's or a CONSTRUCT's order, is looked at first.
    for text, shown in (
        ("SELECT ?o WHERE { { SELECT ?o WHERE { ?s ?p ?o } ORDER BY ?o LIMIT 5 } }", b"ORDER BY ?o"),
        ("SELECT * WHERE { { SELECT ?s WHERE { ?s ?p ?o } ORDER BY DESC(STR(?s)) ?o LIMIT 5 } }", b"ORDER BY ?o"),
        ("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } ORDER BY COALESCE(?o, 1) LIMIT 3", b"COALESCE(?o, 1)"),
    ):
        status, body = served.query(text)
        assert status == 400 and shown in body and b"STR(" in body, (text, body)
    assert count(served) == before
    # one kind of literal in a subquery orders as usual
    status, body = served.query(
        "SELECT ?l WHERE { { SELECT ?l WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?l "
        'FILTER(lang(?l) = "en") } ORDER BY ?l LIMIT 3 } }'
    )
    assert status == 200, body
    labels = [b["l"]["value"] for b in json.loads(body)["results"]["bindings"]]
    assert len(labels) == 3


def test_a_saved_query_over_numbers_and_strings_is_ordered_by_cqkg(tmp_path):
    # /saved runs a saved query as `cqkg query` does (cqkg.queries.run_local): the ORDER BY is
    # cqkg's, where the store's own sort stopped the server on such a column.
    project = copy_project(tmp_path / "p")
    (project / "queries" / "all-objects.rq").write_text(
        "#+ summary: every object\nSELECT ?o WHERE { ?s ?p ?o } ORDER BY ?o\n", encoding="utf-8"
    )
    assert run_cli(project, "build").exit_code == 0
    s = Served(project)
    try:
        status, _, body = s.get("/saved/all-objects")
        assert status == 200, body
        values = json.loads(body)["results"]["bindings"]
        numbers = [b["o"] for b in values if b["o"].get("datatype", "").endswith(("#integer", "#decimal"))]
        assert numbers and [float(n["value"]) for n in numbers] == sorted(float(n["value"]) for n in numbers)
        assert count(s) > 0  # still up
    finally:
        s.stop()


class _CountingBuild:
    """A stand-in for serve.LatestBuild whose store counts the queries it evaluates."""

    def __init__(self, store):
        self.inner, self.queries = store, 0

    def query(self, *args, **kwargs):
        self.queries += 1
        return self.inner.query(*args, **kwargs)

    def store(self):
        return self

    def reopen(self):
        return self


@pytest.mark.parametrize(
    "accept",
    ["application/sparql-results+json", "application/sparql-results+xml", "text/csv", "text/tab-separated-values"],
)
def test_an_ordered_client_query_runs_once_and_answers_in_the_order_and_format_asked(accept):
    # The rows were read once without the ORDER BY (to refuse a column mixing kinds of literals)
    # and then the whole query ran again for the store to sort: twice the work for every client.
    import pyoxigraph as ox

    from cqkg.serve import _RESULT_TYPES, run_query

    store = ox.Store()
    for i, label in enumerate(["pear", "apple", "fig", "apple"]):
        s = ox.NamedNode(f"http://x/{i}")
        store.add(ox.Quad(s, ox.NamedNode("http://x/label"), ox.Literal(label)))
        store.add(
            ox.Quad(
                s,
                ox.NamedNode("http://x/rank"),
                ox.Literal(str(10 - i), datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")),
            )
        )
    text = "SELECT ?s ?l WHERE { ?s <http://x/label> ?l ; <http://x/rank> ?r } ORDER BY ?l DESC(?r) LIMIT 3"
    build = _CountingBuild(store)
    content_type, body = run_query(build, text, accept, [])
    assert content_type == accept and build.queries == 1
    fmt = _RESULT_TYPES[accept]
    theirs = store.query(text).serialize(format=fmt)  # the store's own sort and serialiser
    if fmt == ox.QueryResultsFormat.JSON:  # the same rows; cqkg's JSON is indented
        ours = [tuple(map(str, row)) for row in ox.parse_query_results(body, fmt)]
        assert ours == [tuple(map(str, row)) for row in ox.parse_query_results(theirs, fmt)]
        assert ours == [("<http://x/1>", '"apple"'), ("<http://x/3>", '"apple"'), ("<http://x/2>", '"fig"')]
    else:
        assert body == theirs
