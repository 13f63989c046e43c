"""The served site and query UI in a real browser: headless Chromium (Debian's chromium and
chromium-driver), driven by Selenium. Assertions are on the DOM; screenshots go to the test's
temporary folder for a person to look at."""

from __future__ import annotations

import os
import shutil
import urllib.parse
from pathlib import Path

import pytest

from conftest import Served

CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture
def browser():
    if not (shutil.which("chromium") and os.path.exists(CHROMEDRIVER)):
        if os.environ.get("CI"):
            pytest.fail("chromium and chromium-driver are missing; .ci/run installs them")
        pytest.skip("chromium and chromium-driver are not installed (CI installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    flags = ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1000", "--disable-dev-shm-usage")
    for arg in flags:
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _click_link(driver, text: str) -> None:
    from selenium.webdriver.common.by import By

    links = [a for a in driver.find_elements(By.TAG_NAME, "a") if text in a.text]
    assert links, f"no link with {text!r} on {driver.current_url}"
    driver.get(links[0].get_attribute("href"))


def test_site_from_the_33618_system_to_a_highlighted_quote(built_project, browser, tmp_path: Path):
    from selenium.webdriver.common.by import By

    served = Served(built_project)
    try:
        browser.get(served.base + "/")
        assert "重庆制造业知识图谱" in browser.find_element(By.TAG_NAME, "h1").text
        browser.save_screenshot(str(tmp_path / "1-index.png"))
        _click_link(browser, "33618")
        tiers = browser.find_elements(By.CSS_SELECTOR, ".tier")
        assert len(tiers) == 4 and "6 of 18 known" in tiers[3].text
        assert len(browser.find_elements(By.CSS_SELECTOR, ".slot.unknown")) == 12  # declared, not known
        assert browser.find_elements(By.CSS_SELECTOR, "figure.chart svg")  # the cluster-targets chart
        browser.save_screenshot(str(tmp_path / "2-system.png"))
        _click_link(browser, "intelligent connected new energy vehicles")
        assert "智能网联新能源汽车" in browser.find_element(By.TAG_NAME, "h1").text
        ld = browser.find_element(By.CSS_SELECTOR, 'script[type="application/ld+json"]').get_attribute("innerHTML")
        assert "https://w3id.org/cqkg/id/IntelligentConnectedNEVCluster" in ld
        browser.save_screenshot(str(tmp_path / "3-cluster.png"))
        _click_link(browser, "fact 事实")
        quote = browser.find_element(By.CSS_SELECTOR, "a.quote")
        quoted = quote.text
        assert browser.find_element(By.TAG_NAME, "h1").text and quoted
        browser.save_screenshot(str(tmp_path / "4-fact.png"))
        browser.get(quote.get_attribute("href"))
        anchor = urllib.parse.urlsplit(browser.current_url).fragment
        assert anchor.startswith("q-")
        marked = browser.execute_script(
            """const a = document.getElementById(arguments[0]); let m = a.nextElementSibling;
               while (m && m.tagName === 'A' && !m.textContent) m = m.nextElementSibling;  // stacked anchors
               let t = '', n = m;
               while (n && t.length < arguments[1]) { t += n.textContent; n = n.nextSibling; }
               return [m ? m.tagName : '', t];""",
            anchor,
            len(quoted),
        )
        assert marked[0] == "MARK" and " ".join(marked[1].split()).startswith(" ".join(quoted.split())[:40])
        browser.save_screenshot(str(tmp_path / "5-article.png"))
    finally:
        served.stop()


def test_query_ui_runs_a_saved_query_and_its_shared_link(built_project, browser, tmp_path: Path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    served = Served(built_project)
    try:
        browser.get(served.base + "/ui")
        wait = WebDriverWait(browser, 30)
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, 'a[data-name="metrics-for-subject"]'))).click()
        browser.find_element(By.ID, "run-saved").click()
        count = wait.until(ec.presence_of_element_located((By.ID, "count")))
        assert int(count.text.split()[0]) > 0
        assert "Chongqing" in browser.find_element(By.ID, "out").text
        browser.save_screenshot(str(tmp_path / "ui-saved.png"))
        shared = browser.find_element(By.ID, "link").get_attribute("href")
        assert "/ui?saved=metrics-for-subject" in shared
        browser.get(shared)  # the link as printed runs the query by itself
        count = WebDriverWait(browser, 30).until(ec.presence_of_element_located((By.ID, "count")))
        assert int(count.text.split()[0]) > 0
    finally:
        served.stop()


def test_release_ontology_docs_open_with_every_class_in_both_languages(seed_project, browser, tmp_path: Path):
    import rdflib
    from selenium.webdriver.common.by import By

    from conftest import run_cli

    dist = tmp_path / "dist"
    result = run_cli(seed_project, "release", "--version", "0.1.0", "-o", str(dist), "--first")
    assert result.exit_code == 0, result.output
    browser.get((dist / "ontology.html").as_uri())
    headings = {h.text.split("\n")[0].strip() for h in browser.find_elements(By.TAG_NAME, "h3")}
    browser.save_screenshot(str(tmp_path / "ontology-docs.png"))
    onto = rdflib.Graph().parse(dist / "cqkg-0.1.0-ontology.ttl", format="turtle")
    classes = set(onto.subjects(rdflib.RDF.type, rdflib.OWL.Class))
    assert classes
    for c in classes:
        labels = {lit.language: str(lit) for lit in onto.objects(c, rdflib.RDFS.label)}
        shown = [h for h in headings if h.startswith(f"{labels['en']} · {labels['zh']}")]
        assert shown, (c, labels)
