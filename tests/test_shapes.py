"""Every SHACL node shape has a conforming and a violating fixture (tests/fixtures/shapes/).

Each fixture is added as one more seed file to the mini project (the real ontology, shapes and
queries over tests/fixtures/mini). A violating fixture's first line says what the report must
name: `# expect: SEVERITY FOCUS PATH` (PATH `-` for node-level constraints).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import FIXTURES, REPO, run_cli

SHAPES = FIXTURES / "shapes"
PREFIXES = (SHAPES / "_prefixes.ttl").read_text(encoding="utf-8")
NS = dict(re.findall(r"@prefix\s+(\w+):\s+<([^>]+)>", PREFIXES))


def node_shapes() -> list[str]:
    text = (REPO / "shapes" / "cqkg-shapes.ttl").read_text(encoding="utf-8")
    return sorted(re.findall(r"^cshape:(\w+) a sh:NodeShape", text, re.M))


def expand(curie: str) -> str:
    prefix, local = curie.split(":", 1)
    return NS[prefix] + local


def add_fixture(project: Path, name: str) -> None:
    body = (SHAPES / name).read_text(encoding="utf-8")
    (project / "seeds" / f"zz-{name}").write_text(PREFIXES + body, encoding="utf-8")


def test_every_shape_has_both_fixtures():
    assert len(node_shapes()) >= 15
    missing = [
        f"{s}.{kind}.ttl" for s in node_shapes() for kind in ("ok", "bad") if not (SHAPES / f"{s}.{kind}.ttl").is_file()
    ]
    assert not missing


def test_mini_project_conforms_without_warnings(mini_project):
    result = run_cli(mini_project, "validate")
    assert result.exit_code == 0, result.output
    assert "0 violation(s), 0 warning(s)" in result.output


@pytest.mark.parametrize("shape", node_shapes())
def test_conforming_fixture(mini_project, shape):
    add_fixture(mini_project, f"{shape}.ok.ttl")
    result = run_cli(mini_project, "validate")
    assert result.exit_code == 0, result.output
    assert "0 violation(s), 0 warning(s)" in result.output


@pytest.mark.parametrize("shape", node_shapes())
def test_violating_fixture_names_focus_and_path(mini_project, shape):
    name = f"{shape}.bad.ttl"
    first = (SHAPES / name).read_text(encoding="utf-8").splitlines()[0]
    severity, focus, path = re.fullmatch(r"# expect: (\w+) (\S+) (\S+)", first).groups()
    add_fixture(mini_project, name)
    result = run_cli(mini_project, "validate")
    assert result.exit_code == (1 if severity == "Violation" else 0), result.output
    lines = [ln for ln in result.output.splitlines() if ln.startswith(f"{severity}:")]
    hits = [
        ln for ln in lines if f"<{expand(focus)}>" in ln and (path == "-" or f" {path}: " in ln) and f"zz-{name}" in ln
    ]
    assert hits, result.output
    # the report names the file the focus node comes from and a message, never a traceback
    assert "Traceback" not in result.output
