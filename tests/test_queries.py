"""The saved query catalogue: metadata, golden rows, parameters, safety, engines."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pyoxigraph as ox
import pytest

from cqkg.catalog import SavedQuery
from cqkg.export import export_bytes
from cqkg.manifest import open_store
from cqkg.ordering import Ordering
from cqkg.project import Project
from cqkg.queries import run_local
from cqkg.sparql import uses_service, with_values

from conftest import (
    ANALYST,
    CATALOG,
    CHECKS,
    FIXTURES,
    GOLDEN,
    GOLDEN_CASES,
    OXIGRAPH,
    PARAM_CASES,
    copy_project,
    golden_path,
    run_cli,
    run_rdflib,
)


def test_catalogue_is_substantial_and_documented():
    assert len(ANALYST) >= 15
    for q in CATALOG.all():
        assert q.title and q.description, q.name
        body = re.sub(r"#[^\n]*", "", q.text)
        assert re.search(r"\bORDER\s+BY\b", body, re.I), f"{q.name} has no ORDER BY"


def test_param_cases_name_real_parameters():
    for name, cases in PARAM_CASES.items():
        declared = {p.name for p in CATALOG.get(name).params}
        for case in cases:
            assert case.split("=")[0] in declared


@pytest.mark.parametrize("name,param", GOLDEN_CASES, ids=[f"{n}@{p}" if p else n for n, p in GOLDEN_CASES])
def test_golden_rows(built_project, request, name, param):
    args = ["query", name, "--format", "csv"] + (["--param", param] if param else [])
    result = run_cli(built_project, *args)
    assert result.exit_code == 0, result.output
    path = golden_path(name, param)
    if request.config.getoption("--update-golden"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(result.stdout, encoding="utf-8")
    assert path.is_file(), f"no golden file {path.name}; run pytest --update-golden and review it"
    assert result.stdout == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name, param", GOLDEN_CASES)
def test_rows_in_the_order_the_store_gives(built_project, name, param):
    # cqkg applies a saved query's ORDER BY itself (cqkg.ordering); the store's own ORDER BY
    # gives the same rows in the same order of the ordering columns.
    q = CATALOG.get(name)
    text = with_values(q.text, q.bindings(dict([param.split("=", 1)]) if param else {}))
    ordering = Ordering.of(text)
    assert ordering is not None, f"{name}: ORDER BY plain variables, which cqkg sorts itself"
    store = open_store(Project.at(built_project))
    ours = run_local(store, q, q.bindings(dict([param.split("=", 1)]) if param else {}))
    res = store.query(text)
    assert isinstance(res, ox.QuerySolutions)
    theirs = [tuple(s[v] for v in ours.variables) for s in res]
    assert sorted(map(repr, ours.rows)) == sorted(map(repr, theirs))
    shown = [ours.variables.index(v) for v, _ in ordering.conditions if v in ours.variables]
    assert [[r[i] for i in shown] for r in ours.rows] == [[r[i] for i in shown] for r in theirs]


def hash_joins_on_a_variable(project: Path, text: str, tmp_path: Path) -> list[str]:
    """The joins of Oxigraph's plan for `text` that build a hash table keyed on a variable.

    Such a join evaluates one side on its own, over the whole graph. Oxigraph plans from the query
    text alone (its size estimates do not look at the data), so the plan on the seed graph is the
    plan on a graph of a million triples.
    """
    store = tmp_path / "store"
    shutil.copytree((project / "build" / "store").resolve(), store)
    (tmp_path / "q.rq").write_text(text, encoding="utf-8")
    subprocess.run(
        [
            OXIGRAPH,
            "query",
            "--location",
            str(store),
            "--query-file",
            str(tmp_path / "q.rq"),
            "--results-file",
            str(tmp_path / "rows.tsv"),
            "--explain-file",
            str(tmp_path / "plan.json"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    found, todo = [], [json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))["plan"]]
    while todo:
        node = todo.pop()
        if re.search(r"Hash\w+, keys = \?", node["name"]):
            found.append(node["name"])
        todo.extend(node.get("children", []))
    return found


@pytest.mark.skipif(not OXIGRAPH, reason="the oxigraph CLI (test extras) explains plans")
def test_one_subject_lookup_follows_the_subject(built_project, tmp_path):
    # With a hash join on ?obs, metrics-for-subject read every observation of the graph for one
    # subject: 0.35 s at 1M triples against 5 ms at 10k (issue 22); planned from the subject, 2 ms.
    q = CATALOG.get("metrics-for-subject")
    text = with_values(q.text, q.bindings({"subject": "cq:Changan"}))
    assert hash_joins_on_a_variable(built_project, text, tmp_path) == []


def test_no_stale_golden_files():
    expected = {golden_path(n, p).name for n, p in GOLDEN_CASES}
    assert {p.name for p in GOLDEN.glob("*.csv")} <= expected


def test_analyst_queries_return_rows_on_the_seed_graph(built_project):
    store = open_store(Project.at(built_project))
    empty = [
        name
        for name in ANALYST
        if name != "conflicting-values"  # empty when the sources agree, which they do
        and not run_local(store, CATALOG.get(name), CATALOG.get(name).bindings({})).rows
    ]
    assert not empty, f"return no rows on the seed graph: {empty}"


# ------------------------------------------------------------------ known answers (spot checks)


def rows(project, name, *params) -> list[dict]:
    args = ["query", name, "-f", "json"] + [x for p in params for x in ("-p", p)]
    result = run_cli(project, *args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    return [{k: v["value"] for k, v in b.items()} for b in data["results"]["bindings"]]


def test_cluster_targets_progress_for_nev(built_project):
    found = [
        r for r in rows(built_project, "cluster-targets") if r["measure"] == "production volume: new energy vehicles"
    ]
    assert {r["source"].rsplit("/", 1)[1] for r in found} == {
        "ichongqing-2025-01-21-automotive",
        "quality-chain-2025-h1",
    }
    for r in found:
        assert (r["target"], r["actual"], r["progress_pct"]) == ("1300000", "489300", "37.6")
        assert r["cluster_en"] == "intelligent connected new energy vehicles"
        assert r["tier_rank"] == "1"


# A target and actuals that differ in one key each: only the newest actual of the same
# subject, indicator, unit, item, base and whole may be compared with the target.
PROGRESS_GRAPH = """
@prefix cqkg: <https://w3id.org/cqkg/ontology#> . @prefix cq: <https://w3id.org/cqkg/id/> .
@prefix ind: <https://w3id.org/cqkg/indicator/> . @prefix unit: <https://w3id.org/cqkg/unit/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
cq:T1 cqkg:tierOf cq:System33618 ; cqkg:tierRank 1 .
cq:C cqkg:memberOf cq:T1 ; rdfs:label "cluster"@en .
cq:Y2023 cqkg:year "2023"^^xsd:gYear ; cqkg:endDate "2023-12-31"^^xsd:date ; rdfs:label "2023" .
cq:H1 cqkg:year "2024"^^xsd:gYear ; cqkg:endDate "2024-06-30"^^xsd:date ; rdfs:label "H1 2024" .
cq:Y2024 cqkg:year "2024"^^xsd:gYear ; cqkg:endDate "2024-12-31"^^xsd:date ; rdfs:label "2024" .
cq:Y2025 cqkg:year "2025"^^xsd:gYear ; cqkg:endDate "2025-12-31"^^xsd:date ; rdfs:label "2025" .
cq:target cqkg:status cqkg:Target ; cqkg:subject cq:C ; cqkg:indicator ind:OutputValue ;
    cqkg:unit unit:CNY100m ; cqkg:value 100.0 ; cqkg:period cq:Y2025 ; cqkg:source cq:S ; cqkg:quote "t" .
cq:target_item cqkg:status cqkg:Target ; cqkg:subject cq:C ; cqkg:indicator ind:OutputValue ; cqkg:item cq:X ;
    cqkg:unit unit:CNY100m ; cqkg:value 1000.0 ; cqkg:period cq:Y2025 ; cqkg:source cq:S ; cqkg:quote "u", "t2" .
cq:old cqkg:status cqkg:Actual ; cqkg:subject cq:C ; cqkg:indicator ind:OutputValue ; cqkg:unit unit:CNY100m ;
    cqkg:value 50.0 ; cqkg:period cq:Y2023 ; cqkg:source cq:S ; cqkg:quote "a" .
cq:newest cqkg:status cqkg:Actual ; cqkg:subject cq:C ; cqkg:indicator ind:OutputValue ; cqkg:unit unit:CNY100m ;
    cqkg:value 60.0 ; cqkg:period cq:H1 ; cqkg:source cq:S ; cqkg:quote "b" .
cq:other_item cqkg:status cqkg:Actual ; cqkg:subject cq:C ; cqkg:indicator ind:OutputValue ; cqkg:item cq:X ;
    cqkg:unit unit:CNY100m ; cqkg:value 999.0 ; cqkg:period cq:Y2024 ; cqkg:source cq:S ; cqkg:quote "c" .
cq:item_same_date cqkg:status cqkg:Actual ; cqkg:subject cq:C ; cqkg:indicator ind:OutputValue ; cqkg:item cq:X ;
    cqkg:unit unit:CNY100m ; cqkg:value 111.0 ; cqkg:period cq:H1 ; cqkg:source cq:S ; cqkg:quote "f" .
cq:base_same_date cqkg:status cqkg:Actual ; cqkg:subject cq:C ; cqkg:indicator ind:OutputValue ;
    cqkg:baseIndicator ind:OutputValue ; cqkg:unit unit:CNY100m ; cqkg:value 5.0 ; cqkg:period cq:H1 ;
    cqkg:source cq:S ; cqkg:quote "g" .
cq:other_base cqkg:status cqkg:Actual ; cqkg:subject cq:C ; cqkg:indicator ind:OutputValue ;
    cqkg:baseIndicator ind:OutputValue ; cqkg:unit unit:CNY100m ; cqkg:value 7.0 ; cqkg:period cq:Y2024 ;
    cqkg:source cq:S ; cqkg:quote "d" .
cq:other_unit cqkg:status cqkg:Actual ; cqkg:subject cq:C ; cqkg:indicator ind:OutputValue ; cqkg:unit unit:Percent ;
    cqkg:value 8.0 ; cqkg:period cq:Y2024 ; cqkg:source cq:S ; cqkg:quote "e" .
"""


@pytest.mark.parametrize("name", ["targets-progress", "cluster-targets"])
def test_progress_uses_the_newest_actual_of_the_same_measure(name):
    import rdflib

    q = CATALOG.get(name)
    store = ox.Store()
    store.load(PROGRESS_GRAPH.encode(), format=ox.RdfFormat.TURTLE)
    graph = rdflib.Graph().parse(data=PROGRESS_GRAPH, format="turtle")
    for result in (run_local(store, q, q.bindings({})), run_rdflib(graph, q, q.bindings({}))):
        got = sorted(
            (
                r["target"].value,
                r["actual"].value,
                r["actual_period"].value,
                r["progress_pct"].value,
                r["target_quote"].value,
            )
            for r in (dict(zip(result.variables, row, strict=True)) for row in result.rows)
        )
        assert [(float(t), float(a), per, float(p), quote) for t, a, per, p, quote in got] == [
            (100.0, 60.0, "H1 2024", 60.0, "t"),
            (1000.0, 999.0, "2024", 99.9, "t2"),
        ]


def test_cluster_system_has_four_tiers_of_declared_size(built_project):
    got = {(r["rank"], r["declared"]) for r in rows(built_project, "cluster-system")}
    assert {("1", "3"), ("2", "3"), ("3", "6"), ("4", "18")} <= got


# ------------------------------------------------------------------ quality checks fire


@pytest.mark.parametrize("name", CHECKS)
def test_violation_check_fires_on_its_fixture(mini_project, name):
    fixture = FIXTURES / "violations" / f"{name}.ttl"
    body = fixture.read_text(encoding="utf-8")
    focus = re.match(r"# expect: (\S+)", body).group(1)
    prefixes = (FIXTURES / "shapes" / "_prefixes.ttl").read_text(encoding="utf-8")
    (mini_project / "seeds" / f"zz-{name}.ttl").write_text(prefixes + body, encoding="utf-8")
    result = run_cli(mini_project, "build")
    assert result.exit_code == 1, result.output
    ns = dict(re.findall(r"@prefix\s+(\w+):\s+<([^>]+)>", prefixes))
    p, local = focus.split(":", 1)
    assert any(f"<{ns[p]}{local}>" in ln and f"[{name}]" in ln for ln in result.output.splitlines()), result.output
    assert not (mini_project / "build").exists()


def test_every_check_has_a_fixture():
    assert sorted(p.stem for p in (FIXTURES / "violations").glob("*.ttl")) == CHECKS


# ------------------------------------------------------------------ parameters are RDF terms

MALICIOUS = [
    'x" } UNION { ?s ?p ?o } #',
    "x' } UNION { ?s ?p ?o }",
    "<http://a> } UNION { ?s ?p ?o",
    "cq:Chongqing> } UNION { ?s ?p ?o } #",
    "}",
    '"""',
    "cq:a\\u003e } UNION {",
]


@pytest.mark.parametrize("value", MALICIOUS)
def test_malicious_iri_parameter_is_rejected(built_project, value):
    result = run_cli(built_project, "query", "metrics-for-subject", "-p", f"subject={value}")
    assert result.exit_code == 2
    assert "parameter 'subject' expects an IRI" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("value", MALICIOUS)
def test_malicious_string_value_cannot_change_the_query(value):
    q = SavedQuery("t", Path("t.rq"), "SELECT ?name ?s WHERE { ?s <http://x/p> ?name } ORDER BY ?s")
    store = ox.Store()
    store.add(ox.Quad(ox.NamedNode("http://x/a"), ox.NamedNode("http://x/p"), ox.Literal("a")))
    store.add(ox.Quad(ox.NamedNode("http://x/b"), ox.NamedNode("http://x/p"), ox.Literal(value)))
    got = run_local(store, q, {"name": ox.Literal(value)})
    assert [r[1].value for r in got.rows] == ["http://x/b"]
    # the VALUES block sent to endpoints keeps the value one literal too
    remote = with_values(q.text, {"name": ox.Literal(value)})
    # (allow_service: the SERVICE check reads the saved text, never the text with values bound)
    got = run_local(store, SavedQuery("t", Path("t.rq"), remote), {}, allow_service=True)
    assert [r[1].value for r in got.rows] == ["http://x/b"]


def test_a_subquery_narrowed_with_undef_takes_the_parameter_and_nothing_else():
    year = ox.Literal("2027", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#gYear"))
    text = """SELECT ?year ?n WHERE {  # VALUES ?year { UNDEF } in a comment stays
      { SELECT ?year (COUNT(*) AS ?n) WHERE { VALUES ?year { UNDEF } VALUES ?other { UNDEF }
        ?s <http://x/year> ?year ; <http://x/note> "VALUES ?year { UNDEF }" } GROUP BY ?year } }"""
    bound = with_values(text, {"year": year})
    assert bound.count(str(year)) == 2  # the outer block and the subquery's
    assert 'VALUES ?year { "2027"^^<http://www.w3.org/2001/XMLSchema#gYear> } VALUES ?other { UNDEF }' in bound
    assert "# VALUES ?year { UNDEF } in a comment stays" in bound and '"VALUES ?year { UNDEF }" }' in bound
    # a shipped query that narrows a subquery answers the same with the text as it is: UNDEF
    q = CATALOG.get("targets-progress")
    assert "VALUES ?year { UNDEF }" in q.text
    assert "VALUES ?year { UNDEF }" not in with_values(q.text, q.bindings({}))


@pytest.mark.parametrize(
    "param,value,expect",
    [
        ("year", "twenty", "expects a year like 2025"),
        ("year", "2025 } UNION {", "expects a year like 2025"),
        ("nope", "1", "has no parameter 'nope'"),
    ],
)
def test_bad_parameters(built_project, param, value, expect):
    result = run_cli(built_project, "query", "targets-progress", "-p", f"{param}={value}")
    assert result.exit_code == 2 and expect in result.output


def test_param_without_equals(built_project):
    result = run_cli(built_project, "query", "targets-progress", "-p", "2025")
    assert result.exit_code == 2 and "expected NAME=VALUE" in result.output


# ------------------------------------------------------------------ safety: SERVICE

SERVICE_QUERY = """#+ summary: Federated
#+ description: Asks another endpoint.
SELECT ?s WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } } ORDER BY ?s
"""


def test_service_is_refused_without_flag(built_project):
    (built_project / "queries" / "federated.rq").write_text(SERVICE_QUERY, encoding="utf-8")
    try:
        result = run_cli(built_project, "query", "federated")
        assert result.exit_code == 2
        assert "SERVICE" in result.output and "--allow-service" in result.output
    finally:
        (built_project / "queries" / "federated.rq").unlink()


def test_service_detection_ignores_comments_and_strings():
    assert uses_service("SELECT * WHERE { SERVICE <x> { ?s ?p ?o } }")
    assert uses_service("select * where { service<x>{?s ?p ?o} }")
    assert not uses_service('SELECT * WHERE { ?s ?p "SERVICE" } # SERVICE')


def test_shipped_queries_make_no_service_calls():
    assert not [q.name for q in CATALOG.all() if uses_service(q.text)]


# ------------------------------------------------------------------ two engines, same rows


@pytest.fixture(scope="module")
def engines(built_project):
    import rdflib

    store = open_store(Project.at(built_project))
    g = rdflib.Graph()
    g.parse(data=export_bytes(store, "turtle")[0], format="turtle")
    return store, g


@pytest.mark.parametrize("name,param", GOLDEN_CASES, ids=[f"{n}@{p}" if p else n for n, p in GOLDEN_CASES])
def test_embedded_engine_and_rdflib_agree(engines, name, param):
    store, graph = engines
    q = CATALOG.get(name)
    b = q.bindings(dict([param.split("=", 1)]) if param else {})
    ours, theirs = run_local(store, q, b), run_rdflib(graph, q, b)
    assert ours.variables == theirs.variables
    assert ours.normalised() == theirs.normalised()


# --- conflicts across period forms, and the assumptions query --------------------------------

NEV_TARGET_QUOTE = 'The city aims to produce 1.3 million \\"Chongqing-made\\" electric vehicles by 2025'
INJECTED = """
obs:zz-injected-{n} a cqkg:Observation ;
    cqkg:subject cq:Chongqing ; {item}cqkg:indicator ind:ProductionVolume ;
    cqkg:value {value} ; cqkg:unit unit:Vehicle ; cqkg:period period:{period} ; cqkg:status cqkg:{status} ;
    cqkg:derivation "an injected conflict" ;
    cqkg:source src:quality-chain-2025-h1 ; cqkg:quote "{quote}" .
"""


def inject(project: Path, *observations: tuple[str, str, str], item: bool = True, first: int = 0) -> list[dict]:
    """Add observations of Chongqing's NEV production (value, period, status), build, and return
    the conflicting-values rows that involve them. Without `item`, the observations name no item
    (a production volume of Chongqing as a whole). `first` numbers the observations of a second
    injection after those of the first."""
    seed = project / "seeds" / "2025-h1-quality-chain-new-productive-forces.ttl"
    extra = "".join(
        INJECTED.format(
            n=first + i,
            value=v,
            period=p,
            status=s,
            quote=NEV_TARGET_QUOTE,
            item="cqkg:item cq:NewEnergyVehicles ; " if item else "",
        )
        for i, (v, p, s) in enumerate(observations)
    )
    seed.write_text(seed.read_text(encoding="utf-8") + extra, encoding="utf-8")
    built = run_cli(project, "build")
    assert built.exit_code == 0, built.output
    injected = {str(Decimal(v).normalize()) for v, _, _ in observations}
    found = rows(project, "conflicting-values")
    return [
        r for r in found if {str(Decimal(r["value_a"]).normalize()), str(Decimal(r["value_b"]).normalize())} & injected
    ]


@pytest.mark.parametrize("period", ["2025", "by-2025", "2021-2025"])
def test_a_target_conflicts_whatever_form_its_deadline_takes(seed_project, period):
    # The seeds hold a 1.3 million NEV target "by 2025" and one "for 2025": a 1.4 million target
    # for the same deadline in any form disagrees with both.
    found = inject(seed_project, ("1400000.0", period, "Target"))
    pairs = {tuple(sorted((str(Decimal(r["value_a"])), str(Decimal(r["value_b"]))))) for r in found}
    assert pairs == {("1300000", "1400000")}, found
    assert len(found) == 2, found  # against the "by 2025" and the "2025" target


def test_actual_values_conflict_only_for_the_same_stretch_of_time(seed_project):
    found = inject(
        seed_project,
        ("500000.0", "2025-H1", "Actual"),  # the seeds say 489,300 for H1 2025: a conflict
        ("900000.0", "2025", "Actual"),  # the whole year ends later: no conflict with H1
        ("4000000.0", "2021-2025", "Actual"),  # five years to the end of 2025: not the year 2025
    )
    values = sorted(tuple(sorted((str(Decimal(r["value_a"])), str(Decimal(r["value_b"]))))) for r in found)
    assert values == [("489300", "500000")], found


def test_observations_without_an_item_conflict_too(seed_project):
    # Two values of the same measure with no item: a label lookup keyed on the item alone used to
    # join every label in the graph for them, and the pair was filtered out.
    found = inject(seed_project, ("1400000.0", "2025", "Target"), ("1500000.0", "2025", "Target"), item=False)
    pairs = {tuple(sorted((str(Decimal(r["value_a"])), str(Decimal(r["value_b"]))))) for r in found}
    assert pairs == {("1400000", "1500000")}, found
    assert all(not r.get("item_label") for r in found), found


def test_assumptions_lists_every_assumed_part_with_reason_and_quote(built_project):
    found = rows(built_project, "assumptions")
    assert found and all(r["reason"] and r["quote"] and r["source"] and r["part"] for r in found)
    store = open_store(Project(built_project))
    marked = store.query(
        """PREFIX cqkg: <https://w3id.org/cqkg/ontology#>
           SELECT (COUNT(*) AS ?n) WHERE { { SELECT DISTINCT ?a ?x WHERE { ?a cqkg:assumption ?x } } }""",
        use_default_graph_as_union=True,
    )
    derived = store.query(
        """PREFIX cqkg: <https://w3id.org/cqkg/ontology#>
           SELECT (COUNT(DISTINCT ?a) AS ?n) WHERE { ?a cqkg:derivation ?d }""",
        use_default_graph_as_union=True,
    )
    expected = int(next(iter(marked))[0].value) + int(next(iter(derived))[0].value)
    assert len(found) == expected  # one row per assumption, none lost to a missing label
    by_fact = {(r["fact"], r["part"]) for r in found}
    assert (
        "https://w3id.org/cqkg/id/obs/ap27-rd-intensity",
        "item",
    ) in by_fact  # the plan's R&D scope is the curator's reading


def test_an_assumed_part_without_a_value_is_one_row_not_one_per_label():
    # An assumption may name a part the fact leaves out (SHACL does not require it there): the
    # value's label was looked up outside the OPTIONAL that binds it, so an unbound value joined
    # every English label in the graph, each row claiming that label as the assumed value.
    store = ox.Store()
    store.load(
        b"""@prefix cqkg: <https://w3id.org/cqkg/ontology#> . @prefix cq: <https://w3id.org/cqkg/id/> .
        @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
        cq:fact a cqkg:Observation ; cqkg:subject cq:X ;
            cqkg:assumption [ cqkg:assumedPart cqkg:item ; cqkg:reason "why" ] ;
            cqkg:source cq:source ; cqkg:quote "the sentence" .
        cq:X rdfs:label "X"@en . cq:Y rdfs:label "Y"@en . cq:Z rdfs:label "Z"@en .""",
        ox.RdfFormat.TURTLE,
    )
    found = run_local(store, CATALOG.get("assumptions"), {})
    assert len(found.rows) == 1, found.rows
    row = dict(zip(found.variables, found.rows[0], strict=True))
    assert row["part"].value == "item" and row["assumed"] is None


def test_an_order_the_store_sorts_over_numbers_and_strings_is_refused_not_aborted(tmp_path):
    """A subquery's ORDER BY is the store's to apply, and its sort stopped the process (SIGABRT,
    exit 134) on a column mixing numbers and strings: its values are looked at first, and such a
    column is one line and exit 2. cqkg sorts the query's own ORDER BY, by kind then value: a
    DISTINCT query ordered by what it does not project, and an order before a trailing VALUES,
    were the store's to sort and aborted or were refused."""
    import sys

    project = copy_project(tmp_path / "p")
    queries = {
        "mixed-subquery": ("SELECT ?o WHERE { { SELECT ?o WHERE { ?s ?p ?o } ORDER BY ?o LIMIT 3 } }", 2),
        "one-kind-subquery": (
            "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\nSELECT ?s WHERE { { SELECT ?s "
            "WHERE { ?s rdfs:label ?l FILTER(lang(?l) = 'en') } ORDER BY ?l LIMIT 3 } }",
            0,
        ),
        "mixed-distinct": ("SELECT DISTINCT ?s WHERE { ?s ?p ?o }\nORDER BY ?o", 0),
        "mixed-before-values": (
            "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\nPREFIX cqkg: <https://w3id.org/cqkg/ontology#>\n"
            "SELECT ?s ?o WHERE { ?s ?p ?o } ORDER BY ?o VALUES ?p { rdfs:label cqkg:value }",
            0,
        ),
    }
    for name, (text, _) in queries.items():
        (project / "queries" / f"{name}.rq").write_text(f"#+ summary: {name}\n{text}\n", encoding="utf-8")
    assert run_cli(project, "build").exit_code == 0
    for name, (_, code) in queries.items():
        done = subprocess.run(
            [sys.executable, "-m", "cqkg", "query", name, "-f", "csv", "--project", str(project)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == code, (name, done.returncode, done.stderr[-2000:])
        if code == 2:
            assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
            assert f"{name}.rq: ORDER BY ?o: its values mix kinds of literals" in done.stderr
        else:
            assert len(done.stdout.strip().splitlines()) > 1, name


def test_a_saved_query_ordered_by_an_expression_over_numbers_and_strings_runs(tmp_path):
    """cqkg computes the expression as a column and sorts by it: the store's own sort stopped the
    process (SIGABRT, exit 134) on a column mixing numbers and strings, so this runs apart."""
    import sys

    project = copy_project(tmp_path / "p")
    (project / "queries" / "mixed-order.rq").write_text(
        "#+ summary: objects, ordered\nSELECT ?s WHERE { ?s ?p ?o }\nORDER BY COALESCE(?o, 1) ?s LIMIT 3\n",
        encoding="utf-8",
    )
    assert run_cli(project, "build").exit_code == 0
    done = subprocess.run(
        [sys.executable, "-m", "cqkg", "query", "mixed-order", "-f", "csv", "--project", str(project)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(done.stdout.strip().splitlines()) == 1 + 3
