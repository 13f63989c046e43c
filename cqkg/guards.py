"""Checks for a curator's slips that SHACL cannot see: a misspelled IRI, an unknown unit or period,
an article no source document points to, a value, period or measure its quote does not state.

Each problem is an Issue that says how to fix it. They run with the other checks in validate.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

import pyoxigraph as ox

from .footprint import Chain, among
from .numbers import Found, forms_of, found_numbers, matching, multiplier
from .project import Project
from .rdfstore import select
from .report import Issue
from .sources import Sources, normalise_text
from .terms import CQKG, ID, PREFIXES, RDF, RDFS, SKOS, SRC, compact

# Namespaces whose IRIs must be described (typed or labelled) somewhere in the project.
_OURS = (ID, SRC, PREFIXES["ind"], PREFIXES["unit"], PREFIXES["period"])
_DECLARED_IN = {
    PREFIXES["ind"]: ("indicator", "ontology/cqkg.ttl (the indicator scheme)"),
    PREFIXES["unit"]: ("unit", "ontology/cqkg.ttl (the unit scheme)"),
    PREFIXES["period"]: ("period", "seeds/periods.ttl"),
}


def _described(store: ox.Store) -> set[str]:
    rows = select(
        store,
        f"""SELECT DISTINCT ?s WHERE {{
              {{ ?s <{RDF}type> ?t }} UNION {{ ?s <{RDFS}label> ?l }} UNION {{ ?s <{SKOS}prefLabel> ?l }}
              FILTER(isIRI(?s)) }}""",
    )
    return {r[0].value for r in rows if r[0] is not None}


def _suggest(iri: str, candidates: Iterable[str], labels: dict[str, str]) -> list[str]:
    """The closest described IRIs in the same namespace, by local name and by label."""
    ns = next((n for n in sorted(_OURS, key=len, reverse=True) if iri.startswith(n)), "")
    local = iri[len(ns) :]
    same_ns = {c[len(ns) :]: c for c in candidates if c.startswith(ns)}
    close = difflib.get_close_matches(local, list(same_ns), n=3, cutoff=0.6)
    by_label = {labels[c].lower(): c for c in same_ns.values() if c in labels}
    close_labels = difflib.get_close_matches(local.lower(), list(by_label), n=2, cutoff=0.6)
    out = [same_ns[c] for c in close] + [by_label[lab] for lab in close_labels]
    return list(dict.fromkeys(out))[:3]


def undescribed_terms(
    src: Sources, store: ox.Store, labels: dict[str, str], only: set[str] | None = None
) -> list[Issue]:
    """IRIs of our namespaces that the data uses but no file describes (no type, no label).

    `only` (N-Triples terms): check these nodes alone, as an incremental build does.
    """
    ours = " || ".join(f'STRSTARTS(STR(?x), "{ns}")' for ns in _OURS)
    keep = f'FILTER(isIRI(?x) && ({ours}) && !STRSTARTS(STR(?x), "{ID}genid/"))'
    descriptions = [f"?x <{RDF}type> ?t", f"?x <{RDFS}label> ?l", f"?x <{SKOS}prefLabel> ?l"]
    if only is None:
        # Each term once (GROUP BY) before the string tests, then set differences: per-triple tests
        # cost seconds at a million triples.
        query = f"""SELECT ?x WHERE {{
              {{ SELECT ?x WHERE {{ ?s ?p ?x }} GROUP BY ?x }} UNION {{ SELECT ?x WHERE {{ ?x ?p ?o }} GROUP BY ?x }}
              {keep} {" ".join(f"MINUS {{ {d} }}" for d in descriptions)} }} GROUP BY ?x ORDER BY ?x"""
    else:  # a few terms: tests per term (MINUS would read every type and label of the store)
        query = f"""SELECT ?x WHERE {{ {among("?x", only)} {keep}
              {" ".join(f"FILTER NOT EXISTS {{ {d} }}" for d in descriptions)}
              FILTER(EXISTS {{ ?s ?p ?x }} || EXISTS {{ ?x ?p ?o }}) }} ORDER BY ?x"""
    rows = list(select(store, query))
    described = _described(store) if rows else set()
    issues = []
    for r in rows:
        iri = r[0].value if r[0] is not None else ""
        users = select(store, f"SELECT DISTINCT ?s WHERE {{ ?s ?p <{iri}> }} ORDER BY ?s LIMIT 1")
        user = next(iter(users), None)
        where = src.file_of(user[0]) if user is not None else src.file_of(iri)
        hint = _suggest(iri, described, labels)
        mean = f"; did you mean {' or '.join(compact(h) for h in hint)}?" if hint else ""
        kind = next((v for ns, v in _DECLARED_IN.items() if iri.startswith(ns)), None)
        if kind:
            what, declared = kind
            message = (f"unknown {what} {compact(iri)}{mean} Known ones: `cqkg lookup TEXT --type {what}`; "
                       f"new ones are declared in {declared}")  # fmt: skip
        else:
            message = f"{compact(iri)} is used here but described nowhere (no type, no label){mean}"
        issues.append(Issue("Violation", where, iri, "", "", message, "undescribed"))
    return issues


def orphan_texts(project: Project, src: Sources) -> list[Issue]:
    """Article texts in seeds/ that no source document points to (their numbers would go unaudited)."""
    pointed = {o.value for _, o in src.pairs_with(ox.NamedNode(CQKG + "textFile"))}
    issues = []
    for path in sorted(project.seeds_dir.glob("*.txt")):
        rel = path.relative_to(project.seeds_dir).as_posix()
        if rel not in pointed:
            issues.append(Issue(
                "Violation", project.rel(path), "", "", "",
                f"no source document points to this article (cqkg:textFile \"{rel}\"); describe it in a seed "
                f"file (README: Adding an article) or move it out of seeds/", "orphan-text",
            ))  # fmt: skip
    return issues


def _violation(src: Sources, labels: dict[str, str], node: Any, path: str, message: str, check: str) -> Issue:
    """A Violation about a node of the seeds, named by its file and label."""
    return Issue("Violation", src.file_of(node), node.value, labels.get(node.value, ""), path, message, check)


def stated_values(src: Sources, store: ox.Store, labels: dict[str, str], only: set[str] | None = None) -> list[Issue]:
    """Two checks of an observation's value against its quotes, reading the quotes' numbers once.

    unstated-value: the value is no number the quotes state (in base units), unless it says how
    it was derived (cqkg:derivation) — the check that catches 437 written for 437 thousand.
    stated-form: a value the quote writes with a scale word ("1.3 million", "2.6万亿") keeps that
    form, cqkg:statedAs as the quote writes it and cqkg:unitMultiplier its power of ten; each
    cqkg:statedAs must occur in a quote, read as the value and agree with the multiplier.
    """
    rows = select(
        store,
        f"""SELECT ?o ?v ?d (GROUP_CONCAT(DISTINCT ?q; SEPARATOR="\\n") AS ?quotes)
                   (GROUP_CONCAT(DISTINCT ?s; SEPARATOR="\\n") AS ?stated) (SAMPLE(?m) AS ?mult) WHERE {{
              {among("?o", only)}?o a <{CQKG}Observation> ; <{CQKG}value> ?v ; <{CQKG}quote> ?q .
              OPTIONAL {{ ?o <{CQKG}derivation> ?d }}
              OPTIONAL {{ ?o <{CQKG}statedAs> ?s }}
              OPTIONAL {{ ?o <{CQKG}unitMultiplier> ?m }} }} GROUP BY ?o ?v ?d""",
    )
    issues = []
    # Several facts of one sentence share their quotes: their numbers are read once.
    numbers: dict[str, list[Found]] = {}
    for r in rows:
        node: Any = r["o"]
        try:
            value = Decimal(r["v"].value) if r["v"] is not None else None
        except InvalidOperation:
            continue  # not a number: the shapes report it
        if value is None:
            continue
        quotes = r["quotes"].value if r["quotes"] is not None else ""
        stated = [s for s in (r["stated"].value if r["stated"] is not None else "").split("\n") if s]
        mult = r["mult"].value if r["mult"] is not None else None
        derived = r["d"] is not None
        if quotes not in numbers:
            numbers[quotes] = found_numbers(quotes, small_words=True)
        forms = matching(numbers[quotes], value)
        if not forms and not derived:
            message = (
                f"{value.normalize():f} is no number its quote states (in base units: 1.3 million = 1300000, "
                f"1.3亿 = 130000000); fix the value, or say how it was derived with cqkg:derivation"
            )
            issues.append(_violation(src, labels, node, "cqkg:value", message, "unstated-value"))
        problems = []
        if not stated:
            if forms and not derived and all(f.scale for f in forms):
                first = forms[0]
                problems.append(
                    f'the quote writes the value as "{first.surface}": keep that with cqkg:statedAs '
                    f'"{first.surface}" ; cqkg:unitMultiplier {multiplier(first.scale or "")}'
                )
            elif mult is not None:
                problems.append("cqkg:unitMultiplier without cqkg:statedAs: add the number as the quote writes it")
        scales = set()
        for form in stated:
            read = forms_of(form, value)
            if normalise_text(form) not in normalise_text(quotes):
                problems.append(f'"{form}" does not occur in the quote')
            elif not read:
                problems.append(f'"{form}" does not read as the value {value.normalize():f}')
            scales |= {multiplier(f.scale) for f in read if f.scale}
        if stated and mult is None and scales:
            problems.append(f"add cqkg:unitMultiplier {min(scales)}, the power of ten of the stated scale word")
        elif stated and mult is not None and int(mult) not in scales:
            expected = f"{min(scales)}" if scales else "none (no scale word is stated)"
            problems.append(f"cqkg:unitMultiplier {mult} does not match cqkg:statedAs: expected {expected}")
        for p in problems:
            issues.append(_violation(src, labels, node, "cqkg:statedAs", p, "stated-form"))
    return issues


# Words that state a period relative to the article's date ("this year" in an article of 2024).
RELATIVE_PERIOD = re.compile(
    r"\b(this|last|the|past|next) (year|month|quarter)\b|\b(next|past|last) \w+ years\b|\b(first|second) half\b"
    r"|\bso far\b|\bas of\b|\bat present\b|\bcurrently\b|\btoday\b"
    r"|今年|去年|上半年|下半年|本月|截至",
    re.IGNORECASE,
)


def unstated_parts(src: Sources, store: ox.Store, labels: dict[str, str], only: set[str] | None = None) -> list[Issue]:
    """Observations whose period or measure their quotes do not state, unless the curator marks it
    as an assumption (cqkg:assumption with that cqkg:assumedPart and a cqkg:reason).

    A period is stated when a quote names its year or a period relative to the article's date
    ("this year", "first half", "as of"); the measure of a growth rate or share (its
    cqkg:baseIndicator) when a quote has one of the indicator's labels (skos:prefLabel, altLabel
    or hiddenLabel, English or Chinese)."""
    # The assumptions apart (few), and no ORDER BY (the report sorts): in one query with the
    # observations, the two OPTIONAL paths and the sort took 6.8 s of 7.9 at 1M on disk.
    assumed = {
        (r[0].value, r[1].value)
        for r in select(
            store, f"SELECT ?o ?part WHERE {{ {among('?o', only)}?o <{CQKG}assumption>/<{CQKG}assumedPart> ?part }}"
        )
        if r[0] is not None and r[1] is not None
    }
    rows = select(
        store,
        f"""SELECT ?o ?year ?base (GROUP_CONCAT(?q; SEPARATOR="\\n") AS ?quotes) WHERE {{
              {among("?o", only)}?o a <{CQKG}Observation> ; <{CQKG}quote> ?q ; <{CQKG}period> ?p .
              OPTIONAL {{ ?p <{CQKG}year> ?year }}
              OPTIONAL {{ ?o <{CQKG}baseIndicator> ?base }}
            }} GROUP BY ?o ?year ?base""",
    )
    words: dict[str, list[str]] = {}
    for r in select(
        store,
        f"""SELECT ?i ?l WHERE {{ ?i a <{CQKG}Indicator> .
              {{ ?i <{SKOS}prefLabel> ?l }} UNION {{ ?i <{SKOS}altLabel> ?l }}
              UNION {{ ?i <{SKOS}hiddenLabel> ?l }} }}""",
    ):
        if r[0] is not None and r[1] is not None:
            words.setdefault(r[0].value, []).append(r[1].value.lower())
    how = 'cqkg:assumption [ a cqkg:Assumption ; cqkg:assumedPart {part} ; cqkg:reason "…" ]'
    issues = []
    for r in rows:
        node: Any = r[0]
        quotes = r[3].value if r[3] is not None else ""
        year = r[1].value[:4] if r[1] is not None else None
        if (
            year
            and (node.value, CQKG + "period") not in assumed
            and year not in quotes
            and not RELATIVE_PERIOD.search(quotes)
        ):
            message = (
                f'its quote states no period (neither {year} nor "this year", "first half", "as of" …): quote '
                f"the sentence that does, or mark the period as your reading with {how.format(part='cqkg:period')}"
            )
            issues.append(_violation(src, labels, node, "cqkg:period", message, "unstated-period"))
        base = r[2].value if r[2] is not None else None
        if (
            base
            and (node.value, CQKG + "baseIndicator") not in assumed
            and not any(w in quotes.lower() for w in words.get(base, []))
        ):
            message = (
                f"its quote does not name the measure {labels.get(base, compact(base))!r}: quote the sentence that "
                f"does, or mark it as your reading with {how.format(part='cqkg:baseIndicator')}"
            )
            issues.append(_violation(src, labels, node, "cqkg:baseIndicator", message, "unstated-measure"))
    return issues


def drafted_unchecked(
    src: Sources, store: ox.Store, labels: dict[str, str], only: set[str] | None = None
) -> list[Issue]:
    """Nodes cqkg draft wrote that no curator has reviewed yet, and the parts it left undecided."""
    issues = []
    for r in select(store, f"SELECT ?s WHERE {{ {among('?s', only)}?s <{CQKG}unreviewed> ?v }} ORDER BY ?s"):
        node: Any = r[0]
        message = "drafted, not reviewed: check it against its quote, then delete its cqkg:unreviewed line"
        issues.append(_violation(src, labels, node, "cqkg:unreviewed", message, "unreviewed"))
    for r in select(store, f"SELECT ?s ?t WHERE {{ {among('?s', only)}?s <{CQKG}todo> ?t }} ORDER BY ?s ?t"):
        node = r[0]
        todo = r[1].value if r[1] is not None else ""
        issues.append(_violation(src, labels, node, "cqkg:todo", f"to do: {todo}", "todo"))
    return issues


def _f(*names: str) -> Chain:
    return tuple((n if n.startswith("http") else CQKG + n, True) for n in names)


# What each check reads from its focus node (see shacl.ShapesGraph.footprint): an incremental
# build checks again the nodes from which a changed triple can be reached along one of these.
FOOTPRINT: set[Chain] = {
    # stated_values and unstated_parts (observations)
    _f(RDF + "type"), _f("value"), _f("quote"), _f("derivation"), _f("statedAs"), _f("unitMultiplier"),
    _f("period"), _f("period", "year"), _f("baseIndicator"), _f("baseIndicator", RDF + "type"),
    _f("baseIndicator", SKOS + "prefLabel"), _f("baseIndicator", SKOS + "altLabel"),
    _f("baseIndicator", SKOS + "hiddenLabel"), _f("assumption"), _f("assumption", "assumedPart"),
    # drafted_unchecked
    _f("unreviewed"), _f("todo"),
    # undescribed_terms: any triple a term is in
    ((None, True),), ((None, False),),
}  # fmt: skip

# The checks above, as Report issues name them.
CHECKS = ("undescribed", "unstated-value", "stated-form", "unstated-period", "unstated-measure", "unreviewed", "todo")
