"""Generate a synthetic cqkg project of a given size, in our own ontology.

    python benchmarks/generate.py 100k benchmarks/out/p100k

The project has the repository's ontology/, shapes/ and queries/, the real periods.ttl, a
synthetic cluster system (a system, four tiers, clusters, districts) and as many synthetic
articles as it takes to reach the size: each a text file and a Turtle file with a source
document, enterprises (located in a district, in a cluster, producing a product, exporting to a
country) and observations (actuals, growth rates, shares and targets), every fact carrying a
quote that really occurs in its article. The output is deterministic for a given size and seed,
and it builds with no violations.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

PREFIXES = """@prefix cqkg: <https://w3id.org/cqkg/ontology#> .
@prefix cq: <https://w3id.org/cqkg/id/> .
@prefix obs: <https://w3id.org/cqkg/id/obs/> .
@prefix src: <https://w3id.org/cqkg/source/> .
@prefix ind: <https://w3id.org/cqkg/indicator/> .
@prefix unit: <https://w3id.org/cqkg/unit/> .
@prefix period: <https://w3id.org/cqkg/period/> .
@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix dcterms: <http://purl.org/dc/terms/> .
"""

TIERS = [(1, 3, "trillion"), (2, 3, "pillar"), (3, 6, "distinctive"), (4, 18, "new star")]
ACTUAL_YEARS = ["2018", "2019", "2020", "2022", "2023", "2024"]
TARGET_PERIODS = [("by-2025", "2025"), ("by-2027", "2027")]
AMOUNTS = [
    ("OutputValue", "Yuan", "yuan of output value"),
    ("Revenue", "Yuan", "yuan of revenue"),
    ("ExportValue", "Yuan", "yuan of exports"),
    ("ProductionVolume", "Piece", "pieces produced"),
    ("Employment", "Person", "people in employment"),
]
COUNTRIES = ["Germany", "France", "Vietnam", "Laos", "Thailand", "Brazil", "Kenya", "Poland"]
SOURCE_TRIPLES = 7


def parse_size(text: str) -> int:
    text = text.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * mult)


def esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


class Article:
    """One synthetic article: its sentences and its Turtle, built together so quotes match."""

    def __init__(self, n: int):
        self.n = n
        self.src = f"src:synthetic-{n:05d}"
        self.sentences: list[str] = [f"Synthetic Industry News, issue {n}."]
        self.ttl: list[str] = []
        self.triples = SOURCE_TRIPLES

    def say(self, sentence: str) -> str:
        self.sentences.append(sentence)
        return sentence

    def fact(self, subject: str, props: list[tuple[str, str]], quote: str) -> None:
        body = " ;\n    ".join(f"{p} {o}" for p, o in props)
        self.ttl.append(f'{subject} {body} ;\n    cqkg:source {self.src} ;\n    cqkg:quote "{esc(quote)}" .\n')
        self.triples += len(props) + 2

    def files(self, name: str) -> tuple[str, str]:
        head = (
            f"{self.src} a cqkg:SourceDocument ;\n"
            f'    dcterms:title "Synthetic Industry News {self.n}"@en ;\n'
            f'    dcterms:issued "2026-01-{1 + self.n % 28:02d}"^^xsd:date ;\n'
            f'    dcterms:language "en" ;\n'
            f"    cqkg:authority cqkg:MajorMedia ;\n"
            f'    cqkg:textFile "{name}.txt" ;\n'
            f'    cqkg:originalFileName "{self.n:05d}_synthetic.txt" .\n'
        )
        return "\n".join(self.sentences) + "\n", PREFIXES + "\n" + head + "\n" + "\n".join(self.ttl)


def structure(rng: random.Random) -> tuple[str, str, list[str], list[str]]:
    """The cluster system, tiers, clusters and districts, as one synthetic reference article."""
    a = Article(0)
    a.src = "src:synthetic-structure"
    q = a.say("The synthetic system has four tiers of clusters.")
    a.fact(
        "cq:System33618",
        [
            ("a", "cqkg:ClusterSystem"),
            ("rdfs:label", '"synthetic cluster system"@en , "合成集群体系"@zh'),
            ("cqkg:declaredMemberCount", "30"),
        ],
        q,
    )
    clusters = []
    for rank, size, name in TIERS:
        q = a.say(f"Tier {rank}, the {name} tier, has {size} clusters.")
        a.fact(
            f"cq:SynTier{rank}",
            [
                ("a", "cqkg:ClusterTier"),
                ("rdfs:label", f'"{name} tier"@en , "第{rank}层"@zh'),
                ("cqkg:tierOf", "cq:System33618"),
                ("cqkg:tierRank", str(rank)),
                ("cqkg:declaredMemberCount", str(size)),
            ],
            q,
        )
        known = size if rank < 4 else 6  # like the real system, some new-star clusters are unknown
        for i in range(known):
            c = f"cq:SynCluster{rank}-{i}"
            q = a.say(f"Cluster {rank}-{i} belongs to the {name} tier.")
            a.fact(
                c,
                [
                    ("a", "cqkg:IndustrialCluster"),
                    ("rdfs:label", f'"cluster {rank}-{i}"@en , "集群{rank}-{i}"@zh'),
                    ("cqkg:memberOf", f"cq:SynTier{rank}"),
                ],
                q,
            )
            clusters.append(c)
    districts = []
    for i in range(12):
        d = f"cq:SynDistrict{i}"
        q = a.say(f"District {i} is in Chongqing.")
        a.fact(d, [("a", "cqkg:District"), ("rdfs:label", f'"District {i}"@en'), ("cqkg:locatedIn", "cq:Chongqing")], q)
        districts.append(d)
    q = a.say("Chongqing is a municipality.")
    a.fact("cq:Chongqing", [("a", "cqkg:Municipality"), ("rdfs:label", '"Chongqing (synthetic)"@en')], q)
    for c in COUNTRIES:
        q = a.say(f"{c} is a country.")
        a.fact(f"cq:Syn{c}", [("a", "cqkg:Country"), ("rdfs:label", f'"{c}"@en')], q)
    text, ttl = a.files("synthetic-structure")
    return text, ttl, clusters, districts


def article(n: int, rng: random.Random, clusters: list[str], districts: list[str], budget: int) -> Article:
    a = Article(n)
    e_no = 0
    while a.triples < budget:
        e_no += 1
        ent = f"cq:SynEnt{n:05d}-{e_no}"
        name = f"Enterprise {n}-{e_no}"
        cluster, district = rng.choice(clusters), rng.choice(districts)
        q = a.say(
            f"{name}, based in District {district.rsplit('t', 1)[1]}, works in cluster {cluster.rsplit('r', 1)[1]}."
        )
        a.fact(
            ent,
            [
                ("a", "cqkg:Enterprise"),
                ("rdfs:label", f'"{esc(name)}"@en , "企业{n}-{e_no}"@zh'),
                ("cqkg:locatedIn", district),
            ],
            q,
        )
        a.fact(
            f"cq:SynClaim{n:05d}-{e_no}",
            [("a", "cqkg:Claim"), ("rdf:subject", ent), ("rdf:predicate", "cqkg:inCluster"), ("rdf:object", cluster)],
            q,
        )
        prod = f"cq:SynProduct{n:05d}-{e_no}"
        country = rng.choice(COUNTRIES)
        q = a.say(f"{name} makes product {n}-{e_no} and exports it to {country}.")
        a.fact(prod, [("a", "cqkg:Product"), ("rdfs:label", f'"product {n}-{e_no}"@en'), ("cqkg:producedBy", ent)], q)
        a.fact(
            f"cq:SynExport{n:05d}-{e_no}",
            [
                ("a", "cqkg:Claim"),
                ("rdf:subject", prod),
                ("rdf:predicate", "cqkg:exportsTo"),
                ("rdf:object", f"cq:Syn{country}"),
            ],
            q,
        )
        for k, year in enumerate(rng.sample(ACTUAL_YEARS, 2)):
            ind, unit, words = rng.choice(AMOUNTS)
            value = rng.randrange(1, 10_000) * 1000
            growth = rng.randrange(-200, 800) / 10
            q = a.say(f"In {year}, {name} reported {value:,} {words}, a change of {growth}% year on year.")
            base = f"obs:syn{n:05d}-{e_no}-{k}"
            a.fact(
                base,
                [
                    ("a", "cqkg:Observation"),
                    ("cqkg:subject", ent),
                    ("cqkg:indicator", f"ind:{ind}"),
                    ("cqkg:value", f"{value}.0"),
                    ("cqkg:unit", f"unit:{unit}"),
                    ("cqkg:period", f"period:{year}"),
                    ("cqkg:status", "cqkg:Actual"),
                ],
                q,
            )
            a.fact(
                base + "g",
                [
                    ("a", "cqkg:Observation"),
                    ("cqkg:subject", ent),
                    ("cqkg:indicator", "ind:GrowthRateYoY"),
                    ("cqkg:baseIndicator", f"ind:{ind}"),
                    ("cqkg:value", f"{growth}"),
                    ("cqkg:unit", "unit:Percent"),
                    ("cqkg:period", f"period:{year}"),
                    ("cqkg:status", "cqkg:Actual"),
                ],
                q,
            )
        share = rng.randrange(1, 999) / 10
        q = a.say(f"In 2024, {name} held {share}% of its cluster's output value.")
        a.fact(
            f"obs:syn{n:05d}-{e_no}-s",
            [
                ("a", "cqkg:Observation"),
                ("cqkg:subject", ent),
                ("cqkg:indicator", "ind:Share"),
                ("cqkg:baseIndicator", "ind:OutputValue"),
                ("cqkg:shareOf", cluster),
                ("cqkg:value", f"{share}"),
                ("cqkg:unit", "unit:Percent"),
                ("cqkg:period", "period:2024"),
                ("cqkg:status", "cqkg:Actual"),
            ],
            q,
        )
        period, year = rng.choice(TARGET_PERIODS)
        target = rng.randrange(1, 1000) * 1_000_000
        q = a.say(f"{name} aims for {target:,} yuan of output by {year}.")
        a.fact(
            f"obs:syn{n:05d}-{e_no}-t",
            [
                ("a", "cqkg:Observation"),
                ("cqkg:subject", ent),
                ("cqkg:indicator", "ind:OutputValue"),
                ("cqkg:value", f"{target}.0"),
                ("cqkg:unit", "unit:Yuan"),
                ("cqkg:period", f"period:{period}"),
                ("cqkg:status", "cqkg:Target"),
                ("cqkg:comparator", "cqkg:AtLeast"),
            ],
            q,
        )
    return a


def sync_repo_dirs(out: Path) -> None:
    """(Re)copy the repository's ontology, shapes and queries, so a cached project measures this code."""
    for d in ("ontology", "shapes", "queries"):
        shutil.rmtree(out / d, ignore_errors=True)
        shutil.copytree(REPO / d, out / d)


def generate(size: int, out: Path, seed: int = 33618, per_article: int = 2000) -> int:
    """Write the project; returns the number of triples in its seed files (ontology excluded)."""
    if out.exists():
        shutil.rmtree(out)
    sync_repo_dirs(out)
    seeds = out / "seeds"
    seeds.mkdir(parents=True)
    shutil.copy(REPO / "seeds" / "periods.ttl", seeds / "periods.ttl")
    rng = random.Random(seed)
    text, ttl, clusters, districts = structure(rng)
    (seeds / "synthetic-structure.txt").write_text(text, encoding="utf-8")
    (seeds / "synthetic-structure.ttl").write_text(ttl, encoding="utf-8")
    total, n = 400, 0
    while total < size:
        n += 1
        a = article(n, rng, clusters, districts, min(per_article, max(60, size - total)))
        text, ttl = a.files(f"synthetic-{n:05d}")
        (seeds / f"synthetic-{n:05d}.txt").write_text(text, encoding="utf-8")
        (seeds / f"synthetic-{n:05d}.ttl").write_text(ttl, encoding="utf-8")
        total += a.triples
    return total


def add_article(out: Path, budget: int = 100, seed: int = 33618) -> list[Path]:
    """Write one more article of about `budget` triples into a generated project (a curator's edit
    for the incremental benchmark); returns its two files."""
    rng = random.Random(seed)
    _, _, clusters, districts = structure(rng)  # the same clusters and districts as generate()
    taken = [int(p.stem.rsplit("-", 1)[1]) for p in (out / "seeds").glob("synthetic-0*.ttl")]
    n = max(taken, default=0) + 1
    a = article(n, random.Random(seed + n), clusters, districts, budget)
    text, ttl = a.files(f"synthetic-{n:05d}")
    paths = [out / "seeds" / f"synthetic-{n:05d}.txt", out / "seeds" / f"synthetic-{n:05d}.ttl"]
    paths[0].write_text(text, encoding="utf-8")
    paths[1].write_text(ttl, encoding="utf-8")
    return paths


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("size", help="approximate number of triples: 10k, 100k, 1M, ...")
    ap.add_argument("out", type=Path, help="project folder to (re)create")
    ap.add_argument("--seed", type=int, default=33618)
    args = ap.parse_args(argv)
    n = generate(parse_size(args.size), args.out, args.seed)
    print(f"wrote {args.out} with about {n} seed triples", file=sys.stderr)


if __name__ == "__main__":
    main()
