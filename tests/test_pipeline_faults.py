"""The local pipeline never fails silently: SERVICE in every spelling, stale and concurrent builds,
one-line errors for what a user can cause, leftovers of killed runs, --project anywhere."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cqkg import build as b
from cqkg.manifest import build_is_current
from cqkg.project import Project

from conftest import StubServer, copy_project, cqkg_command, one_line_error, read_only, run_cli

# ------------------------------------------------------------------ 1. SERVICE, however it is spelled

# (query text, calls another endpoint?) — None: cannot be checked, so it is refused as well.
SERVICE_CORPUS = [
    ("SELECT * WHERE { SERVICE <{url}> { ?s ?p ?o } }", True),
    ("select * where { service <{url}> { ?s ?p ?o } }", True),
    ("SELECT * WHERE { SeRvIcE SILENT <{url}> { ?s ?p ?o } }", True),
    ("SELECT * WHERE { BIND(<{url}> AS ?e) SERVICE ?e { ?s ?p ?o } }", True),
    ("SELECT * WHERE { { { SERVICE <{url}> { ?s ?p ?o } } } }", True),
    ("SELECT * WHERE { { SELECT ?s WHERE { SERVICE <{url}> { ?s ?p ?o } } } }", True),
    ("SELECT * WHERE { ?s ?p ?o OPTIONAL { SERVICE <{url}> { ?s ?p ?x } } }", True),
    ('SELECT * WHERE { ?s ?p "a # not a comment" . SERVICE <{url}> { ?s ?p ?o } }', True),
    ("SELECT * WHERE { ?s ?p <http://e/#frag> . SERVICE <{url}> { ?s ?p ?o } }", True),
    ("PREFIX ex: <http://e/>\nSELECT * WHERE { VALUES ?z { ex:a\\# } SERVICE <{url}> { ?s ?p ?o } }", None),
    ("SELECT * WHERE { ?s ?p ?o } # SERVICE <{url}> { }", False),
    ('SELECT * WHERE { ?s ?p "SERVICE <{url}> { }" }', False),
    ("SELECT ?service WHERE { ?service ?p ?o }", False),
    ("PREFIX service: <http://e/>\nSELECT * WHERE { ?s service:p ?o }", False),
    ("SELECT * WHERE { ?s <http://e/service> ?o }", False),
]


@pytest.fixture
def listener():
    srv = StubServer(
        lambda req: (
            200,
            {"Content-Type": "application/sparql-results+json"},
            b'{"head":{"vars":["s"]},"results":{"bindings":[]}}',
        )
    )
    yield srv
    srv.close()


@pytest.mark.parametrize("text,calls_out", SERVICE_CORPUS, ids=[f"q{i}" for i in range(len(SERVICE_CORPUS))])
@pytest.mark.parametrize("where", ["local", "endpoint"])
def test_service_is_found_in_every_spelling(built_project, listener, text, calls_out, where):
    path = built_project / "queries" / "zz-service-probe.rq"
    path.write_text("#+ summary: probe\n" + text.replace("{url}", listener.base + "/sparql") + "\n")
    try:
        args = ["query", "zz-service-probe"]
        if where == "endpoint":
            args += ["--endpoint", listener.base + "/sparql"]
        result = run_cli(built_project, *args)
    finally:
        path.unlink()
    if calls_out is False:
        assert result.exit_code == 0, result.output
        assert where == "endpoint" or listener.requests == []  # (with --endpoint, the listener is the store)
    else:
        line = one_line_error(result)
        assert ("SERVICE" in line) if calls_out else ("SPARQL syntax error" in line and "allow-service" in line)
        assert listener.requests == []  # refused before anything was sent anywhere


def test_allow_service_with_the_service_down_is_one_line(built_project):
    path = built_project / "queries" / "zz-down.rq"
    path.write_text("#+ summary: down\nSELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }\n")
    try:
        line = one_line_error(run_cli(built_project, "query", "zz-down", "--allow-service"))
    finally:
        path.unlink()
    assert "query 'zz-down' failed" in line


# ------------------------------------------------------------------ 2. a build never records inputs it did not read


def test_an_edit_during_the_build_is_not_recorded_as_built(tmp_path, monkeypatch):
    proj = copy_project(tmp_path / "p")
    seed = proj / "seeds" / "2025-h1-quality-chain-new-productive-forces.ttl"
    original = b._infer_validate_write
    edits = []

    def edit_once(*args, **kwargs):  # the curator saves a new value while the first build runs
        if not edits:
            time.sleep(0.02)
            seed.write_text(
                seed.read_text().replace(
                    "cqkg:value 489300.0 ;", 'cqkg:value 489301.0 ; cqkg:derivation "an edit by the test" ;'
                )
            )
            edits.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(b, "_infer_validate_write", edit_once)
    result = run_cli(proj, "build")
    assert result.exit_code == 0, result.output
    assert (
        "the inputs changed during the build (seeds/2025-h1-quality-chain-new-productive-forces.ttl changed); "
        "building again"
    ) in result.stderr
    assert build_is_current(Project.at(proj))
    monkeypatch.setattr(b, "_infer_validate_write", original)
    rows = run_cli(proj, "query", "metrics-for-subject", "-p", "subject=cq:Chongqing", "-f", "csv")
    assert "489301" in rows.stdout and "489300," not in rows.stdout


@pytest.mark.parametrize("how", ["full", "incremental"])
def test_inputs_that_keep_changing_leave_the_build_marked_stale(tmp_path, monkeypatch, how):
    """Edited during every attempt: the build gives up, and its manifest must not claim the last edit."""
    from cqkg import incremental

    proj = copy_project(tmp_path / "p")
    seed = proj / "seeds" / "periods.ttl"
    if how == "incremental":
        assert run_cli(proj, "build").exit_code == 0
        seed.write_text(seed.read_text() + "\n# a first edit\n")
    module, name = (b, "_infer_validate_write") if how == "full" else (incremental, "apply")
    original = getattr(module, name)

    def edit_every_time(*args, **kwargs):
        seed.write_text(seed.read_text() + "\n# another edit\n")
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, edit_every_time)
    result = run_cli(proj, "build", *(["--full"] if how == "full" else []))
    assert ("updating the previous build" in result.stderr) == (how == "incremental")
    assert result.exit_code == 0, result.output
    assert "the inputs kept changing during 3 builds" in result.stderr
    assert not build_is_current(Project.at(proj))  # so the next command builds again


def test_a_manifest_of_another_cqkg_version_is_rebuilt(tmp_path):
    proj = copy_project(tmp_path / "p")
    assert run_cli(proj, "build").exit_code == 0
    manifest = proj / "build" / "manifest.json"
    data = json.loads(manifest.read_text())
    assert data["cqkg_version"]
    manifest.write_text(json.dumps({**data, "cqkg_version": "0.0.1"}))
    assert "building first" in run_cli(proj, "query", "sources").stderr


# ------------------------------------------------------------------ 3. queries while builds land


def test_queries_during_builds_always_see_a_complete_build(tmp_path):
    proj = copy_project(tmp_path / "p")
    assert run_cli(proj, "build").exit_code == 0
    seed = proj / "seeds" / "periods.ttl"
    builder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"""
import pathlib, subprocess
seed = pathlib.Path({str(seed)!r})
for i in range(6):
    seed.write_text(seed.read_text() + "\\n# edit {{}}\\n".format(i))
    subprocess.run([*{cqkg_command()!r}, "--project", {str(proj)!r}, "build"], check=True, capture_output=True)
""",
        ]
    )
    failures = []
    runs = 0
    try:
        while builder.poll() is None and runs < 80:
            # a reader that does not itself rebuild: it opens whichever build is current
            code = (
                "import sys; from cqkg.project import Project; from cqkg.manifest import open_store\n"
                "from cqkg.catalog import Catalog; from cqkg.queries import run_local\n"
                f"p = Project.at({str(proj)!r}); q = Catalog(p).get('sources')\n"
                "rows = run_local(open_store(p), q, {}, allow_service=True).rows\n"
                "assert rows, 'no rows'\n"
            )
            proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
            runs += 1
            if proc.returncode:
                failures.append(proc.stderr.strip().splitlines()[-1])
    finally:
        builder.wait(timeout=300)
    assert builder.returncode == 0
    assert runs >= 5 and failures == []


# ------------------------------------------------------------------ 4. what a user can cause is one line, never exit 3


def test_a_parameter_that_is_not_utf8_is_one_line(built_project):
    proc = subprocess.run(
        [*cqkg_command(), "--project", str(built_project), "query", "who-said-what"], capture_output=True, timeout=60
    )
    assert proc.returncode == 0
    path = built_project / "queries" / "zz-string.rq"
    path.write_text(
        "#+ summary: s\n#+ param: name string ; a name\nSELECT ?name WHERE { BIND(?name AS ?x) } ORDER BY ?x\n"
    )
    try:
        proc = subprocess.run(
            [*cqkg_command(), "--project", str(built_project), "query", "zz-string", "-p", b"name=caf\xe9"],
            capture_output=True,
            timeout=60,
        )
    finally:
        path.unlink()
    assert proc.returncode == 2 and b"not valid UTF-8" in proc.stderr and b"Traceback" not in proc.stderr


def test_a_seed_file_with_a_space_and_no_text_file_builds(tmp_path):
    proj = copy_project(tmp_path / "p")
    shutil.copy(proj / "seeds" / "periods.ttl", proj / "seeds" / "more periods.ttl")
    result = run_cli(proj, "build")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "shape,expect",
    [
        (
            "sh:property [ sh:path cqkg:locatedIn ; sh:qualifiedValueShape [ sh:class cqkg:Place ] ; "
            'sh:qualifiedMinCount "one" ]',
            "sh:qualifiedMinCount",
        ),
        ("sh:property [ sh:path rdfs:label ; sh:minCount -1 ]", "sh:minCount"),
        ('sh:sparql [ sh:select "SELECT $this WHERE { $this ?p ?o }" ]', "sh:sparql"),
    ],
)
def test_a_broken_or_unsupported_shape_is_one_line(tmp_path, shape, expect):
    proj = copy_project(tmp_path / "p")
    (proj / "shapes" / "extra.ttl").write_text(
        "@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix cqkg: <https://w3id.org/cqkg/ontology#> .\n"
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> . @prefix ex: <http://example.org/> .\n"
        f"ex:S a sh:NodeShape ; sh:targetClass cqkg:Enterprise ; {shape} .\n"
    )
    line = one_line_error(run_cli(proj, "validate"))
    assert expect in line and "shapes/extra.ttl" in line


def test_a_read_only_project_without_a_build_is_one_line(tmp_path):
    proj = copy_project(tmp_path / "p")
    with read_only(proj):
        line = one_line_error(run_cli(proj, "query", "sources"))
        assert "cannot write the build" in line and "cqkg validate" in line
        assert run_cli(proj, "validate").exit_code == 0  # validation writes nothing


@pytest.fixture
def tiny_disk(tmp_path):
    """A 700 kB filesystem: room for the project's inputs, not for a build."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=700k", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode:
        pytest.fail(f"cannot mount a small tmpfs for the full-disk test: {done.stderr.decode().strip()}")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=True)


def test_a_full_disk_during_build_is_one_line(tiny_disk):
    proj = copy_project(tiny_disk / "p")
    line = one_line_error(run_cli(proj, "build"))
    assert "No space left on device" in line or "cannot write" in line
    assert not (proj / "build").exists()  # a failed first build leaves nothing behind


def test_a_full_disk_during_export_keeps_the_old_file(built_project, tiny_disk):
    out = tiny_disk / "graph.ttl"
    out.write_text("old\n")
    (tiny_disk / "filler").write_bytes(b"x" * 500_000)
    line = one_line_error(run_cli(built_project, "export", "-o", str(out)))
    assert "No space left on device" in line
    assert out.read_text() == "old\n" and sorted(p.name for p in tiny_disk.iterdir()) == ["filler", "graph.ttl"]


@pytest.mark.parametrize("command", [["export"], ["query", "sources"]])
def test_stdout_on_a_full_disk_is_an_error_not_a_truncated_file(built_project, command):
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [*cqkg_command(), "--project", str(built_project), *command],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == "Error: cannot write the output: No space left on device"


# ------------------------------------------------------------------ 8. leftovers of killed runs


def test_a_killed_build_leaves_nothing_the_next_run_keeps(tmp_path):
    proj = copy_project(tmp_path / "p")
    assert run_cli(proj, "build").exit_code == 0
    seed = proj / "seeds" / "periods.ttl"
    for i in range(3):  # kill builds part-way (after the store writer started)
        seed.write_text(seed.read_text() + f"\n# edit {i}\n")
        proc = subprocess.Popen(
            [*cqkg_command(), "--project", str(proj), "build"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.time() + 60
        while not list((proj / "build" / "stores").glob("*.partial")) and time.time() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    (proj / "build" / ".graph.ttl.999999.abcd.tmp").write_text("half")  # a dead writer's temp file
    assert run_cli(proj, "build").exit_code == 0
    build = proj / "build"
    assert sorted(p.name for p in build.iterdir()) == ["incremental.json", "manifest.json", "store", "stores"]
    assert not list((build / "stores").glob("*.partial")) and len(list((build / "stores").iterdir())) <= 2


def test_a_killed_export_leaves_a_temp_file_the_next_export_removes(built_project, tmp_path):
    stale = tmp_path / ".out.ttl.999999.abcd.tmp"
    stale.write_text("half")
    live = tmp_path / f".out.ttl.{os.getpid()}.efgh.tmp"  # a writer that is still running
    live.write_text("in progress")
    assert run_cli(built_project, "export", "-o", str(tmp_path / "out.ttl")).exit_code == 0
    assert not stale.exists() and live.exists()


# ------------------------------------------------------------------ 9. --project, anywhere


def test_project_option_after_the_command_and_found_from_a_subfolder(built_project, tmp_path, monkeypatch):
    assert run_cli(Path("/nonexistent"), "validate", "--project", str(built_project)).exit_code == 0
    monkeypatch.chdir(built_project / "seeds")
    from click.testing import CliRunner

    from cqkg.cli import main

    result = CliRunner().invoke(main, ["queries"])
    assert result.exit_code == 0 and "cluster-targets" in result.stdout


@pytest.mark.parametrize("command", [["queries"], ["query", "sources"], ["validate"], ["build"], ["audit"]])
def test_outside_a_project_every_command_says_the_same(tmp_path, monkeypatch, command):
    from click.testing import CliRunner

    from cqkg.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CQKG_PROJECT", raising=False)
    result = CliRunner().invoke(main, command)
    line = one_line_error(result)
    assert "Run cqkg inside a cqkg project" in line and "--project DIR" in line


def test_content_not_time_decides_a_rebuild_and_the_message_names_the_file(tmp_path):
    proj = copy_project(tmp_path / "p")
    assert run_cli(proj, "build").exit_code == 0
    seed = proj / "seeds" / "periods.ttl"
    os.utime(seed, ns=(time.time_ns(), time.time_ns() + 10**9))  # a touch, a git checkout: same content
    assert "building first" not in run_cli(proj, "query", "sources").stderr
    seed.write_text(seed.read_text() + "\n# an edit\n")
    (proj / "seeds" / "more.ttl").write_text("# a new, empty seed file\n")
    stderr = run_cli(proj, "query", "sources").stderr
    assert "build is out of date: seeds/more.ttl added, seeds/periods.ttl changed; building first" in stderr


# ------------------------------------------------------------------ progress on a terminal, and only there


def on_a_terminal(args: list[str]) -> str:
    """What a command writes to a terminal (stderr on a pseudo-terminal, stdout to a pipe)."""
    import pty
    import select

    main, sub = pty.openpty()
    proc = subprocess.Popen([*cqkg_command(), *args], stdout=subprocess.PIPE, stderr=sub)
    os.close(sub)
    out = b""
    while True:
        ready, _, _ = select.select([main], [], [], 10)
        if not ready:
            break
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the command ended
            break
        if not chunk:
            break
        out += chunk
    proc.communicate(timeout=60)
    os.close(main)
    return out.decode("utf-8", "replace")


def test_long_commands_show_progress_on_a_terminal_only(tmp_path):
    proj = copy_project(tmp_path / "p")
    shown = on_a_terminal(["--project", str(proj), "build"])
    assert "build" in shown and "validation" in shown and "/4" in shown
    (proj / "seeds" / "periods.ttl").write_text((proj / "seeds" / "periods.ttl").read_text() + "\n# edit\n")
    quiet = on_a_terminal(["--project", str(proj), "--quiet", "build"])
    assert "/4" not in quiet and "wrote build/" not in quiet
    (proj / "seeds" / "periods.ttl").write_text((proj / "seeds" / "periods.ttl").read_text() + "\n# again\n")
    piped = run_cli(proj, "build")  # not a terminal: the usual lines, no progress
    assert piped.exit_code == 0 and "/4" not in piped.stderr and "wrote build/" in piped.stderr
    assert piped.stderr.startswith("updating the previous build: seeds/periods.ttl changed")


def test_load_shows_its_steps_on_a_terminal_only(tmp_path, built_project):
    from conftest import OxigraphServer

    server = OxigraphServer(tmp_path / "db").start()
    try:
        gsp = server.base + "/store"
        shown = on_a_terminal(["--project", str(built_project), "load", "--endpoint", gsp, "--per-source-graphs"])
        assert "load" in shown and "uploading" in shown and "swapping the uploaded graphs in" in shown, shown
        piped = run_cli(built_project, "load", "--endpoint", gsp, "--per-source-graphs", "--replace")
        assert piped.exit_code == 0 and "swapping the uploaded graphs in" not in piped.stderr, piped.stderr
    finally:
        server.stop()
