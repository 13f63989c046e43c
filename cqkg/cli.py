"""The `cqkg` command line: parses options, reads configuration, calls the library, maps errors.

The only module that reads the environment (CQKG_PROJECT, CQKG_SHACL, CQKG_STORE_*,
CQKG_DEBUG); the library gets what it needs as arguments. Modules that pull in heavy
libraries (the build, validation) are imported inside the commands that need them, so
`cqkg query` on a current build starts in a fraction of a second.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .errors import CqkgError
from .export import FORMATS as EXPORT_FORMATS
from .formats import OUTPUT_FORMATS
from .project import Project, atomic_output
from .terms import ALL_GRAPH, expand_iri

if TYPE_CHECKING:
    from .remote import Credentials
    from .sparql import ServiceCheckCache

F = TypeVar("F", bound=Callable[..., Any])


_QUIET = False  # --quiet: no progress and no notes on stderr (warnings and errors still)


def log(msg: str) -> None:
    """Progress and notices go to stderr, never into data output."""
    if not _QUIET or msg.startswith("warning"):
        click.echo(msg, err=True)


class Stages:
    """Progress of a long command on a terminal: the stage, how many are done, the time so far.

    Drawn by rich on stderr only when stderr is a terminal and --quiet is off, and removed when
    the command ends, so nothing is ever mixed into data output or into a log file.
    """

    def __init__(self, label: str, total: int):
        self.progress: Any = None
        self.started = False
        if not _QUIET and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                TextColumn("{task.description}"), MofNCompleteColumn(), TextColumn("{task.fields[stage]}"),
                TimeElapsedColumn(), console=Console(stderr=True), transient=True,
            )  # fmt: skip
            self.progress.start()
            self.task = self.progress.add_task(label, total=total, stage="")

    def __call__(self, stage: str) -> None:
        """Start `stage` (the stages before it are done)."""
        if self.progress is not None:
            self.progress.update(self.task, advance=1 if self.started else 0, stage=stage)
            self.started = True

    def close(self) -> None:
        """Remove the progress line."""
        if self.progress is not None:
            self.progress.stop()


def service_checks() -> ServiceCheckCache:
    """The per-user cache of SERVICE checks ($XDG_CACHE_HOME/cqkg, by default ~/.cache/cqkg)."""
    from .sparql import ServiceCheckCache

    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return ServiceCheckCache(Path(base) / "cqkg" / "query-checks.json")


def built_store(project: Project, checks: ServiceCheckCache | None = None) -> Any:
    """The current build's store; builds first (importing the pipeline) only when it is not current."""
    from .manifest import build_is_current, open_store

    if build_is_current(project):
        return open_store(project)
    from .build import ensure_built

    return ensure_built(project, log, checks)


def credentials_from_env() -> Credentials | None:
    """CQKG_STORE_USER / CQKG_STORE_PASSWORD / CQKG_STORE_AUTH, or None when no user is set."""
    user = os.environ.get("CQKG_STORE_USER")
    if user is None:
        return None
    from .remote import AUTH_SCHEMES, Credentials  # httpx is slow to import: only remote commands need it

    scheme = os.environ.get("CQKG_STORE_AUTH", "basic").lower()
    if scheme not in AUTH_SCHEMES:  # said here with the variable's name; Credentials checks it too
        raise CqkgError(f"CQKG_STORE_AUTH={scheme!r}: use {' or '.join(AUTH_SCHEMES)}")

    return Credentials(user, os.environ.get("CQKG_STORE_PASSWORD", ""), scheme)


def user_errors(fn: F) -> F:
    """Turn CqkgError (and Ctrl-C) into one message and an exit code, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            result = fn(*args, **kwargs)
            sys.stdout.flush()  # a write error must surface here, not in Python's exit-time flush
            return result
        except CqkgError as e:
            click.echo(f"Error: {e}", err=True)
            sys.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except BrokenPipeError:
            _stdout_gone()
            sys.exit(141)
        except OSError as e:  # writing the output failed (a full disk): never a silent truncation
            if e.errno is None or e.filename is not None:
                raise
            _stdout_gone()
            click.echo(f"Error: cannot write the output: {e.strerror or e}", err=True)
            sys.exit(2)
        except Exception as e:  # a bug, not a user error: say so in one line
            if os.environ.get("CQKG_DEBUG"):
                raise
            click.echo(
                f"Error: internal error ({type(e).__name__}: {e}); "
                f"rerun with CQKG_DEBUG=1 for a traceback and please report it.",
                err=True,
            )
            sys.exit(3)

    return wrapper  # type: ignore[return-value]


def _stdout_gone() -> None:
    """Point stdout at /dev/null so Python's final flush does not fail a second time."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def emit(text: str, output: str | None) -> None:
    """Write to --output atomically, or to stdout."""
    if output:
        with atomic_output(output) as f:
            f.write(text)
    else:
        click.echo(text, nl=False)


PROJECT_HELP = (
    "Project folder (with ontology/, shapes/, seeds/, queries/). Default: CQKG_PROJECT, else the "
    "nearest folder upwards from here that has ontology/ and seeds/."
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--project", "project_dir", type=click.Path(file_okay=False), envvar="CQKG_PROJECT", help=PROJECT_HELP)
@click.option("--quiet", "-q", is_flag=True, help="No progress and no notes on stderr (warnings and errors still).")
@click.version_option(package_name="cqkg")
@click.pass_context
def main(ctx: click.Context, project_dir: str | None, quiet: bool) -> None:
    """cqkg: Chongqing manufacturing knowledge graph.

    Build a validated RDF graph from the seed articles, query it with saved SPARQL queries,
    export it, and load it into a triple store.
    """
    global _QUIET
    _QUIET = quiet
    ctx.obj = project_dir


def pass_project(fn: F) -> F:
    """Give a command the Project, with its own --project too (before or after the command name)."""

    @click.option("--project", "command_project", type=click.Path(file_okay=False), help=PROJECT_HELP)
    @click.pass_context
    @functools.wraps(fn)
    def wrapper(ctx: click.Context, *args: Any, command_project: str | None = None, **kwargs: Any) -> Any:
        given = command_project or ctx.obj
        project = Project.at(given) if given else (Project.find(Path.cwd()) or Project.at("."))
        return fn(project, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def timeout_option(default: float) -> Callable[[F], F]:
    """--timeout: how long one HTTP request, with its retries, may take."""
    return click.option(
        "--timeout",
        type=click.FloatRange(0.1, 86400),
        default=default,
        show_default=True,
        metavar="SECONDS",
        help="Give up on a request (with its retries) after this many seconds.",
    )


def _graph_option(graph: str) -> str | None:
    """--graph as an IRI; 'default' (the store's default graph) as None."""
    if graph == "default":
        return None
    try:
        return expand_iri(graph).value
    except ValueError as e:
        raise CqkgError(f"--graph {graph!r} is not an IRI ({e})") from None


strict_shacl_option = click.option(
    "--strict-shacl",
    is_flag=True,
    help="Refuse shapes the compiled validator does not implement, instead of falling back to pyshacl.",
)

shacl_engine_option = click.option(
    "--shacl-engine",
    type=click.Choice(["fast", "pyshacl"]),
    default="fast",
    show_default=True,
    envvar="CQKG_SHACL",
    help="SHACL validator: shapes compiled to SPARQL, or pyshacl (slow; the reference).",
)


full_option = click.option(
    "--full",
    is_flag=True,
    help="Build from scratch, even when only a few seed files changed since the last build "
    "(which is otherwise updated in place: same result, faster).",
)


@main.command()
@shacl_engine_option
@strict_shacl_option
@full_option
@pass_project
@user_errors
def build(project: Project, shacl_engine: str, strict_shacl: bool, full: bool) -> None:
    """Validate the seeds and write the graph and store under build/."""
    from . import build as b

    stages = Stages("build", b.STAGES)
    try:
        result = b.run(project, log=log, shacl_engine=shacl_engine, service_checks=service_checks(),
                       strict_shacl=strict_shacl, stage=stages, incremental="never" if full else "auto")  # fmt: skip
    finally:
        stages.close()
    _print_summary(result)
    if not result.report.conforms:
        click.echo(result.report.text(), err=True)
        click.echo("Build failed: fix the violations above (nothing was written).", err=True)
        sys.exit(1)


def _print_summary(result: Any) -> None:
    t = result.timings
    click.echo(
        f"{result.asserted} triples asserted, {result.inferred} inferred, {result.total} total; "
        f"{result.sources} source graphs; {len(result.report.violations)} violations, "
        f"{len(result.report.warnings)} warnings "
        f"(parse {t.get('parse', 0):.2f}s, inference {t.get('inference', 0):.2f}s, "
        f"validation {t.get('validation', 0):.2f}s)"
    )


@main.command()
@click.option("--warnings/--no-warnings", default=True, show_default=True, help="Also list warnings.")
@click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(["text", "turtle", "nt"]),
    default="text",
    show_default=True,
    help="text: one line per problem; turtle or nt: the SHACL validation report (sh:ValidationReport) as RDF.",
)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
@shacl_engine_option
@strict_shacl_option
@full_option
@pass_project
@user_errors
def validate(
    project: Project,
    warnings: bool,
    fmt: str,
    output: str | None,
    shacl_engine: str,
    strict_shacl: bool,
    full: bool,
) -> None:
    """Check shapes, quotes and quality queries. Exit 0 conforms, 1 violations, 2 bad input."""
    from . import build as b
    from .report import Report, report_rdf

    stages = Stages("validate", b.STAGES - 1)
    try:
        result = b.run(project, write=False, log=log, shacl_engine=shacl_engine, service_checks=service_checks(),
                       strict_shacl=strict_shacl, stage=stages, incremental="never" if full else "auto")  # fmt: skip
    finally:
        stages.close()
    report = result.report if warnings else Report(result.report.violations)
    if fmt == "text":
        emit(report.text() + "\n", output)
    else:
        emit(report_rdf(report, fmt).decode("utf-8"), output)
    sys.exit(0 if result.report.conforms else 1)


@main.command(name="queries")
@click.argument("name", required=False)
@pass_project
@user_errors
def list_queries(project: Project, name: str | None) -> None:
    """List the saved queries, or describe one (its question and parameters)."""
    from .catalog import Catalog

    cat = Catalog(project)
    if name:
        q = cat.get(name)
        click.echo(f"{q.name}: {q.title}\n")
        if q.description:
            click.echo(q.description + "\n")
        if q.tags:
            click.echo(f"tags: {', '.join(q.tags)}")
        click.echo("parameters:" if q.params else "parameters: none")
        for p in q.params:
            default = f" (default {p.default})" if p.default is not None else " (optional)"
            click.echo(f"  --param {p.name}=<{p.type}>{default}  {p.description}")
        click.echo(f"\nfile: {project.rel(q.path)}")
        return
    queries = cat.all()
    width = max((len(q.name) for q in queries), default=0)
    for q in queries:
        params = " ".join(f"{p.name}:{p.type}" for p in q.params)
        click.echo(f"{q.name.ljust(width)}  {q.title}" + (f"  [{params}]" if params else ""))


def _parse_params(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for v in values:
        if "=" not in v:
            raise CqkgError(f"--param {v!r}: expected NAME=VALUE")
        k, val = v.split("=", 1)
        out[k.strip()] = val
    return out


@main.command()
@click.argument("name")
@click.option(
    "--param", "-p", "params", multiple=True, metavar="NAME=VALUE", help="Set a declared parameter (repeatable)."
)
@click.option("--format", "-f", "fmt", type=click.Choice(OUTPUT_FORMATS), default="table", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
@click.option("--endpoint", metavar="URL", help="Run against a remote SPARQL endpoint instead of the local build.")
@click.option(
    "--graph",
    metavar="IRI",
    default=ALL_GRAPH,
    show_default=True,
    help="With --endpoint: the graph the query reads ('default' for the store's default graph).",
)
@click.option("--allow-service", is_flag=True, help="Allow SERVICE clauses (federated calls to other endpoints).")
@click.option("--human", is_flag=True, help="In tables, numbers as 2.2 trn, 1.3 m, 489.3 k (csv/tsv/json stay exact).")
@timeout_option(60)
@click.option(
    "--max-width",
    type=int,
    default=80,
    show_default=True,
    help="Truncate table cells to this width (0 = never); other formats are never truncated.",
)
@pass_project
@user_errors
def query(
    project: Project,
    name: str,
    params: tuple[str, ...],
    fmt: str,
    output: str | None,
    endpoint: str | None,
    graph: str,
    allow_service: bool,
    human: bool,
    timeout: float,
    max_width: int,
) -> None:
    """Run the saved query NAME and print its rows."""
    from .catalog import Catalog
    from .formats import format_result
    from .queries import run_local, run_remote

    q = Catalog(project).get(name)
    bindings = q.bindings(_parse_params(params))
    checks = service_checks()
    if endpoint:
        from .remote import Http

        http = Http(timeout=timeout, credentials=credentials_from_env(), log=log)
        try:
            result = run_remote(
                endpoint, q, bindings, http, allow_service=allow_service, graph=_graph_option(graph), warn=log
            )
        finally:
            http.close()
    else:
        store = built_store(project, checks)
        result = run_local(store, q, bindings, allow_service=allow_service, checks=checks)
    emit(format_result(result, fmt, max_width=max_width, human=human), output)


@main.command()
@click.argument("name")
@click.option(
    "--param", "-p", "params", multiple=True, metavar="NAME=VALUE", help="Set a declared parameter (repeatable)."
)
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False),
    help="The chart file: .svg, .png or .html (Vega bundled in, works offline; tooltips carry each number's quote).",
)
@click.option("--format", "-f", "fmt", type=click.Choice(["svg", "png", "html"]), help="Default: from the file name.")
@pass_project
@user_errors
def chart(project: Project, name: str, params: tuple[str, ...], output: str, fmt: str | None) -> None:
    """Draw the saved query NAME as the chart its header declares (#+ chart: ...)."""
    from .catalog import Catalog
    from .charts import FORMATS, ChartDeclaration, render, vega_lite
    from .queries import run_local

    fmt = fmt or Path(output).suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise CqkgError(f"cannot tell the chart format from {output!r}: name it .svg, .png or .html, or use -f")
    q = Catalog(project).get(name)
    if not q.chart:
        raise CqkgError(
            f"{project.rel(q.path)}: declares no chart (add a line such as '#+ chart: line x=year y=value')"
        )
    declaration = ChartDeclaration.parse(q.chart, f"{project.rel(q.path)}: ")
    bindings = q.bindings(_parse_params(params))
    checks = service_checks()
    result = run_local(built_store(project, checks), q, bindings, checks=checks)
    data = render(vega_lite(q.title, result, declaration), fmt)
    with atomic_output(output, "wb") as f:
        f.write(data)
    log(f"wrote {output} ({len(data):,} bytes, {len(result.rows)} rows)")


@main.command()
@click.option(
    "--output", "-o", required=True, type=click.Path(file_okay=False), help="The site's folder (replaced whole)."
)
@pass_project
@user_errors
def site(project: Project, output: str) -> None:
    """Write a static, offline, bilingual website of the built graph into a folder."""
    import time

    from .site import build_site

    checks = service_checks()
    store = built_store(project, checks)
    start = time.perf_counter()
    stages = Stages("site", total=3)
    try:
        pages = build_site(project, store, Path(output), progress=stages)
    finally:
        stages.close()
    size = sum(f.stat().st_size for f in Path(output).rglob("*") if f.is_file())
    log(f"wrote {pages:,} pages to {output}/ ({size / 1e6:.1f} MB) in {time.perf_counter() - start:.1f}s")


@main.command()
@click.argument("old")
@click.argument("new", default=".")
@click.option("--format", "-f", "fmt", type=click.Choice(["markdown", "json"]), default="markdown", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
@pass_project
@user_errors
def diff(project: Project, old: str, new: str, fmt: str, output: str | None) -> None:
    """What changed from OLD to NEW, fact by fact (NEW: default the project's files as they are).

    Each is a git revision (v0.1.0, HEAD~3), a project folder, a built store, a release folder or
    an export (.ttl, .nt, .nq, .trig, .jsonld, optionally gzipped).
    """
    from .diff import diff as compare
    from .diff import open_version

    changes = compare(open_version(old, project), open_version(str(project.root) if new == "." else new, project))
    if new == ".":
        changes.new = "the working tree"
    emit(changes.as_markdown() if fmt == "markdown" else changes.as_json(), output)


@main.command()
@click.option("--version", "version", required=True, metavar="X.Y.Z", help="The version to release (semantic).")
@click.option("--output", "-o", type=click.Path(file_okay=False), default="dist", show_default=True,
              help="Folder to write the release to (replaced whole).")  # fmt: skip
@click.option(
    "--previous", metavar="REV|PATH",
    help="The release to list changes since: a git revision, a release folder or an export. "
    "Default: the newest git tag vA.B.C older than --version.",
)  # fmt: skip
@click.option("--first", is_flag=True, help="A first release: no changelog against an earlier one.")
@click.option("--date", "issued", metavar="YYYY-MM-DD", help="Release date. Default: the last commit's date.")
@click.option("--base-url", metavar="URL", help="Where the files will be downloadable (for the DCAT description).")
@pass_project
@user_errors
def release(
    project: Project, version: str, output: str, previous: str | None, first: bool, issued: str | None,
    base_url: str | None,
) -> None:  # fmt: skip
    """Build, validate and write a release: graph, per-source N-Quads, VoID/DCAT, docs, changelog."""
    from . import build as b
    from .manifest import open_store
    from .release import ReleaseOptions, make_release, parse_version

    parse_version(version)
    if first and previous:
        raise CqkgError("--first and --previous contradict each other: give one")
    stages = Stages("build", b.STAGES)
    try:
        result = b.run(project, log=log, service_checks=service_checks(), stage=stages)
    finally:
        stages.close()
    if not result.report.conforms:
        click.echo(result.report.text(), err=True)
        raise CqkgError("the graph has violations (above): nothing was released", exit_code=1)
    opts = ReleaseOptions(version, previous, first, issued, base_url)
    files = make_release(project, open_store(project), result.report, Path(output), opts, log=log)
    log(f"wrote release {version} to {output}/: {', '.join(files)}")


@main.command()
@click.option("--format", "-f", "fmt", type=click.Choice(list(EXPORT_FORMATS)), default="turtle", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
@click.option("--asserted-only", is_flag=True, help="Leave out inferred triples.")
@pass_project
@user_errors
def export(project: Project, fmt: str, output: str | None, asserted_only: bool) -> None:
    """Export the built graph (asserted + inferred by default)."""
    from .export import export as do_export

    store = built_store(project, service_checks())
    if output:
        with atomic_output(output) as f:
            n = do_export(store, fmt, f, asserted_only=asserted_only)
        log(f"wrote {n} {'quads' if fmt in ('trig', 'nquads') else 'triples'} to {output}")
    else:
        do_export(store, fmt, sys.stdout, asserted_only=asserted_only)


@main.command()
@click.option(
    "--endpoint",
    required=True,
    metavar="URL",
    help="Graph Store Protocol URL, e.g. http://localhost:7878/store (Oxigraph), "
    "http://localhost:3030/DATASET/data (Fuseki).",
)
@click.option(
    "--update-endpoint",
    metavar="URL",
    help="SPARQL update URL used to swap the upload in atomically (guessed for Oxigraph, "
    "Fuseki, GraphDB and Virtuoso).",
)
@click.option(
    "--query-endpoint",
    metavar="URL",
    help="SPARQL query URL, used to find temporary graphs of interrupted loads (guessed like the update URL).",
)
@click.option(
    "--graph",
    "graph",
    metavar="IRI",
    help=f"Target graph (default: {ALL_GRAPH}, which `cqkg query --endpoint` reads; "
    "'default' for the store's default graph).",
)
@click.option(
    "--per-source-graphs",
    is_flag=True,
    help="One graph per source document, plus the ontology and inferred graphs (as in TriG export), "
    f"and the merged graph {ALL_GRAPH} that queries read.",
)
@click.option("--replace", is_flag=True, help="Replace target graphs that already hold triples.")
@click.option("--asserted-only", is_flag=True, help="Leave out inferred triples.")
@click.option(
    "--retries",
    type=click.IntRange(0, 10),
    default=4,
    show_default=True,
    help="Retries (with back-off) on connection errors and 502/503/504 answers.",
)
@timeout_option(300)
@pass_project
@user_errors
def load(
    project: Project,
    endpoint: str,
    update_endpoint: str | None,
    query_endpoint: str | None,
    graph: str | None,
    per_source_graphs: bool,
    replace: bool,
    asserted_only: bool,
    retries: int,
    timeout: float,
) -> None:
    """Load the built graph into a triple store, replacing the target graph(s) all or nothing.

    Credentials come from CQKG_STORE_USER and CQKG_STORE_PASSWORD (CQKG_STORE_AUTH=basic|digest).
    """
    from . import remote
    from .export import asserted_triples, graph_triples, named_graphs

    if graph and per_source_graphs:
        raise CqkgError("use either --graph or --per-source-graphs, not both")
    target = ALL_GRAPH if graph is None else (_graph_option(graph) or remote.DEFAULT_GRAPH)
    for url in (endpoint, update_endpoint, query_endpoint):  # before anything is built or sent
        if url:
            remote.check_url(url)
    credentials = credentials_from_env()
    db = built_store(project, service_checks())
    merged = asserted_triples(db) if asserted_only else graph_triples(db)
    graphs = {**named_graphs(db, asserted_only), ALL_GRAPH: merged} if per_source_graphs else {target: merged}
    http = remote.Http(retries=retries, timeout=timeout, credentials=credentials, log=log)
    stages = Stages("load", remote.LOAD_STEPS + len(graphs))
    try:
        with _terminate_as_interrupt():
            report = remote.load(
                endpoint, graphs, http, update_endpoint=update_endpoint, query_endpoint=query_endpoint,
                replace=replace, stage=stages,
            )  # fmt: skip
    finally:
        stages.close()
        http.close()
    bad = False
    for g, (sent, held) in sorted(report.graphs.items()):
        name = "the default graph" if g == remote.DEFAULT_GRAPH else f"<{g}>"
        note = f", replaced {report.replaced[g]}" if g in report.replaced else ""
        click.echo(f"{name}: sent {sent} triples, store holds {held}{note}")
        bad |= sent != held
    if bad:
        raise CqkgError("the store holds a different number of triples than was sent (another writer?)", 1)


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a service manager, `kill`) unwinds like Ctrl-C, so clean-up code runs."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (e.g. inside a test runner's worker)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
@click.option("--port", type=click.IntRange(1, 65535), default=7878, show_default=True)
@pass_project
@user_errors
def serve(project: Project, host: str, port: int) -> None:
    """Serve the built graph read-only: a query UI at /, SPARQL at /query (SERVICE refused).

    Builds first if needed; answers from each new build as it lands. Ctrl-C or SIGTERM stops it.
    """
    from . import serve as srv

    built_store(project, service_checks())
    if host not in ("127.0.0.1", "localhost", "::1"):
        log(f"warning: listening on {host}, not loopback: anyone who can reach it can query the graph")
    srv.serve(project, host, port, log)


@main.command()
@click.argument("article", type=click.Path(exists=True, dir_okay=False))
@click.option("--id", "doc_id", required=True, help="Name of the new seed files (seeds/ID.txt, seeds/ID.ttl).")
@click.option("--title", required=True)
@click.option("--publisher", required=True)
@click.option("--date", "published", required=True, metavar="YYYY-MM-DD", help="Publication date.")
@click.option("--url", help="Where the article was published.")
@click.option("--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True)
@pass_project
@user_errors
def draft(
    project: Project, article: str, doc_id: str, title: str, publisher: str, published: str, url: str | None, lang: str
) -> None:
    """Copy ARTICLE into seeds/ and draft its facts for review (each marked cqkg:unreviewed)."""
    from datetime import date

    from .draft import draft as make_draft

    try:
        day = date.fromisoformat(published)
    except ValueError:
        raise CqkgError(f"--date {published!r}: expected YYYY-MM-DD") from None
    if url:
        from .remote import check_url

        check_url(url)
    result = make_draft(project, Path(article), doc_id, title, publisher, day, url, lang)
    todo = sum(1 for c in result.candidates if c.todo)
    click.echo(
        f"wrote {project.rel(result.text_file)} and {project.rel(result.facts_file)}: "
        f"{len(result.candidates)} candidate observations ({todo} with parts to decide), "
        f"{len(result.new_periods)} new periods, {len(result.ignore_lines)} proposed audit-ignore lines"
    )
    click.echo("next: review each node against its quote (cqkg validate lists what is left), then cqkg audit")


@main.command(name="lookup")
@click.argument("text")
@click.option(
    "--type",
    "kind",
    metavar="TYPE",
    help="Only things of this type: indicator, unit, period, place, organisation, enterprise, cluster, industry, "
    "source, … (an unknown one lists them all).",
)
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--format", "-f", "fmt", type=click.Choice(OUTPUT_FORMATS), default="table", show_default=True)
@pass_project
@user_errors
def lookup_command(project: Project, text: str, kind: str | None, limit: int, fmt: str) -> None:
    """Find the IRI to write for TEXT: things whose English or Chinese label (or IRI) is like it."""
    from .formats import format_result
    from .lookup import lookup

    result = lookup(project, text, kind, limit)
    click.echo(format_result(result, fmt, max_width=60), nl=False)
    if not result.rows:
        log(f"nothing like {text!r}" + (f" of type {kind}" if kind else ""))


@main.command()
@click.option(
    "--verbose", "-v", is_flag=True, help="List every number with what covers it, not only the unaccounted ones."
)
@pass_project
@user_errors
def audit(project: Project, verbose: bool) -> None:
    """Check that every number in the source texts is covered by a fact's quote or ignored with a reason."""
    from . import audit as a

    result = a.run(project)
    click.echo(a.report(result, verbose=verbose))
    sys.exit(0 if result.ok else 1)


if __name__ == "__main__":  # pragma: no cover
    main()
