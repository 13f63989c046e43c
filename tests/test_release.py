"""Releases as data products: the SHACL report as RDF, the fact changelog (`cqkg diff`) and
`cqkg release` (Turtle, per-source N-Quads, VoID/DCAT, ontology docs, checksums)."""

from __future__ import annotations

import re

import pytest
import rdflib

from conftest import FIXTURES, run_cli

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
