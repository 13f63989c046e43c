"""Curators' slips fail validation with a message that says how to fix them, and adding an
article keeps the suite green after `pytest --update-golden`."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from conftest import FIXTURES, REPO, run_cli

SEED = "2025-h1-quality-chain-new-productive-forces.ttl"

EXTRA = """
obs:zz-slip a cqkg:Observation ;
    cqkg:subject {subject} ; cqkg:indicator ind:ProductionVolume ;
    cqkg:item {item} ;
    cqkg:value {value} ; cqkg:unit {unit} ;
    cqkg:period period:2025-H1 ; cqkg:status cqkg:Actual ;
    {assumption}
    cqkg:source src:quality-chain-2025-h1 ;
    cqkg:quote "The production of electric vehicles reached 489,300 units, marking a 25% increase, while integrated circuits grew by 67.3% to 5.204 billion pieces [2][6]." .
"""  # noqa: E501
PERIOD_ASSUMED = (
    'cqkg:assumption [ a cqkg:Assumption ; cqkg:assumedPart cqkg:period ; cqkg:reason "the summary\'s period" ] ;'
)


def with_extra(project, **kw):
    fields = {
        "subject": "cq:Chongqing",
        "item": "cq:NewEnergyVehicles",
        "value": "489300.0",
        "unit": "unit:Vehicle",
        "assumption": PERIOD_ASSUMED,
        **kw,
    }
    seed = project / "seeds" / SEED
    seed.write_text(seed.read_text() + EXTRA.format(**fields))
    result = run_cli(project, "validate")
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    return result.stdout


def test_the_extra_observation_is_fine_as_written(seed_project):
    seed = seed_project / "seeds" / SEED
    seed.write_text(
        seed.read_text()
        + EXTRA.format(
            subject="cq:Chongqing",
            item="cq:NewEnergyVehicles",
            value="489300.0",
            unit="unit:Vehicle",
            assumption=PERIOD_ASSUMED,
        )
    )
    assert run_cli(seed_project, "validate").exit_code == 0


def test_a_period_its_quote_does_not_state_must_be_marked_as_assumed(seed_project):
    out = with_extra(seed_project, assumption="")
    assert "obs/zz-slip> cqkg:period: its quote states no period" in out and "[unstated-period]" in out


def test_a_measure_its_quote_does_not_name_must_be_marked_as_assumed(seed_project):
    seed = seed_project / "seeds" / SEED
    growth = (
        "obs:zz-growth a cqkg:Observation ; cqkg:subject cq:Chongqing ; cqkg:item cq:IntegratedCircuits ;\n"
        "    cqkg:indicator ind:GrowthRateYoY ; cqkg:baseIndicator ind:Revenue ; cqkg:value 5.6 ;\n"
        "    cqkg:unit unit:Percent ; cqkg:period period:2025-H1 ; cqkg:status cqkg:Actual ; {assumption}\n"
        "    cqkg:source src:quality-chain-2025-h1 ;\n"
        '    cqkg:quote "industrial production value increasing by 5.6% year-on-year in the first half of 2025" .\n'
    )
    original = seed.read_text()
    seed.write_text(original + growth.format(assumption=""))
    result = run_cli(seed_project, "validate")
    assert result.exit_code == 1 and "obs/zz-growth> cqkg:baseIndicator" in result.stdout, result.output
    assert "[unstated-measure]" in result.stdout and "[unstated-period]" not in result.stdout
    marked = 'cqkg:assumption [ a cqkg:Assumption ; cqkg:assumedPart cqkg:baseIndicator ; cqkg:reason "r" ] ;'
    seed.write_text(original + growth.format(assumption=marked))
    result = run_cli(seed_project, "validate")
    assert result.exit_code == 0, result.output


def test_a_misspelled_subject_is_caught_with_a_suggestion(seed_project):
    out = with_extra(seed_project, subject="cq:SoftwareIndustyr")
    assert f"seeds/{SEED}" in out and "cq:SoftwareIndustyr is used here but described nowhere" in out
    assert "did you mean cq:SoftwareIndustry" in out


def test_an_item_with_no_type_and_no_label_is_caught(seed_project):
    out = with_extra(seed_project, item="cq:NEVMakers")
    assert "cq:NEVMakers is used here but described nowhere (no type, no label)" in out


def test_an_unknown_unit_names_the_choices_and_where_units_are_declared(seed_project):
    out = with_extra(seed_project, unit="unit:Vehicel")
    assert "unknown unit unit:Vehicel; did you mean unit:Vehicle?" in out
    assert "cqkg lookup TEXT --type unit" in out and "ontology/cqkg.ttl" in out


def test_a_value_not_in_base_units_is_caught(seed_project):
    out = with_extra(seed_project, value="489.3")
    assert "489.3 is no number its quote states" in out and "cqkg:derivation" in out


@pytest.mark.parametrize(
    "stated, expect",
    [
        ("", 'the quote writes the value as "5.204 billion": keep that with cqkg:statedAs "5.204 billion" ; '
             "cqkg:unitMultiplier 9"),
        ('cqkg:statedAs "5.204 billion" ;', "add cqkg:unitMultiplier 9"),
        ('cqkg:statedAs "5.204 billion" ; cqkg:unitMultiplier 8 ;', "cqkg:unitMultiplier 8 does not match"),
        ('cqkg:statedAs "5,204 million" ; cqkg:unitMultiplier 6 ;', '"5,204 million" does not occur in the quote'),
        ('cqkg:statedAs "25%" ;', '"25%" does not read as the value 5204000000'),
        ("cqkg:unitMultiplier 9 ;", 'the quote writes the value as "5.204 billion"'),
    ],
)  # fmt: skip
def test_a_scaled_value_keeps_its_stated_form(seed_project, stated, expect):
    out = with_extra(
        seed_project, item="cq:IntegratedCircuits", value="5204000000.0", unit="unit:Piece",
        assumption=PERIOD_ASSUMED + " " + stated,
    )  # fmt: skip
    assert "obs/zz-slip> cqkg:statedAs: " + expect in out and "[stated-form]" in out, out


def test_a_scaled_value_with_its_stated_form_is_fine(seed_project):
    seed = seed_project / "seeds" / SEED
    stated = 'cqkg:statedAs "5.204 billion" ; cqkg:unitMultiplier 9 ;'
    fields = dict(subject="cq:Chongqing", item="cq:IntegratedCircuits", value="5204000000.0", unit="unit:Piece")
    seed.write_text(seed.read_text() + EXTRA.format(**fields, assumption=PERIOD_ASSUMED + " " + stated))
    result = run_cli(seed_project, "validate")
    assert result.exit_code == 0, result.output


def test_an_article_no_source_points_to_is_caught(seed_project):
    (seed_project / "seeds" / "forgotten.txt").write_text("Some article with 42 numbers.\n")
    result = run_cli(seed_project, "validate")
    assert result.exit_code == 1
    assert "seeds/forgotten.txt: no source document points to this article" in result.stdout


def test_a_wrong_quote_shows_where_it_goes_wrong(seed_project):
    seed = seed_project / "seeds" / SEED
    seed.write_text(seed.read_text().replace("reached 489,300 units, marking", "reached 489,300 vehicles, marking", 1))
    result = run_cli(seed_project, "validate")
    assert result.exit_code == 1
    assert 'they differ at character 53 (quote "v", text "u")' in result.stdout


def test_adding_an_article_and_updating_golden_keeps_the_suite_green(tmp_path):
    """What a curator does: add an article and its facts, run `pytest --update-golden`, run the tests."""
    repo = tmp_path / "repo"
    shutil.copytree(REPO, repo, ignore=shutil.ignore_patterns(".venv", ".git", "build", "__pycache__", "benchmarks"))
    for f in (FIXTURES / "new-article").iterdir():
        shutil.copy(f, repo / "seeds" / f.name)
    suites = ["tests/test_queries.py", "tests/test_cli.py", "tests/test_facts.py", "tests/test_shacl.py"]
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *suites]
    first = subprocess.run([*cmd, "--update-golden"], cwd=repo, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stdout[-3000:]
    again = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout[-3000:]
    golden = (repo / "tests" / "golden" / "sources.csv").read_text()
    assert "example-robotics-2026-03-01" in golden  # the new article's facts reached the golden rows


# ------------------------------------------------------------------ cqkg lookup


@pytest.mark.parametrize(
    "text,kind,first",
    [
        ("vehicle", "unit", "unit:Vehicle"),
        ("新能源汽车", None, "cq:NewEnergyVehicles"),
        ("software industyr", None, "cq:SoftwareIndustry"),
        ("first half of 2025", "period", "period:2025-H1"),
    ],
)
def test_lookup_finds_the_iri_by_label(seed_project, text, kind, first):
    args = ["lookup", text, "-f", "csv"] + (["--type", kind] if kind else [])
    result = run_cli(seed_project, *args)
    assert result.exit_code == 0, result.output
    rows = result.stdout.splitlines()
    assert rows[0] == "iri,type,label_en,label_zh,file" and rows[1].startswith(first + ",")


def test_lookup_with_an_unknown_type_lists_the_types(seed_project):
    result = run_cli(seed_project, "lookup", "x", "--type", "bogus")
    assert result.exit_code == 2 and "choose one of" in result.stderr and "indicator" in result.stderr
