"""Shared fixtures: project copies in a temporary folder, so tests never touch the repo's build/."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pyoxigraph as ox
import pytest
from click.testing import CliRunner

from cqkg import reason, shacl
from cqkg.build import assemble
from cqkg.catalog import Catalog, SavedQuery
from cqkg.cli import main
from cqkg.export import graph_triples
from cqkg.project import Project
from cqkg.queries import QueryResult
from cqkg.sources import load_sources
from cqkg.terms import OWL, RDF, RDFS, SH, from_rdflib, to_rdflib, to_rdflib_graph
from cqkg.validate import shapes_store

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


@contextlib.contextmanager
def read_only(directory: Path):
    """Make a folder unwritable, even for root (CI runs as root, where chmod alone does not bind).

    Tries chmod, then the immutable attribute (chattr +i), then a read-only bind mount over it.
    """
    directory.chmod(0o500)
    undo = None
    try:
        if os.access(directory, os.W_OK):
            if subprocess.run(["chattr", "+i", str(directory)], capture_output=True).returncode == 0:
                undo = ["chattr", "-i", str(directory)]
            elif (
                subprocess.run(
                    ["mount", "--bind", "-o", "ro", str(directory), str(directory)], capture_output=True
                ).returncode
                == 0
            ):
                undo = ["umount", str(directory)]
            else:
                pytest.fail(
                    f"cannot make {directory} read-only for this user (tried chmod, chattr +i, a ro bind mount)"
                )
        probe = directory / ".probe"
        try:
            probe.write_text("x")
        except OSError:
            pass
        else:
            probe.unlink()
            pytest.fail(f"{directory} is still writable after making it read-only")
        yield directory
    finally:
        if undo:
            subprocess.run(undo, check=True)
        directory.chmod(0o700)


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="Rewrite tests/golden/*.csv from the current build (review the diff!).",
    )


# ------------------------------------------------------------------ saved queries and golden rows

CATALOG = Catalog(Project.at(REPO))
NAMES = CATALOG.names()
CHECKS = [n for n in NAMES if n.endswith("-violation")]
ANALYST = [n for n in NAMES if not n.endswith("-violation")]
GOLDEN = Path(__file__).resolve().parent / "golden"

# Golden cases: every query with its defaults, plus the non-default parameters below.
PARAM_CASES = {
    "metrics-for-subject": ["subject=cq:SoftwareIndustry"],
    "facts-from-source": ["source=src:cq-daily-2021-08-14th-fyp-manufacturing"],
    "located-in": ["place=cq:LiangjiangNewArea"],
    "fastest-growing": ["year=2024"],
    "targets-progress": ["year=2027"],
    "metrics-by-indicator": ["indicator=ind:Share"],
}
GOLDEN_CASES = [(n, None) for n in NAMES] + [(n, p) for n, ps in PARAM_CASES.items() for p in ps]


def golden_path(name: str, param: str | None) -> Path:
    suffix = "" if param is None else "@" + re.sub(r"[^A-Za-z0-9=-]+", "_", param)
    return GOLDEN / f"{name}{suffix}.csv"


def run_rdflib(graph, q: SavedQuery, bindings: dict) -> QueryResult:
    """Run a saved query on rdflib's SPARQL engine (to cross-check the embedded engine)."""
    res = graph.query(q.text, initBindings={k: to_rdflib(v) for k, v in bindings.items()})
    variables = [str(v) for v in res.vars]
    rows = [tuple(from_rdflib(row[i]) for i in range(len(variables))) for row in res]
    return QueryResult(variables, rows)


# ------------------------------------------------------------------ SHACL: ours against pyshacl


def pyshacl_keys(store: ox.Store, project: Project) -> set:
    import pyshacl
    import rdflib

    data = to_rdflib_graph(q.triple for q in store.quads_for_pattern(None, None, None, ox.DefaultGraph()))
    shapes = to_rdflib_graph(q.triple for q in shapes_store(project).quads_for_pattern(None, None, None, None))
    _, results, _ = pyshacl.validate(data, shacl_graph=shapes, inference="none", advanced=True, allow_warnings=True)
    ns = rdflib.Namespace(SH)
    keys = set()
    for r in results.subjects(rdflib.RDF.type, ns.ValidationResult):
        path = results.value(r, ns.resultPath)
        value = results.value(r, ns.value)
        keys.add(
            (
                results.value(r, ns.focusNode).n3(),
                str(path) if path is not None else None,
                str(results.value(r, ns.resultSeverity)),
                str(results.value(r, ns.sourceConstraintComponent)),
                value.n3() if value is not None else None,
            )
        )
    return keys


def fast_keys(store: ox.Store, project: Project) -> set:
    return {(r.focus, r.path, r.severity, r.component, r.value) for r in shacl.validate(store, shapes_store(project))}


def validation_store(root: Path) -> tuple[ox.Store, Project]:
    project = Project.at(root)
    store = assemble(load_sources(project))
    reason.materialise(store, typing=False)
    return store, project


def normalise(keys: set) -> set:
    # pyshacl leaves `value` out for count-type results and names the focus for node-level ones
    # and the engines spell plain literals differently ("x" vs "x"^^xsd:string)
    plain = "^^<http://www.w3.org/2001/XMLSchema#string>"
    return {
        (
            f,
            p,
            s,
            c,
            None
            if c.endswith(("MinCountConstraintComponent", "MaxCountConstraintComponent", "HasValueConstraintComponent"))
            or v is None
            else v.removesuffix(plain),
        )
        for f, p, s, c, v in keys
    }


def assert_same(root: Path) -> set:
    store, project = validation_store(root)
    ours, theirs = normalise(fast_keys(store, project)), normalise(pyshacl_keys(store, project))
    assert ours == theirs, {"only ours": ours - theirs, "only pyshacl": theirs - ours}
    return ours


# ------------------------------------------------------------------ inference: ours against owlrl


def closure_pair(project_root, as_built: bool = True) -> tuple[set, set]:
    """Our instance-level closure and owlrl's; as_built runs the build's two passes."""
    store = assemble(load_sources(Project.at(project_root)))
    asserted = graph_triples(store)
    closed = closure(store, as_built)
    return instance_level(graph_triples(closed)), instance_level(owlrl_closure(asserted))


def closure(store: ox.Store, as_built: bool) -> ox.Store:
    if as_built:  # the untyped closure is validated first, then the typing rules complete it
        reason.materialise(store, typing=False)
        reason.materialise(store, untyped_done=True)
    else:
        reason.materialise(store)
    return store


# Vocabulary that only says something about the schema, or that owlrl adds to every resource.
_SCHEMA_PREDICATES = {RDFS + n for n in ("subClassOf", "subPropertyOf", "domain", "range")} | {
    OWL + n
    for n in (
        "equivalentClass",
        "equivalentProperty",
        "inverseOf",
        "propertyChainAxiom",
        "disjointWith",
        "propertyDisjointWith",
        "sameAs",
        "differentFrom",
        "onProperty",
        "someValuesFrom",
        "allValuesFrom",
        "hasValue",
        "unionOf",
        "intersectionOf",
        "members",
        "distinctMembers",
        "oneOf",
    )
}
_META_CLASSES_NS = (RDFS, OWL, RDF)


def instance_level(triples) -> set[str]:
    """The triples about individuals, as N-Triples lines (comparable across engines).

    Leaves out schema axioms, types from the RDF/RDFS/OWL vocabularies (owl:Thing, rdfs:Resource,
    owl:Class…) and triples whose subject is a literal or a term of those vocabularies.
    """
    out = set()
    for s, p, o in triples:
        s, p, o = (from_rdflib(t) for t in (s, p, o))
        if isinstance(s, ox.Literal) or p.value in _SCHEMA_PREDICATES:
            continue
        if isinstance(s, ox.NamedNode) and s.value.startswith(_META_CLASSES_NS):
            continue
        if p.value == RDF + "type" and isinstance(o, ox.NamedNode) and o.value.startswith(_META_CLASSES_NS):
            continue
        if p.value.startswith((RDF + "_", RDF + "first", RDF + "rest")):
            continue
        out.add(f"{s} {p} {o} .")
    return out


def owlrl_closure(triples) -> list:
    """The full OWL-RL closure by owlrl (slow; the reference the targeted rules are checked against)."""
    import owlrl

    g = to_rdflib_graph(triples)
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics, axiomatic_triples=False, datatype_axioms=False).expand(g)
    return list(g)
