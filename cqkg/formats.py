"""Query results as text: an aligned table, CSV, TSV, Markdown or SPARQL 1.1 JSON results."""

from __future__ import annotations

import csv
import io
import json

import pyoxigraph as ox

from .errors import CqkgError
from .queries import QueryResult
from .terms import Term, compact, term_to_json

OUTPUT_FORMATS = ("table", "csv", "tsv", "json", "md")


def display(t: Term | None, compact_iris: bool = True) -> str:
    """A cell's text: IRIs with prefixes (when `compact_iris`), literals as their lexical form."""
    if t is None:
        return ""
    if isinstance(t, ox.NamedNode):
        return compact(t.value) if compact_iris else t.value
    if isinstance(t, ox.BlankNode):
        return f"_:{t.value}"
    return t.value


def format_result(result: QueryResult, fmt: str, max_width: int = 0) -> str:
    """The rows in `fmt`; table cells are cut at `max_width` characters (0 = never)."""
    if fmt == "json":
        body = {
            "head": {"vars": result.variables},
            "results": {
                "bindings": [
                    {v: term_to_json(t) for v, t in zip(result.variables, row, strict=True) if t is not None}
                    for row in result.rows
                ]
            },
        }
        return json.dumps(body, ensure_ascii=False, indent=2) + "\n"
    if fmt in ("csv", "tsv"):
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter="," if fmt == "csv" else "\t", lineterminator="\n")
        writer.writerow(result.variables)
        for row in result.rows:
            writer.writerow([display(t, compact_iris=False) for t in row])
        return buf.getvalue()
    cells = [[display(t) for t in row] for row in result.rows]
    if fmt == "md":
        return _markdown(result.variables, cells)
    if fmt == "table":
        return _table(result.variables, cells, max_width)
    raise CqkgError(f"unknown output format {fmt!r}; choose one of {', '.join(OUTPUT_FORMATS)}")


def _markdown(variables: list[str], cells: list[list[str]]) -> str:
    def esc(s: str) -> str:
        return s.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(variables) + " |", "|" + "|".join("---" for _ in variables) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in cells]
    return "\n".join(lines) + "\n"


def _table(variables: list[str], cells: list[list[str]], max_width: int) -> str:
    if max_width:
        cells = [[c if len(c) <= max_width else c[: max_width - 1] + "…" for c in row] for row in cells]
    cells = [[c.replace("\n", " ") for c in row] for row in cells]
    widths = [max([len(v)] + [len(r[i]) for r in cells]) for i, v in enumerate(variables)]

    def fmt_row(r: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()

    lines = [fmt_row(variables), fmt_row(["-" * w for w in widths])]
    lines += [fmt_row(r) for r in cells]
    lines.append(f"({len(cells)} row{'s' if len(cells) != 1 else ''})")
    return "\n".join(lines) + "\n"
