"""A real Virtuoso 7: digest authentication, single and per-source loads, replace, every saved
query through --endpoint equal to the local rows, a wrong password, and the retried swap."""

from __future__ import annotations

import urllib.parse

import pytest

from cqkg.catalog import Catalog
from cqkg.manifest import open_store
from cqkg.project import Project
from cqkg.queries import run_local, run_remote
from cqkg.remote import Http
from cqkg.terms import ALL_GRAPH

from conftest import GOLDEN_CASES, StoreProxy, run_cli


@pytest.fixture
def dba(monkeypatch, virtuoso):
    monkeypatch.setenv("CQKG_STORE_USER", "dba")
    monkeypatch.setenv("CQKG_STORE_PASSWORD", virtuoso.password)
    monkeypatch.setenv("CQKG_STORE_AUTH", "digest")


@pytest.fixture
def clean(virtuoso):
    """Drop every cqkg graph before the test (the server is shared by the session)."""
    from cqkg.remote import Credentials, sparql_update

    http = Http(credentials=Credentials("dba", virtuoso.password, "digest"))
    for g in virtuoso.graph_names():
        sparql_update(virtuoso.base + "/sparql-auth", f"DROP SILENT GRAPH <{g}>", http)
    http.close()
    return virtuoso


def gsp(v) -> str:
    return v.base + "/sparql-graph-crud-auth"


def local_rows(project):
    store = open_store(Project.at(project))
    catalog = Catalog(Project.at(project))
    for name, param in GOLDEN_CASES:
        q = catalog.get(name)
        b = q.bindings(dict([param.split("=", 1)]) if param else {})
        yield name, param, q, b, run_local(store, q, b)


def assert_remote_equals_local(project, endpoint):
    http = Http()
    differ = []
    for name, param, q, b, local in local_rows(project):
        remote = run_remote(endpoint, q, b, http, graph=ALL_GRAPH)
        assert remote.variables == local.variables, name
        # the same rows; the order of rows that ORDER BY leaves tied is the store's own
        if sorted(map(repr, remote.normalised())) != sorted(map(repr, local.normalised())):
            differ.append((name, param, set(map(repr, remote.normalised())) ^ set(map(repr, local.normalised()))))
    assert not differ, differ


def test_readme_recipe_digest_load_then_every_saved_query(built_project, clean, dba):
    result = run_cli(built_project, "load", "--endpoint", gsp(clean))
    assert result.exit_code == 0, result.output
    sent = int(result.stdout.split("sent ")[1].split()[0])
    assert f"store holds {sent}" in result.stdout and clean.graph_count(ALL_GRAPH) == sent
    assert_remote_equals_local(built_project, clean.base + "/sparql")
    local = run_cli(built_project, "query", "cluster-targets", "-f", "csv")
    remote = run_cli(built_project, "query", "cluster-targets", "-f", "csv", "--endpoint", clean.base + "/sparql")
    assert remote.exit_code == 0 and sorted(remote.stdout.splitlines()) == sorted(local.stdout.splitlines())


def test_per_source_load_and_replace(built_project, clean, dba):
    result = run_cli(built_project, "load", "--endpoint", gsp(clean), "--per-source-graphs")
    assert result.exit_code == 0, result.output
    names = clean.graph_names()
    assert {ALL_GRAPH, "https://w3id.org/cqkg/graph/ontology", "https://w3id.org/cqkg/graph/inferred"} <= names
    assert not [g for g in names if "-cqkg-tmp-" in g]
    assert_remote_equals_local(built_project, clean.base + "/sparql")
    again = run_cli(built_project, "load", "--endpoint", gsp(clean), "--per-source-graphs")
    assert again.exit_code == 1 and "--replace" in again.stderr
    replaced = run_cli(built_project, "load", "--endpoint", gsp(clean), "--per-source-graphs", "--replace")
    assert replaced.exit_code == 0, replaced.output
    assert clean.graph_names() == names


def test_wrong_password_changes_nothing_and_is_not_printed(built_project, clean, dba, monkeypatch):
    assert run_cli(built_project, "load", "--endpoint", gsp(clean)).exit_code == 0
    before = clean.graph_count(ALL_GRAPH)
    monkeypatch.setenv("CQKG_STORE_PASSWORD", "not-the-password-77")
    result = run_cli(built_project, "load", "--endpoint", gsp(clean), "--replace", "--retries", "0")
    assert result.exit_code == 2 and "HTTP 401" in result.stderr and "Traceback" not in result.output
    assert "not-the-password-77" not in result.output
    assert clean.graph_count(ALL_GRAPH) == before and clean.graph_names() == {ALL_GRAPH}


def test_default_graph_target_is_refused_with_a_reason(built_project, clean, dba):
    result = run_cli(built_project, "load", "--endpoint", gsp(clean), "--graph", "default", "--retries", "0")
    assert result.exit_code == 2 and "Virtuoso has no default graph of its own" in result.stderr


def test_a_swap_answered_503_after_it_was_applied_keeps_the_graph(built_project, clean, dba):
    """Virtuoso copies a missing graph as an empty one, so a blindly repeated swap would empty the target."""
    swaps = []

    def decide(req, counts):
        if req.command == "POST" and b"COPY" in urllib.parse.unquote_to_bytes(req.body):
            swaps.append(req.path)
            return "forward-then-503" if len(swaps) == 1 else "forward"
        return "forward"

    proxy = StoreProxy(clean.http_port, decide)
    base = f"http://127.0.0.1:{proxy.port}"
    try:
        result = run_cli(built_project, "load", "--endpoint", base + "/sparql-graph-crud-auth", "--retries", "2")
    finally:
        proxy.close()
    assert len(swaps) == 2  # applied, answered 503, repeated
    assert result.exit_code == 0, result.output
    sent = int(result.stdout.split("sent ")[1].split()[0])
    assert clean.graph_count(ALL_GRAPH) == sent and clean.graph_names() == {ALL_GRAPH}


def test_conflicting_values_with_and_without_an_item_as_locally(seed_project, clean, dba):
    # The seeds agree with each other, so the loaded-seeds comparison above sees no rows of this
    # query; here it has some, of both kinds (its plan hints and subqueries must mean the same).
    from test_queries import inject

    assert inject(seed_project, ("1400000.0", "2025", "Target"))
    assert inject(seed_project, ("1600000.0", "2025", "Target"), ("1700000.0", "2025", "Target"), item=False, first=1)
    assert run_cli(seed_project, "load", "--endpoint", gsp(clean)).exit_code == 0
    q = Catalog(Project.at(seed_project)).get("conflicting-values")
    local = run_local(open_store(Project.at(seed_project)), q, {})
    remote = run_remote(clean.base + "/sparql", q, {}, Http(), graph=ALL_GRAPH)
    assert len(local.rows) >= 3
    assert sorted(map(repr, remote.normalised())) == sorted(map(repr, local.normalised()))
