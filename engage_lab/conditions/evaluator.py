"""The reference evaluator: a visitor over the condition tree, three-valued like GrowthBook.

Internally a node evaluates to ``True``, ``False`` or ``None`` (unknown: an operator the
evaluator does not know, which neither passes nor fails, exactly as the ``growthbook``
SDK does); the public functions turn unknown into ``False``. Reaching a
:class:`~engage_lab.conditions.nodes.Malformed` node fails the whole expression, where
the SDK raises and catches.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from engage_lab.conditions import _growthbook as gb
from engage_lab.conditions import nodes as n
from engage_lab.conditions.criteria import infer_kind, parse_criteria, read_page_value
from engage_lab.conditions.expressions import parse_expression
from engage_lab.conditions.regex import regex_finds
from engage_lab.conditions.vocabulary import custom_declaration, lower, position_range

__all__ = [
    "evaluate",
    "evaluate_criteria",
    "evaluate_node",
    "evaluate_on_pages",
    "parse_criteria_for_pages",
]

Result = bool | None


class _Fail(Exception):
    """Raised on a malformed part; the public entry points turn it into ``False``."""


# ----------------------------------------------------------------------------- public


def evaluate(
    condition: Any, attributes: Any, saved_groups: Mapping[str, Any] | None = None
) -> bool:
    """Whether a GrowthBook-style expression holds for ``attributes``.

    Semantics are those of the ``growthbook`` 4.0 SDK (type-strict comparisons, a missing
    attribute is null, unknown operators never pass, malformed conditions fail).

    Examples
    --------
    >>> evaluate({"page.duration": {"$gte": 30}}, {"page": {"duration": 42}})
    True
    >>> evaluate({"vars.cart": {"$gt": 30}}, {"vars": {"cart": "40"}})
    False
    >>> evaluate({"$or": [{"page.url": {"$regex": "/cart/"}}, {"visitor.identity": True}]},
    ...          {"page": {"url": "https://s.example/cart/1"}})
    True
    >>> evaluate({"visitor.id": {"$inGroup": "vip"}}, {"visitor": {"id": "v1"}}, {"vip": ["v1"]})
    True
    """
    try:
        tree = _parse_cached(json.dumps(condition, separators=(",", ":")))
    except (TypeError, ValueError):
        tree = parse_expression(condition, strict=False)
    return evaluate_node(tree, attributes, saved_groups)


@lru_cache(maxsize=4096)
def _parse_cached(text: str) -> n.Node:
    return parse_expression(json.loads(text), strict=False)


def evaluate_node(
    node: n.Node, attributes: Any, saved_groups: Mapping[str, Any] | None = None
) -> bool:
    """Evaluate an expression tree on one attribute document (unknown is ``False``)."""
    try:
        return _Expression(saved_groups).condition(node, attributes, frozenset()) is True
    except (_Fail, RecursionError):
        return False


def evaluate_criteria(
    criteria: list[dict[str, Any]],
    pages: Sequence[Mapping[str, Any]],
    custom_variables: Mapping[str, str] | None = None,
) -> bool:
    """Whether every criterion holds on the visit's ``pages`` (oldest first, last current).

    Each page maps criterion ids to values (``page_title``, ``time`` as ``"HH:MM"``,
    ``day_of_week`` as ``"Monday"``, ``hour`` 0–23, ``custom_<name>`` …); a missing key
    or ``null`` is "not found". Undeclared custom variables get their kind from the
    pages' values, else from the criterion's value (:func:`~engage_lab.conditions.criteria.infer_kind`).

    Examples
    --------
    >>> evaluate_criteria([{"criterion": "page_title", "operator": "is", "value": "tarte, Crème Brûlée"}],
    ...                   [{"page_title": "  CREME brulee "}])
    True
    >>> evaluate_criteria([{"criterion": "time", "operator": "lte", "value": "19:45"}], [{"time": "19:59"}])
    True
    >>> evaluate_criteria([{"criterion": "page_url", "when": "previous", "operator": "is_not", "value": "x"}],
    ...                   [{"page_url": "x"}])
    True
    >>> evaluate_criteria([{"criterion": "custom_cart", "when": "any", "operator": "gte", "value": 1},
    ...                    {"criterion": "custom_cart", "operator": "is", "value": 0}],
    ...                   [{"custom_cart": 2}, {"custom_cart": 0}])
    True
    """
    return evaluate_on_pages(parse_criteria_for_pages(criteria, pages, custom_variables), pages)


def parse_criteria_for_pages(
    criteria: Any,
    pages: Sequence[Mapping[str, Any]],
    custom_variables: Mapping[str, str] | None = None,
) -> n.Node:
    """Parse criteria, inferring each undeclared custom variable's kind from ``pages``.

    >>> tree = parse_criteria_for_pages([{"criterion": "custom_n", "operator": "is", "value": "2"}],
    ...                                 [{"custom_n": 2}])
    >>> tree.children[0].kind
    'number'
    """
    declared = dict(custom_variables or {})
    if not isinstance(criteria, list):
        return parse_criteria(criteria, declared)
    parts: list[n.Node] = []
    for i, item in enumerate(criteria):
        local = declared
        criterion = item.get("criterion") if isinstance(item, dict) else None
        if (
            isinstance(criterion, str)
            and criterion.startswith("custom_")
            and custom_declaration(criterion, declared) is None
        ):
            # each criterion infers its own kind: `gte 1` and `is "none"` may differ
            values = [page.get(criterion) for page in pages]
            kind = infer_kind(item.get("operator", ""), item.get("value"), values)
            local = {**declared, criterion: kind}
        parts.extend(n.children(parse_criteria([item], local, path=f"criteria[{i}]")))
    return n.And(tuple(parts))


def evaluate_on_pages(node: n.Node, pages: Sequence[Mapping[str, Any]]) -> bool:
    """Evaluate a criteria tree (or logic over criteria) on a visit's pages."""
    return _criteria(node, pages, {}) is True


# ----------------------------------------------------------------------------- criteria

#: the values one position reads: (criterion, position, kind) -> the selected pages'
#: values read as the kind (empty: the position selects no page)
_Reads = dict[tuple[str, str, str], tuple[Any, ...]]


def _criteria(node: n.Node, pages: Sequence[Mapping[str, Any]], reads: _Reads) -> Result:
    if isinstance(node, n.Criterion):
        return _criterion(node, pages, reads)
    if isinstance(node, n.And):
        return _and(_criteria(c, pages, reads) for c in node.children)
    if isinstance(node, n.Or):
        return _or(_criteria(c, pages, reads) for c in node.children) if node.children else True
    if isinstance(node, n.Not):
        return _not(_criteria(node.child, pages, reads))
    if isinstance(node, n.Const):
        return node.value
    raise TypeError(f"not a criteria node: {type(node).__name__}")


def _criterion(node: n.Criterion, pages: Sequence[Mapping[str, Any]], reads: _Reads) -> bool:
    # criteria that read the same values (thousands may) read them once per evaluation
    key = (node.criterion, node.position, node.kind)
    values = reads.get(key)
    if values is None:
        first, last = position_range(node.position, len(pages))
        selected = pages[first - 1 : last] if first <= last else ()
        values = reads[key] = tuple(
            read_page_value(page.get(node.criterion), node.kind) for page in selected
        )
    if not values:
        return type(node.test).not_found
    return any(test_value(node.test, value, node.kind) for value in values)


def test_value(test: n.CriterionTest, value: Any, kind: str) -> bool:
    """One criteria test on one page value already read as ``kind`` (``None``: not found)."""
    if value is None:
        return type(test).not_found
    if isinstance(test, n.IsPresent | n.IsNotPresent):
        if kind == "boolean":
            present = value is True
        elif kind == "string":
            present = value.strip() != ""
        else:
            present = True
        return present if isinstance(test, n.IsPresent) else not present
    if isinstance(test, n.Gte):
        return value >= test.value
    if isinstance(test, n.Lte):
        return value <= test.value
    if kind != "string":
        return isinstance(test, n.Is) and value == test.values[0]
    text = _normalized(value)
    return _STRING_TESTS[type(test)](text, test.values)  # type: ignore[attr-defined]


@lru_cache(maxsize=8192)
def _normalized(text: str) -> str:
    from engage_lab.conditions.vocabulary import normalize

    return normalize(text)


_STRING_TESTS: dict[type, Callable[[str, tuple[str, ...]], bool]] = {
    n.Is: lambda v, es: v in es,
    n.IsNot: lambda v, es: v not in es,
    n.Contains: lambda v, es: any(e in v for e in es),
    n.DoesNotContain: lambda v, es: not any(e in v for e in es),
    n.StartsWith: lambda v, es: any(v.startswith(e) for e in es),
    n.EndsWith: lambda v, es: any(v.endswith(e) for e in es),
}


# ----------------------------------------------------------------------------- logic


def _and(results: Any) -> Result:
    out: Result = True
    for r in results:
        if r is False:
            return False
        if r is None:
            out = None
    return out


def _or(results: Any) -> Result:
    out: Result = False
    for r in results:
        if r is True:
            return True
        if r is None:
            out = None
    return out


def _not(r: Result) -> Result:
    return None if r is None else not r


# ----------------------------------------------------------------------------- expressions


class _Expression:
    """Evaluates expression nodes; ``visited`` guards saved-group cycles per branch."""

    def __init__(self, saved_groups: Mapping[str, Any] | None) -> None:
        self.groups = saved_groups

    def condition(self, node: n.Node, attrs: Any, visited: frozenset[str]) -> Result:
        if isinstance(node, n.Field):
            return self.value(node.test, gb.get_path(attrs, node.path), visited)
        if isinstance(node, n.And):
            return _and(self.condition(c, attrs, visited) for c in node.children)
        if isinstance(node, n.Or):
            if not node.children:
                return True
            return _or(self.condition(c, attrs, visited) for c in node.children)
        if isinstance(node, n.Not):
            return _not(self.condition(node.child, attrs, visited))
        if isinstance(node, n.Const):
            return node.value
        if isinstance(node, n.SavedGroupRef):
            return self.saved_group(node, attrs, visited)
        if isinstance(node, n.Malformed):
            raise _Fail(node.reason)
        if isinstance(node, n.Unknown):
            return None
        raise TypeError(f"not an expression node: {type(node).__name__}")

    def saved_group(self, node: n.SavedGroupRef, attrs: Any, visited: frozenset[str]) -> Result:
        if node.group_id in visited:
            return False
        entry = self.groups.get(node.group_id) if self.groups is not None else None
        if not isinstance(entry, dict):
            return False
        if entry.get("type") == "list":
            key = (
                node.attribute_key if node.attribute_key is not None else entry.get("attributeKey")
            )
            values = entry.get("values")
            if not isinstance(key, str) or not isinstance(values, list):
                return False
            return gb.is_member(_group_keys(values), gb.get_path(attrs, key))
        if entry.get("type") == "condition":
            condition = entry.get("condition")
            if not isinstance(condition, dict):
                return False
            tree = parse_expression(condition, strict=False)
            return self.condition(tree, attrs, visited | {node.group_id})
        return None

    def value(self, test: n.Node, v: Any, visited: frozenset[str]) -> Result:
        kind = type(test)
        if kind is n.Operators:
            return _and(self.value(t, v, visited) for t in test.tests)  # type: ignore[attr-defined]
        if kind is n.Equals:
            expected = test.operand.value  # type: ignore[attr-defined]
            if test.insensitive and isinstance(expected, str) and isinstance(v, str):  # type: ignore[attr-defined]
                return lower(expected) == lower(v)
            return gb.strict_deep_equal(expected, v)
        membership = _MEMBERSHIP.get(kind)
        if membership is not None:
            return _membership(test.operand, v, *membership)  # type: ignore[attr-defined]
        handler = _OPERATORS.get(kind)
        if handler is not None:
            return handler(test.operand.value, v)  # type: ignore[attr-defined]
        if kind is n.OpExists:
            return (v is not None) if test.flag else (v is None)  # type: ignore[attr-defined]
        if kind is n.OpNot:
            return _not(self.value(test.test, v, visited))  # type: ignore[attr-defined]
        if kind is n.OpSize:
            if not isinstance(v, list):
                return False
            return self.value(test.test, len(v), visited)  # type: ignore[attr-defined]
        if kind is n.OpElemMatch:
            return self.elem_match(test, v, visited)  # type: ignore[arg-type]
        if kind in (n.OpAll, n.OpAlli):
            return self.all(test.tests, v, visited)  # type: ignore[attr-defined]
        if kind in (n.OpInGroup, n.OpNotInGroup):
            return self.in_group(test, v)
        if kind is n.Const:
            return test.value  # type: ignore[attr-defined]
        if kind is n.Unknown:
            return None
        if kind is n.Malformed:
            raise _Fail(test.reason)  # type: ignore[attr-defined]
        raise TypeError(f"not a value test: {kind.__name__}")

    def elem_match(self, test: n.OpElemMatch, v: Any, visited: frozenset[str]) -> Result:
        if not isinstance(v, list):
            return False
        out: Result = False
        for item in v:
            if item is None:
                continue
            if test.on_value:
                r = self.value(test.test, item, visited)
            else:
                r = self.condition(test.test, item, visited)
            if r is True:
                return True
            if r is None:
                out = None
        return out

    def all(self, tests: tuple[n.Node, ...], v: Any, visited: frozenset[str]) -> Result:
        if not isinstance(v, list):
            return False
        out: Result = True
        for t in tests:
            passed: Result = False
            for item in v:
                r = self.value(t, item, visited)
                if r is True:
                    passed = True
                    break
                if r is None:
                    passed = None
            if passed is False:
                return False
            if passed is None:
                out = None
        return out

    def in_group(self, test: n.Node, v: Any) -> Result:
        group_id = test.operand.value  # type: ignore[attr-defined]
        if not isinstance(group_id, str):
            return False
        entry = self.groups.get(group_id) if self.groups is not None else None
        if isinstance(entry, dict) and entry.get("type") not in ("list", "condition"):
            return None
        values = group_values(self.groups, group_id)
        if values is None:
            return False
        matches = gb.is_member(_group_keys(values), v)
        return matches if isinstance(test, n.OpInGroup) else not matches


#: member keys of the frozen lists of configurations' saved groups, by identity
_GROUP_KEYS: dict[int, tuple[list[Any], frozenset[tuple[str, Any]]]] = {}


def _group_keys(values: list[Any]) -> frozenset[tuple[str, Any]]:
    """A saved group's member keys (:func:`~._growthbook.member_keys`). A configuration's
    lists cannot change (``FrozenList``), so theirs are built once, not per evaluation; a
    plain list given to :func:`evaluate` may change between calls and is read anew."""
    from engage_lab.config.immutable import FrozenList  # the configuration layer sits above

    if not isinstance(values, FrozenList):
        return gb.member_keys(values)
    known = _GROUP_KEYS.get(id(values))
    if known is None or known[0] is not values:
        if len(_GROUP_KEYS) >= 64:
            _GROUP_KEYS.clear()
        # the list is kept with its keys: its id cannot be reused while it is here
        known = _GROUP_KEYS[id(values)] = (values, gb.member_keys(values))
    return known[1]


def group_values(groups: Mapping[str, Any] | None, group_id: str) -> list[Any] | None:
    """A saved group's values for ``$inGroup``: ``[]`` if absent, ``None`` if malformed."""
    if groups is None or group_id not in groups:
        return []
    entry = groups[group_id]
    if isinstance(entry, list):
        return entry
    if isinstance(entry, dict) and entry.get("type") == "list":
        values = entry.get("values")
        if isinstance(values, list):
            return values
    return None


def _ordered(check: Callable[[int], bool]) -> Callable[[Any, Any], bool]:
    def run(expected: Any, v: Any) -> bool:
        if not gb.is_orderable(v, expected):
            return False
        try:
            return check(gb.compare(v, expected))
        except ValueError:
            return False

    return run


def _version(
    check: Callable[[str, str], bool], on_mismatch: bool = False
) -> Callable[[Any, Any], bool]:
    def run(expected: Any, v: Any) -> bool:
        if not gb.is_orderable(v, expected):
            return on_mismatch
        return check(gb.padded_version(v), gb.padded_version(expected))

    return run


def _regex(insensitive: bool, negate: bool) -> Callable[[Any, Any], bool]:
    def run(pattern: Any, v: Any) -> bool:
        # RE2, as DuckDB evaluates it (linear time; Python's re backtracks)
        found = regex_finds(pattern, v, insensitive)
        if found is None:  # the SDK: any error makes $regex false and $notRegex true
            return negate
        return not found if negate else found

    return run


#: ``$in`` and its kin: (insensitive, negated)
_MEMBERSHIP: dict[type, tuple[bool, bool]] = {
    n.OpIn: (False, False),
    n.OpNin: (False, True),
    n.OpIni: (True, False),
    n.OpNini: (True, True),
}


def _membership(operand: n.Json, v: Any, insensitive: bool, negate: bool) -> bool:
    keys = _member_keys(operand.text, insensitive)
    if keys is None:  # the operand is no list
        return False
    found = gb.is_member(keys, v, insensitive)
    return not found if negate else found


@lru_cache(maxsize=256)
def _member_keys(text: str, insensitive: bool) -> frozenset[tuple[str, Any]] | None:
    """A ``$in`` list's keys, built once per list (a set: a 10,000-value list is one
    lookup per attribute value, not 10,000 comparisons)."""
    values = json.loads(text)
    return gb.member_keys(values, insensitive) if isinstance(values, list) else None


_OPERATORS: dict[type, Callable[[Any, Any], Result]] = {
    n.OpEq: lambda e, v: gb.js_strict_equal(v, e),
    n.OpNe: lambda e, v: not gb.js_strict_equal(v, e),
    n.OpLt: _ordered(lambda c: c < 0),
    n.OpLte: _ordered(lambda c: c <= 0),
    n.OpGt: _ordered(lambda c: c > 0),
    n.OpGte: _ordered(lambda c: c >= 0),
    n.OpVEq: _version(lambda a, b: a == b),
    n.OpVNe: _version(lambda a, b: a != b, on_mismatch=True),
    n.OpVLt: _version(lambda a, b: a < b),
    n.OpVLte: _version(lambda a, b: a <= b),
    n.OpVGt: _version(lambda a, b: a > b),
    n.OpVGte: _version(lambda a, b: a >= b),
    n.OpRegex: _regex(False, False),
    n.OpRegexi: _regex(True, False),
    n.OpNotRegex: _regex(False, True),
    n.OpNotRegexi: _regex(True, True),
    n.OpType: lambda e, v: gb.get_type(v) == e,
}
