"""`cqkg site`: a page per thing, fact and article, generated from the built store."""

from __future__ import annotations

import json
import re
from pathlib import Path

from cqkg.manifest import open_store
from cqkg.project import Project
from cqkg.site import page_of, quote_anchor

from conftest import run_cli


def _observations(project: Path) -> set[str]:
    store = open_store(Project.at(project))
    rows = store.query("SELECT DISTINCT ?o WHERE { ?o a <https://w3id.org/cqkg/ontology#Observation> }")
    return {r[0].value for r in rows}


def test_site_has_a_page_per_fact_thing_and_article(built_project, tmp_path):
    out = tmp_path / "site"
    result = run_cli(built_project, "site", "-o", str(out))
    assert result.exit_code == 0, result.output
    facts = _observations(built_project)
    assert facts and {p.name for p in (out / "f").iterdir()} == {Path(page_of(o) or "").name for o in facts}
    system = (out / "e" / "System33618.html").read_text(encoding="utf-8")
    assert system.count('class="tier"') == 4 and system.count('class="slot unknown"') == 12
    ld = re.search(r'<script type="application/ld\+json">(.*?)</script>', system, re.S)
    assert ld and json.loads(ld.group(1))["@id"] == "https://w3id.org/cqkg/id/System33618"
    index = (out / "search-index.js").read_text(encoding="utf-8")
    assert "智能网联新能源汽车" in index and "e/IntelligentConnectedNEVCluster.html" in index
    for page in (out / "e").iterdir():  # no link leaves the site or points to a missing page
        for href in re.findall(r'href="([^"#?]+)', page.read_text(encoding="utf-8")):
            if not href.startswith(("http", "/")):
                assert (page.parent / href).resolve().is_file(), (page.name, href)


def test_each_fact_links_to_its_quote_highlighted_in_the_article(built_project, tmp_path):
    out = tmp_path / "site"
    assert run_cli(built_project, "site", "-o", str(out)).exit_code == 0
    fact = (out / "f" / "qc25-ev-production.html").read_text(encoding="utf-8")
    href = re.search(r'<a class="quote" href="\.\./(s/[^"#]+)#(q-[0-9a-f]+)"', fact)
    assert href, fact
    article = (out / href.group(1)).read_text(encoding="utf-8")
    marked = re.search(rf'<a id="{href.group(2)}"></a>(?:<a id="[^"]+"></a>)*<mark>([^<]*)', article)
    assert marked and "489,300" in marked.group(1)
    assert "period" in fact and "the summary" in fact  # the assumption and its reason are on the page
    assert quote_anchor("  a  b ") == quote_anchor("a b")  # anchors ignore whitespace, like quotes


def test_site_is_deterministic_and_replaced_whole(built_project, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_cli(built_project, "site", "-o", str(a)).exit_code == 0
    (a / "stale.html").write_text("from an older site", encoding="utf-8")
    assert run_cli(built_project, "site", "-o", str(a)).exit_code == 0
    assert run_cli(built_project, "site", "-o", str(b)).exit_code == 0
    assert not (a / "stale.html").exists()
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files_a)


def test_site_into_a_file_is_refused_in_one_line(built_project, tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    result = run_cli(built_project, "site", "-o", str(target))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert target.read_text() == "x"
