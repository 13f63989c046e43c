"""The SPARQL-compiled SHACL validator gives exactly pyshacl's results."""

from __future__ import annotations

import re

import pytest

from conftest import FIXTURES, assert_same, run_cli


def test_same_as_pyshacl_on_seed_graph(seed_project):
    assert assert_same(seed_project) == set()  # both engines agree, and the seed graph conforms


SHAPE_FIXTURES = sorted(p.name for p in (FIXTURES / "shapes").glob("*.ttl") if not p.name.startswith("_"))


@pytest.mark.parametrize("name", SHAPE_FIXTURES)
def test_same_as_pyshacl_on_fixture(mini_project, name):
    prefixes = (FIXTURES / "shapes" / "_prefixes.ttl").read_text(encoding="utf-8")
    body = (FIXTURES / "shapes" / name).read_text(encoding="utf-8")
    (mini_project / "seeds" / f"zz-{name}").write_text(prefixes + body, encoding="utf-8")
    keys = assert_same(mini_project)
    assert bool(keys) == name.endswith(".bad.ttl")


# "Violation: seeds/x.ttl: Label <focus> cqkg:path: message [shacl]" (file, label and path optional)
REPORT_LINE = re.compile(r"^(Violation|Warning|Info): (?:(seeds/[^:]+): )?(.*?)<([^>]+)>(?: (\S+):)? .* \[(\w+)\]$")


@pytest.mark.parametrize("name", ["ObservationShape.bad.ttl", "RateNeedsBaseShape.bad.ttl", "BilingualShape.bad.ttl"])
def test_pyshacl_fallback_reports_the_same_problems(mini_project, name, monkeypatch):
    """CQKG_SHACL=pyshacl (also used when shapes need features the fast validator lacks) agrees."""
    prefixes = (FIXTURES / "shapes" / "_prefixes.ttl").read_text(encoding="utf-8")
    body = (FIXTURES / "shapes" / name).read_text(encoding="utf-8")
    (mini_project / "seeds" / f"zz-{name}").write_text(prefixes + body, encoding="utf-8")

    def located(output: str) -> set:
        # severity, file, label, focus node and path: everything but the message wording
        return {m.groups() for m in map(REPORT_LINE.match, output.splitlines()) if m}

    fast = run_cli(mini_project, "validate")
    monkeypatch.setenv("CQKG_SHACL", "pyshacl")
    slow = run_cli(mini_project, "validate")
    assert fast.exit_code == slow.exit_code
    assert located(fast.stdout) == located(slow.stdout) and located(fast.stdout)
