"""The spine: build, validate, queries, query, export, audit through the CLI; bad input is handled."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import cqkg_command, read_only, run_cli


def cqkg_subprocess(project: Path, *args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        cqkg_command() + ["--project", str(project), *args], capture_output=True, text=True, env=env, timeout=300
    )


# ------------------------------------------------------------------ the happy path


def test_build_writes_artefacts_and_summary(seed_project):
    result = run_cli(seed_project, "build")
    assert result.exit_code == 0, result.output
    n_seed_files = len(list((seed_project / "seeds").glob("*.ttl")))  # one graph each, however many there are
    assert "0 violations" in result.stdout and f"{n_seed_files} source graphs" in result.stdout
    build = seed_project / "build"
    assert (build / "store").is_dir() and (build / "incremental.json").is_file()
    assert not (build / "graph.ttl").exists()  # `cqkg export -f turtle` writes the Turtle, on request
    manifest = json.loads((build / "manifest.json").read_text())
    assert manifest["asserted_triples"] > 4000 and manifest["inferred_triples"] > 1000


def test_query_and_export_build_first_when_stale(seed_project):
    result = run_cli(seed_project, "query", "sources")
    assert result.exit_code == 0
    assert "building first" in result.stderr
    again = run_cli(seed_project, "query", "sources")
    assert "building first" not in again.stderr and again.stdout == result.stdout
    seed = seed_project / "seeds" / "periods.ttl"
    seed.write_text(seed.read_text() + "\n# touched\n")
    assert "building first" in run_cli(seed_project, "export", "-f", "nt").stderr


def test_subprocess_main_job(built_project):
    """The README's main job, as a user runs it: the console script in a shell."""
    proc = cqkg_subprocess(built_project, "query", "cluster-targets")
    assert proc.returncode == 0, proc.stderr
    assert "intelligent connected new energy vehicles" in proc.stdout and "37.6" in proc.stdout


def test_reader_closing_the_pipe_is_not_an_internal_error(built_project):
    """`cqkg export | head -1`: once the reader has gone, writing fails; that is no bug to report."""
    for args in (["export"], ["queries"]):
        read_end, write_end = os.pipe()
        os.close(read_end)  # the reader is gone before the first write, so the failure is certain
        try:
            proc = subprocess.run(
                cqkg_command() + ["--project", str(built_project), *args],
                stdout=write_end,
                stderr=subprocess.PIPE,
                text=True,
                timeout=120,
            )
        finally:
            os.close(write_end)
        assert (proc.returncode, proc.stderr) == (141, ""), args


def test_queries_lists_names_titles_params(built_project):
    result = run_cli(built_project, "queries")
    assert result.exit_code == 0
    assert "cluster-targets" in result.stdout and "[year:year system:iri]" in result.stdout
    detail = run_cli(built_project, "queries", "cluster-targets")
    assert "--param year=<year> (default 2025)" in detail.stdout
    assert "queries/cluster-targets.rq" in detail.stdout


@pytest.mark.parametrize(
    "fmt,check",
    [
        ("table", lambda s: s.rstrip().endswith("rows)")),
        ("csv", lambda s: s.startswith("person,")),
        ("tsv", lambda s: s.startswith("person\t")),
        ("md", lambda s: s.startswith("| person |")),
        ("json", lambda s: json.loads(s)["head"]["vars"][0] == "person"),
    ],
)
def test_query_formats(built_project, fmt, check):
    result = run_cli(built_project, "query", "people-and-posts", "-f", fmt)
    assert result.exit_code == 0 and check(result.stdout), result.stdout


def test_query_output_file(built_project, tmp_path):
    out = tmp_path / "rows.csv"
    result = run_cli(built_project, "query", "sources", "-f", "csv", "-o", str(out))
    assert result.exit_code == 0 and result.stdout == ""
    assert out.read_text().startswith("source,")


@pytest.mark.parametrize("fmt", ["turtle", "nt", "jsonld", "trig", "nquads"])
def test_export_formats_parse_back(built_project, tmp_path, fmt):
    import pyoxigraph as ox

    out = tmp_path / f"graph.{fmt}"
    result = run_cli(built_project, "export", "-f", fmt, "-o", str(out))
    assert result.exit_code == 0, result.output
    rdf_format = {
        "turtle": ox.RdfFormat.TURTLE,
        "nt": ox.RdfFormat.N_TRIPLES,
        "jsonld": ox.RdfFormat.JSON_LD,
        "trig": ox.RdfFormat.TRIG,
        "nquads": ox.RdfFormat.N_QUADS,
    }[fmt]
    quads = list(ox.parse(path=str(out), format=rdf_format))
    manifest = json.loads((built_project / "build" / "manifest.json").read_text())
    if fmt in ("trig", "nquads"):
        graphs = {q.graph_name.value for q in quads}
        assert "https://w3id.org/cqkg/graph/ontology" in graphs
        assert "https://w3id.org/cqkg/source/quality-chain-2025-h1" in graphs
        assert len(graphs) == manifest["sources"].__len__() + 1  # + inferred
    else:
        assert len(quads) == manifest["total_triples"]


def test_export_asserted_only_leaves_out_inferences(built_project):
    full = run_cli(built_project, "export", "-f", "nt").stdout.splitlines()
    asserted = run_cli(built_project, "export", "-f", "nt", "--asserted-only").stdout.splitlines()
    assert len(asserted) < len(full)
    enterprise_is_org = (
        "<https://w3id.org/cqkg/id/Changan> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
        "<http://www.w3.org/ns/org#Organization> ."
    )
    assert enterprise_is_org in full and enterprise_is_org not in asserted


def test_turtle_is_deterministic(tmp_path):
    """Two builds of the same inputs in different folders give byte-identical Turtle."""
    from conftest import copy_project

    outputs = []
    for name in ("a", "b"):
        proj = copy_project(tmp_path / name)
        assert run_cli(proj, "build").exit_code == 0
        outputs.append(run_cli(proj, "export", "-f", "turtle").stdout_bytes)
    assert outputs[0] == outputs[1]
    assert outputs[0].startswith(b"@prefix ")


# ------------------------------------------------------------------ bad input


def test_malformed_turtle_names_file_and_line(seed_project):
    bad = seed_project / "seeds" / "periods.ttl"
    lines = bad.read_text().splitlines()
    lines[9] = 'period:2018 a cqkg:Period ; rdfs:label "oops .'
    bad.write_text("\n".join(lines) + "\n")
    for cmd in ("build", "validate"):
        result = run_cli(seed_project, cmd)
        assert result.exit_code == 2
        assert "seeds/periods.ttl:10" in result.stderr and "invalid Turtle" in result.stderr
        assert "Traceback" not in result.output
    assert not (seed_project / "build").exists()


def test_missing_directory(seed_project):
    shutil.rmtree(seed_project / "shapes")
    result = run_cli(seed_project, "build")
    assert result.exit_code == 2 and "shapes" in result.stderr and "not found" in result.stderr


def test_not_a_project(tmp_path):
    result = run_cli(tmp_path / "nowhere", "query", "sources")
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_shacl_violation_fails_build_and_writes_nothing(seed_project):
    seed = seed_project / "seeds" / "2025-h1-quality-chain-new-productive-forces.ttl"
    seed.write_text(seed.read_text().replace("cqkg:value 489300.0 ;", 'cqkg:value "lots" ;'))
    result = run_cli(seed_project, "build")
    assert result.exit_code == 1
    assert "<https://w3id.org/cqkg/id/obs/qc25-ev-production>" in result.stderr
    assert "cqkg:value" in result.stderr and "xsd:decimal" in result.stderr
    assert "seeds/2025-h1-quality-chain-new-productive-forces.ttl" in result.stderr
    assert not (seed_project / "build").exists()
    assert run_cli(seed_project, "validate").exit_code == 1


def test_failed_rebuild_keeps_previous_build(built_project, tmp_path):
    from cqkg.export import export_bytes
    from cqkg.manifest import open_store
    from cqkg.project import Project

    from conftest import copy_project

    proj = copy_project(tmp_path / "p")
    assert run_cli(proj, "build").exit_code == 0
    before = run_cli(proj, "export", "-f", "nquads").stdout_bytes
    seed = proj / "seeds" / "2025-h1-quality-chain-new-productive-forces.ttl"
    seed.write_text(seed.read_text().replace("cqkg:status cqkg:Actual", "cqkg:status cqkg:Hoped", 1))
    for how in ((), ("--full",)):  # an incremental and a full rebuild both refuse, and keep the build
        assert run_cli(proj, "build", *how).exit_code == 1
        assert (proj / "build" / "manifest.json").is_file()
        assert export_bytes(open_store(Project.at(proj)), "nquads")[0] == before
    # a query must not silently answer from the stale build either
    result = run_cli(proj, "query", "sources")
    assert result.exit_code == 1 and "cqkg:status" in result.stderr


def test_wrong_quote_fails_the_build(seed_project):
    seed = seed_project / "seeds" / "2025-01-21-ichongqing-automotive-over-50-percent.ttl"
    text = seed.read_text()
    assert '"Gao Jian, director of the Chongqing Municipal Commission of Development and Reform"' in text
    seed.write_text(
        text.replace(
            '"Gao Jian, director of the Chongqing Municipal Commission of Development and Reform"',
            '"Gao Jian, mayor of Chongqing"',
            1,
        )
    )
    result = run_cli(seed_project, "build")
    assert result.exit_code == 1
    assert "Gao Jian <https://w3id.org/cqkg/id/GaoJian>" in result.stderr
    assert "[quote]" in result.stderr and "Gao Jian, mayor of Chongqing" in result.stderr


def test_unknown_query_suggests_close_names(built_project):
    result = run_cli(built_project, "query", "cluster-target")
    assert result.exit_code == 2
    assert "no saved query named 'cluster-target'" in result.stderr and "cluster-targets" in result.stderr


def test_query_with_syntax_error(built_project):
    path = built_project / "queries" / "broken.rq"
    path.write_text("#+ summary: Broken\nSELECT ?s WHERE { ?s ?p }\n")
    try:
        result = run_cli(built_project, "query", "broken")
        assert result.exit_code == 2
        assert re.search(r"broken\.rq:\d+:\d+: SPARQL syntax error in query 'broken'", result.stderr)
    finally:
        path.unlink()


def test_bad_query_header_names_line(built_project):
    path = built_project / "queries" / "badparam.rq"
    path.write_text("#+ summary: Bad\n#+ param: year yearz\nSELECT ?year WHERE { ?s ?p ?year } ORDER BY ?year\n")
    try:
        result = run_cli(built_project, "query", "badparam")
        assert result.exit_code == 2 and "badparam.rq:2" in result.stderr
    finally:
        path.unlink()


@pytest.mark.parametrize("command", [["query", "sources"], ["export"]])
def test_unwritable_output_leaves_no_file(built_project, tmp_path, command):
    missing_dir = tmp_path / "no" / "such" / "dir" / "out.txt"
    result = run_cli(built_project, *command, "-o", str(missing_dir))
    assert result.exit_code == 2 and "cannot write" in result.stderr
    assert not missing_dir.parent.exists()
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    result = run_cli(built_project, *command, "-o", str(a_file / "out.txt"))
    assert result.exit_code == 2 and "cannot write" in result.stderr and a_file.read_text() == "x"
    ro = tmp_path / "ro"
    ro.mkdir()
    with read_only(ro):
        result = run_cli(built_project, *command, "-o", str(ro / "out.txt"))
        assert result.exit_code == 2 and "cannot write" in result.stderr
        assert list(ro.iterdir()) == []


def test_failed_write_keeps_existing_file(built_project, tmp_path, monkeypatch):
    """A failure half-way through writing leaves the old file as it was and no temp file."""
    import cqkg.export

    out = tmp_path / "graph.nt"
    out.write_text("old contents\n")

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cqkg.export, "export", boom)
    result = run_cli(built_project, "export", "-f", "nt", "-o", str(out))
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert out.read_text() == "old contents\n"
    assert [p.name for p in tmp_path.iterdir()] == ["graph.nt"]


def test_internal_errors_are_one_line(built_project, monkeypatch):
    import cqkg.formats

    monkeypatch.setattr(cqkg.formats, "format_result", lambda *a, **k: 1 / 0)
    result = run_cli(built_project, "query", "sources")
    assert result.exit_code == 3 and "internal error" in result.stderr and "Traceback" not in result.output


# ------------------------------------------------------------------ hot path stays light


def test_query_hot_path_imports_no_heavy_libraries(built_project):
    """Once a saved query's text has been checked for SERVICE (rdflib's parser, remembered in
    build/query-checks.json), running it imports neither rdflib nor pyshacl nor owlrl."""
    assert run_cli(built_project, "query", "sources").exit_code == 0  # the first run checks the text
    code = (
        "import sys; from cqkg.cli import main\n"
        "try:\n main(['--project', sys.argv[1], 'query', 'sources', '-f', 'csv'])\n"
        "except SystemExit as e:\n assert not e.code, e.code\n"
        "heavy = [m for m in ('rdflib', 'pyshacl', 'owlrl') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(built_project)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
