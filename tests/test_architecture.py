"""The package's shape: modules without import cycles, configuration read only at the CLI boundary,
one version, `python -m cqkg`."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

import cqkg

PACKAGE = Path(cqkg.__file__).resolve().parent


def cqkg_imports(path: Path) -> set[str]:
    """The cqkg modules a module imports, at the top or inside functions (lazy imports count)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                base = node.module
                if base is None:  # from . import a, b
                    out |= {alias.name for alias in node.names}
                else:
                    out.add(base.split(".")[0])
            elif node.level == 0 and node.module and node.module.split(".")[0] == "cqkg":
                parts = node.module.split(".")
                out |= {parts[1]} if len(parts) > 1 else {alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name.split(".")[1] for a in node.names if a.name.startswith("cqkg.")}
    return out


def import_graph(package: Path) -> dict[str, set[str]]:
    modules = {p.stem for p in package.glob("*.py")}
    return {p.stem: cqkg_imports(p) & modules - {p.stem} for p in package.glob("*.py")}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle in the graph as a list of modules (first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m) :] + [m]
            if m not in state and (cycle := visit(m)):
                return cycle
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (cycle := visit(n)):
            return cycle
    return None


def test_no_import_cycles_among_modules():
    graph = import_graph(PACKAGE)
    assert len(graph) > 10 and graph["cli"]  # the walk found the package and its imports
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_cycle_finder_finds_lazy_and_indirect_cycles(tmp_path):
    """The check itself can fail: a cycle hidden in a function-level import is found."""
    (tmp_path / "a.py").write_text("from .b import x\n")
    (tmp_path / "b.py").write_text("def f():\n    from .c import y\n")
    (tmp_path / "c.py").write_text("from . import a\n")
    (tmp_path / "d.py").write_text("import cqkg.a\n")
    graph = import_graph(tmp_path)
    assert graph["d"] == {"a"}
    assert find_cycle(graph) == ["a", "b", "c", "a"]


def environment_reads(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
        and node.attr in ("environ", "getenv", "putenv")
    ]


def test_only_the_cli_reads_the_environment():
    readers = {p.name: environment_reads(p) for p in PACKAGE.glob("*.py") if p.name != "cli.py"}
    assert {name: lines for name, lines in readers.items() if lines} == {}
    assert environment_reads(PACKAGE / "cli.py")  # the walk does see os.environ where it is


def test_version_has_one_source():
    assert cqkg.__version__ == version("cqkg")
    pyproject = (PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert not re.search(r'^version = "', pyproject, re.M)  # no second, literal version
    assert 'version = { attr = "cqkg.__version__" }' in pyproject


@pytest.mark.parametrize("args", [["--version"], ["--help"]])
def test_python_dash_m(args):
    proc = subprocess.run([sys.executable, "-m", "cqkg", *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert (cqkg.__version__ in proc.stdout) if args == ["--version"] else ("Usage: cqkg" in proc.stdout)
