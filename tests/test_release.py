"""Releases as data products: the SHACL report as RDF, the fact changelog (`cqkg diff`) and
`cqkg release` (Turtle, per-source N-Quads, VoID/DCAT, ontology docs, checksums)."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import rdflib

from conftest import FIXTURES, one_line_error, run_cli

SH = rdflib.Namespace("http://www.w3.org/ns/shacl#")
CQKG = rdflib.Namespace("https://w3id.org/cqkg/ontology#")


def add_violations(project, *names):
    """Put quality-check fixtures (each breaks a check, SHACL and the curator checks) into seeds/."""
    prefixes = (FIXTURES / "shapes" / "_prefixes.ttl").read_text(encoding="utf-8")
    for name in names:
        body = (FIXTURES / "violations" / f"{name}.ttl").read_text(encoding="utf-8")
        (project / "seeds" / f"zz-{name}.ttl").write_text(prefixes + body, encoding="utf-8")


# ------------------------------------------------------------------ the SHACL report as RDF


@pytest.mark.parametrize("engine", ["fast", "pyshacl"])
def test_validation_report_as_rdf_matches_the_text_report(mini_project, engine):
    add_violations(mini_project, "percent-range-violation", "undeclared-term-violation")
    text = run_cli(mini_project, "validate", "--shacl-engine", engine)
    turtle = run_cli(mini_project, "validate", "--shacl-engine", engine, "--format", "turtle")
    assert text.exit_code == turtle.exit_code == 1
    g = rdflib.Graph().parse(data=turtle.stdout, format="turtle")
    (report,) = g.subjects(rdflib.RDF.type, SH.ValidationReport)
    assert g.value(report, SH.conforms).toPython() is False
    results = list(g.objects(report, SH.result))
    lines = [ln for ln in text.stdout.splitlines() if re.match(r"(Violation|Warning|Info): ", ln)]
    assert len(results) == len(lines) > 0
    checks = set()
    for r in results:
        assert (r, rdflib.RDF.type, SH.ValidationResult) in g
        assert g.value(r, SH.sourceConstraintComponent) is not None  # required by SHACL
        severity = str(g.value(r, SH.resultSeverity)).split("#")[1]
        focus, check = g.value(r, SH.focusNode), str(g.value(r, CQKG.check))
        message = str(g.value(r, SH.resultMessage))
        checks.add(check)
        matching = [
            ln for ln in lines
            if ln.startswith(severity + ":") and f"<{focus}>" in ln and ln.endswith(f"[{check}]") and message in ln
        ]  # fmt: skip
        assert matching, (severity, focus, check, message)
        if check == "shacl":
            assert str(g.value(r, SH.sourceConstraintComponent)).startswith(str(SH))
    assert {"shacl", "percent-range-violation", "undeclared-term-violation"} <= checks


def test_validation_report_of_a_conforming_graph(seed_project, tmp_path):
    out = tmp_path / "report.ttl"
    result = run_cli(seed_project, "validate", "-f", "turtle", "-o", str(out))
    assert result.exit_code == 0, result.output
    g = rdflib.Graph().parse(out, format="turtle")
    (report,) = g.subjects(rdflib.RDF.type, SH.ValidationReport)
    assert g.value(report, SH.conforms).toPython() is True
    text = run_cli(seed_project, "validate").stdout
    warnings = [ln for ln in text.splitlines() if ln.startswith(("Warning:", "Info:"))]
    assert len(list(g.objects(report, SH.result))) == len(warnings)


# ------------------------------------------------------------------ cqkg diff

CLAIM = """
[] a cqkg:Claim ; rdf:subject cq:ExampleMotors ; rdf:predicate cqkg:locatedIn ; rdf:object cq:ExampleDistrict ;
    cqkg:source src:fixture ; cqkg:quote "Example Motors in Example District" .
"""
RDF_PREFIX = "@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .\n"


def git(repo, *args):
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def mini_repo(mini_project):
    """The mini project as a git repository whose first commit is tagged v1 (with one claim)."""
    seed = mini_project / "seeds" / "fixture-article.ttl"
    seed.write_text(RDF_PREFIX + seed.read_text(encoding="utf-8") + CLAIM, encoding="utf-8")
    git(mini_project, "init", "-q")
    git(mini_project, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qam", "v1", "--allow-empty")
    git(mini_project, "add", ".")
    git(mini_project, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "v1")
    git(mini_project, "tag", "v1")
    return mini_project


def blocks(text):
    """The Turtle file as its prefix lines and its blank-line-separated statements."""
    head = [ln for ln in text.splitlines() if ln.startswith("@prefix")]
    body = "\n".join(ln for ln in text.splitlines() if not ln.startswith(("@prefix", "#")))
    return head, [b.strip() for b in body.split("\n\n") if b.strip()]


def test_diff_between_revisions_lists_exactly_the_changed_facts(mini_repo):
    seed = mini_repo / "seeds" / "fixture-article.ttl"
    head, parts = blocks(seed.read_text(encoding="utf-8"))
    parts = [p for p in parts if not p.startswith("obs:fixture-growth-2024")]  # removed
    parts = [p.replace("cqkg:value 2000.0", "cqkg:value 2500.0") for p in parts]  # changed value
    # The claim again, its blank node written another way: no change. Its quote changed: a change.
    parts = [p.replace("[] a cqkg:Claim", "_:c7 a cqkg:Claim") for p in parts]
    parts = [
        p.replace('cqkg:quote "Example Motors in Example District"', 'cqkg:quote "Example Motors"')
        if "Claim" in p
        else p
        for p in parts
    ]
    parts.append(
        "obs:fixture-output-2025 a cqkg:Observation ; cqkg:subject cq:ExampleCluster ;\n"
        "    cqkg:indicator ind:ProductionVolume ; cqkg:value 1200.0 ; cqkg:unit unit:Piece ;\n"
        "    cqkg:period period:2025 ; cqkg:status cqkg:Actual ;\n"
        '    cqkg:source src:fixture ; cqkg:quote "1,200 units in 2025" .'
    )  # added
    parts.reverse()  # statements in another order: no change
    seed.write_text("\n".join(head) + "\n\n" + "\n\n".join(parts) + "\n", encoding="utf-8")
    git(mini_repo, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qam", "v2")

    result = run_cli(mini_repo, "diff", "v1", "HEAD", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    facts = {(f["key"], f["change"]): f for f in doc["facts"]}
    claim = "cq:ExampleMotors cqkg:locatedIn cq:ExampleDistrict"
    assert set(facts) == {
        ("obs:fixture-growth-2024", "removed"),
        ("obs:fixture-target", "changed"),
        ("obs:fixture-output-2025", "added"),
        (claim, "changed"),
    }
    assert facts[("obs:fixture-target", "changed")]["changes"] == [
        {"property": "cqkg:value", "old": ["2000"], "new": ["2500"]}
    ]
    assert facts[(claim, "changed")]["changes"] == [
        {"property": "cqkg:quote", "old": ['"Example Motors in Example District"'], "new": ['"Example Motors"']}
    ]
    assert facts[("obs:fixture-output-2025", "added")]["group"] == "cq:ExampleCluster · ind:ProductionVolume"
    assert doc["ontology"] == [] and doc["shapes"] == [] and doc["other"] == []
    assert doc["counts"]["observation"] == {"added": 1, "removed": 1, "changed": 1}

    md = run_cli(mini_repo, "diff", "v1", "HEAD").stdout
    assert "### cq:ExampleCluster · ind:ProductionVolume" in md
    assert "- **changed** `obs:fixture-target`: cqkg:value 2000 → 2500" in md
    assert "- **added** `obs:fixture-output-2025`: 1200 unit:Piece, period:2025, cqkg:Actual" in md
    # The working tree (the default NEW) is the last commit: nothing changed.
    assert "No changes." in run_cli(mini_repo, "diff", "HEAD").stdout


def test_diff_lists_ontology_and_shape_changes_apart(mini_repo):
    import rdflib

    onto = mini_repo / "ontology" / "cqkg.ttl"
    g = rdflib.Graph().parse(onto, format="turtle")  # written anew: other order, other blank node labels
    g.add((rdflib.URIRef(CQKG.Plan), rdflib.RDFS.comment, rdflib.Literal("a plan", lang="en")))
    onto.write_text(g.serialize(format="turtle"), encoding="utf-8")
    shapes = next((mini_repo / "shapes").glob("*.ttl"))
    text = shapes.read_text(encoding="utf-8")
    message = re.search(r'sh:message "([^"]+)"', text).group(1)
    shapes.write_text(text.replace(message, message + "!", 1), encoding="utf-8")

    doc = json.loads(run_cli(mini_repo, "diff", "v1", "-f", "json").stdout)
    assert doc["facts"] == [] and doc["other"] == []
    assert [(e["key"], e["change"]) for e in doc["ontology"]] == [("cqkg:Plan", "changed")]
    assert doc["ontology"][0]["changes"] == [{"property": "rdfs:comment", "old": [], "new": ['"a plan"@en']}]
    assert len(doc["shapes"]) == 1 and doc["shapes"][0]["change"] == "changed"


def test_diff_of_unknown_revision_is_one_line(mini_repo):
    result = run_cli(mini_repo, "diff", "no-such-rev")
    assert "no such file, folder or git revision" in one_line_error(result)


# ------------------------------------------------------------------ cqkg release

VOID = rdflib.Namespace("http://rdfs.org/ns/void#")
SD = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")
SPDX = rdflib.Namespace("http://spdx.org/rdf/terms#")


def void_counts(dist) -> dict[str, int]:
    """Named graph -> triples, as the release's VoID description states them."""
    g = rdflib.Graph().parse(dist / "void.ttl", format="turtle")
    return {str(g.value(s, SD.name)): int(g.value(s, VOID.triples)) for s in g.subjects(SD.name, None)}


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """The real project released as 0.1.0 (a first release), from a copy of the repository's files."""
    from conftest import copy_project

    root = copy_project(tmp_path_factory.mktemp("release") / "proj")
    dist = root / "dist"
    result = run_cli(root, "release", "--version", "0.1.0", "-o", str(dist), "--first", "--date", "2026-01-02")
    assert result.exit_code == 0, result.output
    return root, dist


def test_release_has_every_artefact_with_checksums(released):
    root, dist = released
    names = sorted(p.name for p in dist.iterdir())
    assert names == sorted([
        "cqkg-0.1.0.ttl", "cqkg-0.1.0.nq.gz", "cqkg-0.1.0-ontology.ttl", "cqkg-0.1.0-shapes.ttl",
        "validation-report.ttl", "ontology.html", "CHANGELOG.md", "void.ttl", "SHA256SUMS",
    ])  # fmt: skip
    sums = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=dist, capture_output=True, text=True)
    assert sums.returncode == 0 and sums.stdout.count(": OK") == len(names) - 1, sums.stdout + sums.stderr
    onto = rdflib.Graph().parse(dist / "cqkg-0.1.0-ontology.ttl", format="turtle")
    o = rdflib.URIRef("https://w3id.org/cqkg/ontology")
    assert str(onto.value(o, rdflib.OWL.versionIRI)) == "https://w3id.org/cqkg/ontology/0.1.0"
    assert str(onto.value(o, rdflib.OWL.versionInfo)) == "0.1.0"
    # The whole-graph Turtle holds the same versioned ontology header.
    whole = rdflib.Graph().parse(dist / "cqkg-0.1.0.ttl", format="turtle")
    assert str(whole.value(o, rdflib.OWL.versionIRI)) == "https://w3id.org/cqkg/ontology/0.1.0"
    # DCAT: each file with its size and checksum, as SHA256SUMS has it.
    void = rdflib.Graph().parse(dist / "void.ttl", format="turtle")
    listed = {ln.split()[1]: ln.split()[0] for ln in (dist / "SHA256SUMS").read_text().splitlines()}
    for dist_node in void.subjects(rdflib.RDF.type, DCAT.Distribution):
        name = str(void.value(dist_node, rdflib.DCTERMS.title))
        check = void.value(dist_node, SPDX.checksum)
        assert str(void.value(check, SPDX.checksumValue)) == listed[name]
        assert int(void.value(dist_node, DCAT.byteSize)) == (dist / name).stat().st_size
    assert len(set(void.subjects(rdflib.RDF.type, DCAT.Distribution))) == len(listed) - 1  # all but void.ttl
    ds = rdflib.URIRef("https://w3id.org/cqkg/dataset/0.1.0")
    assert str(void.value(ds, rdflib.DCTERMS.license)) == "https://creativecommons.org/licenses/by/4.0/"
    assert str(void.value(ds, DCAT.version)) == "0.1.0" and str(void.value(ds, rdflib.DCTERMS.issued)) == "2026-01-02"
    sources = set(void.objects(ds, rdflib.DCTERMS.source))
    assert sources and all("/source/" in str(s) for s in sources)


def test_release_nquads_load_into_the_oxigraph_server_with_the_void_counts(released, tmp_path):
    import gzip
    import urllib.request

    from conftest import OxigraphServer

    _, dist = released
    server = OxigraphServer(tmp_path / "oxdb").start()
    try:
        data = gzip.decompress((dist / "cqkg-0.1.0.nq.gz").read_bytes())
        req = urllib.request.Request(
            server.base + "/store", data=data, method="POST", headers={"Content-Type": "application/n-quads"}
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            assert r.status in (200, 204)
        expected = void_counts(dist)
        assert server.graph_names() == set(expected)
        for graph, n in expected.items():
            assert len(server.graph_ntriples(graph)) == n, graph
    finally:
        server.stop()
    # one graph per source document, plus the ontology and the inferred triples
    assert "https://w3id.org/cqkg/graph/ontology" in expected and "https://w3id.org/cqkg/graph/inferred" in expected
    assert sum(1 for g in expected if "/source/" in g) >= 5


def test_release_validation_report_matches_validate(released):
    root, dist = released
    g = rdflib.Graph().parse(dist / "validation-report.ttl", format="turtle")
    (report,) = g.subjects(rdflib.RDF.type, SH.ValidationReport)
    text = run_cli(root, "validate")
    assert g.value(report, SH.conforms).toPython() is (text.exit_code == 0)
    issues = [ln for ln in text.stdout.splitlines() if re.match(r"(Violation|Warning|Info): ", ln)]
    assert len(list(g.objects(report, SH.result))) == len(issues)


def test_release_is_byte_identical_when_rebuilt(released, tmp_path):
    root, dist = released
    again = tmp_path / "again"
    result = run_cli(root, "release", "--version", "0.1.0", "-o", str(again), "--first", "--date", "2026-01-02")
    assert result.exit_code == 0, result.output
    for f in dist.iterdir():
        assert (again / f.name).read_bytes() == f.read_bytes(), f.name


def test_ontology_docs_show_every_class_in_english_and_chinese(released):
    import html as html_lib

    _, dist = released
    page = html_lib.unescape((dist / "ontology.html").read_text(encoding="utf-8"))
    onto = rdflib.Graph().parse(dist / "cqkg-0.1.0-ontology.ttl", format="turtle")
    classes = set(onto.subjects(rdflib.RDF.type, rdflib.OWL.Class))
    assert len(classes) > 20
    for c in classes:
        labels = {lit.language: str(lit) for lit in onto.objects(c, rdflib.RDFS.label)}
        assert {"en", "zh"} <= set(labels), c
        heading = f"{labels['en']} · {labels['zh']}"
        assert re.search(rf"<h3>\s*{re.escape(heading)}", page), heading


def test_release_changelog_since_the_previous_tag(mini_repo, tmp_path):
    git(mini_repo, "tag", "v0.1.0")
    seed = mini_repo / "seeds" / "fixture-article.ttl"
    seed.write_text(
        seed.read_text(encoding="utf-8").replace("cqkg:value 2000.0", "cqkg:value 2500.0"), encoding="utf-8"
    )
    git(mini_repo, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qam", "raise the target")
    dist = tmp_path / "dist"
    result = run_cli(mini_repo, "release", "--version", "0.2.0", "-o", str(dist))
    # The mini fixture's target quote states 2,000: validation refuses 2,500 and nothing is released.
    assert result.exit_code == 1 and not dist.exists(), result.output
    assert "nothing was released" in result.stderr
    text = seed.read_text(encoding="utf-8")
    seed.write_text(text.replace("a target of 2,000 units", "a target of 2,500 units"), encoding="utf-8")
    article = mini_repo / "seeds" / "fixture-article.txt"
    article.write_text(article.read_text(encoding="utf-8").replace("2,000 units", "2,500 units"), encoding="utf-8")
    git(mini_repo, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qam", "the article says 2,500")
    result = run_cli(mini_repo, "release", "--version", "0.2.0", "-o", str(dist))
    assert result.exit_code == 0, result.output
    changelog = (dist / "CHANGELOG.md").read_text(encoding="utf-8")
    assert changelog.startswith("# cqkg 0.2.0 (") and "changes since v0.1.0" in changelog
    doc = json.loads((dist / "changelog.json").read_text(encoding="utf-8"))
    changed = {(f["key"], f["change"]) for f in doc["facts"]}
    assert ("obs:fixture-target", "changed") in changed
    assert all(f["key"] in ("obs:fixture-target", "cq:ExamplePlan") for f in doc["facts"] + doc["other"]), doc
    onto = rdflib.Graph().parse(dist / "cqkg-0.2.0-ontology.ttl", format="turtle")
    o = rdflib.URIRef("https://w3id.org/cqkg/ontology")
    assert str(onto.value(o, rdflib.OWL.versionIRI)) == "https://w3id.org/cqkg/ontology/0.2.0"
    # The next release, against the 0.2.0 release folder: no fact changed, and the versions chain.
    later = tmp_path / "later"
    result = run_cli(mini_repo, "release", "--version", "0.3.0", "-o", str(later), "--previous", str(dist))
    assert result.exit_code == 0, result.output
    assert "No changes." in (later / "CHANGELOG.md").read_text(encoding="utf-8")
    onto = rdflib.Graph().parse(later / "cqkg-0.3.0-ontology.ttl", format="turtle")
    assert str(onto.value(o, rdflib.OWL.priorVersion)) == "https://w3id.org/cqkg/ontology/0.2.0"
    void = rdflib.Graph().parse(later / "void.ttl", format="turtle")
    ds = rdflib.URIRef("https://w3id.org/cqkg/dataset/0.3.0")
    assert str(void.value(ds, DCAT.previousVersion)) == "https://w3id.org/cqkg/dataset/0.2.0"


def test_release_refuses_a_version_that_is_not_semantic(seed_project, tmp_path):
    result = run_cli(seed_project, "release", "--version", "1.0", "-o", str(tmp_path / "d"))
    assert "give it as MAJOR.MINOR.PATCH" in one_line_error(result)
    assert not (tmp_path / "d").exists()


def test_release_nquads_bulk_load_into_virtuoso_with_ld_dir(released, virtuoso):
    """The README's Virtuoso recipe: ld_dir over the release folder, rdf_loader_run, a graph per source."""
    import shutil

    from cqkg.remote import Credentials, Http, sparql_update

    from conftest import ISQL

    _, dist = released
    folder = virtuoso.folder / "release-0.1.0"  # inside the server's DirsAllowed
    folder.mkdir(exist_ok=True)
    shutil.copy(dist / "cqkg-0.1.0.nq.gz", folder)
    expected = void_counts(dist)
    http = Http(credentials=Credentials("dba", virtuoso.password, "digest"))
    try:
        for g in expected:
            sparql_update(virtuoso.base + "/sparql-auth", f"DROP SILENT GRAPH <{g}>", http)
        script = (
            f"ld_dir('{folder}', '*.nq.gz', 'https://w3id.org/cqkg/graph/unnamed'); rdf_loader_run(); "
            "select ll_file, ll_state, ll_error from DB.DBA.load_list where ll_file like '%release-0.1.0%';"
        )
        done = subprocess.run(
            [ISQL, f"127.0.0.1:{virtuoso.sql_port}", "dba", virtuoso.password, f"exec={script}"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0 and "Error" not in done.stdout, done.stdout + done.stderr
        assert virtuoso.graph_names() >= set(expected)
        for graph, n in expected.items():
            assert virtuoso.graph_count(graph) == n, graph
        assert virtuoso.graph_count("https://w3id.org/cqkg/graph/unnamed") == 0  # every quad named its graph
    finally:
        for g in expected:
            sparql_update(virtuoso.base + "/sparql-auth", f"DROP SILENT GRAPH <{g}>", http)
        http.close()


def test_released_graph_reads_in_standard_vocabularies(released):
    """Every observation is a Data Cube and a schema.org observation; every unit and status it
    uses maps to QUDT and SDMX; scaled values keep the article's form."""
    _, dist = released
    g = rdflib.Graph().parse(dist / "cqkg-0.1.0.ttl", format="turtle")
    QB = rdflib.Namespace("http://purl.org/linked-data/cube#")
    SCHEMA = rdflib.Namespace("https://schema.org/")
    obs = set(g.subjects(rdflib.RDF.type, CQKG.Observation))
    assert obs
    assert obs <= set(g.subjects(rdflib.RDF.type, QB.Observation))
    assert obs <= set(g.subjects(rdflib.RDF.type, SCHEMA.Observation))
    matches = (rdflib.SKOS.exactMatch, rdflib.SKOS.closeMatch)
    for prop, namespace in ((CQKG.unit, "http://qudt.org/vocab/unit/"),
                            (CQKG.status, "http://purl.org/linked-data/sdmx/2009/code#obsStatus-")):  # fmt: skip
        for value in {g.value(o, prop) for o in obs}:
            targets = {str(t) for m in matches for t in g.objects(value, m)}
            assert any(t.startswith(namespace) for t in targets), (prop, value)
    for component in (CQKG.subject, CQKG.indicator, CQKG.period):
        assert (component, rdflib.RDF.type, QB.DimensionProperty) in g
    assert (CQKG.value, rdflib.RDF.type, QB.MeasureProperty) in g
    scaled = list(g.subject_objects(CQKG.statedAs))
    assert scaled
    for o, form in scaled:
        mult = int(g.value(o, CQKG.unitMultiplier))
        number = float(re.match(r"[\d.,]+", str(form)).group(0).replace(",", "")) if str(form)[0].isdigit() else None
        if number is not None:
            assert abs(number * 10**mult - float(g.value(o, CQKG.value))) < 1e-6 * float(g.value(o, CQKG.value)), form


def test_diff_of_a_built_store_compares_its_source_graphs_only(seed_project):
    """A built store's default graph repeats the sources with the ontology and the inferred
    triples: only the named source graphs are the asserted data."""
    assert run_cli(seed_project, "build").exit_code == 0
    result = run_cli(seed_project, "diff", str(seed_project / "build" / "store"))
    assert result.exit_code == 0, result.output
    assert "No changes." in result.stdout, result.stdout[:2000]
