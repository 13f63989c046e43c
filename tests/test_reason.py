"""Inference: the targeted OWL-RL rules give what the ontology implies, and the same as owlrl."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest

from cqkg import reason
from cqkg.export import graph_triples
from cqkg.manifest import open_store
from cqkg.project import Project

from conftest import closure, closure_pair, instance_level, owlrl_closure

CQ = "https://w3id.org/cqkg/id/"
ORG = "http://www.w3.org/ns/org#"
CQKG = "https://w3id.org/cqkg/ontology#"
TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")


def has(store, s, p, o) -> bool:
    return any(
        True
        for _ in store.quads_for_pattern(
            ox.NamedNode(s), p if isinstance(p, ox.NamedNode) else ox.NamedNode(p), ox.NamedNode(o), ox.DefaultGraph()
        )
    )


def test_ontology_parses_and_has_a_version(built_project):
    store = open_store(Project.at(built_project))
    rows = list(
        store.query("""PREFIX owl: <http://www.w3.org/2002/07/owl#>
        SELECT ?v ?i WHERE { <https://w3id.org/cqkg/ontology> a owl:Ontology ; owl:versionIRI ?v ; owl:versionInfo ?i }""")  # noqa: E501
    )
    assert len(rows) == 1 and rows[0]["v"].value.startswith("https://w3id.org/cqkg/ontology/")


def test_enterprise_is_an_organisation(built_project):
    store = open_store(Project.at(built_project))
    assert has(store, CQ + "Changan", TYPE, ORG + "Organization")
    assert has(store, CQ + "Changan", TYPE, "http://www.w3.org/ns/prov#Agent")


def test_district_things_are_located_in_chongqing(built_project):
    store = open_store(Project.at(built_project))
    assert has(store, CQ + "YongchuanDistrict", CQKG + "locatedIn", CQ + "Chongqing")
    assert has(store, CQ + "GWMYongchuanBase", CQKG + "locatedIn", CQ + "Chongqing")
    assert has(store, CQ + "GWMYongchuanBase", CQKG + "locatedIn", CQ + "China")


def test_district_enterprise_located_in_city_on_fixture(built_mini):
    store = open_store(Project.at(built_mini))
    assert has(store, CQ + "ExampleMotors", TYPE, ORG + "Organization")
    assert has(store, CQ + "ExampleMotors", CQKG + "locatedIn", CQ + "FixtureCity")
    # a tier member is a member of the tier's system (property chain)
    assert has(store, CQ + "ExampleCluster", CQKG + "memberOf", CQ + "FixtureSystem")
    # a plan that sets a target is what the target is set by (inverse)
    assert has(store, "https://w3id.org/cqkg/id/obs/fixture-target", CQKG + "setBy", CQ + "ExamplePlan")


def test_inferred_triples_are_kept_apart(built_project):
    store = open_store(Project.at(built_project))
    inferred = ox.NamedNode("https://w3id.org/cqkg/graph/inferred")
    assert any(
        True
        for _ in store.quads_for_pattern(
            ox.NamedNode(CQ + "Changan"), TYPE, ox.NamedNode(ORG + "Organization"), inferred
        )
    )


@pytest.mark.parametrize("as_built", [True, False], ids=["two-pass", "one-pass"])
@pytest.mark.parametrize("which", ["seed", "mini"])
def test_targeted_rules_equal_owlrl_instance_closure(which, as_built, seed_project, mini_project):
    ours, theirs = closure_pair(seed_project if which == "seed" else mini_project, as_built)
    assert ours - theirs == set()
    assert theirs - ours == set()
    assert len(ours) > 100


# Rules that feed each other in a cycle: the chain's output is a sub-property of its own first
# link, which also has an inverse (symmetric), a transitive super-property and a domain.
CYCLIC = """
@prefix : <http://example.org/> . @prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
:r owl:propertyChainAxiom ( :p :q ) . :r rdfs:subPropertyOf :p .
:p owl:inverseOf :pi . :pi rdfs:subPropertyOf :s . :s a owl:SymmetricProperty .
:p rdfs:subPropertyOf :t . :t a owl:TransitiveProperty .
:p rdfs:domain :A . :A rdfs:subClassOf :B . :q rdfs:range :C . :C rdfs:subClassOf :B .
:a :p :b . :b :q :c . :c :q :d . :d :q :e . :e :p :f . :f :q :g .
"""


@pytest.mark.parametrize("as_built", [True, False], ids=["two-pass", "one-pass"])
def test_rules_that_feed_each_other_reach_owlrls_closure(as_built):
    store = ox.Store()
    store.load(CYCLIC.encode(), format=ox.RdfFormat.TURTLE)
    asserted = graph_triples(store)
    ours = instance_level(graph_triples(closure(store, as_built)))
    theirs = instance_level(owlrl_closure(asserted))
    assert ours == theirs
    assert "<http://example.org/a> <http://example.org/p> <http://example.org/e> ." in ours  # 3 chain steps


class CountingStore:
    """Passes everything to a store and counts the updates run on it."""

    def __init__(self, store):
        self.store, self.updates = store, 0

    def update(self, text):
        self.updates += 1
        self.store.update(text)

    def __getattr__(self, name):
        return getattr(self.store, name)


def test_typing_pass_completes_the_closure_and_only_adds_types():
    """The build's second pass (domain/range typing on a store the first pass closed) gives the
    same closure as one full pass, adds nothing but rdf:type triples, and costs fewer rule runs."""

    def store():
        s = ox.Store()
        s.load(CYCLIC.encode(), format=ox.RdfFormat.TURTLE)
        return s

    two_pass = store()
    reason.materialise(two_pass, typing=False)
    untyped = {str(q) for q in two_pass}
    second = CountingStore(two_pass)
    reason.materialise(second, untyped_done=True)
    added = {str(q) for q in two_pass} - untyped
    assert added and all(f" {TYPE} " in q for q in added)
    one_pass = CountingStore(store())
    reason.materialise(one_pass)

    def named(s):  # the ontology's blank-node lists get other labels in another store
        return {str(q) for q in s if "_:" not in str(q)}

    assert named(two_pass) == named(one_pass.store)
    assert has(two_pass, "http://example.org/a", TYPE, "http://example.org/B")
    # On a store the first pass closed, only typing and what reads types runs again: fewer
    # updates than there are rules (re-running every rule was a whole round of scans per build).
    n_rules = len(reason.rules(reason.Schema(two_pass)))
    assert 0 < second.updates < n_rules


# The OWL vocabulary the ontology may use: all of it is in OWL 2 RL, and every rule it triggers is
# either materialised by cqkg.reason or (functional properties) enforced by a SHACL maxCount.
RL_VOCABULARY = {
    "Ontology",
    "versionIRI",
    "versionInfo",
    "imports",
    "Class",
    "ObjectProperty",
    "DatatypeProperty",
    "AnnotationProperty",
    "FunctionalProperty",
    "SymmetricProperty",
    "TransitiveProperty",
    "inverseOf",
    "propertyChainAxiom",
    "equivalentClass",
    "equivalentProperty",
    "Thing",
}


def test_ontology_stays_in_the_supported_owl2_rl_subset():
    import re

    text = (Path(__file__).resolve().parent.parent / "ontology" / "cqkg.ttl").read_text(encoding="utf-8")
    used = set(re.findall(r"\bowl:([A-Za-z]+)", text))
    assert used <= RL_VOCABULARY, used - RL_VOCABULARY


def test_functional_properties_have_max_count_shapes():
    """prp-fp would make individuals owl:sameAs; the shapes reject such data instead."""
    root = Path(__file__).resolve().parent.parent
    store = ox.Store()
    store.load(path=str(root / "ontology" / "cqkg.ttl"), format=ox.RdfFormat.TURTLE)
    store.load(path=str(root / "shapes" / "cqkg-shapes.ttl"), format=ox.RdfFormat.TURTLE)
    functional = {
        r["p"].value for r in store.query("SELECT ?p WHERE { ?p a <http://www.w3.org/2002/07/owl#FunctionalProperty> }")
    }
    capped = {
        r["p"].value
        for r in store.query(
            "SELECT ?p WHERE { ?s <http://www.w3.org/ns/shacl#path> ?p ; <http://www.w3.org/ns/shacl#maxCount> 1 }"
        )
    }
    assert functional and functional <= capped, sorted(functional - capped)


# ------------------------------------------------------------------ the OWL construct matrix

OWL_PREFIXES = """@prefix : <http://example.org/> . @prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> . @prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
"""

# (construct, ontology + data, "equal": the closure equals owlrl's | the OWL term the refusal names)
OWL_MATRIX = [
    ("subClassOf", ":A rdfs:subClassOf :B . :x a :A .", "equal"),
    ("equivalentClass", ":A owl:equivalentClass :B . :x a :B .", "equal"),
    ("subPropertyOf", ":p rdfs:subPropertyOf :q . :x :p :y .", "equal"),
    ("equivalentProperty", ":p owl:equivalentProperty :q . :x :q :y .", "equal"),
    ("domain+range", ":p rdfs:domain :A ; rdfs:range :B . :x :p :y .", "equal"),
    ("inverseOf", ":p owl:inverseOf :q . :x :p :y .", "equal"),
    ("SymmetricProperty", ":p a owl:SymmetricProperty . :x :p :y .", "equal"),
    ("TransitiveProperty", ":p a owl:TransitiveProperty . :x :p :y . :y :p :z . :z :p :w .", "equal"),
    ("chain of two", ":r owl:propertyChainAxiom ( :p :q ) . :x :p :y . :y :q :z .", "equal"),
    ("chain of three", ":r owl:propertyChainAxiom ( :p :q :s ) . :x :p :y . :y :q :z . :z :s :w .", "equal"),
    ("sameAs", ":x :p :y . :x owl:sameAs :x2 .", "owl:sameAs"),
    (
        "hasValue",
        ":A owl:equivalentClass [ a owl:Restriction ; owl:onProperty :p ; owl:hasValue :v ] . :x :p :v .",
        "owl:hasValue",
    ),
    (
        "someValuesFrom",
        ":A rdfs:subClassOf [ a owl:Restriction ; owl:onProperty :p ; owl:someValuesFrom :B ] . :x a :A .",
        "owl:someValuesFrom",
    ),
    (
        "allValuesFrom",
        ":A rdfs:subClassOf [ a owl:Restriction ; owl:onProperty :p ; owl:allValuesFrom :B ] . :x a :A ; :p :y .",
        "owl:allValuesFrom",
    ),
    ("intersectionOf", ":A owl:equivalentClass [ owl:intersectionOf ( :B :C ) ] . :x a :B, :C .", "owl:intersectionOf"),
    ("unionOf", ":A owl:equivalentClass [ owl:unionOf ( :B :C ) ] . :x a :B .", "owl:unionOf"),
    (
        "maxCardinality",
        ":A rdfs:subClassOf [ a owl:Restriction ; owl:onProperty :p ; owl:maxCardinality 1 ] . :x a :A .",
        "owl:maxCardinality",
    ),
    ("FunctionalProperty without a shape", ":p a owl:FunctionalProperty . :x :p :y, :z .", "owl:FunctionalProperty"),
    ("inverse of an anonymous property", ":p owl:inverseOf [ owl:inverseOf :q ] . :x :p :y .", "owl:inverseOf"),
    (
        "InverseFunctionalProperty",
        ":p a owl:InverseFunctionalProperty . :x :p :y . :z :p :y .",
        "owl:InverseFunctionalProperty",
    ),
    ("disjointWith", ":A owl:disjointWith :B . :x a :A, :B .", "owl:disjointWith"),
]


@pytest.mark.parametrize("name,turtle,expect", OWL_MATRIX, ids=[m[0] for m in OWL_MATRIX])
def test_owl_construct_is_materialised_like_owlrl_or_refused(name, turtle, expect):
    store = ox.Store()
    store.load((OWL_PREFIXES + turtle).encode(), format=ox.RdfFormat.TURTLE)
    refused = reason.unsupported_axioms(store, shapes=ox.Store())
    if expect == "equal":
        assert refused == []
        asserted = graph_triples(store)
        ours = instance_level(graph_triples(closure(store, as_built=True)))
        theirs = instance_level(owlrl_closure(asserted))
        assert ours == theirs and ours - instance_level(asserted)  # something was inferred, as owlrl does
    else:
        assert expect in {term for _, term, _ in refused}, refused


def test_refused_owl_fails_the_build_naming_the_axiom(seed_project):
    from conftest import run_cli

    onto = seed_project / "ontology" / "cqkg.ttl"
    onto.write_text(onto.read_text() + "\ncqkg:Enterprise owl:disjointWith cqkg:Person .\n")
    data = seed_project / "seeds" / "periods.ttl"
    data.write_text(
        data.read_text() + "\n<https://w3id.org/cqkg/id/Chongqing> <http://www.w3.org/2002/07/owl#sameAs> "
        "<https://w3id.org/cqkg/id/ChongqingMunicipality> .\n"
    )
    result = run_cli(seed_project, "build")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "ontology/cqkg.ttl: <https://w3id.org/cqkg/ontology#Enterprise> owl:disjointWith" in result.stderr
    assert "seeds/periods.ttl: <https://w3id.org/cqkg/id/Chongqing> owl:sameAs" in result.stderr
    assert not (seed_project / "build").exists()


def test_hitting_the_round_limit_is_an_error_not_a_silent_stop():
    from cqkg.errors import CqkgError

    store = ox.Store()
    store.load(
        (
            OWL_PREFIXES + ":p a owl:TransitiveProperty ; owl:inverseOf :q . :q rdfs:subPropertyOf :p . "
            ":x :p :y . :y :p :z ."
        ).encode(),
        format=ox.RdfFormat.TURTLE,
    )
    with pytest.raises(CqkgError, match="did not reach a fixpoint in 1 rounds"):
        reason.materialise(store, max_rounds=1)


# ------------------------------------------------------------------ the OWL 2 profile claim


def test_the_ontology_is_owl2_dl_and_owl2_rl(tmp_path):
    """Checked by the OWL API's own profile checkers (Debian's libowlapi-java, run from Java)."""
    import os
    import shutil
    import subprocess

    jars = Path("/usr/share/java")
    if not (shutil.which("javac") and shutil.which("java") and list(jars.glob("owlapi-distribution*.jar"))):
        message = (
            "the OWL API is not installed: apt-get install libowlapi-java default-jdk-headless (bash .ci/run does)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    source = Path(__file__).resolve().parent / "owl_profile" / "ProfileCheck.java"
    cp = f"{jars}/*"
    subprocess.run(["javac", "-cp", cp, "-d", str(tmp_path), str(source)], check=True, capture_output=True, timeout=300)
    # Every ontology file (the ontology and its alignments), as one document.
    ontology = tmp_path / "ontology.ttl"
    files = sorted((Path(__file__).resolve().parent.parent / "ontology").glob("*.ttl"))
    ontology.write_text("\n".join(f.read_text(encoding="utf-8") for f in files), encoding="utf-8")
    proc = subprocess.run(
        ["java", "-cp", f"{cp}:{tmp_path}", "ProfileCheck", str(ontology)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[:2] == ["DL ok", "RL ok"], proc.stdout
    # and the checker can fail: reserved vocabulary as a class is reported
    broken = tmp_path / "broken.ttl"
    broken.write_text(
        ontology.read_text(encoding="utf-8") + "\ncqkg:Claim rdfs:subClassOf rdf:Statement .\n", encoding="utf-8"
    )
    proc = subprocess.run(
        ["java", "-cp", f"{cp}:{tmp_path}", "ProfileCheck", str(broken)], capture_output=True, text=True, timeout=300
    )
    assert "DL 1 violation(s)" in proc.stdout and "rdf:Statement" in proc.stdout
