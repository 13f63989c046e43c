"""Charts of saved queries: the chart a query declares in its header, drawn with Vega-Lite.

A query declares its default view, like the Wikidata Query Service's `#defaultView`:

    #+ chart: line x=year y=value color=item dash=status facet=indicator
    #+ chart: bar x=growth_pct y=subject_label+item_label color=of_indicator
    #+ chart: progress label=subject_label+indicator+item_label progress=progress_pct

`x`, `y`, `color`, `dash`, `facet`, `label` and `progress` name result columns; `a+b` joins
columns into one label ("Chongqing · new energy vehicles"). The chart is a Vega-Lite spec built
with altair and rendered offline by vl-convert (SVG, PNG, or HTML with Vega bundled in, no CDN).
Every mark's tooltip shows the whole row, so the source and quote of each number travel with it.
Chinese labels need a CJK font on the machine; the charts ask for WenQuanYi Micro Hei (Debian's
fonts-wqy-microhei), then Noto Sans CJK.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import CqkgError
from .formats import display, number
from .queries import QueryResult

KINDS = ("line", "bar", "progress")
KEYS = {"x", "y", "color", "dash", "facet", "label", "progress", "title"}
FORMATS = ("svg", "png", "html")
FONT = "WenQuanYi Micro Hei, Noto Sans CJK SC, Noto Sans SC, sans-serif"
_NEEDED = {"line": ("x", "y"), "bar": ("x", "y"), "progress": ("label", "progress")}


@dataclass(frozen=True)
class ChartDeclaration:
    """The chart a saved query declares: its kind and which columns play which part.

    >>> ChartDeclaration.parse("line x=year y=value color=item").fields["color"]
    ['item']
    """

    kind: str
    fields: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str, where: str = "") -> ChartDeclaration:
        """Read `KIND key=column[+column] ...`; a mistake names `where` and what is allowed."""
        words = text.split()
        if not words or words[0] not in KINDS:
            raise CqkgError(f"{where}chart kind must be one of {', '.join(KINDS)}: {text!r}")
        fields: dict[str, list[str]] = {}
        for word in words[1:]:
            key, sep, value = word.partition("=")
            if not sep or key not in KEYS or not value:
                raise CqkgError(
                    f"{where}chart: expected key=column with key one of {', '.join(sorted(KEYS))}: {word!r}"
                )
            fields[key] = [value.replace("_", " ")] if key == "title" else value.split("+")
        missing = [k for k in _NEEDED[words[0]] if k not in fields]
        if missing:
            raise CqkgError(f"{where}chart {words[0]!r} needs {' and '.join(f'{k}=COLUMN' for k in missing)}")
        return cls(words[0], fields)

    def columns(self) -> set[str]:
        """Every result column the chart uses."""
        return {c for k, cols in self.fields.items() if k != "title" for c in cols}


def _cell(term: Any) -> Any:
    """A result cell as Vega data: numbers as numbers, everything else as readable text."""
    if term is None:
        return None
    value = number(term)
    return float(value) if value is not None and value.is_finite() else display(term)


def rows_for_chart(result: QueryResult, chart: ChartDeclaration) -> list[dict[str, Any]]:
    """The result as a list of records, with the joined labels the declaration asks for."""
    missing = sorted(chart.columns() - set(result.variables))
    if missing:
        raise CqkgError(f"chart uses column(s) {', '.join(missing)} that the query does not select")
    records = []
    for row in result.rows:
        rec = {v: _cell(t) for v, t in zip(result.variables, row, strict=True)}
        for key, cols in chart.fields.items():
            if key != "title" and len(cols) > 1:
                rec["+".join(cols)] = " · ".join(str(rec[c]) for c in cols if rec.get(c) not in (None, ""))
        records.append(rec)
    return records


def _title(column: str) -> str:
    """An axis or legend title for a column or joined columns: "subject_label+item_label" ->
    "subject · item"."""
    return " · ".join(c.removesuffix("_label").replace("_", " ") for c in column.split("+"))


def vega_lite(title: str, result: QueryResult, chart: ChartDeclaration) -> dict[str, Any]:
    """The Vega-Lite spec (a dict) of `result` drawn as `chart` declares."""
    import altair as alt  # ~0.5 s to import: only when a chart is drawn

    if chart.kind == "bar" and "color" in chart.fields:  # one bar per row: the colour joins the label
        extra = [c for c in chart.fields["color"] if c not in chart.fields["y"]]
        chart = ChartDeclaration(chart.kind, {**chart.fields, "y": chart.fields["y"] + extra})
    records = rows_for_chart(result, chart)
    if not records:
        raise CqkgError("the query returned no rows: nothing to chart")
    col = {k: "+".join(v) for k, v in chart.fields.items() if k != "title"}
    tooltip = [
        alt.Tooltip(f"{v}:N" if not isinstance(records[0].get(v), float) else f"{v}:Q") for v in result.variables
    ]
    data = alt.Data(values=records)
    base = alt.Chart(data)
    layers: Any
    if chart.kind == "line":
        enc: dict[str, Any] = {
            "x": alt.X(f"{col['x']}:O", title=_title(col["x"])),
            "y": alt.Y(f"{col['y']}:Q", title=_title(col["y"])),
            "tooltip": tooltip,
        }
        if "color" in col:
            enc["color"] = alt.Color(f"{col['color']}:N", title=_title(col["color"]))
        if "dash" in col:
            enc["strokeDash"] = alt.StrokeDash(f"{col['dash']}:N", title=_title(col["dash"]))
        layers = base.mark_line(point=True).encode(**enc).properties(width=420, height=180)
    elif chart.kind == "bar":
        # Bars side by side, never stacked: two rates of one subject are two bars, not a sum.
        enc = {
            "x": alt.X(f"{col['x']}:Q", title=_title(col["x"]), stack=None),
            "y": alt.Y(f"{col['y']}:N", sort="-x", title=None, axis=alt.Axis(labelLimit=360)),
            "tooltip": tooltip,
        }
        if "color" in col:
            enc["color"] = alt.Color(f"{col['color']}:N", title=_title(col["color"]))
        bars = base.mark_bar().encode(**enc)
        text = base.mark_text(align="left", dx=3).encode(
            x=alt.X(f"{col['x']}:Q", stack=None),
            y=alt.Y(f"{col['y']}:N", sort="-x"),
            text=alt.Text(f"{col['x']}:Q", format=",.4~g"),
        )
        layers = (bars + text).properties(width=420)
    else:  # progress: how far each target is reached, 100 % drawn as a rule
        label, progress = col["label"], col["progress"]
        bars = base.mark_bar().encode(
            x=alt.X(f"{progress}:Q", title="progress towards the target (%)", scale=alt.Scale(domainMin=0), stack=None),
            y=alt.Y(f"{label}:N", sort="-x", title=None, axis=alt.Axis(labelLimit=360)),
            color=alt.condition(f"datum['{progress}'] >= 100", alt.value("#2e7d32"), alt.value("#4c78a8")),
            tooltip=tooltip,
        )
        text = base.mark_text(align="left", dx=3).encode(
            x=alt.X(f"{progress}:Q", stack=None),
            y=alt.Y(f"{label}:N", sort="-x"),
            text=alt.Text(f"{progress}:Q", format=".1f"),
        )
        goal = alt.Chart(alt.Data(values=[{"goal": 100}])).mark_rule(strokeDash=[4, 3]).encode(x="goal:Q")
        layers = alt.layer(bars, text, goal).properties(width=420)
    if "facet" in col and chart.kind == "line":
        layers = layers.facet(row=alt.Row(f"{col['facet']}:N", title=None)).resolve_scale(y="independent")
    heading = chart.fields.get("title", [title])[0]
    spec: dict[str, Any] = layers.properties(title=heading).to_dict()
    spec["config"] = {**spec.get("config", {}), "font": FONT, "legend": {"labelLimit": 360}}
    return spec


def render(spec: dict[str, Any], fmt: str) -> bytes:
    """Render a Vega-Lite spec offline: SVG or HTML text, or PNG bytes."""
    import vl_convert as vlc

    if fmt not in FORMATS:
        raise CqkgError(f"unknown chart format {fmt!r}; choose one of {', '.join(FORMATS)}")
    try:
        if fmt == "svg":
            return vlc.vegalite_to_svg(spec).encode("utf-8")
        if fmt == "png":
            return bytes(vlc.vegalite_to_png(spec, scale=2))
        return vlc.vegalite_to_html(spec, bundle=True).encode("utf-8")
    except (ValueError, RuntimeError) as e:  # vl-convert reports a spec it cannot draw
        raise CqkgError(f"the chart could not be drawn: {e}") from None
