"""Tables for people: columns by screen width (Chinese takes two), numbers grouped or humanised;
CSV, TSV and JSON keep every value exact."""

from __future__ import annotations

import pyoxigraph as ox
import pytest
from wcwidth import wcswidth as width  # measured independently of cqkg's own width()

from cqkg.formats import format_result
from cqkg.queries import QueryResult
from cqkg.terms import XSD

from conftest import run_cli

DEC = ox.NamedNode(XSD + "decimal")
RESULT = QueryResult(
    ["name", "value", "note"],
    [
        (ox.Literal("智能网联新能源汽车"), ox.Literal("2200000000000", datatype=DEC), ox.Literal("a")),
        (ox.Literal("NEV"), ox.Literal("1300000.0", datatype=DEC), ox.Literal("b")),
        (ox.Literal("x"), ox.Literal("37.6", datatype=DEC), None),
    ],
)


def column_starts(line: str) -> list[int]:
    """Screen columns where each cell of a table line starts."""
    starts, col, prev_space = [], 0, True
    for i, ch in enumerate(line):
        if ch != " " and (prev_space and (i == 0 or line[i - 2 : i] == "  ")):
            starts.append(col)
        prev_space = ch == " "
        col += width(ch)
    return starts


def test_columns_line_up_by_screen_width():
    lines = format_result(RESULT, "table").splitlines()
    assert len({tuple(column_starts(ln)[:3]) for ln in lines[2:4]} | {tuple(column_starts(lines[0]))}) == 1


@pytest.mark.parametrize(
    "human,expected", [(False, ["2,200,000,000,000", "1,300,000", "37.6"]), (True, ["2.2 trn", "1.3 m", "37.6"])]
)
def test_numbers_are_grouped_or_humanised_in_tables_only(human, expected):
    table = format_result(RESULT, "table", human=human)
    assert all(e in table for e in expected)
    assert "2200000000000" in format_result(RESULT, "csv", human=human)
    assert '"2200000000000"' in format_result(RESULT, "json", human=human)


def test_cells_are_cut_by_screen_columns():
    table = format_result(RESULT, "table", max_width=6)
    assert "智能…" in table and all(width(c) <= 6 for ln in table.splitlines()[2:4] for c in ln.split("  ") if c)


def test_cli_human_flag(built_project):
    result = run_cli(built_project, "query", "cluster-targets", "--human")
    assert result.exit_code == 0 and "1.3 m" in result.stdout
    exact = run_cli(built_project, "query", "cluster-targets", "-f", "csv", "--human")
    assert "1300000" in exact.stdout
