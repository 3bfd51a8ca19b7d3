"""What an expression reads, and its SQL over the attribute documents of its rows.

Part of :mod:`engage_lab.engine.expressions` (see there): which attributes, variables,
durations, identities and clock readings a trigger's expression reads (:class:`Reads`),
the expression per chat state, and the one query that evaluates it per distinct input
row of the registered table ``_el_xb``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from engage_lab.conditions import nodes
from engage_lab.conditions.compiler import DuckDBCompiler
from engage_lab.conditions.evaluator import evaluate_node
from engage_lab.conditions.expressions import parse_expression
from engage_lab.conditions.vocabulary import EXPRESSION_ATTRIBUTES, TIME_GROWING_ATTRIBUTES
from engage_lab.conditions.walking import MINUTE_MS
from engage_lab.engine.plan import Slot, UnsupportedByFastEngineError
from engage_lab.engine.sqlvalues import aliased, col, deep_sql, num
from engage_lab.errors import CompileError, UnsupportedOperatorError

__all__ = [
    "LISTS",
    "PAGE_FIELDS",
    "TABLE",
    "Reads",
    "collect_reads",
    "expression_query",
    "trees_by_chat_state",
]

#: The attribute document's objects and their keys, in the vocabulary's order (the
#: reference's, :func:`engage_lab.reference.state.attributes`).
_ROOT_KEYS: dict[str, tuple[str, ...]] = {
    root: tuple(p.split(".", 1)[1] for p in EXPRESSION_ATTRIBUTES if p.startswith(root + "."))
    for root in dict.fromkeys(p.split(".", 1)[0] for p in EXPRESSION_ATTRIBUTES)
}
_ROOTS = (*_ROOT_KEYS, "vars")
PAGE_FIELDS = ("url", "path", "title", "referrer", "device")
LISTS = {"urls": "url", "paths": "path"}
_THRESHOLDS = (nodes.OpGt, nodes.OpGte, nodes.OpLt, nodes.OpLte)
_GROWING = TIME_GROWING_ATTRIBUTES
#: chat states in mask bit order (bit ``2 * shown + opened``)
_CHAT_STATES = ((False, False), (False, True), (True, False), (True, True))
TABLE = "_el_xb"


# ----------------------------------------------------------------------------- reads


@dataclass
class Reads:
    """What an expression reads of the attribute document."""

    keys: set[tuple[str, str]] = field(default_factory=set)
    #: ``vars.<name>`` names, in first-read order
    variables: list[str] = field(default_factory=list)

    def add(self, path: str) -> None:
        segments = path.split(".")
        root = segments[0]
        if root not in _ROOTS:
            return  # absent: null at every instant
        if len(segments) == 1:
            if root in ("page", "visit", "vars"):
                raise UnsupportedByFastEngineError(
                    f"expressions: the whole {root!r} object is not replayed; read its keys"
                )
            self.keys.update((root, key) for key in _ROOT_KEYS[root])
            return
        key = segments[1]
        if root == "vars":
            if key not in self.variables:
                self.variables.append(key)
        elif key in _ROOT_KEYS[root]:
            self.keys.add((root, key))

    def reads(self, root: str, key: str | None = None) -> bool:
        if key is not None:
            return (root, key) in self.keys
        return any(r == root for r, _ in self.keys)


def collect_reads(tree: nodes.Node, saved_groups: Any) -> Reads:
    """The document paths ``tree`` reads (the walk of the compiler and the evaluator:
    value tests read their field's value, ``$elemMatch`` conditions read elements, saved
    groups read their ``attributeKey`` or their condition's paths)."""
    reads = Reads()

    def check(path: str, test: nodes.Node | None, in_group: bool) -> None:
        if path in _GROWING:
            thresholds = isinstance(test, nodes.Operators) and all(
                isinstance(t, _THRESHOLDS) for t in test.tests
            )
            if in_group or not thresholds:
                raise UnsupportedByFastEngineError(
                    f"expressions: {path} is replayed with $gt, $gte, $lt or $lte only, "
                    "outside saved groups"
                )
        if in_group and path.split(".")[0] in ("time", "chat"):
            raise UnsupportedByFastEngineError(
                "expressions: the clock or the chat read through a saved group is not replayed"
            )

    def visit(node: nodes.Node, in_group: bool, visited: frozenset[str]) -> None:
        if isinstance(node, nodes.Field):
            check(node.path, node.test, in_group)
            reads.add(node.path)
        elif isinstance(node, nodes.And | nodes.Or):
            for child in node.children:
                visit(child, in_group, visited)
        elif isinstance(node, nodes.Not):
            visit(node.child, in_group, visited)
        elif isinstance(node, nodes.SavedGroupRef):
            if node.group_id in visited or not isinstance(saved_groups, dict):
                return
            entry = saved_groups.get(node.group_id)
            if not isinstance(entry, dict):
                return
            if entry.get("type") == "list":
                key = node.attribute_key
                key = entry.get("attributeKey") if key is None else key
                if isinstance(key, str) and isinstance(entry.get("values"), list):
                    check(key, None, True)
                    reads.add(key)
            elif entry.get("type") == "condition" and isinstance(entry.get("condition"), dict):
                inner = parse_expression(entry["condition"], strict=False)
                visit(inner, True, visited | {node.group_id})

    visit(tree, False, frozenset())
    return reads


# ----------------------------------------------------------------------------- chat


def _field_value(node: nodes.Field, attributes: dict[str, Any], groups: Any) -> bool | None:
    """A field test's three-valued result on a document (the reference evaluator)."""
    if evaluate_node(node, attributes, groups):
        return True
    return False if evaluate_node(nodes.Not(node), attributes, groups) else None


def _with_chat(node: nodes.Node, shown: bool, opened: bool, groups: Any) -> nodes.Node:
    """``node`` with its ``chat`` fields decided for one chat state, simplified."""
    if isinstance(node, nodes.Field):
        if node.path.split(".")[0] != "chat":
            return node
        doc = {"chat": {"shown": shown, "opened": opened}}
        return nodes.Const(_field_value(node, doc, groups))
    if isinstance(node, nodes.Not):
        child = _with_chat(node.child, shown, opened, groups)
        if isinstance(child, nodes.Const):
            return nodes.Const(None if child.value is None else not child.value)
        return nodes.Not(child)
    if isinstance(node, nodes.And | nodes.Or):
        if not node.children:
            return node
        decisive = isinstance(node, nodes.Or)  # the value that decides: True for OR
        kept: list[nodes.Node] = []
        for child in node.children:
            child = _with_chat(child, shown, opened, groups)
            if isinstance(child, nodes.Const) and child.value is decisive:
                return nodes.Const(decisive)
            if isinstance(child, nodes.Const) and child.value is (not decisive):
                continue
            kept.append(child)
        if not kept:
            return nodes.Const(not decisive)
        return kept[0] if len(kept) == 1 else type(node)(tuple(kept))
    return node


# ----------------------------------------------------------------------------- SQL


class _DocResolver:
    """The compiler's :class:`~engage_lab.conditions.compiler.Resolver`: the JSON
    attribute document is one column of the row."""

    def __init__(self, column: str) -> None:
        self.column = column

    def criterion_values(self, criterion: str, kind: str) -> exp.Expression:
        raise CompileError("expressions read no criteria")

    def attributes(self) -> exp.Expression:
        return col(self.column)


def _call(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(args))


def _json_object(pairs: list[tuple[exp.Expression, exp.Expression]]) -> exp.Expression:
    return _call("json_object", *[x for pair in pairs for x in pair])


def _seconds_since(base: str) -> exp.Expression:
    elapsed = exp.Paren(this=exp.Sub(this=col("el_t", "b"), expression=col(base, "b")))
    return exp.Div(this=exp.cast(elapsed, "DOUBLE"), expression=num(1000))


def _values(prefix: str, slot: Slot, reads: Reads, params: dict[str, Any]):
    """The SQL value of every document key the expression reads, over ``_el_xb b``."""
    t = col("el_t", "b")
    values: dict[tuple[str, str], exp.Expression] = {
        ("page", name): col(f"el_{name}", "b") for name in PAGE_FIELDS
    }
    values[("page", "count")] = col("el_idx", "b")
    values[("page", "duration")] = _seconds_since("el_s")
    values[("visit", "count")] = col("el_vcount", "b")
    values[("visit", "duration")] = _seconds_since("el_vs")
    for name in LISTS:
        values[("visit", name)] = col(f"el_{name}", "b")
    values[("visitor", "id")] = col("el_vid", "b")
    values[("visitor", "identity")] = exp.LTE(this=col("el_ida", "b"), expression=t)
    values[("visitor", "signed_identity")] = exp.LTE(this=col("el_sga", "b"), expression=t)
    if reads.reads("time"):
        # the reading of the UTC minute (local_clock of the reference)
        params[f"{prefix}tz"] = slot.config.source.timezone
        seconds = exp.Mul(this=exp.IntDiv(this=t, expression=num(MINUTE_MS)), expression=num(60))
        local = _call(
            "timezone",
            exp.Placeholder(this=f"{prefix}tz"),
            _call("to_timestamp", exp.cast(seconds, "DOUBLE")),
        )
        values[("time", "day_of_week")] = _call("strftime", local, exp.Literal.string("%A"))
        values[("time", "time")] = _call("strftime", local, exp.Literal.string("%H:%M"))
        values[("time", "hour")] = exp.cast(_call("hour", local), "BIGINT")
    return values


def trees_by_chat_state(slot: Slot, reads: Reads) -> tuple[list[nodes.Node], list[int | bool]]:
    """The distinct trees to compile and, per chat state in mask bit order, the index of
    its tree or its constant value (an expression that reads no chat has one state)."""
    assert slot.expression is not None
    if not reads.reads("chat"):
        return [slot.expression], [0]
    trees: list[nodes.Node] = []
    per_state: list[int | bool] = []
    for shown, opened in _CHAT_STATES:
        tree = _with_chat(slot.expression, shown, opened, slot.config.saved_groups)
        if isinstance(tree, nodes.Const):
            per_state.append(tree.value is True)
            continue
        if tree not in trees:
            trees.append(tree)
        per_state.append(trees.index(tree))
    return trees, per_state


def expression_query(
    j: int, slot: Slot, reads: Reads, trees: list[nodes.Node]
) -> tuple[str, dict[str, Any]]:
    """The SQL over ``_el_xb`` of slot ``j``'s trees and its parameters: ``el_r`` and a
    boolean ``el_m<k>`` per tree."""
    prefix = f"x{j}"
    params: dict[str, Any] = {}
    values = _values(prefix, slot, reads, params)
    roots: list[tuple[exp.Expression, exp.Expression]] = []
    for root in _ROOTS:
        if root == "vars":
            pairs = []
            for k, name in enumerate(reads.variables):
                params[f"{prefix}k{k}"] = name  # a key the configuration names: bound
                value = exp.cast(col(f"el_var{k}", "b"), "JSON")
                pairs.append((exp.Placeholder(this=f"{prefix}k{k}"), value))
        elif root == "chat":
            continue  # decided per chat state (:func:`trees_by_chat_state`)
        else:
            pairs = [
                (exp.Literal.string(key), values[(root, key)])
                for key in _ROOT_KEYS[root]
                if (root, key) in reads.keys
            ]
        if pairs:
            roots.append((exp.Literal.string(root), _json_object(pairs)))
    base = aliased(TABLE, "b")
    inner = exp.select(col("el_r", "b"), _json_object(roots).as_("el_doc")).from_(base)
    conditions: list[exp.Expression] = []
    for k, tree in enumerate(trees):
        compiler = DuckDBCompiler(
            _DocResolver("el_doc"), slot.config.saved_groups, param_prefix=f"{prefix}t{k}p"
        )
        try:
            with deep_sql():
                compiled = compiler.compile(tree)
        except (UnsupportedOperatorError, CompileError) as error:
            raise UnsupportedByFastEngineError(
                f"trigger {slot.id!r}: its expression does not compile for DuckDB: {error}"
            ) from error
        params.update(compiled.params)
        conditions.append(compiled.expression.as_(f"el_m{k}"))
    outer = exp.select(col("el_r"), *conditions).from_(inner.subquery("q"))
    with deep_sql():
        return outer.sql("duckdb"), params
