"""Incremental builds equal full builds (store, exports, report), whatever the sequence of edits."""

from __future__ import annotations

import importlib.util
import random
import shutil
from pathlib import Path

import pyoxigraph as ox
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cqkg import build, reason
from cqkg.errors import CqkgError
from cqkg.export import export_bytes
from cqkg.maintain import Closure, Rules, typed_nodes, typing
from cqkg.manifest import open_store
from cqkg.project import Project
from cqkg.terms import INFERRED_GRAPH, ONTOLOGY_GRAPH, RDF

from conftest import REPO, run_cli

spec = importlib.util.spec_from_file_location("generate", REPO / "benchmarks" / "generate.py")
generate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(generate)

DATA = ox.NamedNode("urn:test:data")
INFERRED = ox.NamedNode(INFERRED_GRAPH)
RECORD = "urn:test:typing"


# --------------------------------------------------------------------------- the closure alone


def _ontology_store() -> ox.Store:
    store = ox.Store()
    for f in sorted((REPO / "ontology").glob("*.ttl")):
        store.bulk_load(path=str(f), format=ox.RdfFormat.TURTLE, to_graph=ox.NamedNode(ONTOLOGY_GRAPH))
    return store


ONTOLOGY = _ontology_store()
_schema_store = ox.Store()
_schema_store.extend(ox.Quad(q.subject, q.predicate, q.object) for q in ONTOLOGY)
SCHEMA = reason.Schema(_schema_store)
# The properties and classes the rules act on: transitive, symmetric, inverse, chained, typed.
PROPERTIES = sorted(
    {*SCHEMA.transitive, *SCHEMA.symmetric, *(p for pair in SCHEMA.inverse for p in pair)}
    | {link for _, links in SCHEMA.chains for link in links}
    | {head for head, _ in SCHEMA.chains}
    | set(SCHEMA.super_props)
    | {p for p, _ in SCHEMA.domain[:8]} | {p for p, _ in SCHEMA.range[:8]},
    key=str,
)  # fmt: skip
CLASSES = sorted(SCHEMA.super_classes, key=str)[:12]
NODES = [ox.NamedNode(f"https://example.org/n{i}") for i in range(6)]
RDF_TYPE = ox.NamedNode(RDF + "type")

triple = st.one_of(
    st.tuples(st.sampled_from(NODES), st.sampled_from(PROPERTIES), st.sampled_from(NODES)),
    st.tuples(st.sampled_from(NODES), st.just(RDF_TYPE), st.sampled_from(CLASSES)),
    st.tuples(st.sampled_from(NODES), st.sampled_from(PROPERTIES), st.just(ox.Literal("x"))),
)


def _closed(asserted: set) -> ox.Store:
    """What a full build does: the named graphs, their union, the untyped closure."""
    store = ox.Store()
    store.extend(ONTOLOGY)
    store.extend(ox.Quad(*t, DATA) for t in asserted)
    store.update("INSERT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }")
    reason.materialise(store, typing=False)
    return store


def _graphs(store: ox.Store) -> tuple[set, set]:
    default = {q.triple for q in store.quads_for_pattern(None, None, None, ox.DefaultGraph())}
    inferred = {q.triple for q in store.quads_for_pattern(None, None, None, INFERRED)}
    return default, inferred


@settings(max_examples=150, deadline=None)
@given(st.sets(triple, max_size=14), st.sets(triple, max_size=14), st.randoms(use_true_random=False))
def test_dred_update_equals_a_fresh_closure(before, extra, rnd):
    after = {t for t in before if rnd.random() < 0.6} | extra
    store = _closed(before)
    store.remove_graph(DATA)
    store.extend(ox.Quad(*t, DATA) for t in after)

    def asserted(t):
        return any(
            isinstance(q.graph_name, ox.NamedNode) and q.graph_name != INFERRED
            for q in store.quads_for_pattern(t[0], t[1], t[2], None)
        )

    rules = Rules(reason.Schema(store))
    closure = Closure(store, rules, asserted, INFERRED)
    closure.update(before - after, after - before)
    fresh = _closed(after)
    assert _graphs(store) == _graphs(fresh)

    # Typing, node by node, equals the full typing pass over the fresh closure.
    nodes = typed_nodes(rules, {(q.subject, q.predicate, q.object) for q in fresh})
    ours = set().union(*(typing(store, rules, n) for n in nodes)) if nodes else set()
    reason.materialise(fresh, untyped_done=True, record=RECORD)
    theirs = {
        (q.subject, q.predicate, q.object) for q in fresh.quads_for_pattern(None, None, None, ox.NamedNode(RECORD))
    }
    assert ours == theirs


# --------------------------------------------------------------------------- whole projects


@pytest.fixture(scope="module")
def pool(tmp_path_factory) -> Path:
    """A small synthetic project; a few of its articles are held back, to be added by the edits."""
    root = tmp_path_factory.mktemp("incremental") / "p"
    generate.generate(4_000, root, per_article=400)
    spare = root.parent / "spare"
    spare.mkdir()
    articles = sorted((root / "seeds").glob("synthetic-0*.ttl"))
    for ttl in articles[-3:]:
        for f in (ttl, ttl.with_suffix(".txt")):
            f.rename(spare / f.name)
    return root


def _blocks(text: str) -> list[str]:
    return text.split("\n\n")


def _edit(root: Path, spare: Path, originals: dict[str, str], op: str, rnd: random.Random) -> str:
    """Apply one random edit of kind `op` to the project; say what it did."""
    seeds = root / "seeds"
    articles = sorted(p for p in seeds.glob("synthetic-*.ttl"))
    if op == "add":
        new = sorted(spare.glob("*.ttl"))
        if not new:
            return "nothing to add"
        ttl = rnd.choice(new)
        for f in (ttl, ttl.with_suffix(".txt")):
            shutil.copy(f, seeds / f.name)
            f.unlink()
        return f"added {ttl.name}"
    if op == "delete":
        ttl = rnd.choice([a for a in articles if "structure" not in a.name] or articles)
        for f in (ttl, ttl.with_suffix(".txt")):
            shutil.copy(f, spare / f.name)
            f.unlink()
        return f"deleted {ttl.name}"
    ttl = rnd.choice(articles)
    text = ttl.read_text(encoding="utf-8")
    originals.setdefault(ttl.name, text)
    blocks = _blocks(text)
    if op == "drop-block" and len(blocks) > 2:
        i = rnd.randrange(1, len(blocks))
        ttl.write_text("\n\n".join(blocks[:i] + blocks[i + 1 :]), encoding="utf-8")
        return f"dropped block {i} of {ttl.name}"
    if op == "copy-block":  # the same triples stated in two files
        other = rnd.choice(articles)
        block = rnd.choice(_blocks(other.read_text(encoding="utf-8"))[1:] or [""])
        ttl.write_text(text.rstrip("\n") + "\n\n" + block + "\n", encoding="utf-8")
        return f"copied a block of {other.name} into {ttl.name}"
    if op == "relate":  # relations the rules follow: transitive, chains, inverses, typing
        subjects = sorted({line.split()[0] for line in text.splitlines() if line.startswith("cq:")})
        structure = (seeds / "synthetic-structure.ttl").read_text(encoding="utf-8")
        places = sorted(
            {w for w in structure.split() if w.startswith(("cq:SynDistrict", "cq:SynCluster", "cq:SynTier"))}
        )
        if not subjects or not places:
            return "nothing to relate"
        predicate = rnd.choice(
            ["cqkg:locatedIn", "cqkg:memberOf", "cqkg:subGroupingOf", "cqkg:partOf", "cqkg:inCluster"]
        )
        line = f"\n{rnd.choice(subjects + places)} {predicate} {rnd.choice(places).rstrip(' ;.,')} .\n"
        ttl.write_text(text + line, encoding="utf-8")
        return f"related in {ttl.name}: {line.strip()}"
    if op == "text":  # an article's text loses a sentence
        txt = ttl.with_suffix(".txt")
        if txt.exists():
            sentences = txt.read_text(encoding="utf-8").split(". ")
            if len(sentences) > 1:
                del sentences[rnd.randrange(len(sentences))]
                txt.write_text(". ".join(sentences), encoding="utf-8")
                return f"cut a sentence of {txt.name}"
        return "no text to cut"
    if op == "revert" and ttl.name in originals:
        ttl.write_text(originals.pop(ttl.name), encoding="utf-8")
        return f"reverted {ttl.name}"
    return "no edit"


def _build(root: Path, how: str, logs: list[str] | None = None) -> build.BuildResult | str:
    """A build's result, or the one-line error it stops with (bad input refuses both ways alike)."""
    try:
        return build.run(Project(root), incremental=how, log=(logs if logs is not None else []).append)
    except CqkgError as e:
        return f"error {e.exit_code}: {e}"


def _outcome(root: Path, result: build.BuildResult | str) -> tuple:
    """What must be equal: the report, the counts, and when written the store's exports."""
    if isinstance(result, str):
        return (result,)
    out: tuple = (result.report.text(), result.written, result.asserted, result.inferred, result.sources)
    if result.written:
        store = open_store(Project(root))
        out += (export_bytes(store, "nquads")[0], export_bytes(store, "nt")[0])
    return out


OPS = ["add", "delete", "drop-block", "copy-block", "relate", "text", "revert"]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(OPS), min_size=2, max_size=5), st.randoms(use_true_random=False))
def test_incremental_build_equals_full_build_after_random_edits(pool, tmp_path_factory, ops, rnd):
    work = tmp_path_factory.mktemp("edits")
    root, spare = work / "p", work / "spare"
    shutil.copytree(pool, root)
    shutil.copytree(pool.parent / "spare", spare)
    assert build.run(Project(root), incremental="never").written
    originals: dict[str, str] = {}
    incremental_runs = 0
    for op in ops:
        what = _edit(root, spare, originals, op, rnd)
        logs: list[str] = []
        ours = _build(root, "always", logs)
        incremental_runs += any(line.startswith("updating the previous build") for line in logs)
        full = work / "full"
        shutil.rmtree(full, ignore_errors=True)
        shutil.copytree(root, full, ignore=shutil.ignore_patterns("build"))
        theirs = _build(full, "never")
        assert _outcome(root, ours) == _outcome(full, theirs), f"after {what} ({logs})"
    assert incremental_runs > 0  # the edits above parse: at least one is followed in place


def test_build_says_what_changed_and_updates_in_place(tmp_path, pool):
    root = tmp_path / "p"
    shutil.copytree(pool, root)
    assert run_cli(root, "build").exit_code == 0
    article = sorted((root / "seeds").glob("synthetic-0*.ttl"))[0]
    blocks = _blocks(article.read_text(encoding="utf-8"))
    article.write_text("\n\n".join(blocks[:-1]) + "\n", encoding="utf-8")  # one observation fewer
    result = run_cli(root, "build")
    assert result.exit_code == 0, result.output
    assert f"updating the previous build: seeds/{article.name} changed" in result.stderr
    full = run_cli(root, "build", "--full")
    assert "updating the previous build" not in full.stderr
    assert full.stdout.split("(parse")[0] == result.stdout.split("(parse")[0]  # the same counts


def test_ontology_change_builds_in_full(tmp_path, pool):
    root = tmp_path / "p"
    shutil.copytree(pool, root)
    assert run_cli(root, "build").exit_code == 0
    onto = root / "ontology" / "cqkg.ttl"
    onto.write_text(onto.read_text(encoding="utf-8") + "\n# a comment\n", encoding="utf-8")
    result = run_cli(root, "build")
    assert result.exit_code == 0
    assert "building in full: ontology/cqkg.ttl changed: the ontology or the shapes changed" in result.stderr


def test_schema_in_a_seed_builds_in_full(tmp_path, pool):
    root = tmp_path / "p"
    shutil.copytree(pool, root)
    assert run_cli(root, "build").exit_code == 0
    article = sorted((root / "seeds").glob("synthetic-0*.ttl"))[0]
    text = article.read_text(encoding="utf-8")
    article.write_text(text + "\ncqkg:Enterprise rdfs:subClassOf cqkg:Place .\n", encoding="utf-8")
    result = run_cli(root, "validate")
    assert "building in full: the seeds' schema changed" in result.stderr


# --------------------------------------------------------------------------- footprints of quality checks

PREFIX = "PREFIX c: <https://w3id.org/cqkg/ontology#> PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> "
C = "https://w3id.org/cqkg/ontology#"


@pytest.mark.parametrize(
    "query,chains",
    [
        ("SELECT ?focus WHERE { ?focus c:period ?p . ?p c:startDate ?d FILTER(?d > 1) }",
         {((C + "period", True),), ((C + "period", True), (C + "startDate", True))}),
        ("SELECT ?focus (COUNT(?m) AS ?n) WHERE { ?m c:memberOf ?focus FILTER NOT EXISTS { ?focus a c:X } } "
         "GROUP BY ?focus", {((C + "memberOf", False),), ((RDF + "type", True),)}),
        ("SELECT ?focus WHERE { { SELECT ?focus WHERE { ?focus ?p ?o } GROUP BY ?focus } MINUS { ?focus a ?t } }",
         {((None, True),), ((RDF + "type", True),)}),
        # what the analysis cannot bound runs whole:
        ("SELECT ?focus WHERE { ?s ?focus ?o }", None),  # the focus as a predicate
        ("SELECT ?focus WHERE { ?focus c:partOf+ ?x }", None),  # a property path
        ("SELECT ?focus WHERE { ?focus c:value ?v . ?x c:value ?w }", None),  # a pattern not linked to it
        ("SELECT ?focus WHERE { ?focus c:value ?v } LIMIT 3", None),
        ("SELECT ?focus (COUNT(*) AS ?n) WHERE { ?focus c:value ?v . ?v c:x ?n2 } GROUP BY ?v", None),
        ("SELECT ?focus WHERE { GRAPH ?g { ?focus c:value ?v } }", None),
        ("SELECT ?focus WHERE { OPTIONAL { ?focus c:value ?v } }", None),  # the focus may be unbound
    ],
)  # fmt: skip
def test_quality_query_footprints(query, chains, tmp_path):
    from cqkg.footprint import query_footprint
    from cqkg.sparql import ServiceCheckCache

    assert query_footprint(PREFIX + query) == chains
    cache = tmp_path / "checks.json"
    assert ServiceCheckCache(cache).footprint(PREFIX + query) == chains
    assert ServiceCheckCache(cache).footprint(PREFIX + query) == chains  # read back from the file
