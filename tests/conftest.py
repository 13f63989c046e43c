"""Shared fixtures: project copies in a temporary folder, so tests never touch the repo's build/."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from cqkg.cli import main

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PROJECT_DIRS = ("ontology", "shapes", "seeds", "queries")


def copy_project(dest: Path, seeds: Path | None = None) -> Path:
    """Copy the repo's project folders to dest; seeds from another folder when given."""
    for d in PROJECT_DIRS:
        source = seeds if (d == "seeds" and seeds is not None) else REPO / d
        shutil.copytree(source, dest / d)
    return dest


def run_cli(project: Path, *args: str, **kwargs):
    """Run `cqkg --project PROJECT ARGS` in-process; returns click's Result."""
    return CliRunner().invoke(main, ["--project", str(project), *args], catch_exceptions=False, **kwargs)


@pytest.fixture
def seed_project(tmp_path) -> Path:
    """A fresh copy of the real project (five articles), not yet built."""
    return copy_project(tmp_path / "proj")


@pytest.fixture
def mini_project(tmp_path) -> Path:
    """The real ontology, shapes and queries over the small fixture article in tests/fixtures/mini."""
    return copy_project(tmp_path / "mini", seeds=FIXTURES / "mini" / "seeds")


@pytest.fixture(scope="session")
def built_project(tmp_path_factory) -> Path:
    """The real project, built once per test session (read-only for tests)."""
    root = copy_project(tmp_path_factory.mktemp("built") / "proj")
    result = run_cli(root, "build")
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture(scope="session")
def built_mini(tmp_path_factory) -> Path:
    root = copy_project(tmp_path_factory.mktemp("mini") / "mini", seeds=FIXTURES / "mini" / "seeds")
    result = run_cli(root, "build")
    assert result.exit_code == 0, result.output
    return root


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true",
                     help="Rewrite tests/golden/*.csv from the current build (review the diff!).")
