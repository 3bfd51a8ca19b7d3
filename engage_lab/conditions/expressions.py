"""Parse GrowthBook-style JSON expressions into the condition tree.

The shape follows the ``growthbook`` 4.0 SDK: a condition is an object whose keys are
attribute paths (dotted) or the logic keys ``$or``, ``$nor``, ``$and``, ``$not`` and
``$savedGroup``; an attribute's value is a literal (deep equality) or an operator object
(every key starts with ``$``). The attribute vocabulary of engage_lab is documented in
:mod:`engage_lab.conditions.vocabulary`.

``strict=True`` (the default) refuses what a configuration should never hold: unknown
operators, logic keys in an operator object, malformed lists. ``strict=False`` keeps
them as :class:`~engage_lab.conditions.nodes.Unknown`, constant or
:class:`~engage_lab.conditions.nodes.Malformed` nodes so evaluation agrees with the SDK
on any input.
"""

from __future__ import annotations

from typing import Any

from engage_lab.conditions.nodes import (
    EXPRESSION_OPERATORS,
    And,
    Const,
    Equals,
    Field,
    Json,
    Malformed,
    Node,
    Not,
    OpAll,
    OpAlli,
    OpElemMatch,
    Operators,
    OpExists,
    OpNot,
    OpSize,
    Or,
    SavedGroupRef,
    Unknown,
)
from engage_lab.errors import ConditionError

__all__ = ["CONDITION_KEYS", "is_operator_object", "key_path", "parse_expression"]

#: Keys that combine conditions; in an operator object they never match.
CONDITION_KEYS = ("$or", "$nor", "$and", "$savedGroup")


def is_operator_object(value: Any) -> bool:
    """An object whose keys all start with ``$`` (an empty object is one, and passes)."""
    return isinstance(value, dict) and all(isinstance(k, str) and k.startswith("$") for k in value)


def parse_expression(expr: Any, path: str = "expression", *, strict: bool = True) -> Node:
    """Parse a GrowthBook-style condition into a tree.

    Parameters
    ----------
    expr
        The condition: a JSON object.
    path
        The JSON path of ``expr``, used in error messages.
    strict
        Refuse unknown operators and malformed shapes (``ConditionError``); when false,
        keep them as nodes that evaluate like the GrowthBook SDK.

    Examples
    --------
    >>> parse_expression({"page.duration": {"$gte": 30}})
    Field(path='page.duration', test=Operators(tests=(OpGte(operand=Json(text='30')),)))
    >>> parse_expression({"page.url": {"$regx": "a"}}, path="triggers[0].expression")
    Traceback (most recent call last):
    ...
    engage_lab.errors.ConditionError: triggers[0].expression["page.url"]: unknown operator $regx
    """
    return _Parser(strict).condition(expr, path)


def key_path(path: str, key: str) -> str:
    """The JSON path of ``key`` inside ``path`` (``a.b``, ``a.$gt``, ``a["page.url"]``)."""
    plain = key.isidentifier() or (key.startswith("$") and key[1:].isidentifier())
    return f"{path}.{key}" if plain else f'{path}["{key}"]'


class _Parser:
    def __init__(self, strict: bool) -> None:
        self.strict = strict

    def bad(self, reason: str, path: str) -> Node:
        if self.strict:
            raise ConditionError(reason, path)
        return Malformed(reason)

    def condition(self, expr: Any, path: str) -> Node:
        if not isinstance(expr, dict):
            return self.bad("a condition must be a JSON object", path)
        nodes = [self.entry(key, value, key_path(path, key)) for key, value in expr.items()]
        return nodes[0] if len(nodes) == 1 else And(tuple(nodes))

    def entry(self, key: str, value: Any, path: str) -> Node:
        if key in ("$or", "$nor", "$and"):
            items = self.condition_list(value, path)
            if isinstance(items, Node):
                return items
            if key == "$and":
                return And(items)
            return Or(items) if key == "$or" else Not(Or(items))
        if key == "$not":
            if not isinstance(value, dict):
                return self.bad("$not takes a condition object", path)
            return Not(self.condition(value, path))
        if key == "$savedGroup":
            return self.saved_group(value, path)
        if key == "$savedGroups":
            if self.strict:
                raise ConditionError("$savedGroups is not supported; use $savedGroup", path)
            return Const(False)
        if key.startswith("$") and self.strict:
            raise ConditionError(
                f"unknown operator {key}; use $or, $nor, $and, $not or $savedGroup", path
            )
        return Field(key, self.value(value, path))

    def condition_list(self, value: Any, path: str) -> tuple[Node, ...] | Node:
        if isinstance(value, list):
            return tuple(self.condition(v, f"{path}[{i}]") for i, v in enumerate(value))
        # The SDK takes the length of what it is given: an empty object or string is an
        # empty list; anything else raises when evaluated.
        if isinstance(value, (dict, str)) and len(value) == 0 and not self.strict:
            return ()
        return self.bad("takes a list of conditions", path)

    def saved_group(self, value: Any, path: str) -> Node:
        ok = (
            isinstance(value, dict)
            and isinstance(value.get("id"), str)
            and ("attributeKey" not in value or isinstance(value["attributeKey"], str))
        )
        if not ok:
            if self.strict:
                raise ConditionError(
                    '$savedGroup takes {"id": GROUP_ID} with an optional string attributeKey',
                    path,
                )
            return Const(False)
        return SavedGroupRef(value["id"], value.get("attributeKey"))

    def value(self, value: Any, path: str, insensitive: bool = False) -> Node:
        if is_operator_object(value):
            return Operators(tuple(self.operator(op, v, path) for op, v in value.items()))
        return Equals(Json.of(value), insensitive)

    def operator(self, op: str, value: Any, attribute_path: str) -> Node:
        path = key_path(attribute_path, op)
        if op in CONDITION_KEYS:
            if self.strict:
                raise ConditionError(
                    f"{op} combines conditions; put it beside attributes, not inside one", path
                )
            return Const(False)
        cls = EXPRESSION_OPERATORS.get(op)
        if cls is None:
            if self.strict:
                raise ConditionError(f"unknown operator {op}", attribute_path)
            return Unknown(op)
        if cls is OpExists:
            return OpExists(bool(value))
        if cls is OpNot:
            return OpNot(self.value(value, path))
        if cls is OpSize:
            return OpSize(self.value(value, path))
        if cls is OpElemMatch:
            on_value = is_operator_object(value) and not any(k in CONDITION_KEYS for k in value)
            test = self.value(value, path) if on_value else self.condition(value, path)
            return OpElemMatch(test, on_value)
        if cls in (OpAll, OpAlli):
            if not isinstance(value, list):
                if self.strict:
                    raise ConditionError(f"{op} takes a list", path)
                return Const(False)
            insensitive = cls is OpAlli
            return cls(
                tuple(self.value(v, f"{path}[{i}]", insensitive) for i, v in enumerate(value))
            )
        if self.strict and op in ("$in", "$nin", "$ini", "$nini") and not isinstance(value, list):
            raise ConditionError(f"{op} takes a list of values", path)
        return cls(Json.of(value))  # type: ignore[call-arg]
