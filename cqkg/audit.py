"""Number audit: is every number in every source text covered by some fact's quote?

A number is *covered* when it lies inside an occurrence of a quote whose fact cites that text's
source (or a source transcribed in it). Numbers that are not facts (phone numbers, licence
numbers, footnote marks, list marks) are listed in seeds/audit-ignore.tsv with a reason:

    file<TAB>context<TAB>reason

`context` is a verbatim snippet of the text (modulo whitespace); every number inside any
occurrence of it is ignored. An ignore line whose context no longer occurs is an error, so the
file cannot go stale silently. Only numerals written with digits are audited; spelled-out
numbers ("five", "two-thirds") are modelled where they are facts but not counted here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .build import C, Sources, load_sources, normalise_text, source_texts
from .project import CqkgError, Project

NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
IGNORE_FILE = "audit-ignore.tsv"


@dataclass
class NumberUse:
    text: str
    start: int
    context: str
    status: str          # fact | ignored | UNACCOUNTED
    detail: str = ""


@dataclass
class FileAudit:
    file: str
    numbers: list[NumberUse] = field(default_factory=list)

    @property
    def unaccounted(self) -> list[NumberUse]:
        return [n for n in self.numbers if n.status == "UNACCOUNTED"]


@dataclass
class Audit:
    files: list[FileAudit]
    problems: list[str]

    @property
    def total(self) -> int:
        return sum(len(f.numbers) for f in self.files)

    @property
    def accounted(self) -> int:
        return self.total - sum(len(f.unaccounted) for f in self.files)

    @property
    def ok(self) -> bool:
        return not self.problems and self.accounted == self.total


def _spans(text: str, needle: str):
    start = text.find(needle)
    while needle and start != -1:
        yield start, start + len(needle)
        start = text.find(needle, start + 1)


def read_ignores(project: Project) -> list[tuple[str, str, str, int]]:
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
    src = src or load_sources(project)
    texts, _ = source_texts(project, src)
    files: dict[str, str] = {}      # source document -> text file (only sources that hold text)
    for subject, obj in src.pairs_with(C["textFile"]):
        files[subject.value] = obj.value
    # Which quotes are checked against which text file.
    text_of_doc = {doc: files.get(doc) for doc in files}
    for subject, obj in src.pairs_with(C["transcribedIn"]):
        if obj.value in files:
            text_of_doc[subject.value] = files[obj.value]
    quotes_by_node: dict = {}
    sources_by_node: dict = {}
    for subject, obj in src.pairs_with(C["quote"]):
        quotes_by_node.setdefault(subject.value, set()).add(normalise_text(obj.value))
    for subject, obj in src.pairs_with(C["source"]):
        sources_by_node.setdefault(subject.value, set()).add(obj.value)
    quotes_by_file: dict[str, dict[str, set]] = {}
    for node, qs in quotes_by_node.items():
        docs = sources_by_node.get(node) or {node}
        for d in docs:
            f = text_of_doc.get(d)
            if f:
                for q in qs:
                    quotes_by_file.setdefault(f, {}).setdefault(q, set()).add(node)

    ignores = read_ignores(project)
    problems = []
    known = set(files.values())
    for f, ctx, _, lineno in ignores:
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
        for m in NUMBER.finditer(text):
            a, b = m.span()
            context = text[max(0, a - 30): b + 30]
            hit = [nodes for (s, e), nodes in covered if s <= a and b <= e]
            if hit:
                nodes = sorted(set().union(*hit))
                fa.numbers.append(NumberUse(m.group(), a, context, "fact", ", ".join(nodes[:3]) + (" …" if len(nodes) > 3 else "")))
                continue
            why = [reason for (s, e), reason in ignored if s <= a and b <= e]
            if why:
                fa.numbers.append(NumberUse(m.group(), a, context, "ignored", why[0]))
            else:
                fa.numbers.append(NumberUse(m.group(), a, context, "UNACCOUNTED"))
        audits.append(fa)
    return Audit(audits, problems)


def report(audit: Audit, verbose: bool = False) -> str:
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
