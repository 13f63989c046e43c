"""A release: the built graph as files others load, describe and check, built never hand-edited.

`cqkg release --version X.Y.Z -o dist/` writes (all deterministic for the same inputs and date):

  cqkg-X.Y.Z.ttl            the whole graph (asserted + inferred) as Turtle
  cqkg-X.Y.Z.nq.gz          the same as N-Quads, one named graph per source document, one for the
                            ontology, one for inferred triples: the form bulk loaders take
  cqkg-X.Y.Z-ontology.ttl   the ontology, owl:versionIRI and owl:versionInfo set to this version
  cqkg-X.Y.Z-shapes.ttl     the SHACL shapes the graph was validated with
  validation-report.ttl     that validation as a SHACL report (sh:ValidationReport)
  ontology.html             the ontology documented by pyLODE, English and Chinese labels
  CHANGELOG.md, changelog.json   what changed, fact by fact, since the previous release
  void.ttl                  VoID + DCAT: triples per graph, classes, sources, licence, version,
                            each file with its size and SHA-256
  SHA256SUMS                every file's SHA-256 (`sha256sum -c SHA256SUMS`)
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyoxigraph as ox

from .diff import Version, diff, open_version, split_graphs
from .errors import CqkgError
from .export import export_bytes, graph_bytes, triples_bytes
from .project import Project, git, replace_folder
from .rdfstore import count, dump, select
from .report import Report, report_rdf
from .terms import CQKG, DCTERMS, GRAPH, INFERRED_GRAPH, ONTOLOGY_GRAPH, OWL, RDF, RDFS, SRC, XSD

Log = Callable[[str], None]

ONTOLOGY = "https://w3id.org/cqkg/ontology"
DATASET = "https://w3id.org/cqkg/dataset"
DOWNLOADS = "https://w3id.org/cqkg/release/"  # + version + "/" + file name, unless --base-url
VOID = "http://rdfs.org/ns/void#"
DCAT = "http://www.w3.org/ns/dcat#"
SPDX = "http://spdx.org/rdf/terms#"
SD = "http://www.w3.org/ns/sparql-service-description#"
VOID_PREFIXES = {"void": VOID, "dcat": DCAT, "spdx": SPDX, "sd": SD, "dcterms": DCTERMS, "xsd": XSD,
                 "owl": OWL, "rdfs": RDFS, "cqkg": CQKG}  # fmt: skip
MEDIA_TYPES = {
    ".ttl": "text/turtle", ".nq": "application/n-quads", ".html": "text/html", ".md": "text/markdown",
    ".json": "application/json",
}  # fmt: skip
_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


def parse_version(text: str) -> tuple[int, int, int]:
    """X.Y.Z as three numbers; a CqkgError for anything else.

    >>> parse_version("1.10.0") > parse_version("1.9.3")
    True
    """
    m = _SEMVER.match(text)
    if not m:
        raise CqkgError(f"version {text!r}: give it as MAJOR.MINOR.PATCH, e.g. 0.2.0")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


@dataclass(frozen=True)
class ReleaseOptions:
    """What to release: the version, the previous release to compare with, the date, download URLs."""

    version: str
    previous: str | None = None  # git revision, release folder or export; None: the newest older vX.Y.Z tag
    first: bool = False  # no previous release: the changelog lists no changes
    issued: str | None = None  # YYYY-MM-DD; None: the date of the last commit, else today
    base_url: str | None = None  # where the files will be downloadable; default DOWNLOADS/<version>/


def previous_tag(project: Project, version: str) -> str | None:
    """The newest git tag vA.B.C older than `version` in the project's repository, or None."""
    try:
        tags = git(project.root, "tag", "--list", "v*").decode().split()
    except CqkgError:
        return None  # no repository (or no git): a first release
    older = [t for t in tags if _SEMVER.match(t[1:]) and parse_version(t[1:]) < parse_version(version)]
    return max(older, key=lambda t: parse_version(t[1:]), default=None)


def release_date(project: Project, issued: str | None) -> str:
    """The release date: as given, else the last commit's (so a rebuild gives the same files), else today."""
    if issued:
        try:
            return date.fromisoformat(issued).isoformat()
        except ValueError:
            raise CqkgError(f"date {issued!r}: give it as YYYY-MM-DD") from None
    try:
        return git(project.root, "log", "-1", "--format=%cs").decode().strip() or date.today().isoformat()
    except CqkgError:
        return date.today().isoformat()


def versioned_store(built: ox.Store, version: str, prior: str | None) -> ox.Store:
    """A copy of the built store whose ontology carries this version (owl:versionIRI, versionInfo,
    and owl:priorVersion when there is a previous release), in its graph and the default graph."""
    store = ox.Store()
    store.bulk_load(dump(built, ox.RdfFormat.N_QUADS), format=ox.RdfFormat.N_QUADS)
    prior_triple = f"?o <{OWL}priorVersion> <{ONTOLOGY}/{prior}> ." if prior else ""
    new = f"?o <{OWL}versionIRI> <{ONTOLOGY}/{version}> ; <{OWL}versionInfo> {json.dumps(version)} . {prior_triple}"
    version_props = f"<{OWL}versionIRI>, <{OWL}versionInfo>, <{OWL}priorVersion>"
    for open_, close in ((f"GRAPH <{ONTOLOGY_GRAPH}> {{", "}"), ("", "")):
        store.update(f"""
            DELETE {{ {open_} ?o ?p ?v {close} }} WHERE {{ {open_} ?o a <{OWL}Ontology> ; ?p ?v
              FILTER(?p IN ({version_props})) {close} }} ;
            INSERT {{ {open_} {new} {close} }} WHERE {{ {open_} ?o a <{OWL}Ontology> {close} }}""")
    return store


def make_release(
    project: Project, built: ox.Store, report: Report, out: Path, opts: ReleaseOptions, log: Log = lambda _: None
) -> list[str]:
    """Write the release into `out` (replaced whole, so a failure leaves the old folder); return its files."""
    version = opts.version
    parse_version(version)
    issued = release_date(project, opts.issued)
    previous_spec = None if opts.first else (opts.previous or previous_tag(project, version))
    previous = open_version(previous_spec, project) if previous_spec else None
    prior = _version_of(previous) if previous else None
    store = versioned_store(built, version, prior)
    base = opts.base_url or f"{DOWNLOADS}{version}/"
    if not base.endswith("/"):
        base += "/"
    name = f"cqkg-{version}"
    from .validate import shapes_store

    shapes = [q.triple for q in shapes_store(project)]
    current = split_graphs(f"cqkg {version}", store.quads_for_pattern(None, None, None, None), shapes)
    if previous_spec:
        log(f"describing the changes since {previous_spec}")
    elif not opts.first:
        log(f"note: no git tag vA.B.C older than {version}: released as a first release (no changelog to compare)")
    changes = diff(previous, current) if previous else None

    files: dict[str, bytes] = {}
    files[f"{name}.ttl"] = export_bytes(store, "turtle")[0]
    files[f"{name}.nq.gz"] = gzip.compress(export_bytes(store, "nquads")[0], compresslevel=9, mtime=0)
    files[f"{name}-ontology.ttl"] = graph_bytes(store, ONTOLOGY_GRAPH)
    files[f"{name}-shapes.ttl"] = triples_bytes(shapes)
    files["validation-report.ttl"] = report_rdf(report)
    log("documenting the ontology (pyLODE)")
    from .ontodocs import ontology_html

    files["ontology.html"] = ontology_html(files[f"{name}-ontology.ttl"])
    title = f"cqkg {version} ({issued})"
    if changes is not None:
        files["CHANGELOG.md"] = changes.as_markdown(f"{title}: changes since {previous_spec}").encode()
        files["changelog.json"] = changes.as_json().encode()
    else:
        files["CHANGELOG.md"] = _first_release_notes(store, title).encode()
    files["void.ttl"] = void_description(store, version, issued, prior, base, files)
    sums = "".join(f"{hashlib.sha256(data).hexdigest()}  {f}\n" for f, data in sorted(files.items()))
    files["SHA256SUMS"] = sums.encode()

    def write(folder: Path) -> None:
        for f, data in files.items():
            (folder / f).write_bytes(data)

    replace_folder(out, write)
    return sorted(files)


def _version_of(previous: Version) -> str | None:
    for t in previous.ontology:
        if t.predicate.value == OWL + "versionInfo" and isinstance(t.object, ox.Literal):
            if _SEMVER.match(t.object.value):
                return t.object.value
    return None


def _first_release_notes(store: ox.Store, title: str) -> str:
    n_obs = count(store, f"SELECT (COUNT(DISTINCT ?o) AS ?n) WHERE {{ ?o a <{CQKG}Observation> }}")
    n_claims = count(store, f"SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE {{ ?c a <{CQKG}Claim> }}")
    n_src = count(store, f"SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ ?s <{CQKG}textFile> ?t }}")
    return (
        f"# {title}\n\nFirst release: {n_obs} observations and {n_claims} claims from {n_src} source documents, "
        f"each with its source and quote. Later releases list here what changed since the one before.\n"
    )


def _graph_slug(graph: str) -> str:
    """A short, unique path for a named graph's subset: source/NAME, ontology, seeds/NAME ...

    >>> _graph_slug("https://w3id.org/cqkg/source/quality-chain-2025-h1")
    'source/quality-chain-2025-h1'
    """
    for ns, prefix in ((SRC, "source/"), (GRAPH, "")):
        if graph.startswith(ns):
            return prefix + graph[len(ns) :]
    return "other/" + urllib.parse.quote(graph, safe="")


def _n(value: int, datatype: str = "integer") -> ox.Literal:
    return ox.Literal(str(value), datatype=ox.NamedNode(XSD + datatype))


def void_description(
    store: ox.Store, version: str, issued: str, prior: str | None, base: str, files: dict[str, bytes]
) -> bytes:
    """The release described in VoID and DCAT, as Turtle."""
    ds = ox.NamedNode(f"{DATASET}/{version}")
    a = ox.NamedNode(RDF + "type")

    def p(ns: str, local: str) -> ox.NamedNode:
        return ox.NamedNode(ns + local)

    t: list[ox.Triple] = [
        ox.Triple(ds, a, p(VOID, "Dataset")),
        ox.Triple(ds, a, p(DCAT, "Dataset")),
        ox.Triple(ds, p(DCTERMS, "title"), ox.Literal("cqkg: Chongqing manufacturing knowledge graph", language="en")),
        ox.Triple(ds, p(DCTERMS, "title"), ox.Literal("cqkg：重庆制造业知识图谱", language="zh")),
        ox.Triple(ds, p(DCTERMS, "description"), ox.Literal(
            "Chongqing's \"33618\" manufacturing cluster system, enterprises, government bodies, policies and "
            "every number the source articles state, each with its source document and verbatim quote.",
            language="en")),
        ox.Triple(ds, p(DCTERMS, "issued"), ox.Literal(issued, datatype=p(XSD, "date"))),
        ox.Triple(ds, p(DCAT, "version"), ox.Literal(version)),
        ox.Triple(ds, p(OWL, "versionInfo"), ox.Literal(version)),
        ox.Triple(ds, p(DCTERMS, "isVersionOf"), ox.NamedNode(DATASET)),
        ox.Triple(ds, p(DCTERMS, "conformsTo"), ox.NamedNode(f"{ONTOLOGY}/{version}")),
        ox.Triple(ds, p(VOID, "vocabulary"), ox.NamedNode(ONTOLOGY)),
        ox.Triple(ds, p(VOID, "dataDump"), ox.NamedNode(base + f"cqkg-{version}.nq.gz")),
    ]  # fmt: skip
    if prior:
        t.append(ox.Triple(ds, p(DCAT, "previousVersion"), ox.NamedNode(f"{DATASET}/{prior}")))
    for r in select(
        store, f"SELECT ?l WHERE {{ GRAPH <{ONTOLOGY_GRAPH}> {{ ?o a <{OWL}Ontology> ; <{DCTERMS}license> ?l }} }}"
    ):
        t.append(ox.Triple(ds, p(DCTERMS, "license"), r[0]))
    # The whole graph (the default graph: asserted and inferred).
    stats = next(iter(select(store, """SELECT (COUNT(*) AS ?t) (COUNT(DISTINCT ?s) AS ?s_) (COUNT(DISTINCT ?p) AS ?p_)
        (COUNT(DISTINCT ?o) AS ?o_) WHERE { ?s ?p ?o }""")))  # fmt: skip
    for var, prop in (("t", "triples"), ("s_", "distinctSubjects"), ("p_", "properties"), ("o_", "distinctObjects")):
        t.append(ox.Triple(ds, p(VOID, prop), _n(int(stats[var].value))))
    classes = select(
        store, "SELECT ?c (COUNT(DISTINCT ?x) AS ?n) WHERE { ?x a ?c FILTER(isIRI(?c)) } GROUP BY ?c ORDER BY ?c"
    )
    class_rows = [(r[0], int(r[1].value)) for r in classes]
    t.append(ox.Triple(ds, p(VOID, "classes"), _n(len(class_rows))))
    for i, (c, n) in enumerate(class_rows, start=1):
        part = ox.BlankNode(f"class{i:04d}")
        t += [ox.Triple(ds, p(VOID, "classPartition"), part), ox.Triple(part, p(VOID, "class"), c),
              ox.Triple(part, p(VOID, "entities"), _n(n))]  # fmt: skip
    # One subset per named graph: a source document's facts, the ontology, the inferred triples.
    titles = {
        r[0].value: r[1]
        for r in select(store, f"SELECT ?s ?t WHERE {{ ?s <{CQKG}textFile> ?f ; <{DCTERMS}title> ?t }} ORDER BY ?s ?t")
    }
    graphs = select(store, "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g")
    for r in graphs:
        g, n = r[0], int(r[1].value)
        sub = ox.NamedNode(f"{DATASET}/{version}/graph/{_graph_slug(g.value)}")
        t += [ox.Triple(ds, p(VOID, "subset"), sub), ox.Triple(sub, a, p(VOID, "Dataset")),
              ox.Triple(sub, p(SD, "name"), g), ox.Triple(sub, p(VOID, "triples"), _n(n))]  # fmt: skip
        if g.value == ONTOLOGY_GRAPH:
            t.append(ox.Triple(sub, p(DCTERMS, "title"), ox.Literal("the ontology", language="en")))
        elif g.value == INFERRED_GRAPH:
            t.append(
                ox.Triple(sub, p(DCTERMS, "title"), ox.Literal("triples inferred by OWL 2 RL rules", language="en"))
            )
        elif g.value in titles:  # a source document's graph
            t.append(ox.Triple(sub, p(DCTERMS, "source"), g))
            t.append(ox.Triple(sub, p(DCTERMS, "title"), titles[g.value]))
            t.append(ox.Triple(ds, p(DCTERMS, "source"), g))
    # The files, each with its size and checksum.
    for f, data in sorted(files.items()):
        dist = ox.NamedNode(base + f)
        suffix = Path(f.removesuffix(".gz")).suffix
        check = ox.BlankNode("sha256-" + re.sub(r"[^A-Za-z0-9]", "-", f))
        t += [
            ox.Triple(ds, p(DCAT, "distribution"), dist),
            ox.Triple(dist, a, p(DCAT, "Distribution")),
            ox.Triple(dist, p(DCAT, "downloadURL"), dist),
            ox.Triple(dist, p(DCTERMS, "title"), ox.Literal(f)),
            ox.Triple(dist, p(DCAT, "mediaType"), ox.NamedNode(
                "https://www.iana.org/assignments/media-types/" + MEDIA_TYPES.get(suffix, "application/octet-stream"))),
            ox.Triple(dist, p(DCAT, "byteSize"), _n(len(data), "nonNegativeInteger")),
            ox.Triple(dist, p(SPDX, "checksum"), check),
            ox.Triple(check, a, p(SPDX, "Checksum")),
            ox.Triple(check, p(SPDX, "algorithm"), p(SPDX, "checksumAlgorithm_sha256")),
            ox.Triple(check, p(SPDX, "checksumValue"), ox.Literal(hashlib.sha256(data).hexdigest(),
                                                                   datatype=p(XSD, "hexBinary"))),
        ]  # fmt: skip
        if f.endswith(".gz"):
            gz = ox.NamedNode("https://www.iana.org/assignments/media-types/application/gzip")
            t.append(ox.Triple(dist, p(DCAT, "compressFormat"), gz))
    t.sort(key=lambda x: (x.subject != ds, str(x.subject)))  # stable: each subject's triples together
    out = ox.serialize(t, format=ox.RdfFormat.TURTLE, prefixes=VOID_PREFIXES)
    assert out is not None
    return out
