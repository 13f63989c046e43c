"""How many of the curated numeric observations `cqkg draft` proposes, per seed article.

For each article in seeds/ (a .txt that a source document points to), draft it into a copy of
the project that lacks its curated .ttl, and count the curated observations whose (value, unit)
the draft proposes with the same value in base units and the same unit.

    python benchmarks/draft_recall.py            # prints a Markdown table
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyoxigraph as ox

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cqkg.draft import propose  # noqa: E402
from cqkg.project import Project  # noqa: E402

CQKG = "https://w3id.org/cqkg/ontology#"


def curated(ttl: Path) -> tuple[list[tuple[Decimal, str]], date, str]:
    store = ox.Store()
    store.load(path=str(ttl), format=ox.RdfFormat.TURTLE)
    rows = store.query(f"""SELECT ?v ?u WHERE {{ ?o a <{CQKG}Observation> ; <{CQKG}value> ?v ; <{CQKG}unit> ?u }}""")
    facts = [(Decimal(r["v"].value).normalize(), r["u"].value.rsplit("/", 1)[-1]) for r in rows]
    meta = list(
        store.query(f"""SELECT ?d ?f WHERE {{ ?s <{CQKG}textFile> ?f .
        OPTIONAL {{ ?s <http://purl.org/dc/terms/issued> ?d }} }}""")
    )
    issued = meta[0]["d"].value if meta and meta[0]["d"] is not None else "2025-01-01"
    parts = (issued + "-01-01")[:10] if len(issued) == 4 else (issued + "-01")[:10] if len(issued) == 7 else issued[:10]
    return facts, date.fromisoformat(parts), meta[0]["f"].value


def main() -> None:
    print("| article | curated numeric observations | proposed with the right value and unit | recall |")
    print("|---|---:|---:|---:|")
    total = found_total = 0
    for ttl in sorted((REPO / "seeds").glob("*.ttl")):
        facts, issued, text_file = curated(ttl) if "textFile" in ttl.read_text(encoding="utf-8") else ([], None, None)
        if not facts or not text_file.endswith(".txt"):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "p"
            for d in ("ontology", "shapes", "seeds", "queries"):
                shutil.copytree(REPO / d, root / d)
            (root / "seeds" / ttl.name).unlink()  # the draft must not see the curated answers
            text = (REPO / "seeds" / text_file).read_text(encoding="utf-8")
            candidates, _ = propose(Project.at(root), text, issued)
        proposed = Counter((c.value.normalize(), c.unit) for c in candidates)
        wanted = Counter(facts)
        found = sum(min(n, proposed[k]) for k, n in wanted.items())
        total += sum(wanted.values())
        found_total += found
        print(f"| {text_file} | {sum(wanted.values())} | {found} | {100 * found / sum(wanted.values()):.0f}% |")
    print(f"| **all** | {total} | {found_total} | {100 * found_total / total:.0f}% |")
    # A long article: 1,000 lines made of the seed articles' lines, drafted against the full project.
    import time

    lines = [ln for f in sorted((REPO / "seeds").glob("20*.txt")) for ln in f.read_text(encoding="utf-8").splitlines()
             if ln.strip()]  # fmt: skip
    long_text = "\n".join((lines * (1000 // len(lines) + 1))[:1000])
    t = time.perf_counter()
    candidates, _ = propose(Project.at(REPO), long_text, date(2025, 1, 1))
    print(f"\ndrafting a 1,000-line article: {time.perf_counter() - t:.2f} s, {len(candidates)} candidates")


if __name__ == "__main__":
    main()
