"""`cqkg draft`: a first version of an article's facts, for a curator to review.

It copies the article into seeds/ID.txt and writes seeds/ID.ttl: the source document, and one
candidate observation per number the article states (value in base units, unit, comparator,
status, period, indicator and subject proposed from the wording and the project's labels, with
the runner-up candidates in comments). It never invents: every value is a number its quote
states, and what it cannot decide is a `cqkg:todo` that fails validation. Every drafted node is
marked `cqkg:unreviewed true`, which validation refuses until the curator has checked the node
and deleted the mark. Numbers that are not facts (the dateline, footnote marks, telephone
numbers) are proposed as audit-ignore lines instead.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from .errors import CqkgError
from .numbers import ORDINALS, SMALL_NUMBERS, found_numbers, multiplier
from .project import Project, atomic_output
from .rdfstore import select
from .sources import union_store
from .terms import CQKG, PREFIXES, RDFS, SKOS, compact

# A sentence ends at . ! ? (not the point of 5.6), their Chinese forms, ； or a line end.
_SENTENCE = re.compile(r"(?:[^.!?。！？；\n]|\.(?=\d))+(?:[.!?。！？；]|\n|$)")
_COMPARATORS = [  # (pattern before the number, comparator)
    (r"(?:over|more than|exceed(?:ed|ing|s)?|above|surpass(?:ed|ing)?|超过|逾|突破)\s*$", "MoreThan"),
    (r"(?:nearly|almost|close to|近|接近|将近)\s*$", "Nearly"),
    (r"(?:about|around|approximately|roughly|some|约|大约|左右)\s*$", "About"),
    (r"(?:at least|no less than|不少于|至少)\s*$", "AtLeast"),
]
_TARGET = re.compile(
    r"\b(aim|aims|target|targets|goal|plan|plans|planned|strive|will|shall|by 20\d\d)\b|力争|目标|到20\d\d年", re.I
)
_ESTIMATE = re.compile(r"\b(expected|expects|forecast|estimated?|projected|predicted)\b|预计|有望", re.I)
_INDICATORS = [  # (pattern in the sentence, indicator, only for percentages?)
    (r"\b(growth|grew|increase[ds]?|up|rose|rise|higher|year-on-year)\b|增长|同比", "GrowthRateYoY", True),
    (r"\b(share|account(?:ed|s)? for|proportion)\b|占", "Share", True),
    (r"\b(output value|production value)\b|产值", "OutputValue", False),
    (r"\b(added value|value added|value-added)\b|增加值", "AddedValue", False),
    (r"\brevenue\b|营业收入|营收", "Revenue", False),
    (r"\bexport", "ExportValue", False),
    (r"\b(sales|sold)\b|销量|销售", "SalesVolume", False),
    (r"\bcapacity\b|产能", "ProductionCapacity", False),
    (r"\b(produced|production|output|made)\b|产量|生产", "ProductionVolume", False),
    (r"\b(rank|ranking|ranked)\b|位居|排名", "Rank", False),
    (r"\b(number of|enterprises|companies|projects|firms)\b|家|个", "Count", False),
]
_UNITS = [  # (pattern right after the number, unit)
    (r"^\s*(?:%|per ?cent|percent)|^\s*个百分点", "Percent"),
    (r"^\s*(?:yuan|rmb|元)", "Yuan"),
    (r"^\s*(?:us dollars|dollars|usd)", "USD"),
    (r"^\s*(?:(?:new energy |electric |intelligent connected )?vehicles?|cars?|units|辆)", "Vehicle"),
    (r"^\s*(?:people|persons|workers|employees|人)", "Person"),
    (r"^\s*(?:km|kilometres?|kilometers?|公里)", "Kilometre"),
    (r"^\s*(?:pieces|pcs|件|块)", "Piece"),
    (r"^\s*(?:enterprises|companies|projects|firms|items|个|家|项|台|座|套)", "Item"),
    (r"^\s*years?\b|^\s*年(?!\d)", "Year"),
]
_NEAR_UNITS = [  # (pattern within the next few words, unit), when nothing follows right after the number
    (r"^\W*(?:\S+\s+){0,3}?(?:yuan|rmb)\b|^[^。，,；]{0,6}元", "Yuan"),
    (r"^\W*(?:\S+\s+){0,3}?(?:us dollars|dollars|usd)\b", "USD"),
    (r"^\W*(?:\S+\s+){0,4}?(?:vehicles|cars)\b|^[^。，,；]{0,6}辆", "Vehicle"),
    (r"^\W*(?:\S+\s+){0,3}?(?:people|persons|workers|employees|talents?)\b", "Person"),
    (r"^\W*(?:\S+\s+){0,6}?(?:[a-z-]+s)\b|^[^。，,；]{0,4}[个家项座所条]", "Item"),
]
_BEFORE_UNITS = [  # (pattern within the words just before the number, unit): "vehicles rising from 953,000"
    (r"(?:vehicles|cars)\b(?:\W+\S+){0,5}\W*$", "Vehicle"),
    (r"(?:talents?|people|workers|employees|employment|jobs)\b(?:\W+\S+){0,10}\W*$", "Person"),
    (r"\bindex\b(?:\W+\S+){0,6}\W*$", "IndexPoint"),
]

_DECREASE = re.compile(r"(?:reduc|decreas|fell|drop|declin|cut|sav|lower)\w*\b[^.;]{0,40}$", re.I)
_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december"]  # fmt: skip


@dataclass
class Candidate:
    """One drafted observation."""

    quote: str
    value: Decimal
    surface: str
    scale: str | None = None  # the scale word of the surface ("million", "亿"), kept as cqkg:statedAs
    unit: str | None = None
    comparator: str | None = None
    status: str = "Actual"
    period: str | None = None
    indicator: str | None = None
    base_indicator: str | None = None
    subject: str | None = None
    subject_alternatives: list[str] = field(default_factory=list)
    item: str | None = None
    item_alternatives: list[str] = field(default_factory=list)
    todo: list[str] = field(default_factory=list)


@dataclass
class Draft:
    """What `cqkg draft` writes: the article copy, the facts, proposed audit-ignore lines."""

    text_file: Path
    facts_file: Path
    candidates: list[Candidate]
    new_periods: dict[str, str]
    ignore_lines: list[str]


def sentences(text: str) -> list[str]:
    """The text cut into sentences (and lines), each a verbatim slice of it."""
    return [s.strip() for s in _SENTENCE.findall(text) if s.strip()]


def _period(sentence: str, published: date) -> tuple[str | None, str | None]:
    """(period IRI local name, its label) from the wording; None when the sentence states none."""
    low = sentence.lower()
    if m := re.search(r"first half of (20\d\d)|(20\d\d)年上半年", low):
        y = m.group(1) or m.group(2)
        return f"{y}-H1", f"first half of {y}"
    if m := re.search(r"(?:at the end of|end of|by the end of) (20\d\d)|(20\d\d)年底", low):
        y = m.group(1) or m.group(2)
        return f"{y}-end", f"end of {y}"
    if m := re.search(r"\bby (20\d\d)\b|到(20\d\d)年", low):
        y = m.group(1) or m.group(2)
        return f"by-{y}", f"by {y}"
    months = "|".join(_MONTHS)
    if m := re.search(rf"\b({months})\s*(?:to|-|–)\s*({months})(?:\s+(?:of\s+)?(20\d\d))?", low):
        a, b = _MONTHS.index(m.group(1)) + 1, _MONTHS.index(m.group(2)) + 1
        y = m.group(3) or str(published.year)
        return f"{y}-{a:02d}-{b:02d}", f"{m.group(1).title()} to {m.group(2).title()} {y}"
    if m := re.search(r"(?<!\d)(\d{1,2})\s*[-–至]\s*(\d{1,2})月", sentence):
        a, b = int(m.group(1)), int(m.group(2))
        return f"{published.year}-{a:02d}-{b:02d}", f"January to {_MONTHS[b - 1].title()} {published.year}"
    if re.search(r"\blast year\b|去年", low):
        return str(published.year - 1), str(published.year - 1)
    if re.search(r"\bthis year\b|今年", low):
        return str(published.year), str(published.year)
    years = re.findall(r"\b(20\d\d|19\d\d)\b(?!\s*(?:%|yuan|units))|(20\d\d)年", sentence)
    found = [a or b for a, b in years]
    if found:
        return found[0], found[0]
    return None, None


def _labels(store, kinds: tuple[str, ...]) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """label (lower case) -> IRI for things of these classes (subclasses included)."""
    values = " ".join(f"<{k}>" for k in kinds)
    rows = select(
        store,
        f"""SELECT ?x ?l WHERE {{ ?x a/<{RDFS}subClassOf>* ?k . VALUES ?k {{ {values} }}
              {{ ?x <{RDFS}label> ?l }} UNION {{ ?x <{SKOS}prefLabel> ?l }} FILTER(isIRI(?x)) }}""",
    )
    out: dict[str, str] = {}
    for r in rows:
        if r[0] is not None and r[1] is not None and len(r[1].value) >= 3:
            out.setdefault(r[1].value.lower(), r[0].value)
    return out


def propose(project: Project, text: str, published: date, store: Any = None) -> tuple[list[Candidate], list[str]]:
    """Candidate observations for every number in `text`, and audit-ignore proposals."""
    store = store if store is not None else union_store(project)
    things = _labels(store, (CQKG + "Place", CQKG + "Industry", CQKG + "IndustrialCluster", CQKG + "Enterprise",
                             "http://www.w3.org/ns/org#Organization"))  # fmt: skip
    kinds = _labels(store, (CQKG + "Product", CQKG + "Category"))  # what an observation's item can be
    candidates: list[Candidate] = []
    ignores: list[tuple[str, str]] = []
    lines = text.splitlines()
    dateline = lines[0] if lines else ""
    for sentence in sentences(text):
        if sentence == dateline.strip():
            if found_numbers(sentence):
                ignores.append((sentence, "dateline / masthead, not a fact"))
            continue
        phones = [m.span() for m in re.finditer(r"(?<!\d)(?:\+?86[- ]?)?0\d{2,3}-\d{7,8}(?!\d)", sentence)]
        for a, b in phones:
            ignores.append((sentence[a:b], "telephone number"))
        for n in found_numbers(sentence):
            if any(a <= n.start < b for a, b in phones):
                continue
            before, after = sentence[: n.start], sentence[n.end :]
            if re.search(r"\[\s*$", before) and re.match(r"^\s*\]", after):
                ignores.append((sentence[max(0, n.start - 20) : n.end + 1], "footnote mark"))
                continue
            if (
                n.scale is None
                and re.fullmatch(r"(19|20)\d\d", n.surface)
                and not re.match(r"^\s*(%|per ?cent)", after)
            ):
                continue  # a year: it is the period of the facts around it
            if re.search(r"\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}", sentence[max(0, n.start - 8) : n.end + 6]):
                ignores.append((sentence[max(0, n.start - 12) : n.end + 9].strip(), "a date or time, not a fact"))
                continue
            low = sentence.lower()
            c = Candidate(sentence, n.value, n.surface, n.scale)
            if n.percent:
                c.unit = "Percent"
            for pattern, unit in _UNITS if c.unit is None else []:
                if re.search(pattern, after, re.I):
                    c.unit = unit
                    break
            if c.unit is None and re.search(r"(?:US\$|\$|USD|US dollars)\s*$", before, re.I):
                c.unit = "USD"
            elif c.unit is None and re.search(r"(?:¥|RMB|CNY)\s*$", before, re.I):
                c.unit = "Yuan"
            if c.unit is None and re.match(r"^\s*units\b", after, re.I) and re.search(r"vehicle|\bcars?\b|nev", low):
                c.unit = "Vehicle"
            is_bare = n.scale is None and not n.percent
            for pattern, unit in _BEFORE_UNITS if c.unit is None and is_bare else []:
                if re.search(pattern, before, re.I):
                    c.unit = unit
                    break
            for pattern, unit in _NEAR_UNITS if c.unit is None else []:
                if (unit != "Item" or is_bare) and re.search(pattern, after, re.I):
                    c.unit = unit
                    break
            if c.unit is None and n.scale in ("billion", "trillion", "亿", "万亿", "百亿", "千亿"):
                c.unit = "Yuan"  # billions are money far more often than anything else: a proposal to review
            if c.unit == "Percent" and _DECREASE.search(before):
                c.value = -c.value  # "reduced by 40%": a change of -40
            for pattern, comparator in _COMPARATORS:
                if re.search(pattern, before, re.I):
                    c.comparator = comparator
                    break
            c.status = "Target" if _TARGET.search(sentence) else "Estimate" if _ESTIMATE.search(sentence) else "Actual"
            c.period, _ = _period(sentence, published)
            for pattern, indicator, percent_only in _INDICATORS:
                if (not percent_only or c.unit == "Percent") and re.search(pattern, sentence, re.I):
                    c.indicator = indicator
                    break
            if c.unit is None and c.indicator == "Count":
                c.unit = "Item"  # counted things
            if c.indicator in ("GrowthRateYoY", "Share"):  # of what: the measure stated beside it, if any
                beside = [o.indicator for o in candidates if o.quote == sentence and o.unit != "Percent"]
                c.base_indicator = beside[-1] if beside and beside[-1] else None
                if c.base_indicator is None:
                    c.todo.append(
                        "baseIndicator: the measure that grows or is shared (cqkg lookup TEXT --type indicator)"
                    )
            low = sentence.lower()
            named = sorted((label for label in things if label in low), key=len, reverse=True)
            if named:
                c.subject = things[named[0]]
                c.subject_alternatives = [things[label] for label in named[1:4]]
            elif "chongqing" in low or "重庆" in sentence or "the city" in low:
                c.subject = PREFIXES["cq"] + "Chongqing"
            named_items = sorted((label for label in kinds if label in low), key=len, reverse=True)
            if named_items:
                c.item = kinds[named_items[0]]
                c.item_alternatives = [kinds[label] for label in named_items[1:4]]
            for part, value in (("unit", c.unit), ("period", c.period), ("indicator", c.indicator),
                                ("subject", c.subject)):  # fmt: skip
                if value is None:
                    c.todo.append(
                        f"{part}: the sentence does not say; choose one (cqkg lookup TEXT --type {part})"
                        + ("" if part == "unit" else " and mark it as your reading (cqkg:assumption)")
                    )
            candidates.append(c)
        for m in re.finditer(
            rf"\b({'|'.join(SMALL_NUMBERS)})\s+(?:[\w“”\"-]+\s+){{0,2}}?([a-z-]+s|years?)\b", sentence, re.I
        ):
            small = Decimal(SMALL_NUMBERS.index(m.group(1).lower()) + 1)  # "five national centres", "one year"
            unit = "Year" if m.group(2).lower().startswith("year") else "Item"
            c = Candidate(sentence, small, m.group(1), None, unit=unit, period=_period(sentence, published)[0],
                          indicator="Duration" if unit == "Year" else "Count")  # fmt: skip
            c.todo.append("subject: what the number is about")
            candidates.append(c)
        if re.search(r"\brank", sentence, re.I):  # "ranking second": a rank written as a word
            for m in re.finditer(rf"\b({'|'.join(ORDINALS)})\b", sentence, re.I):
                rank = Decimal(ORDINALS.index(m.group(1).lower()) + 1)
                c = Candidate(sentence, rank, m.group(1), None, unit="RankPosition", indicator="Rank",
                              period=_period(sentence, published)[0])  # fmt: skip
                c.todo.append("subject: the thing that ranks; and what it ranks by (the item)")
                candidates.append(c)
    return candidates, [f"{ctx}\t{reason}" for ctx, reason in dict.fromkeys(ignores)]


def _observation(c: Candidate, iri: str, src_iri: str) -> list[str]:
    """The Turtle lines of one candidate, marked unreviewed, its to-dos and alternatives spelled out."""
    value = f"{c.value.normalize():f}"
    fields = [
        ("cqkg:subject", c.subject and compact(c.subject)),
        ("cqkg:item", c.item and compact(c.item)),
        ("cqkg:indicator", c.indicator and f"ind:{c.indicator}"),
        ("cqkg:baseIndicator", c.base_indicator and f"ind:{c.base_indicator}"),
        ("cqkg:value", value if "." in value else value + ".0"),  # an xsd:decimal
        ("cqkg:statedAs", c.scale and _lit(c.surface)),  # the article's unit multiplier, as written
        ("cqkg:unitMultiplier", c.scale and str(multiplier(c.scale))),
        ("cqkg:unit", c.unit and f"unit:{c.unit}"),
        ("cqkg:comparator", c.comparator and f"cqkg:{c.comparator}"),
        ("cqkg:period", c.period and f"period:{c.period}"),
        ("cqkg:status", f"cqkg:{c.status}"),
        *(("cqkg:todo", _lit(t)) for t in c.todo),
        ("cqkg:source", src_iri),
    ]
    lines = [
        f"# other {what} named in the sentence: {', '.join(compact(a) for a in others)}"
        for what, others in (("items", c.item_alternatives), ("subjects", c.subject_alternatives))
        if others
    ]
    lines += [f"{iri} a cqkg:Observation ;  # {c.surface!r} in the quote", _MARK]
    lines += [f"    {p} {o} ;" for p, o in fields if o]
    return [*lines, f"    cqkg:quote {_lit(c.quote)} ."]


# First after the subject, so that deleting the line (the review) leaves valid Turtle.
_MARK = "    cqkg:unreviewed true ;  # delete this line once you have checked the node against its quote"


def _lit(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def draft(
    project: Project,
    article: Path,
    doc_id: str,
    title: str,
    publisher: str,
    published: date,
    url: str | None = None,
    lang: str = "en",
) -> Draft:
    """Write seeds/ID.txt and seeds/ID.ttl (never over existing files)."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", doc_id):
        raise CqkgError(f"--id {doc_id!r}: use letters, digits, '.', '_' and '-' (it names files and IRIs)")
    project.require_dirs("ontology", "seeds")
    text_file, facts_file = project.seeds_dir / f"{doc_id}.txt", project.seeds_dir / f"{doc_id}.ttl"
    for path in (text_file, facts_file):
        if path.exists():
            raise CqkgError(f"{project.rel(path)} exists already; choose another --id or remove it")
    try:
        body = article.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CqkgError(f"{article}: cannot read the article as UTF-8 text: {e}") from None
    if lang == "zh":
        header = f"{publisher} | {published.year}年{published.month}月{published.day}日"
    else:
        header = f"{publisher} | {published.day} {_MONTHS[published.month - 1].title()} {published.year}"
    text = f"{header}\n\n{title}\n\n{body.strip()}\n"
    store = union_store(project)  # parsed once: labels, periods and organisations come from it
    candidates, ignores = propose(project, text, published, store)
    periods = select(store, f"SELECT DISTINCT ?p WHERE {{ ?p a <{CQKG}Period> }}")
    existing_periods = {r[0].value.rsplit("/", 1)[-1] for r in periods if r[0] is not None}
    new_periods = {c.period: c.period for c in candidates if c.period and c.period not in existing_periods}
    src_iri = f"src:{doc_id}"
    organisations = _labels(store, ("http://www.w3.org/ns/org#Organization",))
    close = difflib.get_close_matches(publisher.lower(), list(organisations), n=1, cutoff=0.85)
    publisher_line = (f"    cqkg:publishedBy {compact(organisations[close[0]])} ;" if close else
                      f"    # publisher {publisher!r} is no organisation of the graph yet: describe it (a "
                      f"cqkg:MediaOrganization with labels and a quote) and add cqkg:publishedBy")  # fmt: skip
    out = [f"# Drafted by cqkg draft from {article.name}: review every node, then delete its cqkg:unreviewed line.",
           *(f"@prefix {p}: <{ns}> ." for p, ns in sorted(PREFIXES.items())), "",
           f"{src_iri} a cqkg:SourceDocument ;", _MARK, f"    dcterms:title {_lit(title)}@{lang} ;",
           f'    dcterms:issued "{published.isoformat()}"^^xsd:date ;', f"    dcterms:language {_lit(lang)} ;",
           f"    cqkg:textFile {_lit(text_file.name)} ;", f"    cqkg:originalFileName {_lit(article.name)} ;",
           publisher_line,
           '    cqkg:todo "authority: who stands behind this source: cqkg:authority cqkg:OfficialSource, '
           'cqkg:MajorMedia, cqkg:Aggregator (weak) or cqkg:ProjectNote" ;',
           f"    cqkg:quote {_lit(header)} ;"]  # fmt: skip
    if url:
        out.append(f"    dcterms:source <{url}> ;")
    out[-1] = out[-1][:-2] + " ."
    for period in sorted(new_periods):
        out += ["", f"period:{period} a cqkg:Period ;", _MARK, f'    rdfs:label "{period}"@en ;',
                "    cqkg:todo \"period: a new period; give it cqkg:year / cqkg:startDate / cqkg:endDate as in "
                'seeds/periods.ttl, and move it there" .']  # fmt: skip
    for i, c in enumerate(candidates, 1):
        out += ["", *_observation(c, f"obs:{doc_id}-{i:03d}", src_iri)]
    if ignores:
        out += ["", "# Numbers that are not facts: proposed lines for seeds/audit-ignore.tsv (file, context, reason):"]
        out += [f"#   {text_file.name}\t{line}" for line in ignores]
    with atomic_output(text_file) as f:
        f.write(text)
    with atomic_output(facts_file) as f:
        f.write("\n".join(out) + "\n")
    return Draft(text_file, facts_file, candidates, new_periods, ignores)
