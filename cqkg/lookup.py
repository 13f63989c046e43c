"""`cqkg lookup`: which IRI to write for a thing, found by its English or Chinese label.

Reads the project's files as they are (no build needed), so a curator can look up terms while
writing a seed file that does not validate yet.
"""

from __future__ import annotations

import difflib

import pyoxigraph as ox

from .errors import CqkgError
from .project import Project
from .queries import QueryResult
from .rdfstore import select
from .sources import assemble, load_sources
from .terms import CQKG, DCTERMS, RDFS, SKOS, compact

# --type NAME -> the class whose instances (subclasses included) it means.
TYPES = {
    "indicator": CQKG + "Indicator",
    "unit": CQKG + "Unit",
    "period": CQKG + "Period",
    "status": CQKG + "Status",
    "place": CQKG + "Place",
    "organisation": "http://www.w3.org/ns/org#Organization",
    "enterprise": CQKG + "Enterprise",
    "government": CQKG + "GovernmentBody",
    "person": "http://xmlns.com/foaf/0.1/Person",
    "cluster": CQKG + "IndustrialCluster",
    "industry": CQKG + "Industry",
    "category": CQKG + "Category",
    "product": CQKG + "Product",
    "project": CQKG + "Project",
    "platform": CQKG + "Platform",
    "policy": CQKG + "PolicyDocument",
    "source": CQKG + "SourceDocument",
}


def lookup(project: Project, text: str, kind: str | None = None, limit: int = 10) -> QueryResult:
    """The labelled things whose label or IRI is most like `text`, best first.

    Columns: iri, type, label_en, label_zh, file.
    """
    if kind is not None and kind not in TYPES:
        raise CqkgError(f"unknown --type {kind!r}; choose one of {', '.join(sorted(TYPES))}")
    if not text.strip():
        raise CqkgError("give some text to look up, e.g. cqkg lookup 'new energy vehicles'")
    src = load_sources(project)
    store = assemble(src)
    typed = ""
    if kind is not None:
        typed = f"?x a/<{RDFS}subClassOf>* <{TYPES[kind]}> ."
    rows = select(
        store,
        f"""SELECT ?x ?l WHERE {{ {typed}
              {{ ?x <{RDFS}label> ?l }} UNION {{ ?x <{SKOS}prefLabel> ?l }} UNION {{ ?x <{DCTERMS}title> ?l }}
              FILTER(isIRI(?x)) }}""",
    )
    labels: dict[str, dict[str, str]] = {}
    for r in rows:
        node, label = r[0], r[1]
        if isinstance(node, ox.NamedNode) and isinstance(label, ox.Literal):
            labels.setdefault(node.value, {}).setdefault(label.language or "", label.value)
    needle = text.strip().lower()

    def score(iri: str) -> float:
        names = [*labels[iri].values(), compact(iri).split(":", 1)[-1]]
        best = 0.0
        for name in names:
            name = name.lower()
            ratio = difflib.SequenceMatcher(None, needle, name).ratio()
            if needle in name:  # a word of the label counts as a good match
                ratio = max(ratio, 0.75 + 0.25 * len(needle) / max(len(name), 1))
            best = max(best, ratio)
        return best

    ranked = sorted(((score(i), i) for i in labels), key=lambda x: (-x[0], x[1]))
    hits = [i for s, i in ranked if s >= 0.5][:limit]
    out = []
    for iri in hits:
        node = ox.NamedNode(iri)
        types = sorted(compact(r[0].value) for r in select(store, f"SELECT ?t WHERE {{ <{iri}> a ?t }}")
                       if isinstance(r[0], ox.NamedNode))  # fmt: skip
        names = labels[iri]
        out.append((
            ox.Literal(compact(iri)), ox.Literal(", ".join(types)),
            ox.Literal(names.get("en") or names.get("", "")), ox.Literal(names.get("zh", "")),
            ox.Literal(src.file_of(node)),
        ))  # fmt: skip
    return QueryResult(["iri", "type", "label_en", "label_zh", "file"], out)  # type: ignore[arg-type]
