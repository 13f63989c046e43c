"""Number audit: is every number in every source text covered by some fact's quote?

A number is *covered* when it lies inside an occurrence of a quote whose fact cites that text's
source (or a source transcribed in it). Numbers that are not facts (phone numbers, licence
numbers, footnote marks, list marks) are listed in seeds/audit-ignore.tsv with a reason:

    file<TAB>context<TAB>reason

`context` is a verbatim snippet of the text (modulo whitespace); every number inside any
occurrence of it is ignored. An ignore line whose context no longer occurs is an error, so the
file cannot go stale silently. Numbers are read by numbers.found_numbers: digits, English number
words from ten up ("three millions", "five hundred billion") and Chinese numerals. A number
*word* inside a quote counts only when a fact quoting it has its value: garbled words ("three
millions of electronic information") must be modelled or ignored with a reason, never pass
because their sentence is quoted for another number. The words one to nine are not audited.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from .errors import CqkgError
from .numbers import found_numbers
from .project import Project
from .sources import Sources, index_sources, load_sources, normalise_text
from .terms import cqkg, node_key

IGNORE_FILE = "audit-ignore.tsv"


@dataclass
class NumberUse:
    """One number in a text, where it is, and what accounts for it."""

    text: str
    start: int
    context: str
    status: str  # fact | ignored | UNACCOUNTED
    detail: str = ""


@dataclass
class FileAudit:
    """The numbers of one article text."""

    file: str
    numbers: list[NumberUse] = field(default_factory=list)

    @property
    def unaccounted(self) -> list[NumberUse]:
        """Numbers neither covered by a quote nor ignored with a reason."""
        return [n for n in self.numbers if n.status == "UNACCOUNTED"]


@dataclass
class Audit:
    """The audit of every article text, and problems with the ignore file."""

    files: list[FileAudit]
    problems: list[str]

    @property
    def total(self) -> int:
        """Numbers found in all texts."""
        return sum(len(f.numbers) for f in self.files)

    @property
    def accounted(self) -> int:
        """Numbers covered by a fact or ignored with a reason."""
        return self.total - sum(len(f.unaccounted) for f in self.files)

    @property
    def ok(self) -> bool:
        """Every number accounted for and the ignore file consistent."""
        return not self.problems and self.accounted == self.total


def _spans(text: str, needle: str) -> Iterator[tuple[int, int]]:
    start = text.find(needle)
    while needle and start != -1:
        yield start, start + len(needle)
        start = text.find(needle, start + 1)


def read_ignores(project: Project) -> list[tuple[str, str, str, int]]:
    """seeds/audit-ignore.tsv as (file, normalised context, reason, line number) rows."""
    path = project.seeds_dir / IGNORE_FILE
    if not path.is_file():
        return []
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3 or not all(p.strip() for p in parts):
            raise CqkgError(f"seeds/{IGNORE_FILE}:{lineno}: expected file<TAB>context<TAB>reason")
        rows.append((parts[0].strip(), normalise_text(parts[1]), parts[2].strip(), lineno))
    return rows


def run(project: Project, src: Sources | None = None) -> Audit:
    """Audit every article text: each number is covered by a fact's quote, ignored, or UNACCOUNTED."""
    src = src or load_sources(project)
    index = index_sources(project, src)
    files, texts = index.text_files, index.texts
    # Which nodes' quotes (normalised) are checked against which text file.
    quotes_by_file: dict[str, dict[str, set[str]]] = {}
    for node, qs in index.quotes.items():
        for d in index.sources.get(node) or {node}:
            f = index.text_file_of.get(d)
            if f:
                for q in qs:
                    quotes_by_file.setdefault(f, {}).setdefault(normalise_text(q), set()).add(node)

    values: dict[str, set[Decimal]] = {}  # fact -> its value and the value's size (a decrease is negative)
    numeric = [
        *src.pairs_with(cqkg("value")),
        *src.pairs_with(cqkg("scaleLevel")),
        *src.pairs_with(cqkg("declaredMemberCount")),
    ]
    for node, value in numeric:
        try:
            v = Decimal(value.value)
        except InvalidOperation:
            continue  # not a number: the shapes report it
        values.setdefault(node_key(node), set()).update({v, abs(v)})
    ignores = read_ignores(project)
    problems = []
    known = set(files.values())
    for f, _ctx, _, lineno in ignores:
        if f not in known:
            problems.append(f"seeds/{IGNORE_FILE}:{lineno}: {f!r} is not the text file of any source")
    audits = []
    for doc, f in sorted(files.items(), key=lambda x: x[1]):
        text = texts.get(doc)
        if text is None:
            continue
        covered = []
        for q, nodes in quotes_by_file.get(f, {}).items():
            for span in _spans(text, q):
                covered.append((span, nodes))
        ignored = []
        for ig_file, ctx, reason, lineno in ignores:
            if ig_file != f:
                continue
            spans = list(_spans(text, ctx))
            if not spans:
                problems.append(f"seeds/{IGNORE_FILE}:{lineno}: context not found in {f}: {ctx!r}")
            ignored += [(s, reason) for s in spans]
        fa = FileAudit(f)
        for found in found_numbers(text):
            a, b, surface = found.start, found.end, text[found.start : found.end]
            context = text[max(0, a - 30) : b + 30]
            hit = [nodes for (s, e), nodes in covered if s <= a and b <= e]
            if hit and not surface[0].isdigit():  # a number word: only a fact with its value covers it
                hit = [{n for n in nodes if found.value in values.get(n, ())} for nodes in hit]
                hit = [nodes for nodes in hit if nodes]
            if hit:
                names = sorted(set().union(*hit))
                fa.numbers.append(
                    NumberUse(surface, a, context, "fact", ", ".join(names[:3]) + (" …" if len(names) > 3 else ""))
                )
                continue
            why = [reason for (s, e), reason in ignored if s <= a and b <= e]
            if why:
                fa.numbers.append(NumberUse(surface, a, context, "ignored", why[0]))
            elif surface[0].isdigit():
                fa.numbers.append(NumberUse(surface, a, context, "UNACCOUNTED"))
            else:
                fa.numbers.append(
                    NumberUse(surface, a, context, "UNACCOUNTED", "a number word no quoting fact has as its value")
                )
        audits.append(fa)
    return Audit(audits, problems)


def report(audit: Audit, verbose: bool = False) -> str:
    """The audit as text: a line per article (with the unaccounted numbers, or all with `verbose`)."""
    lines = []
    for fa in audit.files:
        n = len(fa.numbers)
        ok = n - len(fa.unaccounted)
        pct = 100.0 * ok / n if n else 100.0
        lines.append(f"seeds/{fa.file}: {ok}/{n} numbers accounted for ({pct:.1f}%)")
        for u in fa.numbers:
            if verbose or u.status == "UNACCOUNTED":
                detail = f" — {u.detail}" if u.detail else ""
                lines.append(f"  {u.status:<11} {u.text:<14} …{u.context}…{detail}")
    lines += [f"error: {p}" for p in audit.problems]
    pct = 100.0 * audit.accounted / audit.total if audit.total else 100.0
    lines.append(f"total: {audit.accounted}/{audit.total} numbers accounted for ({pct:.1f}%)")
    return "\n".join(lines)
