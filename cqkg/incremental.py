"""Incremental builds: a change to a few seed files costs about those files, not the whole graph.

The previous build's store is copied (a RocksDB backup: hard links, so it costs little) and
changed in place:

1. the changed seed files are parsed alone (sources.load_seeds) and their named graphs replaced;
   a triple leaves the asserted default graph when no file states it any more;
2. the closure follows by delete-and-rederive (maintain.Closure), without domain/range typing,
   which the previous build kept apart (build/incremental.json) and which is taken out first, so
   the default graph is what the checks of a full build see;
3. the node checks (SHACL shapes, the quote check, the curator checks) run again on the nodes
   from which a changed triple can be reached along what they read (their footprints); the
   quality-check queries run whole; the previous report's issues about other nodes stay;
4. the typing of the nodes whose triples changed is derived again (maintain.typing) and added.

Anything it cannot follow builds in full instead, saying why: no previous build, the ontology or
the shapes changed, a seed file states schema (rdfs:subClassOf, OWL terms), a seed file that
does not parse, or more than a quarter of the seed data changed (a full build is then about
as fast). tests/test_incremental.py checks that the store, exports and report equal a full build's
after random sequences of edits.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from .errors import CqkgError
from .footprint import DEFAULT, Chain, affected
from .maintain import Closure, Rules, Triple, typed_nodes, typing
from .project import Project
from .reason import Schema
from .report import Issue
from .sources import TEXT_FILE, Sources, load_seeds
from .terms import INFERRED_GRAPH, OWL, RDFS
from .validate import Scope

STATE_FILE = "incremental.json"  # in build/: what the next incremental build needs of this one

# A full build is about as fast once this share of the seed data (in bytes) changed.
MAX_CHANGED_SHARE = 0.25


class FullBuild(Exception):
    """The change cannot be followed incrementally; the message says why."""


@dataclass(frozen=True)
class Change:
    """What changed since the previous build, as an incremental build needs it."""

    removed: dict[str, str]  # graph IRI -> seed file (relative to the project) whose graph goes
    parsed: list[Path]  # seed files to parse: added or changed
    texts: list[str]  # other changed files under seeds/ (relative to seeds/): article texts
    summary: list[str] = field(default_factory=list)  # "seeds/x.ttl changed", for messages
    saved: dict[str, Any] = field(default_factory=dict)  # the previous build's incremental.json


def read_state(project: Project) -> dict[str, Any] | None:
    """build/incremental.json, or None when it is missing or unreadable."""
    try:
        data = json.loads((project.build_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def state(store: str, typing_triples: Iterable[Triple], issues: Iterable[Issue]) -> dict[str, Any]:
    """What build/incremental.json holds: the store it belongs to, the typing-only triples, the issues."""
    lines = sorted(f"{s} {p} {o} ." for s, p, o in typing_triples)
    return {"store": store, "typing": lines, "issues": [asdict(i) for i in sorted(set(issues))]}


def plan(project: Project, manifest: dict[str, Any] | None, *, always: bool = False) -> Change:
    """The change since the previous build; raises FullBuild when it cannot be followed.

    `always` skips the size limit (tests use it on small projects).
    """
    if manifest is None or not project.store_dir.is_dir():
        raise FullBuild("there is no previous build")
    saved = read_state(project)
    if saved is None or saved.get("store") != manifest.get("store"):
        raise FullBuild("the previous build kept no incremental state")
    if any(line.startswith("_:") for line in saved.get("typing", [])):
        # The build's own blank-node labels are not the store's (its bulk load relabels them).
        raise FullBuild("the previous build typed blank nodes")
    recorded = manifest.get("inputs")
    sources = manifest.get("sources")
    if not isinstance(recorded, dict) or not isinstance(sources, dict):
        raise FullBuild("the previous build's manifest lists no inputs")
    graph_of = {f: g for g, f in sources.items()}
    removed: dict[str, str] = {}
    parsed: list[Path] = []
    texts: list[str] = []
    changes = project.changed_inputs(recorded)
    changed_bytes = 0  # per changed file, the larger of its sizes before and after
    for line in changes:
        rel, verb = line.rsplit(" ", 1)
        if rel.startswith("queries/"):
            continue  # the quality checks run whole anyway
        if not rel.startswith("seeds/"):
            raise FullBuild(f"{rel} {verb}: the ontology or the shapes changed")
        if not rel.endswith(".ttl"):
            texts.append(rel.removeprefix("seeds/"))
            continue
        size = 0
        if verb != "added":
            if rel not in graph_of:
                raise FullBuild(f"{rel}: not in the previous build's list of sources")
            removed[graph_of[rel]] = rel
            size = int(recorded[rel].get("size", 0))
        if verb != "removed":
            path = project.root / rel
            parsed.append(path)
            size = max(size, path.stat().st_size)
        changed_bytes += size
    total = sum(int(v.get("size", 0)) for k, v in recorded.items() if k.startswith("seeds/") and k.endswith(".ttl"))
    if not always and changed_bytes > MAX_CHANGED_SHARE * max(total, 1):
        raise FullBuild(f"{changed_bytes / max(total, 1):.0%} of the seed data changed")
    return Change(removed, sorted(parsed), sorted(texts), changes, saved)


_SCHEMA_PREDICATES = {RDFS + n for n in ("subClassOf", "subPropertyOf", "domain", "range")}


def _schema(t: Triple) -> bool:
    """Does the triple say something about the schema (which changes what every rule and shape means)?"""
    if any(isinstance(x, ox.NamedNode) and x.value.startswith(OWL) for x in t):
        return True
    return t[1].value in _SCHEMA_PREDICATES


def parse_triples(lines: Iterable[str]) -> set[Triple]:
    """N-Triples lines (as state() writes them) back to triples."""
    text = "\n".join(lines).encode()
    return {(t.subject, t.predicate, t.object) for t in ox.parse(text, format=ox.RdfFormat.N_TRIPLES)}


@dataclass
class Applied:
    """A change applied to the working store: what validation and the write need."""

    src: Sources  # the working store and its graphs' files
    asserted: int  # triples asserted (the ontology and the seeds, once each)
    inferred: int  # triples in the inferred graph, typing included
    scope: Scope  # the nodes each node check looks at again
    typing: set[Triple]  # the closure's typing-only triples, not in the store until add_typing
    kept: list[Issue]  # the previous build's issues


def apply(
    project: Project,
    store: ox.Store,
    manifest: dict[str, Any],
    change: Change,
    footprints: dict[str, set[Chain]],
    stage: Callable[[str], None] = lambda name: None,
) -> Applied:
    """Apply `change` to `store`, a copy of the previous build's store; raises FullBuild or CqkgError.

    `stage` is told when inference starts (after parsing), for progress and timings.
    """
    saved = change.saved  # as plan() checked it
    inferred_graph = ox.NamedNode(INFERRED_GRAPH)
    # The previous typing out: the default graph becomes what the checks see.
    typing_before = parse_triples(saved.get("typing", []))
    for t in typing_before:
        store.remove(ox.Quad(*t, DEFAULT))
        store.remove(ox.Quad(*t, inferred_graph))

    try:
        new = load_seeds(project, change.parsed)
    except CqkgError as e:  # a full build reports it, with the other files' problems
        raise FullBuild(f"a changed seed file has a problem ({e})") from None
    graph_files = {g: f for g, f in manifest["sources"].items() if g not in change.removed}
    for g, f in new.graph_files.items():
        if g in graph_files:
            raise FullBuild(f"{f} describes the source document of {graph_files[g]}")
        graph_files[g] = f

    def asserted(t: Triple) -> bool:
        return any(
            isinstance(q.graph_name, ox.NamedNode) and q.graph_name != inferred_graph
            for q in store.quads_for_pattern(t[0], t[1], t[2], None)
        )

    new_quads = list(new.store.quads_for_pattern(None, None, None, None))
    new_triples = {(q.subject, q.predicate, q.object) for q in new_quads}
    stated_before = {t for t in new_triples if asserted(t)}
    old_triples: set[Triple] = set()
    for g in change.removed:
        graph = ox.NamedNode(g)
        old_triples |= {(q.subject, q.predicate, q.object) for q in store.quads_for_pattern(None, None, None, graph)}
        store.remove_graph(graph)
    store.extend(new_quads)
    removed = {t for t in old_triples if not asserted(t)}
    added = new_triples - stated_before
    schema = sorted(str(ox.Triple(*t)) for t in removed | added if _schema(t))
    if schema:
        raise FullBuild(f"the seeds' schema changed ({schema[0]})")

    stage("inference")
    rules = Rules(Schema(store))
    closure = Closure(store, rules, asserted, inferred_graph)
    closure.update(removed, added)

    # A changed article text counts as a change of every cqkg:textFile triple that names it.
    changed = set(closure.changed)
    for rel in change.texts:
        quads = store.quads_for_pattern(None, TEXT_FILE, ox.Literal(rel), DEFAULT)
        changed |= {(q.subject, q.predicate, q.object) for q in quads}
    scope = Scope({check: affected(store, chains, changed) for check, chains in footprints.items()}, footprints)

    nodes = typed_nodes(rules, closure.changed)
    typing_after = {t for t in typing_before if t[0] not in nodes}
    for n in nodes:
        typing_after |= typing(store, rules, n)
    return Applied(
        Sources(store, graph_files),
        int(manifest["asserted_triples"]) + len(added) - len(removed),
        int(manifest["inferred_triples"]) - len(typing_before) + closure.added_inferred - closure.removed_inferred
        + len(typing_after),
        scope,
        typing_after,
        [Issue(**i) for i in saved.get("issues", [])],
    )  # fmt: skip


def add_typing(store: ox.Store, triples: Iterable[Triple]) -> None:
    """Add the typing-only triples to the default and the inferred graph (after validation)."""
    inferred_graph = ox.NamedNode(INFERRED_GRAPH)
    store.extend(q for t in triples for q in (ox.Quad(*t, DEFAULT), ox.Quad(*t, inferred_graph)))
