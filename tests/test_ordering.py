"""ORDER BY applied in Python (cqkg.ordering) orders exactly as Oxigraph does, or not at all."""

from __future__ import annotations

from decimal import Decimal

import pyoxigraph as ox
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cqkg.ordering import Ordering
from cqkg.sparql import strip_comments
from cqkg.terms import XSD


@pytest.mark.parametrize(
    "text, conditions, added",
    [
        ("SELECT ?a WHERE { ?a ?p ?b } ORDER BY ?a", (("a", False),), ()),
        ("SELECT ?a WHERE { ?a ?p ?b } ORDER BY DESC(?b) asc(?a)", (("b", True), ("a", False)), ("b",)),
        ("SELECT * { ?a ?p ?b } ORDER BY ?b", (("b", False),), ()),
        ("SELECT ?a (COUNT(?b) AS ?n) { ?a ?p ?b } GROUP BY ?a ORDER BY DESC(?n)", (("n", True),), ()),
        # an expression gets a variable of its own; `(?a)` is the variable
        (
            "SELECT ?a WHERE { ?a ?p ?b } ORDER BY STR(?b) (?a)",
            (("_cqkg_order_1", False), ("a", False)),
            ("_cqkg_order_1",),
        ),
        (
            "SELECT ?a (COUNT(?b) AS ?n) { ?a ?p ?b } GROUP BY ?a ORDER BY DESC(COUNT(?b))",
            (("_cqkg_order_1", True),),
            ("_cqkg_order_1",),
        ),
        # the inner ORDER BY and one in a comment are not the query's
        ("SELECT ?a { { SELECT ?a WHERE { ?a ?p ?b } ORDER BY ?b } } # ORDER BY ?x\nORDER BY ?a", (("a", False),), ()),
    ],
)
def test_ordering_of(text, conditions, added):
    o = Ordering.of(text)
    assert o is not None and o.conditions == conditions and o.added == added
    assert "ORDER" not in strip_comments(o.text).split("}")[-1]


@pytest.mark.parametrize(
    "text",
    [
        "SELECT ?a WHERE { ?a ?p ?b }",  # no ORDER BY
        "SELECT ?a WHERE { ?a ?p ?b } ORDER BY STR(?a) + ",  # no condition list
        "SELECT ?a WHERE { ?a ?p ?b } ORDER BY ?a LIMIT ?x",  # no number
        "SELECT * WHERE { ?a ?p ?b } GROUP BY ?a ORDER BY STR(?a)",  # not SPARQL
        "ASK { ?a ?p ?b } ORDER BY ?b",  # no SELECT (Ordering.left_to_store)
        "SELECT } { ?a ?p ?b ORDER BY ?b VALUES ?p { <http://e/p> }",  # not SPARQL: no WHERE group closes
    ],
)
def test_ordering_left_to_the_store(text):
    assert Ordering.of(text) is None


def test_limit_and_offset_apply_after_the_order():
    o = Ordering.of("SELECT ?a WHERE { ?a ?p ?b } ORDER BY DESC(?a) OFFSET 1 LIMIT 2")
    assert o is not None and (o.offset, o.limit) == (1, 2) and "LIMIT" not in o.text
    rows = [(ox.Literal(c),) for c in "cadb"]
    assert o.sort(["a"], rows)[1] == [(ox.Literal("c"),), (ox.Literal("b"),)]


def test_tied_rows_come_in_the_order_of_their_content():
    o = Ordering.of("SELECT ?a ?b { } ORDER BY ?a")
    lit = ox.Literal
    rows = [(lit("x"), lit("2")), (lit("x"), lit("1")), (lit("a"), lit("9"))]
    assert o is not None and o.sort(["a", "b"], rows) == (["a", "b"], [rows[2], rows[1], rows[0]])


def test_literals_of_different_kinds_are_ordered_by_kind():
    # Oxigraph's own sort aborts the process on such a column (see cqkg.ordering).
    o = Ordering.of("SELECT ?a { } ORDER BY ?a")
    xsd_int = ox.NamedNode(XSD + "integer")
    values = enumerate("9 10 5 10 9 5".split())
    rows = [(ox.Literal(v, datatype=xsd_int),) if i % 2 else (ox.Literal(v),) for i, v in values]
    assert o is not None
    got = [r[0] for r in o.sort(["a"], rows)[1]]
    # numbers by value, then strings as strings ("exact" before "string")
    numbers = [ox.Literal(v, datatype=xsd_int) for v in ("5", "10", "10")]
    assert got == numbers + [ox.Literal(v) for v in ("5", "9", "9")]


def test_a_variable_never_bound_orders_nothing():
    o = Ordering.of("SELECT * { ?a ?p ?b } ORDER BY ?nowhere ?a")
    rows = [(ox.Literal("b"),), (ox.Literal("a"),)]
    assert o is not None and o.sort(["a"], rows) == (["a"], rows[::-1])


def _lit(value: str, datatype: str | None = None, language: str | None = None) -> ox.Literal:
    if language:
        return ox.Literal(value, language=language)
    return ox.Literal(value, datatype=ox.NamedNode(XSD + datatype) if datatype else None)


WORDS = st.sampled_from(["", "a", "A", "b", "ab", "Ä", "重庆", "zz", "a b", "10", "9"])
TERMS = {
    "string": st.builds(_lit, WORDS, st.none(), st.sampled_from([None, "en", "zh"])),
    "exact": st.one_of(
        st.builds(lambda i: _lit(str(i), "integer"), st.integers(-(10**6), 10**6)),
        st.builds(lambda d: _lit(f"{d:f}", "decimal"), st.decimals(-1000, 1000, places=3)),
    ),
    "double": st.builds(lambda f: _lit(repr(f), "double"), st.floats(-1e9, 1e9, allow_nan=False)),
    # integers, decimals and doubles compare by value (doubles in eighths: no rounding ties)
    "number": st.one_of(
        st.builds(lambda i: _lit(str(i), "integer"), st.integers(-100, 100)),
        st.builds(lambda d: _lit(f"{d:f}", "decimal"), st.decimals(-100, 100, places=3)),
        st.builds(lambda k: _lit(repr(k / 8), "double"), st.integers(-800, 800)),
    ),
    "date": st.builds(lambda d: _lit(d.isoformat(), "date"), st.dates()),
    "year": st.builds(lambda y: _lit(f"{y:04d}", "gYear"), st.integers(1, 9999)),
}
IRIS = st.builds(ox.NamedNode, st.sampled_from(["http://e/a", "http://e/b", "http://e/B", "urn:x"]))


@st.composite
def tables(draw):
    """Rows of two columns, each of one kind of literal, with IRIs and unbound values."""
    kinds = [draw(st.sampled_from(sorted(TERMS))) for _ in range(2)]
    cells = [st.one_of(TERMS[k], TERMS[k], IRIS, st.none()) for k in kinds]
    return draw(st.lists(st.tuples(*cells), min_size=1, max_size=25))


def _cell(t):
    return "UNDEF" if t is None else str(t)


def _value(t):
    """What the order depends on: numbers by value (1.5 and 1.50 are tied), other terms as written."""
    if isinstance(t, ox.Literal) and t.datatype.value in (XSD + "integer", XSD + "decimal"):
        return Decimal(t.value)
    if isinstance(t, ox.Literal) and t.datatype.value == XSD + "double":
        return Decimal(float(t.value))
    return t


def _sorted_query(rows, desc):
    conditions = " ".join(f"DESC(?{v})" if d else f"?{v}" for v, d in zip("ab", desc, strict=True))
    values = " ".join(f"({_cell(a)} {_cell(b)})" for a, b in rows)
    return f"SELECT ?a ?b WHERE {{ VALUES (?a ?b) {{ {values} }} }} ORDER BY {conditions}"


@settings(max_examples=300, deadline=None)
@given(rows=tables(), desc=st.tuples(st.booleans(), st.booleans()))
def test_python_order_is_oxigraphs(rows, desc):
    text = _sorted_query(rows, desc)
    store = ox.Store()
    expected = [(s["a"], s["b"]) for s in store.query(text)]
    o = Ordering.of(text)
    assert o is not None
    unordered = [(s["a"], s["b"]) for s in store.query(o.text)]
    variables, done = o.sort(["a", "b"], unordered)
    assert variables == ["a", "b"]
    assert [tuple(map(_value, r)) for r in done] == [tuple(map(_value, r)) for r in expected]


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.tuples(st.one_of(*TERMS.values(), IRIS, st.none()), st.none()), max_size=40),
    desc=st.booleans(),
)
def test_a_column_of_mixed_literals_orders_each_kind_by_value(rows, desc):
    # Not compared with Oxigraph's ORDER BY, which can abort the process on such a column.
    o = Ordering.of(_sorted_query(rows, (desc, False)))
    assert o is not None
    done = [r[0] for r in o.sort(["a", "b"], rows)[1]]
    assert sorted(map(repr, done)) == sorted(repr(r[0]) for r in rows)
    literal_families = {_family(r[0]) for r in rows if isinstance(r[0], ox.Literal)}
    assert o.mixed(["a", "b"], rows) == (["a"] if len(literal_families) > 1 else [])
    kinds = [_family(t) for t in done]
    # one block per kind, in the same order of kinds whatever the direction's values
    blocks = [k for i, k in enumerate(kinds) if i == 0 or kinds[i - 1] != k]
    assert len(blocks) == len(set(blocks))
    for kind in set(kinds) - {"unbound", "iri"}:
        keys = [_family_key(t) for t in done if _family(t) == kind]
        assert keys == sorted(keys, reverse=desc)


def _family(t):
    if t is None:
        return "unbound"
    if isinstance(t, ox.NamedNode):
        return "iri"
    dt = t.datatype.value
    if t.language or dt == XSD + "string":
        return "string"
    return "number" if dt in (XSD + "integer", XSD + "decimal", XSD + "double") else dt


def _family_key(t):
    value = _value(t)
    return (t.value, t.datatype.value, t.language or "") if isinstance(value, ox.Literal) else value


def test_unbound_blank_nodes_iris_then_literals_as_oxigraph():
    store = ox.Store()
    store.load(
        b"<http://e/1> <http://e/p> _:b .\n<http://e/2> <http://e/p> <http://e/x> .\n"
        b'<http://e/3> <http://e/p> "lit" .\n<http://e/4> <http://e/q> "no p" .\n',
        format=ox.RdfFormat.N_TRIPLES,
    )
    text = "SELECT ?s ?o WHERE { ?s ?any ?x OPTIONAL { ?s <http://e/p> ?o } } ORDER BY DESC(?o)"
    o = Ordering.of(text)
    assert o is not None
    done = o.sort(["s", "o"], [(s["s"], s["o"]) for s in store.query(o.text)])
    expected = [(s["s"], s["o"]) for s in store.query(text)]
    assert [r[0] for r in done[1]] == [r[0] for r in expected] == [ox.NamedNode(f"http://e/{i}") for i in (3, 2, 1, 4)]


EXPRESSION_DATA = """
@prefix e: <http://e/> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
e:a a e:T ; e:v 3 ; e:w "b" . e:b a e:T ; e:v 10 ; e:w "a" . e:c a e:T ; e:v "2.5"^^xsd:decimal ; e:w "c" .
e:d a e:T ; e:w "a" . e:f a e:T ; e:v 7 . e:g a e:T ; e:v 3 ; e:w "B" .
"""


@pytest.mark.parametrize(
    "order",
    [
        "DESC(?v * 2) ?s",  # arithmetic
        "STR(?w) ?s",  # a built-in
        "(?v + 1) DESC(?s)",  # bracketed
        "xsd:integer(?v) ?s",  # a cast (an error for the decimal: unbound, first)
        "DESC(COALESCE(?v, 0)) ?s",
        "LCASE(?w) DESC(?v) ?s",
        "(?w) DESC(?s)",  # the variable
    ],
)
@pytest.mark.parametrize("projection", ["?s ?v ?w", "?v", "*"])
def test_an_order_by_expression_is_the_stores_order(order, projection):
    """An expression gets a column of its own and cqkg sorts by it: the same rows in the same
    order as the store's ORDER BY (each order ends with ?s, so the store's is one order)."""
    store = ox.Store()
    store.load(EXPRESSION_DATA.encode(), format=ox.RdfFormat.TURTLE)
    text = (
        "PREFIX e: <http://e/> PREFIX xsd: <http://www.w3.org/2001/XMLSchema#> "
        f"SELECT {projection} WHERE {{ ?s a e:T OPTIONAL {{ ?s e:v ?v }} OPTIONAL {{ ?s e:w ?w }} }} ORDER BY {order}"
    )
    o = Ordering.of(text)
    assert o is not None and (bool(o.expressions) or order.startswith("(?w)"))
    res = store.query(o.text)
    variables, rows = o.sort([v.value for v in res.variables], [tuple(s) for s in res])
    theirs = store.query(text)
    assert variables == [v.value for v in theirs.variables]
    assert [str(r) for r in rows] == [str(tuple(s)) for s in theirs]


def test_an_order_by_expression_over_numbers_and_strings_is_ordered_by_kind():
    # The store's own sort aborts the process on this column (tested in a subprocess by test_serve).
    store = ox.Store()
    store.load(EXPRESSION_DATA.encode(), format=ox.RdfFormat.TURTLE)
    o = Ordering.of("PREFIX e: <http://e/> SELECT ?s WHERE { ?s ?p ?x } ORDER BY COALESCE(?x, 1) ?s")
    assert o is not None and o.describe("_cqkg_order_1") == "COALESCE(?x, 1)"
    res = store.query(o.text)
    variables, rows = o.sort([v.value for v in res.variables], [tuple(s) for s in res])
    assert variables == ["s"] and len(rows) == len(list(store.query("SELECT * { ?s ?p ?x }")))
    assert o.mixed([v.value for v in store.query(o.text).variables], [tuple(s) for s in store.query(o.text)])


ORDER_DATA = """
@prefix e: <http://e/> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
e:a e:v 3 ; e:k "x" . e:b e:v 10 ; e:k "x" . e:c e:v 7 ; e:k "y" . e:d e:v 1 ; e:k "y" . e:f e:v 5 ; e:k "z" .
e:a e:in e:G1 . e:b e:in e:G1 . e:c e:in e:G2 . e:d e:in e:G2 . e:f e:in e:G3 .
"""


@pytest.mark.parametrize(
    "query",
    [
        # ordered by what a DISTINCT query does not project: sorted, projected, then made distinct
        "SELECT DISTINCT ?k WHERE { ?s e:v ?v ; e:k ?k } ORDER BY ?v",
        "SELECT DISTINCT ?k WHERE { ?s e:v ?v ; e:k ?k } ORDER BY DESC(?v) LIMIT 2",
        "SELECT REDUCED ?g WHERE { ?s e:v ?v ; e:in ?g } ORDER BY DESC(?v * 2) OFFSET 1",
        "SELECT DISTINCT ?k ?g WHERE { ?s e:v ?v ; e:k ?k ; e:in ?g } ORDER BY STR(?s)",
        # a trailing VALUES joins before the order
        "SELECT ?s WHERE { ?s e:v ?v } ORDER BY DESC(?v) VALUES ?s { e:a e:c e:f } # trailing",
        "SELECT * WHERE { ?s e:v ?v } ORDER BY (?v * -1) LIMIT 2 VALUES (?s ?x) { (e:a 1) (e:d 2) (e:f UNDEF) }",
        "SELECT ?s WHERE { ?s e:v ?v FILTER(!BOUND(?x)) } ORDER BY ?v VALUES ?x { 1 }",  # ?x unbound in the FILTER
        "SELECT ?k (SUM(?v) AS ?n) WHERE { ?s e:v ?v ; e:k ?k } GROUP BY ?k ORDER BY DESC(?n) VALUES ?k { 'x' 'y' }",
        # grouped, ordered by a group key it does not project
        "SELECT (SUM(?v) AS ?n) WHERE { ?s e:v ?v ; e:k ?k } GROUP BY ?k ORDER BY ?k",
    ],
)
def test_an_order_cqkg_applies_is_the_stores(query):
    """Orders the store once applied itself (a DISTINCT query ordered by what it does not project,
    an ORDER BY before a trailing VALUES): the same rows in the same order as the store's (the
    data has no ties)."""
    store = ox.Store()
    store.load(ORDER_DATA.encode(), format=ox.RdfFormat.TURTLE)
    text = f"PREFIX e: <http://e/>\n{query}"
    o = Ordering.of(text)
    assert o is not None
    res = store.query(o.text)
    variables, rows = o.sort([v.value for v in res.variables], [tuple(s) for s in res])
    theirs = store.query(text)
    assert variables == [v.value for v in theirs.variables]
    assert [str(r) for r in rows] == [str(tuple(s)) for s in theirs]
    assert rows


@pytest.mark.parametrize(
    "query, texts",
    [
        (
            "SELECT * { ?g ?p ?o { SELECT ?s { ?s e:v ?v } ORDER BY DESC(?v) LIMIT 1 } }",
            ["SELECT ?s ?v { ?s e:v ?v } "],
        ),
        (  # the deepest first: the outer subquery's own text still has the inner ORDER BY
            "SELECT ?s { { SELECT ?s { ?s e:in ?g { SELECT ?g { ?g ?p ?o } ORDER BY ?o } } ORDER BY STR(?g) } }",
            [
                "SELECT ?g ?o { ?g ?p ?o } ",
                "SELECT ?s (STR(?g) AS ?_cqkg_order_1) { ?s e:in ?g { SELECT ?g { ?g ?p ?o } ORDER BY ?o } } ",
            ],
        ),
        (
            "CONSTRUCT { ?s e:w ?v } FROM <http://g> WHERE { ?s e:v ?v } ORDER BY ?v LIMIT 2",
            ["SELECT * FROM <http://g> { ?s e:v ?v } "],
        ),
        ("DESCRIBE ?s { ?s e:v ?v } ORDER BY DESC(?v)", ["SELECT * { ?s e:v ?v } "]),
        ("ASK { ?s e:v ?v } ORDER BY ?v", ["SELECT * { ?s e:v ?v } "]),
        ("SELECT ?s { ?s e:v ?v } ORDER BY ?v", []),  # cqkg's to apply
        ("DESCRIBE e:a ORDER BY ?v", []),  # SPARQL, with nothing to sort
        ("SELECT ?s { { SELECT ?s { ?s e:v ?v } LIMIT 1 } }", []),
    ],
)
def test_the_orders_left_to_the_store_are_found(query, texts):
    found = Ordering.left_to_store(f"PREFIX e: <http://e/>\n{query}")
    assert [" ".join(o.text.split()) for o in found] == [" ".join(f"PREFIX e: <http://e/>\n{t}".split()) for t in texts]
