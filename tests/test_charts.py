"""Charts: every query that declares one is drawn, offline, with its values and labels."""

from __future__ import annotations

import re
import struct
import zlib
from html import unescape

import pytest

from cqkg.catalog import Catalog
from cqkg.charts import ChartDeclaration
from cqkg.errors import CqkgError
from cqkg.project import Project

from conftest import REPO, run_cli

CHARTED = sorted(q.name for q in Catalog(Project.at(REPO)).all() if q.chart)


def test_the_analyst_views_declare_charts():
    assert {
        "metrics-for-subject",
        "metrics-by-indicator",
        "targets-progress",
        "cluster-targets",
        "fastest-growing",
    } <= set(CHARTED)


def rows(project, name):
    import json

    result = run_cli(project, "query", name, "-f", "json")
    assert result.exit_code == 0, result.output
    return [{k: v["value"] for k, v in b.items()} for b in json.loads(result.stdout)["results"]["bindings"]]


def numbers_in(svg: str) -> set[float]:
    """Every number the SVG states: text marks and the per-mark descriptions Vega writes."""
    text = unescape(svg)
    return {float(n.replace(",", "")) for n in re.findall(r"-?\d[\d,]*(?:\.\d+)?", text)}


@pytest.mark.parametrize("name", CHARTED)
def test_every_declared_chart_draws_its_values_and_labels(built_project, tmp_path, name):
    out = tmp_path / f"{name}.svg"
    result = run_cli(built_project, "chart", name, "-o", str(out))
    assert result.exit_code == 0, result.output
    svg = out.read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "</svg>" in svg
    q = Catalog(Project.at(built_project)).get(name)
    chart = ChartDeclaration.parse(q.chart)
    data = rows(built_project, name)
    value_col = (chart.fields.get("progress") or chart.fields.get("y") if chart.kind != "bar" else chart.fields["x"])[0]
    label_col = (chart.fields.get("label") or chart.fields.get("color") or chart.fields["y"])[0]
    stated = numbers_in(svg)
    values = [float(r[value_col]) for r in data if r.get(value_col)]
    assert values and all(any(abs(v - s) <= 0.051 * max(1, abs(v)) for s in stated) for v in values), values
    labels = {r[label_col] for r in data if r.get(label_col)}
    assert labels and all(unescape(label) in unescape(svg) or label[:20] in unescape(svg) for label in labels)


def test_chinese_labels_are_drawn_as_text(built_project, tmp_path):
    out = tmp_path / "clusters.svg"
    assert run_cli(built_project, "chart", "cluster-targets", "-o", str(out)).exit_code == 0
    svg = unescape(out.read_text(encoding="utf-8"))
    zh = {r["cluster_zh"] for r in rows(built_project, "cluster-targets")}
    assert zh and all(name in svg for name in zh)  # 智能网联新能源汽车 …
    assert "WenQuanYi Micro Hei" in svg  # the CJK font the charts ask for


def _png_pixels(data: bytes) -> tuple[int, int, bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    return width, height, zlib.decompress(idat)


def test_png_has_real_content(built_project, tmp_path):
    out = tmp_path / "growth.png"
    assert run_cli(built_project, "chart", "fastest-growing", "-o", str(out)).exit_code == 0
    width, height, raw = _png_pixels(out.read_bytes())
    assert width > 400 and height > 100
    assert len(set(raw)) > 50  # many distinct byte values: bars, text, axes — not a blank canvas


def test_html_works_offline_and_tooltips_carry_the_quote(built_project, tmp_path):
    out = tmp_path / "targets.html"
    assert run_cli(built_project, "chart", "targets-progress", "-o", str(out)).exit_code == 0
    html = out.read_text(encoding="utf-8")
    assert "cdn.jsdelivr" not in html and '<script src="http' not in html  # Vega is bundled in
    assert "target_quote" in html and "The goal is to produce 2.6 million vehicles" in html


def test_chart_errors_are_one_line(built_project, tmp_path):
    no_chart = run_cli(built_project, "chart", "sources", "-o", str(tmp_path / "x.svg"))
    assert no_chart.exit_code == 2 and "declares no chart" in no_chart.output
    bad_suffix = run_cli(built_project, "chart", "fastest-growing", "-o", str(tmp_path / "x.gif"))
    assert bad_suffix.exit_code == 2 and "name it .svg, .png or .html" in bad_suffix.output
    assert not (tmp_path / "x.gif").exists() and not (tmp_path / "x.svg").exists()
    for result in (no_chart, bad_suffix):
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) <= 3


@pytest.mark.parametrize(
    "text, message",
    [
        ("pie x=a", "chart kind must be one of"),
        ("line x=year", "needs y=COLUMN"),
        ("bar x=a y=b shape=c", "expected key=column"),
    ],
)
def test_declaration_mistakes_are_refused(text, message):
    with pytest.raises(CqkgError, match=message):
        ChartDeclaration.parse(text)
