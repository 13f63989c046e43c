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
