"""Query results as text: an aligned table, CSV, TSV, Markdown or SPARQL 1.1 JSON results."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal, InvalidOperation

import pyoxigraph as ox

from .errors import CqkgError
from .queries import QueryResult
from .terms import XSD, Term, compact, term_to_json

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


_NUMERIC = {XSD + n for n in ("integer", "decimal", "double", "float", "long", "int", "nonNegativeInteger")}
_HUMAN = [(Decimal(10) ** 12, "trn"), (Decimal(10) ** 9, "bn"), (Decimal(10) ** 6, "m"), (Decimal(10) ** 3, "k")]


def number(t: Term | None) -> Decimal | None:
    """The value of a numeric literal (xsd:integer, decimal, double …), None for anything else.

    >>> number(ox.Literal("1.5", datatype=ox.NamedNode(XSD + "decimal")))
    Decimal('1.5')
    """
    if not isinstance(t, ox.Literal) or t.datatype.value not in _NUMERIC:
        return None
    try:
        return Decimal(t.value)
    except InvalidOperation:
        return None


def readable_number(t: Term | None, human: bool = False) -> str | None:
    """A numeric literal for people: digits grouped (2,200,000,000,000), or with `human` scaled
    (2.2 trn, 1.3 m); None for anything that is not a number.

    >>> readable_number(ox.Literal("2200000000000", datatype=ox.NamedNode(XSD + "decimal")), human=True)
    '2.2 trn'
    """
    n = number(t)
    if n is None:
        return None
    if not n.is_finite():
        return display(t)
    if human:
        for size, name in _HUMAN:
            if abs(n) >= size:
                return f"{(n / size).quantize(Decimal('0.1')).normalize():f} {name}"
    text = f"{n:,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def width(text: str) -> int:
    """Columns `text` takes on a terminal: East Asian wide characters take two (wcwidth)."""
    from wcwidth import wcswidth

    w = wcswidth(text)
    return w if w >= 0 else len(text)


def format_result(result: QueryResult, fmt: str, max_width: int = 0, human: bool = False) -> str:
    """The rows in `fmt`; table cells are cut at `max_width` screen columns (0 = never).

    Tables and Markdown group the digits of numbers (or, with `human`, scale them: 2.2 trn);
    CSV, TSV and JSON keep every value exactly as stored.
    """
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
    cells = [[readable_number(t, human) or display(t) for t in row] for row in result.rows]
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


def _cut(text: str, most: int) -> str:
    """`text` cut to at most `most` screen columns, with an ellipsis."""
    if width(text) <= most:
        return text
    out, used = "", 0
    for ch in text:
        w = width(ch)
        if used + w > most - 1:
            break
        out, used = out + ch, used + w
    return out + "…"


def _table(variables: list[str], cells: list[list[str]], max_width: int) -> str:
    cells = [[c.replace("\n", " ") for c in row] for row in cells]
    if max_width:
        cells = [[_cut(c, max_width) for c in row] for row in cells]
    widths = [max([width(v)] + [width(r[i]) for r in cells]) for i, v in enumerate(variables)]

    def fmt_row(r: list[str]) -> str:
        return "  ".join(c + " " * (w - width(c)) for c, w in zip(r, widths, strict=True)).rstrip()

    lines = [fmt_row(variables), fmt_row(["-" * w for w in widths])]
    lines += [fmt_row(r) for r in cells]
    lines.append(f"({len(cells)} row{'s' if len(cells) != 1 else ''})")
    return "\n".join(lines) + "\n"
