"""`cqkg site`: a static, offline, bilingual website of the built graph.

Every page is generated from SPARQL over the built store, so the site always matches the graph:
a page per thing (cluster, tier, enterprise, organisation, place, policy, indicator …), per fact
(value, period, status, its assumptions and quotes) and per source article (its text with every
quoted passage highlighted and anchored). The 33618 system page draws the system as tiers of
clusters, known members beside the slots a tier declares but no source fills. Each thing's page
embeds its JSON-LD; every page has a search box over English and Chinese labels. Charts are the
saved queries' declared charts, rendered to inline SVG (charts.py). Nothing is fetched from the
network: styles and the search script are written into the site.

    cqkg site -o site/      # then open site/index.html, or `cqkg serve` serves it at /
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from .catalog import Catalog
from .formats import display, readable_number
from .project import Project, replace_folder
from .rdfstore import select
from .sources import normalise_text
from .terms import CQKG, ID, INFERRED_GRAPH, ONTOLOGY_GRAPH, PREFIXES, RDF, RDFS, SKOS, SRC, compact

DCT = "http://purl.org/dc/terms/"
Log = Callable[[str], None]

# Which kinds of things get pages, and the bilingual name of their list.
CATEGORIES = [
    ("clusters", "Clusters", "产业集群", [CQKG + "IndustrialCluster", CQKG + "ClusterGrouping"]),
    ("enterprises", "Enterprises", "企业", [CQKG + "Enterprise"]),
    ("organisations", "Organisations", "机构", ["http://www.w3.org/ns/org#Organization"]),
    ("people", "People", "人物", ["http://xmlns.com/foaf/0.1/Person"]),
    ("places", "Places", "地点", [CQKG + "Place"]),
    ("policies", "Policies and plans", "政策规划", [CQKG + "PolicyDocument", CQKG + "PlanTask"]),
    ("industries", "Industries and products", "产业与产品", [CQKG + "Industry", CQKG + "Product", CQKG + "Category"]),
    ("platforms", "Platforms and projects", "平台与项目", [CQKG + "Platform", CQKG + "Project"]),
    ("indicators", "Indicators", "指标", [CQKG + "Indicator"]),
    ("sources", "Sources", "来源", [CQKG + "SourceDocument"]),
]
SKIP_PROPERTIES = {RDFS + "label", SKOS + "prefLabel", CQKG + "quote", CQKG + "source", RDF + "type"}

CSS = """
body{font-family:"Noto Sans CJK SC","WenQuanYi Micro Hei",system-ui,sans-serif;margin:0;color:#1d2330;line-height:1.5}
header{background:#123c69;color:#fff;padding:.6em 1.2em;display:flex;gap:1.5em;align-items:center;flex-wrap:wrap}
header a{color:#fff;text-decoration:none;font-weight:600}
main{max-width:70em;margin:0 auto;padding:1em 1.2em}
h1 .zh,h2 .zh{color:#5a6475;font-weight:400;margin-left:.4em}
table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}
th,td{border-bottom:1px solid #dde2ea;padding:.3em .5em;text-align:left;vertical-align:top;font-size:.93em}
td.num{text-align:right;white-space:nowrap}
mark{background:#ffe28a;padding:0 .1em}
mark:target,a:target+mark{background:#ffb347;outline:2px solid #e07b00}
.types{color:#5a6475}.assumed{color:#a04000}.muted{color:#5a6475}
.system{display:flex;flex-direction:column;gap:.8em}
.tier{border:1px solid #b9c4d4;border-radius:6px;padding:.5em .8em}
.slots{display:flex;flex-wrap:wrap;gap:.4em;margin-top:.4em}
.slot{border:1px solid #123c69;border-radius:4px;padding:.2em .5em;background:#eef3fa}
.slot.unknown{border-style:dashed;color:#8a93a3;background:#fff}
#search{padding:.3em .5em;width:18em}
#hits{position:absolute;background:#fff;color:#1d2330;border:1px solid #b9c4d4;max-height:20em;overflow:auto;z-index:2}
#hits a{display:block;padding:.2em .6em;color:#123c69;font-weight:400}
.article p{max-width:48em}
"""

SEARCH_JS = """
(function(){
  var box=document.getElementById('search'), hits=document.getElementById('hits');
  if(!box) return;
  box.addEventListener('input', function(){
    var q=box.value.trim().toLowerCase(); hits.innerHTML='';
    if(q.length<1) return;
    var n=0;
    for(var i=0;i<CQKG_INDEX.length && n<30;i++){
      var e=CQKG_INDEX[i];
      if((e[1]+' '+e[2]).toLowerCase().indexOf(q)>=0){
        var a=document.createElement('a'); a.href=CQKG_ROOT+e[0]; a.textContent=e[1]+(e[2]?'  '+e[2]:'');
        hits.appendChild(a); n++;
      }
    }
  });
})();
"""


@dataclass
class Thing:
    """What the site knows of one IRI: labels, kinds, and where its page is."""

    iri: str
    en: str = ""
    zh: str = ""
    types: set[str] = field(default_factory=set)

    @property
    def name(self) -> str:
        """The English label, else the Chinese one, else the compact IRI."""
        return self.en or self.zh or compact(self.iri)


def _slug(iri: str, prefix: str) -> str:
    local = iri[len(prefix) :]
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", local)
    if safe != local:  # two IRIs must never share a page
        safe += "-" + hashlib.sha1(local.encode()).hexdigest()[:6]
    return safe + ".html"


def page_of(iri: str) -> str | None:
    """The page (relative to the site root) of an IRI, or None if the site has no page for it."""
    if iri.startswith(ID + "obs/"):
        return "f/" + _slug(iri, ID + "obs/")
    if iri.startswith(ID) and not iri.startswith(ID + "genid/"):
        return "e/" + _slug(iri, ID)
    if iri.startswith(SRC):
        return "s/" + _slug(iri, SRC)
    if iri.startswith(PREFIXES["ind"]):
        return "i/" + _slug(iri, PREFIXES["ind"])
    return None


def quote_anchor(quote: str) -> str:
    """The id of a quote's first highlighted passage in its article page."""
    return "q-" + hashlib.md5(normalise_text(quote).encode("utf-8")).hexdigest()[:10]


def esc(text: Any) -> str:
    """HTML-escaped text."""
    return html.escape(str(text), quote=True)


class Site:
    """Reads the built store once and writes every page."""

    def __init__(self, project: Project, store: ox.Store, log: Log = lambda _: None):
        self.project, self.store, self.log = project, store, log
        self.things: dict[str, Thing] = {}
        self.pages = 0
        self.text_of: dict[str, str] = {}  # source -> the source whose page shows its text

    def quote_link(self, source: str, quote: str, depth: int = 1) -> str:
        """The address of a quote's highlighted passage: in its source's text, or in the note that
        transcribes the source."""
        holder = self.text_of.get(source, source)
        return f"{'../' * depth}{page_of(holder)}#{quote_anchor(quote)}"

    # --- reading the graph --------------------------------------------------------------
    def _rows(self, query: str) -> list[list[Any]]:
        return [[t for t in r] for r in select(self.store, query)]

    def thing(self, iri: str) -> Thing:
        """The Thing of an IRI (labels filled in by load())."""
        t = self.things.get(iri)
        if t is None:
            t = self.things[iri] = Thing(iri)
        return t

    def load(self) -> None:
        """Labels and kinds of everything, in two queries."""
        for s, label in self._rows(
            f"""SELECT ?s ?l WHERE {{ {{ ?s <{RDFS}label> ?l }} UNION {{ ?s <{SKOS}prefLabel> ?l }}
                UNION {{ ?s <{DCT}title> ?l }} FILTER(isIRI(?s)) }}"""
        ):
            t, lang = self.thing(s.value), getattr(label, "language", None) or ""
            if lang.startswith("zh"):
                t.zh = t.zh or label.value
            elif lang in ("en", "") or lang.startswith("en"):
                t.en = t.en or label.value
        for s, c in self._rows("SELECT ?s ?c WHERE { ?s a ?c FILTER(isIRI(?s) && isIRI(?c)) }"):
            self.thing(s.value).types.add(c.value)
        for doc, note in self._rows(f"SELECT ?d ?n WHERE {{ ?d <{CQKG}transcribedIn> ?n }}"):
            self.text_of[doc.value] = note.value

    def members(self, grouping: str) -> list[str]:
        """The clusters that are members of a grouping, by name."""
        found = {r[0].value for r in self._rows(f"SELECT ?c WHERE {{ ?c <{CQKG}memberOf> <{grouping}> }}")}
        return sorted(found, key=lambda m: (self.thing(m).name, m))

    def link(self, iri: str, depth: int = 1, text: str | None = None) -> str:
        """An HTML link to a thing's page (plain text when it has none), with its Chinese name."""
        t = self.thing(iri)
        label = esc(text if text is not None else t.name)
        target = page_of(iri)
        zh = f' <span class="zh">{esc(t.zh)}</span>' if text is None and t.zh and t.en else ""
        if target is None:
            return label + zh
        return f'<a href="{"../" * depth}{target}">{label}</a>{zh}'

    # --- writing -------------------------------------------------------------------------
    def write(self, out: Path, rel: str, title: str, body: str, jsonld: dict[str, Any] | None = None) -> None:
        """One page: header with the search box, body, footer; `rel` is its path in the site."""
        depth = rel.count("/")
        root = "../" * depth
        nav = "".join(
            f'<a href="{root}c/{key}.html">{esc(en)} <span class="zh">{esc(zh)}</span></a>'
            for key, en, zh, _ in CATEGORIES[:6]
        )
        ld = ""
        if jsonld:  # "</" would end the script element early
            data = json.dumps(jsonld, ensure_ascii=False).replace("</", "<\\/")
            ld = f'<script type="application/ld+json">{data}</script>'

        page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{esc(title)} · cqkg</title><link rel="stylesheet" href="{root}style.css">{ld}</head>
<body><header><a href="{root}index.html">cqkg · 重庆制造业知识图谱</a>{nav}
<span style="position:relative"><input id="search" type="search" placeholder="Search 搜索" aria-label="search">
<div id="hits"></div></span></header>
<main>{body}</main>
<script>var CQKG_ROOT="{root}";</script>
<script src="{root}search-index.js"></script><script src="{root}search.js"></script>
</body></html>
"""
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
        self.pages += 1


def build_site(project: Project, store: ox.Store, out: Path, progress: Log = lambda _: None) -> int:
    """Write the whole site into `out` (replaced whole: a failure leaves the old site), and return
    the number of pages; `progress` is told each stage."""
    site = Site(project, store, progress)
    progress("reading the graph")
    site.load()
    replace_folder(out, lambda folder: _write_all(site, folder))
    return site.pages


def _write_all(site: Site, out: Path) -> None:
    (out / "style.css").write_text(CSS, encoding="utf-8")
    (out / "search.js").write_text(SEARCH_JS, encoding="utf-8")
    facts = _facts(site)
    claims = _claims(site)
    site.log("writing pages")
    properties = _properties(site)
    quotes_by_source = _quotes_by_source(site, facts, claims)
    has_page: set[str] = set()
    for iri in list(site.things):
        if page_of(iri) and iri.startswith((ID, SRC, PREFIXES["ind"])) and not iri.startswith(ID + "obs/"):
            has_page.add(iri)
    for iri in list(facts):
        has_page.add(iri)
    # Entity pages.
    about: dict[str, list[str]] = defaultdict(list)
    for o, f in facts.items():
        for role in ("subject", "item", "shareOf", "indicator"):
            if f.get(role):
                about[f[role]].append(o)
    mentions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in claims:
        mentions[c["subject"]].append(c)
        if c["object_iri"]:
            mentions[c["object"]].append(c)
    for iri in sorted(has_page):
        if iri in facts:
            _fact_page(site, out, iri, facts[iri])
        elif iri.startswith(SRC):
            _source_page(site, out, iri, quotes_by_source.get(iri, {}), facts, claims, properties.get(iri, []))
        else:
            _entity_page(site, out, iri, about.get(iri, []), facts, mentions.get(iri, []), properties.get(iri, []))
    site.log("lists, index and charts")
    _category_pages(site, out, has_page)
    _index_page(site, out)
    index = [
        [page_of(i), site.thing(i).en or compact(i), site.thing(i).zh]
        for i in sorted(has_page)
        if i not in facts and page_of(i)
    ]
    (out / "search-index.js").write_text(
        "var CQKG_INDEX=" + json.dumps(index, ensure_ascii=False, separators=(",", ":")) + ";\n", encoding="utf-8"
    )


def _facts(site: Site) -> dict[str, dict[str, Any]]:
    rows = site._rows(
        f"""SELECT ?o ?p ?v WHERE {{ ?o a <{CQKG}Observation> ; ?p ?v .
              FILTER(?p IN (<{CQKG}subject>, <{CQKG}indicator>, <{CQKG}item>, <{CQKG}baseIndicator>,
                <{CQKG}shareOf>, <{CQKG}shareOfItem>, <{CQKG}counterpart>, <{CQKG}value>, <{CQKG}unit>,
                <{CQKG}period>, <{CQKG}status>, <{CQKG}comparator>, <{CQKG}source>, <{CQKG}quote>,
                <{CQKG}derivation>, <{CQKG}note>, <{CQKG}setBy>)) }}"""
    )
    facts: dict[str, dict[str, Any]] = defaultdict(lambda: {"quote": [], "source": [], "counterpart": []})
    for o, p, v in rows:
        key = p.value[len(CQKG) :]
        if key in ("quote", "source", "counterpart"):
            facts[o.value][key].append(v.value)
        elif key == "value":
            facts[o.value][key] = v  # the literal: formats.readable_number writes it for people
        else:
            facts[o.value][key] = v.value
    for o, part, reason in site._rows(
        f"""SELECT ?o ?part ?reason WHERE {{ ?o a <{CQKG}Observation> ; <{CQKG}assumption> ?a .
              ?a <{CQKG}assumedPart> ?part ; <{CQKG}reason> ?reason }}"""
    ):
        facts[o.value].setdefault("assumptions", []).append((part.value, reason.value))
    for f in facts.values():
        f["quote"].sort()
        f["source"].sort()
        f.setdefault("assumptions", []).sort()
    return dict(facts)


def _claims(site: Site) -> list[dict[str, Any]]:
    rows = site._rows(
        f"""SELECT ?c ?s ?p ?o ?src ?q WHERE {{ ?c a <{CQKG}Claim> ; <{RDF}subject> ?s ; <{RDF}predicate> ?p ;
              <{RDF}object> ?o ; <{CQKG}source> ?src ; <{CQKG}quote> ?q }}"""
    )
    out: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for _claim, s, p, o, src, q in rows:
        key = (s.value, p.value, o.value, src.value)
        entry = out.setdefault(
            key,
            {"subject": s.value, "predicate": p.value, "object": o.value, "object_iri": isinstance(o, ox.NamedNode),
             "source": src.value, "quote": []},
        )  # fmt: skip
        if q.value not in entry["quote"]:
            entry["quote"].append(q.value)
    return [out[k] for k in sorted(out)]


def _properties(site: Site) -> dict[str, list[tuple[str, Any]]]:
    rows = site._rows(
        f"""SELECT DISTINCT ?s ?p ?o WHERE {{ GRAPH ?g {{ ?s ?p ?o }}
              FILTER(?g != <{INFERRED_GRAPH}> && ?g != <{ONTOLOGY_GRAPH}> && isIRI(?s)
                     && (STRSTARTS(STR(?s), "{ID}") || STRSTARTS(STR(?s), "{SRC}"))
                     && !STRSTARTS(STR(?s), "{ID}obs/")) }}"""
    )
    out: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    for s, p, o in rows:
        if p.value not in SKIP_PROPERTIES:
            out[s.value].append((p.value, o))
    for v in out.values():
        v.sort(key=lambda x: (x[0], str(x[1])))
    return out


def _quotes_by_source(
    site: Site, facts: dict[str, Any], claims: list[dict[str, Any]]
) -> dict[str, dict[str, set[str]]]:
    """source -> quote -> the facts (observations, claims' subjects, things) quoting it."""
    out: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for s, src, q in site._rows(
        f"SELECT ?s ?src ?q WHERE {{ ?s <{CQKG}source> ?src ; <{CQKG}quote> ?q FILTER(isIRI(?s)) }}"
    ):
        out[src.value][q.value].add(s.value)
    for c in claims:
        for q in c["quote"]:
            out[c["source"]][q].add(c["subject"])
    # A note that transcribes other sources holds their quotes too.
    for doc, note in site.text_of.items():
        for q, who in list(out.get(doc, {}).items()):
            out[note][q] |= who
    return out


def _value(f: dict[str, Any]) -> str:
    """A fact's value for people: digits grouped, as in query tables."""
    return readable_number(f.get("value")) or display(f.get("value"))


def _fact_row(site: Site, o: str, f: dict[str, Any], depth: int = 1) -> str:
    unit = site.thing(f.get("unit", "")).en
    cmp_ = site.thing(f["comparator"]).en + " " if f.get("comparator") else ""
    share = ""
    if f.get("shareOf"):
        whole = site.thing(f["shareOf"]).name
        if f.get("shareOfItem"):
            whole = f"{site.thing(f['shareOfItem']).name} in {whole}"
        share = f"{site.thing(f.get('baseIndicator', '')).en} of {whole}".strip()
    assumed = ", ".join(p.rsplit("#", 1)[-1] for p, _ in f.get("assumptions", []))
    return (
        f"<tr><td>{site.link(f.get('indicator', ''), depth)}</td>"
        f"<td>{site.link(f['item'], depth) if f.get('item') else ''}"
        f"{'<br><span class=muted>share of ' + esc(share) + '</span>' if share else ''}</td>"
        f'<td class="num">{esc(cmp_)}{esc(_value(f))} {esc(unit)}</td>'
        f"<td>{esc(site.thing(f.get('period', '')).name)}</td><td>{esc(site.thing(f.get('status', '')).en)}</td>"
        f'<td class="assumed">{esc(assumed)}</td>'
        f'<td><a href="{"../" * depth}{page_of(o)}">fact 事实</a></td></tr>'
    )


FACT_HEAD = (
    "<tr><th>indicator 指标</th><th>item 对象</th><th>value 数值</th><th>period 时期</th><th>status 状态</th>"
    "<th>assumed 推定</th><th></th></tr>"
)


def _jsonld(site: Site, iri: str, props: list[tuple[str, Any]]) -> dict[str, Any]:
    t = site.thing(iri)
    doc: dict[str, Any] = {"@id": iri}
    if t.types:
        doc["@type"] = sorted(t.types)
    labels = [{"@value": v, "@language": lang} for v, lang in ((t.en, "en"), (t.zh, "zh")) if v]
    if labels:
        doc[RDFS + "label"] = labels
    for p, o in props:
        value: dict[str, Any]
        if isinstance(o, ox.NamedNode):
            value = {"@id": o.value}
        elif isinstance(o, ox.Literal):
            value = {"@value": o.value}
            if o.language:
                value["@language"] = o.language
            elif o.datatype.value != "http://www.w3.org/2001/XMLSchema#string":
                value["@type"] = o.datatype.value
        else:
            continue
        doc.setdefault(p, []).append(value)
    return doc


def _entity_page(site: Site, out: Path, iri: str, fact_ids: list[str], facts: dict[str, Any],
                 claims: list[dict[str, Any]], props: list[tuple[str, Any]]) -> None:  # fmt: skip
    t = site.thing(iri)
    types = ", ".join(sorted(site.thing(c).en or compact(c) for c in t.types if c.startswith(CQKG) or "ns/org#" in c))
    parts = [f'<h1>{esc(t.name)}<span class="zh">{esc(t.zh) if t.en else ""}</span></h1>',
             f'<p class="types">{esc(types)} · <code>{esc(compact(iri))}</code></p>']  # fmt: skip
    if CQKG + "ClusterSystem" in t.types:
        parts.append(_system_diagram(site, iri))
        parts.append(_chart(site, "cluster-targets"))
    if CQKG + "ClusterTier" in t.types:
        parts.append("<h2>Members <span class=zh>成员</span></h2><ul>")
        parts += [f"<li>{site.link(m)}</li>" for m in site.members(iri)]
        parts.append("</ul>")
    if fact_ids:
        parts.append(f"<h2>Facts <span class=zh>事实</span> ({len(fact_ids)})</h2><table>{FACT_HEAD}")
        parts += [_fact_row(site, o, facts[o]) for o in sorted(fact_ids, key=lambda o: (facts[o].get("period", ""), o))]
        parts.append("</table>")
    if props:
        parts.append("<h2>Properties <span class=zh>属性</span></h2><table>")
        for p, o in props:
            value = site.link(o.value) if isinstance(o, ox.NamedNode) else esc(o.value)
            parts.append(f"<tr><th>{esc(site.thing(p).en or compact(p))}</th><td>{value}</td></tr>")
        parts.append("</table>")
    if claims:
        parts.append("<h2>Statements <span class=zh>陈述</span></h2><table>")
        for c in claims:
            obj = site.link(c["object"]) if c["object_iri"] else esc(c["object"])
            quote = c["quote"][0] if c["quote"] else ""
            parts.append(
                f"<tr><td>{site.link(c['subject'])}</td>"
                f"<td>{esc(site.thing(c['predicate']).en or compact(c['predicate']))}</td><td>{obj}</td>"
                f'<td>“<a href="{site.quote_link(c["source"], quote)}">{esc(quote)}</a>”</td></tr>'
            )
        parts.append("</table>")
    site.write(out, page_of(iri) or "", t.name, "\n".join(parts), _jsonld(site, iri, props))


def _system_diagram(site: Site, system: str) -> str:
    """The system as tiers of clusters: known members, and dashed slots for the declared rest."""
    tiers = site._rows(
        f"""SELECT ?t ?rank ?n WHERE {{ ?t <{CQKG}tierOf> <{system}> ; <{CQKG}tierRank> ?rank .
              OPTIONAL {{ ?t <{CQKG}declaredMemberCount> ?n }} }} ORDER BY ?rank"""
    )
    html_parts = ['<h2>The system <span class="zh">集群体系</span></h2><div class="system">']
    for tier, _rank, declared in tiers:
        members = site.members(tier.value)
        n = int(declared.value) if declared is not None else len(members)
        slots = "".join(f'<span class="slot">{site.link(m)}</span>' for m in members)
        slots += "".join(
            '<span class="slot unknown">not yet known 待确认</span>' for _ in range(max(0, n - len(members)))
        )
        html_parts.append(
            f'<div class="tier"><strong>{site.link(tier.value)}</strong> '
            f'<span class="muted">{len(members)} of {n} known · 已知 {len(members)}/{n}</span>'
            f'<div class="slots">{slots}</div></div>'
        )
    html_parts.append("</div>")
    return "\n".join(html_parts)


def _chart(site: Site, name: str, params: dict[str, str] | None = None) -> str:
    """A saved query's declared chart as inline SVG (nothing when it has no rows)."""
    from .charts import ChartDeclaration, render, vega_lite
    from .queries import run_local

    q = Catalog(site.project).get(name)
    if not q.chart:
        return ""
    result = run_local(site.store, q, q.bindings(params or {}))
    if not result.rows:
        return ""
    svg = render(vega_lite(q.title, result, ChartDeclaration.parse(q.chart)), "svg").decode("utf-8")
    caption = f'<figcaption class="muted">saved query <code>{esc(name)}</code></figcaption>'
    return f'<figure class="chart">{svg}{caption}</figure>'


def _fact_page(site: Site, out: Path, o: str, f: dict[str, Any]) -> None:
    subject = site.thing(f.get("subject", ""))
    title = f"{subject.name} · {site.thing(f.get('indicator', '')).en}"
    rows = [
        ("subject 对象", site.link(f.get("subject", ""))),
        ("indicator 指标", site.link(f.get("indicator", ""))),
        ("item 计量对象", site.link(f["item"]) if f.get("item") else ""),
        ("value 数值", f"{esc(site.thing(f['comparator']).en) + ' ' if f.get('comparator') else ''}"
                       f"{esc(_value(f))} {esc(site.thing(f.get('unit', '')).en)}"),
        ("period 时期", esc(site.thing(f.get("period", "")).name)),
        ("status 状态", esc(site.thing(f.get("status", "")).en)),
    ]  # fmt: skip
    if f.get("baseIndicator"):
        rows.append(("of 基础指标", site.link(f["baseIndicator"])))
    if f.get("shareOf"):
        whole = site.link(f["shareOf"]) + (" · " + site.link(f["shareOfItem"]) if f.get("shareOfItem") else "")
        rows.append(("share of 占比基数", whole))
    if f.get("counterpart"):
        rows.append(("counterpart 对方", ", ".join(site.link(c) for c in f["counterpart"])))
    if f.get("derivation"):
        rows.append(("derived 推算", esc(f["derivation"])))
    body = [f"<h1>{esc(title)}</h1><p class=types>fact 事实 · <code>{esc(compact(o))}</code></p><table>"]
    body += [f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows if v]
    body.append("</table>")
    if f.get("assumptions"):
        body.append("<h2>Assumptions <span class=zh>推定</span></h2><table><tr><th>part</th><th>reason</th></tr>")
        body += [
            f'<tr><td class="assumed">{esc(p.rsplit("#", 1)[-1])}</td><td>{esc(r)}</td></tr>'
            for p, r in f["assumptions"]
        ]
        body.append("</table>")
    else:
        body.append('<p class="muted">Every part is stated by the quote. 各部分均由原文陈述。</p>')
    body.append("<h2>Quotes <span class=zh>原文</span></h2><ul>")
    for src in f["source"]:
        for q in f["quote"]:
            body.append(f'<li>“<a class="quote" href="{site.quote_link(src, q)}">{esc(q)}</a>” — {site.link(src)}</li>')
    body.append("</ul>")
    site.write(out, page_of(o) or "", title, "\n".join(body))


def _source_page(site: Site, out: Path, iri: str, quotes: dict[str, set[str]], facts: dict[str, Any],
                 claims: list[dict[str, Any]], props: list[tuple[str, Any]]) -> None:  # fmt: skip
    t = site.thing(iri)
    text_file = next((o.value for p, o in props if p == CQKG + "textFile"), None)
    body = [f"<h1>{esc(t.name)}</h1><p class=types>source 来源 · <code>{esc(compact(iri))}</code></p><table>"]
    for p, o in props:
        value = site.link(o.value) if isinstance(o, ox.NamedNode) else esc(o.value)
        body.append(f"<tr><th>{esc(site.thing(p).en or compact(p))}</th><td>{value}</td></tr>")
    body.append("</table>")
    from_here = sorted(o for o, f in facts.items() if iri in f["source"])
    if from_here:
        body.append(f"<h2>Facts <span class=zh>事实</span> ({len(from_here)})</h2><table>{FACT_HEAD}")
        body += [_fact_row(site, o, facts[o]) for o in from_here]
        body.append("</table>")
    if text_file:
        path = site.project.seeds_dir / text_file
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = ""
        body.append('<h2>Text <span class=zh>全文</span></h2><div class="article">')
        body.append(highlight(text, quotes))
        body.append("</div>")
    site.write(out, page_of(iri) or "", t.name, "\n".join(body), _jsonld(site, iri, props))


def highlight(text: str, quotes: Iterable[str]) -> str:
    """The text as paragraphs, each quoted passage in a <mark>, anchored by quote_anchor().

    >>> highlight("Output rose 5%.  It grew.", ["rose 5%"])
    '<p>Output <a id="q-ae586376b8"></a><mark>rose 5%</mark>. It grew.</p>'
    """
    wanted = sorted({normalise_text(q) for q in quotes if normalise_text(q)}, key=len, reverse=True)
    placed: set[str] = set()
    out = []
    for para in re.split(r"\n\s*\n", text):
        p = normalise_text(para)
        if not p:
            continue
        spans: list[tuple[int, int, str]] = []
        for q in wanted:
            start = p.find(q)
            if start >= 0:
                spans.append((start, start + len(q), q))
        starts: dict[int, list[str]] = defaultdict(list)
        marked = [False] * (len(p) + 1)
        for a, b, q in spans:
            if q not in placed:
                starts[a].append(quote_anchor(q))
                placed.add(q)
            for i in range(a, b):
                marked[i] = True
        pieces, i = [], 0
        while i < len(p):
            anchors = "".join(f'<a id="{x}"></a>' for x in starts.get(i, []))
            j = i + 1
            while j < len(p) and marked[j] == marked[i] and j not in starts:
                j += 1
            chunk = esc(p[i:j])
            pieces.append(anchors + (f"<mark>{chunk}</mark>" if marked[i] else chunk))
            i = j
        out.append("<p>" + "".join(pieces) + "</p>")
    return "\n".join(out)


def _category_pages(site: Site, out: Path, has_page: set[str]) -> None:
    for key, en, zh, classes in CATEGORIES:
        members = sorted(
            (i for i in has_page if site.thing(i).types & set(classes) and page_of(i)),
            key=lambda i: (site.thing(i).name.lower(), i),
        )
        items = "".join(f"<li>{site.link(i)}</li>" for i in members)
        site.write(out, f"c/{key}.html", en, f'<h1>{esc(en)}<span class="zh">{esc(zh)}</span></h1><ul>{items}</ul>')


def _index_page(site: Site, out: Path) -> None:
    systems = sorted(s for s, t in site.things.items() if CQKG + "ClusterSystem" in t.types and page_of(s))
    lists = "".join(
        f'<li><a href="c/{key}.html">{esc(en)}</a> <span class="zh">{esc(zh)}</span></li>'
        for key, en, zh, _ in CATEGORIES
    )
    body = [
        '<h1>Chongqing manufacturing knowledge graph<span class="zh">重庆制造业知识图谱</span></h1>',
        "<p>Every number with the sentence it came from. 每个数字都附有原文出处。</p>",
        "<h2>Cluster systems <span class=zh>产业集群体系</span></h2><ul>",
        *(f"<li>{site.link(s, 0)}</li>" for s in systems),
        "</ul>",
        f"<h2>Browse <span class=zh>浏览</span></h2><ul>{lists}</ul>",
        '<p><a href="/ui">SPARQL query UI 查询界面</a> (when served by <code>cqkg serve</code>)</p>',
        _chart(site, "fastest-growing"),
    ]
    site.write(out, "index.html", "cqkg", "\n".join(body))
