"""A SHACL Core validator that compiles shapes to SPARQL and runs them inside pyoxigraph.

pyshacl walks the graph in Python (~54 s at 100k triples, ~455 s at 1M). Every constraint is a
set question ("which focus nodes lack a value?", "which values have the wrong datatype?") that
one SPARQL query answers in the store, so this module turns each constraint into one query and
combines the answers for sh:or / sh:and / sh:not / sh:xone in Python. The constraints of one
property shape are first checked together, in one pass over its focus nodes and their values
(Validator.screen); each constraint's own query then runs on the nodes that fail, for the results.

Supported: targets (sh:targetClass with rdfs:subClassOf*, sh:targetNode, sh:targetSubjectsOf,
sh:targetObjectsOf, implicit class targets); every SHACL path (predicate, inverse, sequence,
alternative, zero-or-more, one-or-more, zero-or-one: each is a SPARQL property path);
sh:minCount, sh:maxCount, sh:datatype (with lexical validity), sh:class, sh:nodeKind, sh:in,
sh:hasValue, sh:languageIn, sh:uniqueLang, sh:min/maxInclusive, sh:min/maxExclusive,
sh:minLength, sh:maxLength, sh:pattern with sh:flags, sh:equals, sh:disjoint, sh:lessThan,
sh:lessThanOrEquals, sh:closed with sh:ignoredProperties, sh:qualifiedValueShape with
sh:qualifiedMin/MaxCount; sh:or, sh:and, sh:not, sh:xone and sh:node over node shapes and (when
their members only test single values) over values; sh:severity, sh:message, sh:deactivated.

Anything else raises Unsupported, naming the shape and the component, and the caller falls back
to pyshacl (announced) or, with --strict-shacl, refuses. SHACL-SPARQL (sh:sparql) and malformed
parameters raise ShapeError: they are refused, whatever the engine.

tests/test_shacl.py checks the results equal pyshacl's for every supported component on
conforming and violating fixtures, the seed graph and a synthetic graph with injected errors.
"""

from __future__ import annotations

import functools
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox

from .errors import CqkgError
from .footprint import Chain, Step, among
from .parallel import run_all
from .rdfstore import select
from .terms import OWL, RDF, RDFS, SH, XSD

INVALID = "<urn:cqkg:invalid-lexical-form>"
SHAPES_GRAPH = "urn:cqkg:shapes-file:"  # + the shapes file's path: one named graph per file

# Datatypes whose lexical validity SPARQL can test with a cast.
_CASTABLE = {
    XSD + n
    for n in (
        "integer",
        "decimal",
        "double",
        "float",
        "boolean",
        "date",
        "dateTime",
        "time",
        "gYear",
        "gYearMonth",
        "duration",
    )
}
_COUNTS = ("minCount", "maxCount", "qualifiedMinCount", "qualifiedMaxCount", "minLength", "maxLength")
_NODE_KINDS = ("IRI", "BlankNode", "Literal", "BlankNodeOrIRI", "BlankNodeOrLiteral", "IRIOrLiteral")
_SPARQL_BASED = ("sparql", "select", "ask", "SPARQLConstraint", "SPARQLTarget", "target", "rule", "SPARQLRule")


RDF_TYPE_STEP: Step = (RDF + "type", True)

# Parameters that mean nothing on a node shape (refused there), and one that only qualifies others.
_NOT_ON_NODE_SHAPES = ("minCount", "maxCount", "qualifiedValueShape", "qualifiedMinCount", "qualifiedMaxCount",
                       "uniqueLang", "equals", "disjoint", "lessThan", "lessThanOrEquals")  # fmt: skip
_SCREENED_ELSEWHERE = ("qualifiedValueShapesDisjoint",)
# Parameters whose values are shapes (see ShapesGraph.members).
_SHAPE_PARAMETERS = ("node", "not", "qualifiedValueShape", "and", "or", "xone")


def _narrowed(focus: str, nodes: set[str]) -> str:
    """The focus pattern kept to `nodes` (N-Triples terms) by a VALUES block; as it is when one of
    them is a blank node, which a query's text cannot name.

    >>> _narrowed("?focus a <http://e/C> .", {"<http://e/a>"}), _narrowed("?focus a <http://e/C> .", {"_:b1"})
    ('VALUES ?focus { <http://e/a> } ', '?focus a <http://e/C> .')
    """
    return focus if any(n.startswith("_:") for n in nodes) else among("?focus", nodes)


def _any(conds: Iterable[str]) -> str:
    """SPARQL: true when one of the conditions is (false when there is none)."""
    conds = list(conds)
    return "(" + " || ".join(conds) + ")" if conds else "false"


class Unsupported(Exception):
    """The shapes use a SHACL feature this validator does not implement (pyshacl does)."""


class ShapeError(CqkgError):
    """A shape that cannot be used at all: a malformed parameter, or SHACL-SPARQL."""


@dataclass(frozen=True)
class ShaclResult:
    """One sh:ValidationResult, with terms in N-Triples form (comparable with pyshacl's)."""

    focus: str  # N-Triples form of the focus node
    path: str | None  # the path: an IRI for a predicate path, else its SPARQL form; None: node-level
    value: str | None  # N-Triples form of the value node, when the constraint is about a value
    severity: str  # IRI of sh:Violation / sh:Warning / sh:Info
    component: str  # IRI of the constraint component
    message: str
    shape: str
    simple_path: bool = True  # path is a single predicate (an IRI)


@dataclass
class Shape:
    """A node or property shape: its path, targets, constraint parameters and nested property shapes."""

    node: Any
    is_property: bool = False
    path: str | None = None  # the SPARQL property path, e.g. <p> or ^<p> or (<p>/<q>)*
    predicate: str | None = None  # the IRI when the path is a single predicate
    steps: list[Chain] | None = None  # the path's alternatives as steps; None when it has no bound length
    targets: list[tuple[str, Any]] = field(default_factory=list)
    params: dict[str, list[Any]] = field(default_factory=dict)  # constraint parameter IRI -> objects
    properties: list[Shape] = field(default_factory=list)
    severity: str = SH + "Violation"
    message: str | None = None
    deactivated: bool = False


def _nt(term: Any) -> str:
    return str(term)


def _true(term: Any) -> bool:
    return isinstance(term, ox.Literal) and term.value in ("true", "1") and term.datatype.value == XSD + "boolean"


class ShapesGraph:
    """The shapes, read from a pyoxigraph store holding the shapes graph (one named graph per file)."""

    SIMPLE = {
        SH + n
        for n in (
            "minCount", "maxCount", "datatype", "class", "nodeKind", "in", "hasValue", "languageIn", "uniqueLang",
            "minInclusive", "maxInclusive", "minExclusive", "maxExclusive", "minLength", "maxLength", "pattern",
            "equals", "disjoint", "lessThan", "lessThanOrEquals", "closed", "qualifiedValueShape", "qualifiedMinCount",
            "qualifiedMaxCount", "or", "and", "not", "xone", "node", "qualifiedValueShapesDisjoint",
        )
    }  # fmt: skip
    IGNORED = {
        SH + n
        for n in (
            "path", "property", "severity", "message", "targetClass", "targetNode", "targetSubjectsOf",
            "targetObjectsOf", "name", "description", "order", "group", "deactivated", "defaultValue", "flags",
            "ignoredProperties", "prefixes", "declare", "labelTemplate",
        )
    } | {RDF + "type", RDFS + "label", RDFS + "comment"}  # fmt: skip

    def __init__(self, store: ox.Store):
        self.g = store
        self.cache: dict[Any, Shape] = {}
        self._not_recursive: set[Any] = set()  # shapes checked by _refuse_recursion

    def objects(self, s: Any, p: str) -> list[Any]:
        """Objects of (s, p) in the shapes graph."""
        return [q.object for q in self.g.quads_for_pattern(s, ox.NamedNode(p), None, None)]

    def one(self, s: Any, p: str) -> Any:
        """One object of (s, p), or None."""
        objs = self.objects(s, p)
        return objs[0] if objs else None

    def file_of(self, node: Any) -> str:
        """The shapes file that describes `node` (for messages)."""
        for q in self.g.quads_for_pattern(node, None, None, None):
            if isinstance(q.graph_name, ox.NamedNode) and q.graph_name.value.startswith(SHAPES_GRAPH):
                return urllib.parse.unquote(q.graph_name.value[len(SHAPES_GRAPH) :])
        return "shapes"

    def where(self, node: Any) -> str:
        """'FILE: shape <IRI>' (or 'FILE: the property shape on <PATH>') for messages."""
        if isinstance(node, ox.NamedNode):
            return f"{self.file_of(node)}: shape <{node.value}>"
        path = self.one(node, SH + "path")
        if isinstance(path, ox.NamedNode):
            return f"{self.file_of(node)}: the property shape on <{path.value}>"
        return f"{self.file_of(node)}: a blank-node shape"

    def rdf_list(self, head: Any) -> list[Any]:
        """The members of an RDF list in the shapes graph."""
        out: list[Any] = []
        while head is not None and not (isinstance(head, ox.NamedNode) and head.value == RDF + "nil"):
            first = self.one(head, RDF + "first")
            if first is None or len(out) > 10_000:
                raise ShapeError(f"{self.file_of(head)}: a malformed RDF list in the shapes")
            out.append(first)
            head = self.one(head, RDF + "rest")
        return out

    def sparql_path(self, node: Any, path: Any) -> str:
        """A SHACL path as a SPARQL property path."""
        if isinstance(path, ox.NamedNode):
            return f"<{path.value}>"
        if isinstance(path, ox.BlankNode):
            if self.one(path, RDF + "first") is not None:  # a sequence path
                steps = self.rdf_list(path)
                if len(steps) < 2:
                    raise ShapeError(f"{self.where(node)}: a sequence path needs two or more steps")
                return "(" + "/".join(self.sparql_path(node, s) for s in steps) + ")"
            for key, fmt in (("inversePath", "^{}"), ("zeroOrMorePath", "{}*"), ("oneOrMorePath", "{}+"),
                             ("zeroOrOnePath", "{}?")):  # fmt: skip
                inner = self.one(path, SH + key)
                if inner is not None:
                    return "(" + fmt.format(self.sparql_path(node, inner)) + ")"
            alternatives = self.one(path, SH + "alternativePath")
            if alternatives is not None:
                options = self.rdf_list(alternatives)
                if len(options) < 2:
                    raise ShapeError(f"{self.where(node)}: an alternative path needs two or more options")
                return "(" + "|".join(self.sparql_path(node, s) for s in options) + ")"
        raise ShapeError(f"{self.where(node)}: sh:path is not a valid SHACL path")

    def path_steps(self, path: Any) -> list[Chain] | None:
        """A (valid) SHACL path as the step sequences it may follow; None for `*`, `+` and `?` paths."""
        if isinstance(path, ox.NamedNode):
            return [((path.value, True),)]
        if self.one(path, RDF + "first") is not None:
            seqs: list[Chain] | None = [()]
            for step in self.rdf_list(path):
                options = self.path_steps(step)
                if options is None or seqs is None:
                    return None
                seqs = [a + b for a in seqs for b in options]
            return seqs
        inverse = self.one(path, SH + "inversePath")
        if inverse is not None:
            inner = self.path_steps(inverse)
            return None if inner is None else [tuple((p, not fwd) for p, fwd in reversed(c)) for c in inner]
        alternatives = self.one(path, SH + "alternativePath")
        if alternatives is not None:
            out: list[Chain] = []
            for option in self.rdf_list(alternatives):
                inner = self.path_steps(option)
                if inner is None:
                    return None
                out += inner
            return out
        return None  # zero-or-more, one-or-more, zero-or-one: any number of steps

    def footprint(self, sh: Shape, prefix: Chain = (), targets: bool = True) -> set[Chain] | None:
        """The chains of triples from a focus node that the shape's result depends on, or None
        when they have no bound length (then every focus node is checked again).

        A chain is the steps from the focus node to a triple the shape reads, that triple being
        the last step: a change to such a triple can change the result for the nodes it can be
        reached from. Targets count (a new type makes a new focus node), unless `targets` is
        false (a shape nested in another); so do the types of values checked with sh:class and
        what nested shapes read.
        """
        out: set[Chain] = set()
        if prefix:
            out |= {prefix[:i] for i in range(1, len(prefix) + 1)}
        elif targets:
            for kind, o in sh.targets:
                if kind == "targetClass":
                    out.add((RDF_TYPE_STEP,))
                elif kind in ("targetSubjectsOf", "targetObjectsOf"):
                    out.add(((o.value, kind == "targetSubjectsOf"),))
        if sh.is_property:
            if sh.steps is None:
                return None
            for alt in sh.steps:
                inner = self._constraint_footprint(sh, prefix + alt, prefix)
                if inner is None:
                    return None
                out |= inner
            return out
        inner = self._constraint_footprint(sh, prefix, prefix)
        if inner is None:
            return None
        out |= inner
        for ps in sh.properties:
            more = self.footprint(ps, prefix)
            if more is None:
                return None
            out |= more
        return out

    def _constraint_footprint(self, sh: Shape, at: Chain, focus: Chain) -> set[Chain] | None:
        """What the constraints of `sh` read beyond the nodes at the end of `at` (its value nodes)."""
        out: set[Chain] = set()
        if at:
            out |= {at[:i] for i in range(1, len(at) + 1)}
        for p, objs in sh.params.items():
            name = p[len(SH) :]
            for o in objs:
                if name == "class":
                    out.add(at + (RDF_TYPE_STEP,))
                elif name == "closed":
                    out.add(at + ((None, True),))
                elif name in ("equals", "disjoint", "lessThan", "lessThanOrEquals"):
                    out.add(focus + ((o.value, True),))
                elif name in _SHAPE_PARAMETERS:
                    inner = self._members_footprint(self.members(name, o), at)
                    if inner is None:
                        return None
                    out |= inner
        return out

    def members(self, name: str, o: Any) -> list[Shape]:
        """The shapes the parameter sh:`name` = `o` names: one for sh:node, sh:not and
        sh:qualifiedValueShape, a list's for sh:and, sh:or and sh:xone."""
        if name in ("node", "not", "qualifiedValueShape"):
            return [self.shape(o)]
        return [self.shape(m) for m in self.rdf_list(o)]

    def _members_footprint(self, members: list[Shape], at: Chain) -> set[Chain] | None:
        out: set[Chain] = set()
        for m in members:
            inner = self.footprint(m, at, targets=False)
            if inner is None:
                return None
            out |= inner
        return out

    def shape(self, node: Any) -> Shape:
        """The Shape at `node` (cached); raises Unsupported for features not compiled."""
        if node in self.cache:
            return self.cache[node]
        sh = Shape(node)
        self.cache[node] = sh
        sh.deactivated = _true(self.one(node, SH + "deactivated"))
        path = self.one(node, SH + "path")
        if path is not None:
            sh.is_property = True
            sh.path = self.sparql_path(node, path)
            sh.predicate = path.value if isinstance(path, ox.NamedNode) else None
            sh.steps = self.path_steps(path)
        for kind in ("targetClass", "targetNode", "targetSubjectsOf", "targetObjectsOf"):
            for o in self.objects(node, SH + kind):
                sh.targets.append((kind, o))
        types = {o.value for o in self.objects(node, RDF + "type") if isinstance(o, ox.NamedNode)}
        if RDFS + "Class" in types or OWL + "Class" in types:
            sh.targets.append(("targetClass", node))  # implicit class target
        sev = self.one(node, SH + "severity")
        if sev is not None:
            sh.severity = sev.value
        msg = self.one(node, SH + "message")
        if msg is not None:
            sh.message = msg.value
        for q in self.g.quads_for_pattern(node, None, None, None):
            p = q.predicate.value
            if p in self.SIMPLE:
                self._check_parameter(node, p[len(SH) :], q.object)
                sh.params.setdefault(p, []).append(q.object)
            elif p == SH + "property":
                sh.properties.append(self.shape(q.object))
            elif p.startswith(SH) and p[len(SH) :] in _SPARQL_BASED:
                raise ShapeError(
                    f"{self.where(node)}: sh:{p[len(SH) :]} is SHACL-SPARQL, which cqkg does not run; "
                    f"write the check as a queries/NAME-violation.rq quality query"
                )
            elif p not in self.IGNORED and p.startswith(SH):
                raise Unsupported(f"{self.where(node)} uses sh:{p[len(SH) :]}")
        return sh

    def _check_parameter(self, node: Any, name: str, value: Any) -> None:
        if name in _COUNTS:
            ok = isinstance(value, ox.Literal) and value.datatype.value == XSD + "integer"
            if not ok or not value.value.lstrip("+").isdigit():
                raise ShapeError(f"{self.where(node)}: sh:{name} must be a non-negative integer, not {value}")
        elif name == "nodeKind":
            if not (isinstance(value, ox.NamedNode) and value.value.startswith(SH) and value.value[len(SH) :]
                    in _NODE_KINDS):  # fmt: skip
                kinds = ", ".join("sh:" + k for k in _NODE_KINDS)
                raise ShapeError(f"{self.where(node)}: sh:nodeKind must be one of {kinds}, not {value}")
        elif name in ("datatype", "class", "equals", "disjoint", "lessThan", "lessThanOrEquals"):
            if not isinstance(value, ox.NamedNode):
                raise ShapeError(f"{self.where(node)}: sh:{name} must be an IRI, not {value}")
        elif name in ("pattern",) and not isinstance(value, ox.Literal):
            raise ShapeError(f"{self.where(node)}: sh:pattern must be a string, not {value}")

    def node_shapes(self) -> list[Shape]:
        """Every active shape with a target (explicit, or implicit as a class)."""
        nodes = set()
        for p in ("targetClass", "targetNode", "targetSubjectsOf", "targetObjectsOf"):
            nodes |= {q.subject for q in self.g.quads_for_pattern(None, ox.NamedNode(SH + p), None, None)}
        nodes |= {
            q.subject
            for q in self.g.quads_for_pattern(None, ox.NamedNode(RDF + "type"), ox.NamedNode(SH + "NodeShape"), None)
        }
        for q in self.g.quads_for_pattern(None, None, None, None):  # SHACL-SPARQL anywhere is refused
            if q.predicate.value.startswith(SH) and q.predicate.value[len(SH) :] in ("sparql", "target"):
                self.shape(q.subject)
        shapes = [self.shape(n) for n in sorted(nodes, key=str)]
        for sh in shapes:
            self._refuse_recursion(sh)
        return [s for s in shapes if not s.deactivated]

    def _refuse_recursion(self, sh: Shape, path: tuple[Any, ...] = ()) -> None:
        """Raise Unsupported when the shape refers to itself (through sh:node, sh:not, sh:and,
        sh:or, sh:xone, sh:qualifiedValueShape or sh:property): SHACL leaves the validation of
        recursive shapes to each processor, and compiling one would never end. A deactivated
        shape is never compiled: a cycle through one is no recursion."""
        if sh.deactivated:
            return
        if sh.node in path:
            raise Unsupported(f"{self.where(sh.node)} refers to itself (a recursive shape)")
        if sh.node in self._not_recursive:
            return
        for p, objs in sh.params.items():
            if p[len(SH) :] in _SHAPE_PARAMETERS:
                for o in objs:
                    for m in self.members(p[len(SH) :], o):
                        self._refuse_recursion(m, path + (sh.node,))
        for ps in sh.properties:
            self._refuse_recursion(ps, path + (sh.node,))
        self._not_recursive.add(sh.node)


class Validator:
    """Compiles each constraint of the shapes to SPARQL and runs it on the data store."""

    def __init__(self, data: ox.Store, shapes: ShapesGraph, only: set[str] | None = None):
        self.data = data
        self.shapes = shapes
        self.only = None if only is None else sorted(only)  # check only these focus nodes (N-Triples)
        self.results: list[ShaclResult] = []
        self._subclasses: dict[str, list[str]] = {}
        self._focus_nodes: dict[str, frozenset[str]] = {}

    # ------------------------------------------------------------------ helpers

    def select(self, query: str) -> list[Any]:
        """The rows of a SELECT on the data."""
        return list(select(self.data, query))

    def subclasses(self, cls: str) -> list[str]:
        """`cls` and every class below it (rdfs:subClassOf*) in the data."""
        if cls not in self._subclasses:
            rows = self.select(f"SELECT DISTINCT ?c WHERE {{ ?c <{RDFS}subClassOf>* <{cls}> }}")
            self._subclasses[cls] = sorted({r["c"].value for r in rows if isinstance(r["c"], ox.NamedNode)} | {cls})
        return self._subclasses[cls]

    def class_test(self, var: str, cls: str) -> str:
        """A SPARQL expression: `var` is an instance of `cls` (or a subclass)."""
        values = " ".join(f"<{c}>" for c in self.subclasses(cls))
        return f"EXISTS {{ {var} <{RDF}type> ?_t . VALUES ?_t {{ {values} }} }}"

    def edge(self, sh: Shape, var: str = "?v", focus: str = "?focus") -> str:
        """The pattern from the focus node to `var` along the shape's path."""
        return f"{focus} {sh.path} {var} ."

    def target_pattern(self, sh: Shape, only: list[str] | None = None) -> str | None:
        """A group binding ?focus to the shape's focus nodes, or None when it has no target.

        `only` (N-Triples terms) keeps the focus nodes among them, as an incremental build checks
        the nodes a change can affect: they are looked up once and the group is a VALUES block
        of them, which drives every query of the shape through the indexes (a sub-select of
        them was joined after a scan of the whole property).
        """
        if not sh.targets:
            return None
        within = among("?focus", only)
        if only is None and len(sh.targets) == 1 and sh.targets[0][0] == "targetClass":
            classes = self.subclasses(sh.targets[0][1].value)
            if len(classes) == 1:  # no DISTINCT needed: each node has a type triple only once
                return f"?focus <{RDF}type> <{classes[0]}> ."
        parts = []
        for kind, o in sh.targets:
            if kind == "targetClass" and only is not None:  # (two VALUES blocks: the classes' drove the join)
                listed = ", ".join(f"<{c}>" for c in self.subclasses(o.value))
                parts.append(f"{{ {within}?focus <{RDF}type> ?_c . FILTER(?_c IN ({listed})) }}")
            elif kind == "targetClass":
                values = " ".join(f"<{c}>" for c in self.subclasses(o.value))
                parts.append(f"{{ {within}?focus <{RDF}type> ?_c . VALUES ?_c {{ {values} }} }}")
            elif kind == "targetNode":
                if only is None or _nt(o) in only:
                    parts.append(f"{{ VALUES ?focus {{ {_nt(o)} }} }}")
            elif kind == "targetSubjectsOf":
                parts.append(f"{{ {within}?focus <{o.value}> ?_o }}")
            elif kind == "targetObjectsOf":
                parts.append(f"{{ {within}?_s <{o.value}> ?focus }}")
        if only is not None:
            rows = self.select(f"SELECT DISTINCT ?focus WHERE {{ {' UNION '.join(parts)} }}") if parts else []
            return among("?focus", {_nt(r["focus"]) for r in rows})
        return "{ SELECT DISTINCT ?focus WHERE { " + " UNION ".join(parts) + " } }"

    # ------------------------------------------------------------------ value conditions

    def value_condition(self, sh: Shape, var: str) -> str:
        """A SPARQL expression true when the value `var` conforms to the (value-level) shape."""
        if sh.deactivated:
            return "true"
        if sh.properties or sh.is_property:
            raise Unsupported(f"{self.shapes.where(sh.node)} is used as a value test but has property constraints")
        conds = []
        for p, objs in sh.params.items():
            for o in objs:
                conds.append(self.value_constraint(sh, p, o, var))
        return "(" + " && ".join(conds) + ")" if conds else "true"

    def value_constraint(self, sh: Shape, p: str, o: Any, var: str) -> str:
        """A SPARQL expression true when `var` satisfies the constraint (parameter `p` = `o`)."""
        name = p[len(SH) :]
        if name == "datatype":
            dt = o.value
            test = f"(isLiteral({var}) && datatype({var}) = <{dt}>"
            if dt in _CASTABLE:
                test += f" && !isIRI(COALESCE(<{dt}>({var}), {INVALID}))"
            if dt == RDF + "langString":
                test += f' && lang({var}) != ""'
            return test + ")"
        if name == "class":
            return self.class_test(var, o.value)
        if name == "nodeKind":
            return {
                "IRI": f"isIRI({var})",
                "BlankNode": f"isBlank({var})",
                "Literal": f"isLiteral({var})",
                "BlankNodeOrIRI": f"(isBlank({var}) || isIRI({var}))",
                "BlankNodeOrLiteral": f"(isBlank({var}) || isLiteral({var}))",
                "IRIOrLiteral": f"(isIRI({var}) || isLiteral({var}))",
            }[o.value[len(SH) :]]
        if name == "in":
            members = self.shapes.rdf_list(o)
            return "(" + " || ".join(f"sameTerm({var}, {_nt(m)})" for m in members) + ")" if members else "false"
        if name == "hasValue":
            return f"sameTerm({var}, {_nt(o)})"
        if name == "languageIn":
            tags = self.shapes.rdf_list(o)
            tests = " || ".join(f"langMatches(lang({var}), {_nt(ox.Literal(t.value))})" for t in tags)
            return f"(isLiteral({var}) && ({tests or 'false'}))"
        if name in ("minInclusive", "maxInclusive", "minExclusive", "maxExclusive"):
            op = {"minInclusive": ">=", "maxInclusive": "<=", "minExclusive": ">", "maxExclusive": "<"}[name]
            return f"COALESCE({var} {op} {_nt(o)}, false)"
        if name in ("minLength", "maxLength"):
            op = ">=" if name == "minLength" else "<="
            return f"(!isBlank({var}) && STRLEN(STR({var})) {op} {int(o.value)})"
        if name == "pattern":
            flags = self.shapes.one(sh.node, SH + "flags")
            extra = f", {_nt(ox.Literal(flags.value))}" if flags is not None else ""
            return f"(!isBlank({var}) && REGEX(STR({var}), {_nt(ox.Literal(o.value))}{extra}))"
        if name in ("or", "and", "xone", "not", "node"):
            if name == "node":
                return self.value_condition(self.shapes.shape(o), var)
            if name == "not":
                return f"!{self.value_condition(self.shapes.shape(o), var)}"
            members = [self.value_condition(self.shapes.shape(m), var) for m in self.shapes.rdf_list(o)]
            if name == "or":
                return "(" + (" || ".join(members) or "false") + ")"
            if name == "and":
                return "(" + (" && ".join(members) or "true") + ")"
            return "((" + (" + ".join(f"IF({m}, 1, 0)" for m in members) or "0") + ") = 1)"
        raise Unsupported(f"{self.shapes.where(sh.node)} uses sh:{name} as a test of single values")

    # ------------------------------------------------------------------ evaluation

    def failing(self, sh: Shape, focus: str, report: bool) -> set[str]:
        """Focus nodes (among those `focus` binds) that do not conform to `sh`; adds results if report."""
        if sh.deactivated:
            return set()
        bad: set[str] = set()
        if sh.is_property:
            bad |= self.property_failures(sh, focus, report)
        else:
            bad |= self.node_failures(sh, focus, report)
            for ps in sh.properties:
                bad |= self.failing(ps, focus, report)
        return bad

    def add(self, report: bool, sh: Shape, focus: Any, value: Any, component: str, default_msg: str) -> str:
        """Record a result (when `report`) and return the focus node's key."""
        key = _nt(focus)
        if report:
            path = (sh.predicate or sh.path) if sh.is_property else None
            self.results.append(
                ShaclResult(key, path, None if value is None else _nt(value), sh.severity, SH + component,
                            sh.message or default_msg, str(sh.node),
                            simple_path=sh.predicate is not None or path is None)
            )  # fmt: skip
        return key

    def _rows(self, report: bool, sh: Shape, query: str, component: str, message: str, value: str | None) -> set[str]:
        return {
            self.add(report, sh, r["focus"], r[value] if value else None, component, message)
            for r in self.select(query)
        }

    def node_failures(self, sh: Shape, focus: str, report: bool) -> set[str]:
        """Focus nodes failing the node shape's own (not its property shapes') constraints."""
        bad: set[str] = set()
        for p, objs in sorted(sh.params.items()):
            name = p[len(SH) :]
            for o in objs:
                if name in ("or", "and", "xone", "not", "node"):
                    bad |= self.logical(sh, name, o, focus, report)
                elif name == "closed":
                    if _true(o):
                        bad |= self.closed(sh, focus, report)
                elif name in _NOT_ON_NODE_SHAPES:
                    raise Unsupported(f"{self.shapes.where(sh.node)} uses sh:{name} on a node shape")
                elif name in _SCREENED_ELSEWHERE:
                    continue
                else:
                    cond = self.value_constraint(sh, p, o, "?focus")
                    comp = name[0].upper() + name[1:] + "ConstraintComponent"
                    query = f"SELECT ?focus WHERE {{ {focus} FILTER(!{cond}) }}"
                    bad |= self._rows(report, sh, query, comp, f"Node does not conform to sh:{name}", "focus")
        return bad

    def closed(self, sh: Shape, focus: str, report: bool) -> set[str]:
        """sh:closed: focus nodes with a property that no property shape (or sh:ignoredProperties) allows."""
        query = f"SELECT ?focus ?p ?v WHERE {{ {focus} ?focus ?p ?v . {self._not_allowed(sh, '?p')} }}"
        bad = set()
        for r in self.select(query):
            if report:
                self.results.append(
                    ShaclResult(_nt(r["focus"]), r["p"].value, _nt(r["v"]), sh.severity,
                                SH + "ClosedConstraintComponent",
                                sh.message or "Predicate is not allowed (closed shape)", str(sh.node))
                )  # fmt: skip
            bad.add(_nt(r["focus"]))
        return bad

    def _not_allowed(self, sh: Shape, var: str) -> str:
        """A FILTER keeping the properties `var` that the closed shape does not allow (its property
        shapes' and sh:ignoredProperties are allowed); "" when it allows none."""
        allowed = {ps.predicate for ps in sh.properties if ps.predicate}
        ignored = self.shapes.one(sh.node, SH + "ignoredProperties")
        if ignored is not None:
            allowed |= {m.value for m in self.shapes.rdf_list(ignored) if isinstance(m, ox.NamedNode)}
        return f"FILTER({var} NOT IN ({', '.join(f'<{a}>' for a in sorted(allowed))}))" if allowed else ""

    def focus_nodes(self, focus: str) -> set[str]:
        """The nodes the focus pattern binds (read once per pattern: several shapes share one)."""
        if focus not in self._focus_nodes:
            rows = self.select(f"SELECT DISTINCT ?focus WHERE {{ {focus} }}")
            self._focus_nodes[focus] = frozenset(_nt(r["focus"]) for r in rows)
        return set(self._focus_nodes[focus])

    def logical(self, sh: Shape, name: str, o: Any, focus: str, report: bool) -> set[str]:
        """Focus nodes failing sh:or / sh:and / sh:not / sh:xone / sh:node over node shapes."""
        fails = [self.failing(m, focus, report=False) for m in self.shapes.members(name, o)]
        if name == "not":
            bad = self.focus_nodes(focus) - fails[0]
        elif name == "node":
            bad = fails[0]
        elif name == "or":
            bad = set.intersection(*fails) if fails else self.focus_nodes(focus)
        elif name == "and":
            bad = set.union(*fails) if fails else set()
        else:  # xone: exactly one member conforms
            bad = {f for f in self.focus_nodes(focus) if sum(f not in fs for fs in fails) != 1}
        comp = name[0].upper() + name[1:] + "ConstraintComponent"
        if report:
            for f in sorted(bad):
                self.results.append(
                    ShaclResult(f, None, f, sh.severity, SH + comp, sh.message or f"Node does not conform to sh:{name}",
                                str(sh.node))
                )  # fmt: skip
        return bad

    def screen(self, sh: Shape, focus: str) -> str | None:
        """One query for the focus nodes that fail the property shape, or None when it has a
        constraint this cannot express (a count above one, sh:uniqueLang, a pair of properties,
        disjoint qualified shapes).

        Each constraint on its own is a pass over every focus node and its values; the screen
        makes one pass with the failures of all of them as one condition, each as its own query
        decides it (an expression's error is no failure). property_failures then runs the query of
        each constraint on the failing nodes alone, for the results and their messages.
        """
        group = self._screen_group(sh)
        return None if not group else f"SELECT DISTINCT ?focus WHERE {{ {focus} {group} }}"

    def _screen_group(self, sh: Shape) -> str | None:
        """The screen's pattern for a bound ?focus: "" when the property shape has nothing that can
        fail, None when a constraint cannot be screened.

        A value's test is behind IF(BOUND(?v), …): Oxigraph does not cut `BOUND(?v) && EXISTS {…}`
        short when the focus node has no value, and the EXISTS then reads every match of its pattern.
        """
        fails: list[str] = []
        of_values = False  # whether a test reads the values ?v
        for p, objs in sorted(sh.params.items()):
            name = p[len(SH) :]
            for o in objs:
                if name == "minCount":
                    n = int(o.value)
                    if n > 1:
                        return None
                    if n == 1:
                        fails.append("!BOUND(?v)")
                elif name == "maxCount":
                    n = int(o.value)
                    if n > 1:
                        return None
                    other = "true" if n == 0 else f"EXISTS {{ {self.edge(sh, '?_w')} FILTER(!sameTerm(?_w, ?v)) }}"
                    fails.append(f"IF(BOUND(?v), {other}, false)")
                elif name == "hasValue":
                    fails.append(f"NOT EXISTS {{ {self.edge(sh, _nt(o))} }}")
                    continue  # (not a test of ?v)
                elif name == "qualifiedValueShape":
                    qualified = self._qualified_failures(sh, o)
                    if qualified is None:
                        return None
                    fails += qualified
                    continue
                elif name in ("qualifiedMinCount", "qualifiedMaxCount", "qualifiedValueShapesDisjoint", "closed"):
                    continue  # with sh:qualifiedValueShape; sh:closed: node shapes only
                elif name in ("uniqueLang", "equals", "disjoint", "lessThan", "lessThanOrEquals"):
                    return None
                else:
                    fails.append(f"IF(BOUND(?v), COALESCE(!{self.value_constraint(sh, p, o, '?v')}, false), false)")
                of_values = True
        if not fails:
            return ""
        values = f"OPTIONAL {{ {self.edge(sh)} }} " if of_values else ""
        return f"{values}FILTER({' || '.join(fails)})"

    def _qualified_failures(self, sh: Shape, qshape: Any) -> list[str] | None:
        """sh:qualifiedMinCount / sh:qualifiedMaxCount as conditions on ?focus (see qualified), or
        None for a count above one or disjoint qualified shapes."""
        low, high = (self.shapes.one(sh.node, SH + which) for which in ("qualifiedMinCount", "qualifiedMaxCount"))
        disjoint = _true(self.shapes.one(sh.node, SH + "qualifiedValueShapesDisjoint"))
        if disjoint or any(n is not None and int(n.value) > 1 for n in (low, high)):
            return None
        shape = self.shapes.shape(qshape)
        q, r = self.value_condition(shape, "?_q"), self.value_condition(shape, "?_r")
        fails = []
        if low is not None and int(low.value) == 1:  # no value conforms
            fails.append(f"NOT EXISTS {{ {self.edge(sh, '?_q')} FILTER({q}) }}")
        if high is not None and int(high.value) == 0:  # a value conforms
            fails.append(f"EXISTS {{ {self.edge(sh, '?_q')} FILTER({q}) }}")
        elif high is not None:  # two values conform
            pair = f"{self.edge(sh, '?_q')} {self.edge(sh, '?_r')}"
            fails.append(f"EXISTS {{ {pair} FILTER(!sameTerm(?_q, ?_r) && {q} && {r}) }}")
        return fails

    def condition(self, sh: Shape, own: bool = False) -> str | None:
        """A SPARQL expression true exactly when the focus node ?focus fails the shape (with `own`,
        a node shape's own constraints, not its property shapes'), or None when a constraint has
        no such expression (then its own queries decide). run() checks the conditions of a
        shape's parts in one pass over its focus nodes.
        """
        if sh.deactivated:
            return "false"
        if sh.is_property:
            group = self._screen_group(sh)
            return None if group is None else f"EXISTS {{ {group} }}" if group else "false"
        conds: list[str | None] = []
        for p, objs in sorted(sh.params.items()):
            name = p[len(SH) :]
            for o in objs:
                if name in ("or", "and", "xone", "not", "node"):
                    conds.append(self._logical_condition(name, o))
                elif name == "closed":
                    if _true(o):
                        conds.append(f"EXISTS {{ ?focus ?_p ?_o . {self._not_allowed(sh, '?_p')} }}")
                elif name in _SCREENED_ELSEWHERE:
                    continue
                elif name in _NOT_ON_NODE_SHAPES:
                    return None  # node_failures says why it is refused
                else:
                    conds.append(f"COALESCE(!{self.value_constraint(sh, p, o, '?focus')}, false)")
        if not own:
            conds += [self.condition(ps) for ps in sh.properties]
        if any(c is None for c in conds):
            return None
        return _any(c for c in conds if c is not None)

    def _logical_condition(self, name: str, o: Any) -> str | None:
        """The failure of sh:or / sh:and / sh:xone / sh:not / sh:node as an expression (see logical)."""
        conds = [self.condition(m) for m in self.shapes.members(name, o)]
        if any(c is None for c in conds):
            return None
        fails = [c for c in conds if c is not None]
        if name == "not":
            return f"!({fails[0]})"
        if name == "node":
            return fails[0]
        if name == "or":  # every member fails
            return "(" + " && ".join(fails) + ")" if fails else "true"
        if name == "and":
            return _any(fails)
        return "((" + (" + ".join(f"IF({c}, 0, 1)" for c in fails) or "0") + ") != 1)"  # xone

    def property_failures(self, sh: Shape, focus: str, report: bool) -> set[str]:
        """Focus nodes failing a property shape's constraints."""
        bad: set[str] = set()
        screen = self.screen(sh, focus)
        if screen is not None:
            failing = {_nt(r["focus"]) for r in self.select(screen)}
            if not failing or not report:
                return failing
            focus = _narrowed(focus, failing)
        edge = self.edge(sh)
        for p, objs in sorted(sh.params.items()):
            name = p[len(SH) :]
            for o in objs:
                if name == "minCount":
                    n = int(o.value)
                    if n <= 0:
                        continue
                    if n == 1:
                        q = f"SELECT ?focus WHERE {{ {focus} FILTER NOT EXISTS {{ {edge} }} }}"
                    else:
                        q = (
                            f"SELECT ?focus WHERE {{ {focus} OPTIONAL {{ {edge} }} }} "
                            f"GROUP BY ?focus HAVING (COUNT(DISTINCT ?v) < {n})"
                        )
                    bad |= self._rows(report, sh, q, "MinCountConstraintComponent", f"Less than {n} values", None)
                elif name == "maxCount":
                    n = int(o.value)
                    q = f"SELECT ?focus WHERE {{ {focus} {edge} }} GROUP BY ?focus HAVING (COUNT(DISTINCT ?v) > {n})"
                    bad |= self._rows(report, sh, q, "MaxCountConstraintComponent", f"More than {n} values", None)
                elif name == "hasValue":
                    inner = self.edge(sh, _nt(o))
                    q = f"SELECT ?focus WHERE {{ {focus} FILTER NOT EXISTS {{ {inner} }} }}"
                    bad |= self._rows(report, sh, q, "HasValueConstraintComponent", f"Missing expected value {o}", None)
                elif name == "uniqueLang":
                    if _true(o):
                        q = (
                            f"SELECT DISTINCT ?focus WHERE {{ {focus} {edge} {self.edge(sh, '?w')} "
                            f'FILTER(!sameTerm(?v, ?w) && lang(?v) != "" && lang(?v) = lang(?w)) }}'
                        )
                        bad |= self._rows(report, sh, q, "UniqueLangConstraintComponent",
                                          "More than one value per language", None)  # fmt: skip
                elif name in ("equals", "disjoint", "lessThan", "lessThanOrEquals"):
                    bad |= self.pair(sh, name, o.value, focus, report)
                elif name == "qualifiedValueShape":
                    bad |= self.qualified(sh, o, focus, report)
                elif name in ("qualifiedMinCount", "qualifiedMaxCount", "qualifiedValueShapesDisjoint", "closed"):
                    continue  # handled with qualifiedValueShape; sh:closed only means something on node shapes
                else:
                    cond = self.value_constraint(sh, p, o, "?v")
                    q = f"SELECT ?focus ?v WHERE {{ {focus} {edge} FILTER(!{cond}) }}"
                    comp = name[0].upper() + name[1:] + "ConstraintComponent"
                    bad |= self._rows(report, sh, q, comp, f"Value does not conform to sh:{name}", "v")
        return bad

    def pair(self, sh: Shape, name: str, other: str, focus: str, report: bool) -> set[str]:
        """sh:equals / sh:disjoint / sh:lessThan / sh:lessThanOrEquals against another property."""
        edge, comp = self.edge(sh), SH + name[0].upper() + name[1:] + "ConstraintComponent"
        if name == "equals":  # a value on one side and not on the other, either way
            queries = [
                f"SELECT ?focus ?v WHERE {{ {focus} {edge} FILTER NOT EXISTS {{ ?focus <{other}> ?v }} }}",
                f"SELECT ?focus ?v WHERE {{ {focus} ?focus <{other}> ?v FILTER NOT EXISTS {{ {edge} }} }}",
            ]
        elif name == "disjoint":
            queries = [f"SELECT ?focus ?v WHERE {{ {focus} {edge} ?focus <{other}> ?v }}"]
        else:
            op = "<" if name == "lessThan" else "<="
            queries = [f"SELECT DISTINCT ?focus ?v WHERE {{ {focus} {edge} ?focus <{other}> ?w "
                       f"FILTER(!COALESCE(?v {op} ?w, false)) }}"]  # fmt: skip
        bad = set()
        for q in queries:
            bad |= {self.add(report, sh, r["focus"], r["v"], comp.removeprefix(SH), f"Value violates sh:{name}")
                    for r in self.select(q)}  # fmt: skip
        return bad

    def qualified(self, sh: Shape, qshape: Any, focus: str, report: bool) -> set[str]:
        """Focus nodes failing sh:qualifiedMinCount / sh:qualifiedMaxCount."""
        if _true(self.shapes.one(sh.node, SH + "qualifiedValueShapesDisjoint")):
            raise Unsupported(f"{self.shapes.where(sh.node)} uses sh:qualifiedValueShapesDisjoint true")
        cond = self.value_condition(self.shapes.shape(qshape), "?v")
        edge = self.edge(sh)
        bad = set()
        for which, op, comp in (
            ("qualifiedMinCount", "<", "QualifiedMinCountConstraintComponent"),
            ("qualifiedMaxCount", ">", "QualifiedMaxCountConstraintComponent"),
        ):
            limit = self.shapes.one(sh.node, SH + which)
            if limit is None:
                continue
            q = (
                f"SELECT ?focus WHERE {{ {focus} OPTIONAL {{ {edge} FILTER({cond}) }} }} "
                f"GROUP BY ?focus HAVING (COUNT(DISTINCT ?v) {op} {int(limit.value)})"
            )
            bad |= self._rows(report, sh, q, comp, f"Qualified value count {op} {limit.value}", None)
        return bad

    def run(self, workers: int | None = None) -> list[ShaclResult]:
        """Validate every shape; results sorted, duplicates once."""
        # A top-level shape's parts (a node shape's own constraints, each of its property shapes)
        # whose failure is one expression are checked together in one pass over the focus nodes;
        # each part's own queries then run on the failing nodes alone, for the results. The other
        # parts are tasks of their own. pyoxigraph evaluates queries without the GIL, so the tasks
        # run in parallel.
        tasks: list[Any] = []
        for sh in self.shapes.node_shapes():
            # A shape whose footprint has no bounded length is checked on every focus node.
            bounded = self.only is not None and self.shapes.footprint(sh) is not None
            focus = self.target_pattern(sh, self.only if bounded else None)
            if focus is None:
                continue
            parts: list[tuple[Callable[[str], set[str]], str | None]]
            if sh.is_property:  # a property shape with a target of its own
                parts = [(functools.partial(self.failing, sh, report=True), self.condition(sh))]
            else:
                parts = [(functools.partial(self.node_failures, sh, report=True), self.condition(sh, own=True))]
                parts += [
                    (functools.partial(self.failing, ps, report=True), self.condition(ps)) for ps in sh.properties
                ]
            together = [(check, c) for check, c in parts if c is not None and c != "false"]
            if together:
                tasks.append(functools.partial(self._check_together, focus, together))
            tasks.extend(functools.partial(check, focus) for check, c in parts if c is None)
        run_all(tasks, workers)
        return sorted(set(self.results), key=lambda r: (r.focus, r.path or "", r.component, r.value or ""))

    def _check_together(self, focus: str, parts: list[tuple[Callable[[str], set[str]], str]]) -> None:
        """One pass over the focus nodes with the parts' failure conditions; then each part's own
        queries on the nodes that fail one of them (none, on conforming data)."""
        query = f"SELECT DISTINCT ?focus WHERE {{ {focus} FILTER({_any(c for _, c in parts)}) }}"
        failing = {_nt(r["focus"]) for r in self.select(query)}
        if failing:
            for check, _ in parts:
                check(_narrowed(focus, failing))


def validate(data: ox.Store, shapes_store: ox.Store, only: set[str] | None = None) -> list[ShaclResult]:
    """All SHACL results for the default graph of `data` (with `only`, for those focus nodes).

    Raises Unsupported for features not compiled, ShapeError for shapes that cannot be used.
    """
    return Validator(data, ShapesGraph(shapes_store), only).run()


def footprint(shapes_store: ox.Store) -> set[Chain]:
    """The chains the active shapes read from their focus nodes (those with no bounded length
    check every focus node, see Validator.run, and add none)."""
    graph = ShapesGraph(shapes_store)
    out: set[Chain] = set()
    for sh in graph.node_shapes():
        chains = graph.footprint(sh)
        if chains is not None:
            out |= chains
    return out


def check_shapes(shapes_store: ox.Store) -> None:
    """Raise ShapeError for shapes that no engine should run (malformed parameters, SHACL-SPARQL)."""
    graph = ShapesGraph(shapes_store)
    for q in sorted(shapes_store.quads_for_pattern(None, None, None, None), key=str):
        p = q.predicate.value
        if not p.startswith(SH):
            continue
        name = p[len(SH) :]
        if name in _SPARQL_BASED:
            raise ShapeError(
                f"{graph.where(q.subject)}: sh:{name} is SHACL-SPARQL, which cqkg does not run; "
                f"write the check as a queries/NAME-violation.rq quality query"
            )
        graph._check_parameter(q.subject, name, q.object)
