"""`cqkg draft`: numbers read right, nothing invented, nothing unreviewed gets in, and a reviewed
draft builds and answers queries (an English and a Chinese example article)."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cqkg.draft import propose
from cqkg.numbers import found_numbers, states
from cqkg.project import Project

from conftest import FIXTURES, run_cli

EXAMPLES = [
    ("robotics-en.txt", "2025-07-robotics-en", "Chongqing's robot makers expand output", "Example Daily", "en"),
    ("robotics-zh.txt", "2025-07-robotics-zh", "重庆机器人产业加快发展", "示例日报", "zh"),
]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("up 5.6% to 1.3 million vehicles", [Decimal("5.6"), Decimal("1300000")]),
        ("2,200 billion yuan and three million more", [Decimal("2200000000000"), Decimal("3000000")]),
        (
            "产量达到1.25万台，增长百分之五，产值500亿元，一百三十万辆",
            [Decimal("12500"), Decimal("5"), Decimal("50000000000"), Decimal("1300000")],
        ),
        ("4万亿级 and 1.3亿", [Decimal("4000000000000"), Decimal("130000000")]),
    ],
)
def test_numbers_are_read_in_base_units(text, expected):
    assert [f.value for f in found_numbers(text)] == expected


# Number words in mixed case, near misses ("often", "bone", "tent") and digits.
WORDS = (
    "one Two THIRTEEN twenty hundred thousands Million first Tenth and - often nonetheless mother 1.3 5% 2,200 "
    "bone oneself 四 万 tent Hundreds"
).split()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=12), st.lists(st.sampled_from([" ", "", ", ", "-"]), min_size=12))
def test_number_words_are_read_as_without_the_first_letter_lookahead(words, seps):
    """numbers._WORDS and _ORDINAL start with a lookahead for their words' first letters (speed):
    the same numbers as the patterns without it, on texts of number words, near misses and digits."""
    import cqkg.numbers as numbers

    text = "".join(w + s for w, s in zip(words, seps, strict=False))
    fast = [(f.surface, f.value, f.start) for f in found_numbers(text, small_words=True)]
    plain = {name: getattr(numbers, name) for name in ("_WORDS", "_ORDINAL")}
    try:
        for name, pattern in plain.items():
            assert pattern.pattern.startswith("(?=[")
            setattr(numbers, name, re.compile(re.sub(r"^\(\?=\[[a-z]+\]\)", "", pattern.pattern), pattern.flags))
        assert [(f.surface, f.value, f.start) for f in found_numbers(text, small_words=True)] == fast, text
    finally:
        for name, pattern in plain.items():
            setattr(numbers, name, pattern)


def draft(project, name, doc_id, title, publisher, lang):
    return run_cli(
        project,
        "draft",
        str(FIXTURES / "draft" / name),
        "--id",
        doc_id,
        "--title",
        title,
        "--publisher",
        publisher,
        "--date",
        "2025-07-16",
        "--lang",
        lang,
    )


def test_a_draft_is_refused_until_reviewed_then_builds_and_answers(seed_project):
    review = json.loads((FIXTURES / "draft" / "review.json").read_text(encoding="utf-8"))
    for name, doc_id, title, publisher, lang in EXAMPLES:
        result = draft(seed_project, name, doc_id, title, publisher, lang)
        assert result.exit_code == 0, result.output
        assert "4 candidate observations" in result.stdout
    unreviewed = run_cli(seed_project, "validate")
    assert unreviewed.exit_code == 1 and "drafted, not reviewed" in unreviewed.stdout and "[todo]" in unreviewed.stdout
    assert run_cli(seed_project, "build").exit_code == 1  # nothing unchecked enters the graph
    for _, doc_id, *_ in EXAMPLES:  # the review: check each node, delete its mark, decide the to-dos
        ttl = seed_project / "seeds" / f"{doc_id}.ttl"
        text = "\n".join(
            ln for ln in ttl.read_text(encoding="utf-8").splitlines() if "cqkg:unreviewed true ;" not in ln
        )
        for old, new in review[f"{doc_id}.ttl"]:
            assert old in text, old
            text = text.replace(old, new)
        ttl.write_text(text + "\n", encoding="utf-8")
    built = run_cli(seed_project, "build")
    assert built.exit_code == 0, built.output
    assert run_cli(seed_project, "audit").exit_code == 0
    rows = run_cli(seed_project, "query", "facts-from-source", "-p", "source=src:2025-07-robotics-zh", "-f", "csv")
    assert rows.exit_code == 0 and "两江新区已聚集机器人企业超过120家。" in rows.stdout
    zone = run_cli(seed_project, "query", "metrics-for-subject", "-p", "subject=cq:LiangjiangNewArea", "-f", "csv")
    assert zone.stdout.count("More than 120 robotics enterprises now operate in Liangjiang New Area.") >= 1


def test_the_draft_never_invents_a_value(seed_project):
    for name, *_ in EXAMPLES:
        text = (FIXTURES / "draft" / name).read_text(encoding="utf-8")
        candidates, _ = propose(Project.at(seed_project), text, date(2025, 7, 16))
        assert candidates
        for c in candidates:
            assert c.quote in text and states(c.quote, c.value), (c.quote, c.value)


def test_a_draft_refuses_to_overwrite_and_bad_input_is_one_line(seed_project):
    name, doc_id, title, publisher, lang = EXAMPLES[0]
    assert draft(seed_project, name, doc_id, title, publisher, lang).exit_code == 0
    again = draft(seed_project, name, doc_id, title, publisher, lang)
    assert again.exit_code == 2 and "exists already" in again.stderr
    bad_id = draft(seed_project, name, "../escape", title, publisher, lang)
    assert bad_id.exit_code == 2 and "--id" in bad_id.stderr
    bad_date = run_cli(
        seed_project,
        "draft",
        str(FIXTURES / "draft" / name),
        "--id",
        "x",
        "--title",
        "t",
        "--publisher",
        "p",
        "--date",
        "16/07/2025",
    )
    assert bad_date.exit_code == 2 and "YYYY-MM-DD" in bad_date.stderr
    assert not (seed_project / "seeds" / "x.txt").exists()


def test_numbers_that_are_not_facts_are_proposed_as_ignore_lines(seed_project):
    text = "Example Daily | 16 July 2025\n\nCall 023-63891234 for details [3]. Output rose 7% in 2024.\n"
    candidates, ignores = propose(Project.at(seed_project), text, date(2025, 7, 16))
    assert [c.value for c in candidates] == [Decimal("7")]
    assert any("dateline" in line for line in ignores) and any(re.search(r"footnote", line) for line in ignores)
