"""The SPARQL-compiled SHACL validator gives exactly pyshacl's results."""
from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest

from conftest import FIXTURES, REPO, copy_project
from cqkg import reason, shacl
from cqkg.build import assemble, load_sources
from cqkg.project import Project
from cqkg.validate import shapes_store, to_rdflib

SH = "http://www.w3.org/ns/shacl#"


def pyshacl_keys(store: ox.Store, project: Project) -> set:
    import pyshacl
    import rdflib

    data = to_rdflib(q.triple for q in store.quads_for_pattern(None, None, None, ox.DefaultGraph()))
    shapes = to_rdflib(q.triple for q in shapes_store(project).quads_for_pattern(None, None, None, None))
    _, results, _ = pyshacl.validate(data, shacl_graph=shapes, inference="none", advanced=True, allow_warnings=True)
    ns = rdflib.Namespace(SH)
    keys = set()
    for r in results.subjects(rdflib.RDF.type, ns.ValidationResult):
        path = results.value(r, ns.resultPath)
        value = results.value(r, ns.value)
        keys.add((results.value(r, ns.focusNode).n3(), str(path) if path is not None else None,
                  str(results.value(r, ns.resultSeverity)), str(results.value(r, ns.sourceConstraintComponent)),
                  value.n3() if value is not None else None))
    return keys


def fast_keys(store: ox.Store, project: Project) -> set:
    return {(r.focus, r.path, r.severity, r.component, r.value)
            for r in shacl.validate(store, shapes_store(project))}


def validation_store(root: Path) -> tuple[ox.Store, Project]:
    project = Project.at(root)
    store = assemble(load_sources(project))
    reason.materialise(store, typing=False)
    return store, project


def normalise(keys: set) -> set:
    # pyshacl leaves `value` out for count-type results and names the focus for node-level ones
    # and the engines spell plain literals differently ("x" vs "x"^^xsd:string)
    plain = '^^<http://www.w3.org/2001/XMLSchema#string>'
    return {(f, p, s, c, None if c.endswith(("MinCountConstraintComponent", "MaxCountConstraintComponent",
                                             "HasValueConstraintComponent")) or v is None
             else v.removesuffix(plain))
            for f, p, s, c, v in keys}


def assert_same(root: Path) -> set:
    store, project = validation_store(root)
    ours, theirs = normalise(fast_keys(store, project)), normalise(pyshacl_keys(store, project))
    assert ours == theirs, {"only ours": ours - theirs, "only pyshacl": theirs - ours}
    return ours


def test_same_as_pyshacl_on_seed_graph(seed_project):
    assert_same(seed_project) == set()


SHAPE_FIXTURES = sorted(p.name for p in (FIXTURES / "shapes").glob("*.ttl") if not p.name.startswith("_"))


@pytest.mark.parametrize("name", SHAPE_FIXTURES)
def test_same_as_pyshacl_on_fixture(mini_project, name):
    prefixes = (FIXTURES / "shapes" / "_prefixes.ttl").read_text(encoding="utf-8")
    body = (FIXTURES / "shapes" / name).read_text(encoding="utf-8")
    (mini_project / "seeds" / f"zz-{name}").write_text(prefixes + body, encoding="utf-8")
    keys = assert_same(mini_project)
    assert bool(keys) == name.endswith(".bad.ttl")


@pytest.mark.parametrize("name", ["ObservationShape.bad.ttl", "RateNeedsBaseShape.bad.ttl", "BilingualShape.bad.ttl"])
def test_pyshacl_fallback_reports_the_same_problems(mini_project, name, monkeypatch):
    """CQKG_SHACL=pyshacl (also used when shapes need features the fast validator lacks) agrees."""
    from conftest import run_cli

    prefixes = (FIXTURES / "shapes" / "_prefixes.ttl").read_text(encoding="utf-8")
    body = (FIXTURES / "shapes" / name).read_text(encoding="utf-8")
    (mini_project / "seeds" / f"zz-{name}").write_text(prefixes + body, encoding="utf-8")

    def located(output: str) -> set:
        # severity, file, label and focus node, path: everything but the message wording
        return {line.split(" ", 1)[0] + line.split(">", 1)[0] for line in output.splitlines() if ">" in line}

    fast = run_cli(mini_project, "validate")
    monkeypatch.setenv("CQKG_SHACL", "pyshacl")
    slow = run_cli(mini_project, "validate")
    assert fast.exit_code == slow.exit_code
    assert located(fast.stdout) == located(slow.stdout) and located(fast.stdout)
