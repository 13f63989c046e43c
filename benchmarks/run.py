"""Benchmark the cqkg build against the naive pipeline on synthetic graphs.

    python benchmarks/run.py --sizes 10k,100k   # ~3 min on 2 cores
    python benchmarks/run.py --sizes 1M         # on request: ~21 min, ~10 of them the naive path

For each size it generates a synthetic project (benchmarks/generate.py, cached under
benchmarks/out/), then runs, each in a fresh process so peak memory is per run:

  cqkg   the real build (cqkg.build.run: native parse, targeted OWL-RL rules, SPARQL-compiled
         SHACL + quality queries + quote check, store written), then `cqkg export`
         (Turtle from the built store) and every saved query (through the catalogue, and the
         same SPARQL text directly on pyoxigraph, for the overhead ratio);
  naive  rdflib parse -> owlrl full closure -> pyshacl -> rdflib Turtle serialisation;
  raw    pyoxigraph alone: bulk-parse the same files, dump Turtle (the floor).

It prints the median of --runs runs per stage, peak RSS, and the ratios the issue asks for.
Then, on a copy of the built project, it adds a ~100-triple article (and, apart, drops one fact
of an article) and times `cqkg build` and `cqkg validate` updating the previous build against
the same commands with --full, on the same inputs, in alternating order.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

OUT = HERE / "out"
# Parameters that point the saved queries at synthetic data (their defaults name real things).
SYNTHETIC_PARAMS = {
    "metrics-for-subject": {"subject": "cq:SynEnt00001-1"},
    "facts-from-source": {"source": "src:synthetic-00001"},
    "fastest-growing": {"year": "2024"},
}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def project_files(root: Path) -> list[Path]:
    return sorted((root / "ontology").glob("*.ttl")) + sorted((root / "seeds").glob("*.ttl"))


# --------------------------------------------------------------------------- children (one run each)


def child_cqkg(root: Path, query_repeats: int) -> dict:
    import shutil

    from cqkg import build
    from cqkg.catalog import Catalog
    from cqkg.export import export_bytes
    from cqkg.project import Project
    from cqkg.queries import run_local
    from cqkg.sparql import ServiceCheckCache, with_values

    project = Project.at(root)
    shutil.rmtree(project.build_dir, ignore_errors=True)
    t0 = time.perf_counter()
    # The SERVICE check of each query text is remembered across runs, as the CLI does in
    # ~/.cache/cqkg: the benchmark measures the build, not rdflib's one-time import and parse.
    checks = ServiceCheckCache(root.parent / "query-checks.json")
    result = build.run(project, service_checks=checks)
    total = time.perf_counter() - t0
    if not result.report.conforms:
        raise SystemExit(f"synthetic project does not validate:\n{result.report.text()[:2000]}")
    times = {f"build: {k}": v for k, v in result.timings.items()}
    times["build: total"] = total
    store = build.open_store(project)
    t = time.perf_counter()
    data, _ = export_bytes(store, "turtle")
    times["export turtle (from store)"] = time.perf_counter() - t
    queries = {}
    for q in Catalog(project).all():
        b = q.bindings(SYNTHETIC_PARAMS.get(q.name, {}))
        text = with_values(q.text, b)  # the text cqkg runs: the comparison measures cqkg's own overhead
        ours, direct = [], []

        def time_ours():
            t = time.perf_counter()
            run_local(store, q, b, checks=checks)
            return time.perf_counter() - t

        def time_direct():
            nonlocal rows
            t = time.perf_counter()
            res = store.query(text)
            rows = [tuple(s[v] for v in res.variables) for s in res]
            return time.perf_counter() - t

        rows = []
        # One untimed run of each first: the first read of a freshly built store waits on
        # RocksDB's caches (up to 3 ms on a 0.1 ms query at 1M), which is not the query's cost.
        # Then alternate which goes first, so neither side always follows the other.
        time_ours()
        time_direct()
        for i in range(query_repeats):
            if i % 2:
                direct.append(time_direct())
            ours.append(time_ours())
            if not i % 2:
                direct.append(time_direct())
        queries[q.name] = (statistics.median(ours), statistics.median(direct), len(rows))
    return {
        "times": times,
        "queries": queries,
        "asserted": result.asserted,
        "inferred": result.inferred,
        "peak_mb": peak_mb(),
    }


def child_naive(root: Path) -> dict:
    import owlrl
    import pyshacl
    import rdflib

    times = {}
    t = time.perf_counter()
    g = rdflib.Graph()
    for f in project_files(root):
        g.parse(f, format="turtle")
    times["parse (rdflib)"] = time.perf_counter() - t
    asserted = len(g)
    t = time.perf_counter()
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics, axiomatic_triples=False, datatype_axioms=False).expand(g)
    times["inference (owlrl)"] = time.perf_counter() - t
    shapes = rdflib.Graph()
    for f in sorted((root / "shapes").glob("*.ttl")):
        shapes.parse(f, format="turtle")
    t = time.perf_counter()
    conforms, _, _ = pyshacl.validate(g, shacl_graph=shapes, inference="none", advanced=True, allow_warnings=True)
    times["validation (pyshacl)"] = time.perf_counter() - t
    t = time.perf_counter()
    g.serialize(format="turtle")
    times["export turtle (rdflib)"] = time.perf_counter() - t
    times["total"] = sum(times.values())
    return {"times": times, "asserted": asserted, "total_triples": len(g), "conforms": conforms, "peak_mb": peak_mb()}


def child_raw(root: Path) -> dict:
    import pyoxigraph as ox

    t = time.perf_counter()
    store = ox.Store()
    for f in project_files(root):
        store.bulk_load(path=str(f), format=ox.RdfFormat.TURTLE)
    parse = time.perf_counter() - t
    t = time.perf_counter()
    store.dump(format=ox.RdfFormat.TURTLE, from_graph=ox.DefaultGraph())
    dump = time.perf_counter() - t
    return {
        "times": {"parse (pyoxigraph)": parse, "dump turtle (pyoxigraph)": dump, "total": parse + dump},
        "triples": len(store),
        "peak_mb": peak_mb(),
    }


def run_child(kind: str, root: Path, query_repeats: int = 5) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, "--project", str(root), "--query-repeats", str(query_repeats)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} run failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- the table


def medians(runs: list[dict], key: str = "times") -> dict:
    names = list(runs[0][key])
    return {n: statistics.median(r[key][n] for r in runs) for n in names}


def cold_start(repeats: int = 7) -> float:
    """`cqkg query sources` on the seed graph (built first), as a user runs it."""
    repo = HERE.parent
    env = {**os.environ, "CQKG_PROJECT": str(repo)}
    exe = [sys.executable, "-m", "cqkg.cli"]
    subprocess.run(exe + ["build"], env=env, capture_output=True, check=True)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run(exe + ["query", "cluster-targets", "-f", "csv"], env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def fmt_s(x: float) -> str:
    return f"{x:.2f}" if x >= 0.1 else f"{x * 1000:.1f} ms"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10k,100k", help="comma-separated sizes (default 10k,100k)")
    ap.add_argument("--runs", type=int, default=3, help="runs per path and size (median is shown)")
    ap.add_argument(
        "--naive-runs",
        type=int,
        help="runs of the naive path (default: --runs below 100k triples, else 1: it takes minutes)",
    )
    ap.add_argument("--query-repeats", type=int, default=3, help="repeats per saved query within a run")
    ap.add_argument("--no-naive", action="store_true", help="skip the naive pipeline")
    ap.add_argument("--no-incremental", action="store_true", help="skip the incremental build and validate")
    ap.add_argument("--child", choices=["cqkg", "naive", "raw"], help=argparse.SUPPRESS)
    ap.add_argument("--project", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        fn = {
            "cqkg": lambda: child_cqkg(args.project, args.query_repeats),
            "naive": lambda: child_naive(args.project),
            "raw": lambda: child_raw(args.project),
        }[args.child]
        print(json.dumps(fn()))
        return

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )
    import pyoxigraph
    import pyshacl
    import rdflib

    print(f"rdflib {rdflib.__version__}, pyshacl {pyshacl.__version__}, pyoxigraph {pyoxigraph.__version__}")
    print(f"cqkg query cold start on the seed graph (cluster-targets, median of 7): {fmt_s(cold_start())}\n")

    sizes = [x.strip() for x in args.sizes.split(",")]
    from cqkg.cli import Stages  # the progress line of cqkg's own long commands: rich, terminal only

    steps = 2 * args.runs + (0 if args.no_naive else 1) + (0 if args.no_incremental else 1 + 8 * args.runs)
    progress = Stages("benchmark", len(sizes) * steps)
    per_size: dict[str, dict[str, tuple[float, int]]] = {}  # size -> query -> (median time, rows)
    try:
        for size_text in sizes:
            run_size(size_text, args, progress, per_size)
    finally:
        progress.close()
    if len(per_size) > 1:
        growth_table(per_size)


def growth_table(per_size: dict[str, dict[str, tuple[float, int]]]) -> None:
    """Each saved query's time at every size, its growth between the last two sizes and against the first."""
    sizes = list(per_size)
    first, prev, last = sizes[0], sizes[-2], sizes[-1]
    print("### Saved queries by size (cqkg, median)\n")
    head = " | ".join(f"{s} (rows)" for s in sizes)
    print(f"| saved query | {head} | growth {prev}→{last} | {last} / {first} |")
    print("|---|" + "---:|" * (len(sizes) + 2))
    worst = 0.0
    for name in sorted(per_size[last]):
        cells = [f"{fmt_s(per_size[s][name][0])} ({per_size[s][name][1]})" for s in sizes if name in per_size[s]]
        growth = per_size[last][name][0] / per_size[prev][name][0] if name in per_size[prev] else float("nan")
        against_first = per_size[last][name][0] / per_size[first][name][0] if name in per_size[first] else float("nan")
        worst = max(worst, growth)
        print(f"| {name} | " + " | ".join(cells) + f" | {growth:.1f}× | {against_first:.1f}× |")
    print(f"\nworst growth {prev}→{last}: {worst:.1f}× (linear would be the ratio of the sizes)\n")


def cqkg_seconds(root: Path, *args: str, expect: str | None = None) -> float:
    """Wall time of one `cqkg` command on the project, in a fresh process (as a curator runs it)."""
    cmd = [sys.executable, "-m", "cqkg", "--project", str(root), *args]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    took = time.perf_counter() - t
    if proc.returncode != 0 or (expect is not None and expect not in proc.stderr):
        sys.exit(f"benchmark: {' '.join(args)} did not do what was measured:\n{proc.stderr[-2000:]}")
    return took


def _restore(build: Path, saved: Path) -> None:
    shutil.rmtree(build, ignore_errors=True)
    shutil.copytree(saved, build, symlinks=True)


def incremental_table(size_text: str, root: Path, runs: int, progress: Callable[[str], None]) -> None:
    """Time `cqkg build` and `cqkg validate` after one small change, incremental against full.

    Each run starts from the same built project (a saved copy of build/), makes the change, and
    times the incremental and the full command on the same inputs, in alternating order.
    """
    from generate import add_article

    work = OUT / f"{root.name}-incremental"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(root, work, ignore=shutil.ignore_patterns("build", ".generator-sha256"))
    build, saved = work / "build", work / "build.base"
    progress(f"{size_text}: incremental: the base build")
    cqkg_seconds(work, "build", "--full")
    shutil.copytree(build, saved, symlinks=True)
    first = sorted((work / "seeds").glob("synthetic-0*.ttl"))[0]
    original = first.read_text(encoding="utf-8")

    def add() -> Callable[[], None]:
        made = add_article(work, budget=100)
        return lambda: [p.unlink() for p in made]  # type: ignore[func-returns-value]

    def edit() -> Callable[[], None]:  # drop the article's last fact (an observation)
        blocks = original.rstrip("\n").split("\n\n")
        first.write_text("\n\n".join(blocks[:-1]) + "\n", encoding="utf-8")
        return lambda: first.write_text(original, encoding="utf-8")

    cases = [("add an article of ~100 triples", add), (f"edit {first.name}: drop its last fact", edit)]
    rows = []
    for label, change in cases:
        times: dict[str, list[float]] = {}
        for i in range(runs):
            _restore(build, saved)
            undo = change()
            for command in ("build", "validate"):
                order = ("incremental", "full") if (i + (command == "validate")) % 2 == 0 else ("full", "incremental")
                for how in order:
                    progress(f"{size_text}: {label}: {how} {command} {i + 1}/{runs}")
                    if how == "full":
                        took = cqkg_seconds(work, command, "--full", expect=None)
                        if command == "build":
                            _restore(build, saved)
                    else:
                        took = cqkg_seconds(work, command, expect="updating the previous build")
                        if command == "build":
                            _restore(build, saved)
                    times.setdefault(f"{command} {how}", []).append(took)
            undo()
        for command in ("build", "validate"):
            inc = statistics.median(times[f"{command} incremental"])
            full = statistics.median(times[f"{command} full"])
            rows.append((label, command, inc, full))
    shutil.rmtree(work, ignore_errors=True)
    print(f"Incremental, {size_text} (a fresh `cqkg` process each, median of {runs} runs):\n")
    print("| change | command | incremental | full (`--full`) | full / incremental |")
    print("|---|---|---:|---:|---:|")
    for label, command, inc, full in rows:
        print(f"| {label} | `cqkg {command}` | {fmt_s(inc)} | {fmt_s(full)} | {full / inc:.1f}× |")
    print()
    sys.stdout.flush()


def run_size(size_text: str, args: argparse.Namespace, progress: Callable[[str], None], per_size: dict) -> None:
    """Generate (or reuse) one synthetic project, time every path on it and print its tables."""
    from generate import generate, parse_size, sync_repo_dirs

    size = parse_size(size_text)
    root = OUT / f"p{size_text.strip().lower()}"
    # The cache is regenerated when the generator changed (its output must pass today's checks).
    made_by = hashlib.sha256((Path(__file__).parent / "generate.py").read_bytes()).hexdigest()
    stamp = root / ".generator-sha256"
    if not (root / "seeds").is_dir() or not stamp.is_file() or stamp.read_text().strip() != made_by:
        print(f"generating {root} ...", file=sys.stderr)
        shutil.rmtree(root, ignore_errors=True)
        generate(size, root)
        stamp.write_text(made_by + "\n")
    sync_repo_dirs(root)
    # The runs whose ratio is reported alternate (cqkg, floor, floor, cqkg, …), so a change of
    # machine load during the benchmark lands on both sides instead of on one.
    ours, raw = [], []
    for i in range(args.runs):
        for kind in ("cqkg", "raw") if i % 2 == 0 else ("raw", "cqkg"):
            progress(f"{size_text}: {kind} run {i + 1}/{args.runs}")
            if kind == "cqkg":
                ours.append(run_child("cqkg", root, args.query_repeats))
            else:
                raw.append(run_child("raw", root))
    naive_runs = args.naive_runs or (args.runs if size < 100_000 else 1)
    naive = []
    if not args.no_naive:
        progress(f"{size_text}: naive pipeline ({naive_runs} run(s), minutes from 100k)")
        naive = [run_child("naive", root) for _ in range(naive_runs)]
    o, r = medians(ours), medians(raw)
    total = ours[0]["asserted"] + ours[0]["inferred"]
    print(
        f"## {size_text}: {ours[0]['asserted']} triples asserted, {total} after inference "
        f"(median of {args.runs} runs; naive: {len(naive)})\n"
    )
    print("| stage | cqkg | naive | speed-up |")
    print("|---|---:|---:|---:|")
    n = medians(naive) if naive else {}
    pairs = [
        ("parse", "build: parse", "parse (rdflib)"),
        ("inference", "build: inference", "inference (owlrl)"),
        ("validation (SHACL, quotes, checks)", "build: validation", "validation (pyshacl)"),
        ("write store / export Turtle", "build: write", "export turtle (rdflib)"),
        ("**whole build**", "build: total", "total"),
    ]
    for label, ok, nk in pairs:
        nv = n.get(nk)
        print(f"| {label} | {fmt_s(o[ok])} | {fmt_s(nv) if nv else '–'} | {f'{nv / o[ok]:.1f}×' if nv else '–'} |")
    print(f"| export Turtle from the built store | {fmt_s(o['export turtle (from store)'])} | | |")
    print(
        f"| raw pyoxigraph parse + dump (floor) | {fmt_s(r['total'])} | | "
        f"build is {o['build: total'] / r['total']:.1f}× the floor |"
    )
    peak = statistics.median(x["peak_mb"] for x in ours)
    npeak = statistics.median(x["peak_mb"] for x in naive) if naive else None
    print(f"| peak memory (RSS) | {peak:.0f} MB | {f'{npeak:.0f} MB' if npeak else '–'} | |")
    print()
    print("| saved query | rows | cqkg | pyoxigraph direct | ratio |")
    print("|---|---:|---:|---:|---:|")
    names = sorted(ours[0]["queries"])
    ratios, timed = [], []  # timed: queries long enough that the ratio is not timer noise
    for name in names:
        mine = statistics.median(x["queries"][name][0] for x in ours)
        direct = statistics.median(x["queries"][name][1] for x in ours)
        rows = ours[0]["queries"][name][2]
        ratio = mine / direct if direct else float("nan")
        ratios.append(ratio)
        if direct >= 0.01:
            timed.append(ratio)
        print(f"| {name} | {rows} | {fmt_s(mine)} | {fmt_s(direct)} | {ratio:.2f} |")
        per_size.setdefault(size_text, {})[name] = (mine, rows)
    print(
        f"\nsaved-query ratio (cqkg / direct): median {statistics.median(ratios):.2f}, "
        f"worst {max(ratios):.2f}; worst over the {len(timed)} queries taking 10 ms or more: "
        f"{max(timed) if timed else float('nan'):.2f}\n"
    )
    sys.stdout.flush()
    if not args.no_incremental:
        incremental_table(size_text, root, args.runs, progress)


if __name__ == "__main__":
    main()
