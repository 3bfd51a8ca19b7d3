"""Review conditions as a configuration validator would: every problem, with its JSON path.

:func:`check_criteria` and :func:`check_expression` never raise on bad input; they return
``"json.path: message"`` strings, each saying what to do. An empty list means the
condition is fine. They are stricter than the parsers (which accept values that convert
unambiguously): a configuration should say exactly what it means.

Regexes must compile in RE2, the engines' regex library (:mod:`engage_lab.conditions.regex`:
the Python binding and DuckDB's), and in Python's ``re`` (so a configuration also suits
GrowthBook's Python SDK), and must not use ``{,n}``, which the two read differently.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from typing import Any

from engage_lab.conditions.criteria import allowed_operators
from engage_lab.conditions.expressions import CONDITION_KEYS, is_operator_object, key_path
from engage_lab.conditions.nodes import CRITERIA_OPERATORS, EXPRESSION_OPERATORS
from engage_lab.conditions.regex import re2_problem
from engage_lab.conditions.registry import (
    CRITERIA,
    CRITERION_HINT,
    VARIABLE_KINDS,
    CriterionFacts,
    is_custom,
    unknown_criterion_message,
)
from engage_lab.conditions.vocabulary import (
    ATTRIBUTE_ROOTS,
    DAYS,
    EXPRESSION_ATTRIBUTES,
    POSITIONS,
    TIME_GROWING_ATTRIBUTES,
    custom_declaration,
)

__all__ = [
    "ARRAY_OPERATORS",
    "MAX_ELEM_MATCH_NESTING",
    "check_criteria",
    "check_expression",
    "check_regex",
    "elem_match_too_deep",
]

#: The operators that test the elements of an array: each nests one list lambda in SQL.
ARRAY_OPERATORS = ("$elemMatch", "$all", "$alli")
#: The deepest nesting of :data:`ARRAY_OPERATORS` in one condition. DuckDB's planning of
#: nested list lambdas doubles with each level (about 0.1 s at 8, 3 s and 600 MB at 13);
#: the attributes' arrays (``visit.urls``, ``visit.paths``) hold strings, so real
#: conditions use one or two levels.
MAX_ELEM_MATCH_NESTING = 6

_CRITERION_KEYS = ("criterion", "when", "operator", "value")
_THRESHOLD_OPERATORS = ("$gt", "$gte", "$lt", "$lte")
_TYPE_NAMES = ("string", "number", "boolean", "array", "object", "null")
_DAY_NAMES = tuple(d.capitalize() for d in DAYS)
_HHMM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


def _or_list(words: list[str] | tuple[str, ...]) -> str:
    words = list(words)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# ----------------------------------------------------------------------------- criteria


def check_criteria(
    criteria: Any, custom_variables: Mapping[str, str] | None, path: str = "criteria"
) -> list[str]:
    """Every problem of a criteria list, as ``"json.path: message"`` strings.

    ``custom_variables`` maps declared names (``cart`` or ``custom_cart``) to
    ``string``, ``number`` or ``boolean``; ``None`` means none is declared.

    Examples
    --------
    >>> check_criteria([{"criterion": "visit_count", "operator": "contains", "value": "1"}],
    ...                None, "triggers[2].criteria")
    ['triggers[2].criteria[0]: contains is not allowed on a number criterion; use is, is_present, is_not_present, gte or lte']
    >>> check_criteria([{"criterion": "time", "operator": "gte", "value": "19:50"}], None, "c")
    ['c[0].value: 19:50 is not on a 15-minute slot; use 19:45 or 20:00']
    >>> check_criteria([{"criterion": "custom_cart", "operator": "gte", "value": 1}], {"cart": "number"}, "c")
    []
    """
    if not isinstance(criteria, list):
        return [f"{path}: criteria must be a list of {{criterion, when, operator, value}} objects"]
    problems: list[str] = []
    for i, item in enumerate(criteria):
        problems += _check_criterion(item, custom_variables or {}, f"{path}[{i}]")
    return problems


def _check_criterion(item: Any, declared: Mapping[str, str], p: str) -> list[str]:
    if not isinstance(item, dict):
        return [f"{p}: a criterion must be an object {{criterion, when, operator, value}}"]
    problems = [
        f"{p}: unknown key {key!r}; a criterion has only {_or_list(_CRITERION_KEYS)}"
        for key in item
        if key not in _CRITERION_KEYS
    ]
    criterion = item.get("criterion")
    kind: str | None = None
    facts = CRITERIA.get(criterion) if isinstance(criterion, str) else None
    if not isinstance(criterion, str) or not criterion:
        problems.append(f"{p}.criterion: missing criterion; {CRITERION_HINT}")
    elif facts is not None:
        kind = facts.kind
    elif is_custom(criterion):
        kind = custom_declaration(criterion, declared)
        if kind is None:
            name = criterion[len("custom_") :]
            problems.append(
                f"{p}.criterion: custom variable {name!r} is not declared; declare it in "
                f"custom_variables with a type (string, number or boolean)"
            )
        elif kind not in VARIABLE_KINDS:
            problems.append(
                f"{p}.criterion: custom variable type {kind!r} is not string, number or boolean"
            )
            kind = None
    else:
        problems.append(f"{p}.criterion: {unknown_criterion_message(criterion)}")
    position = item.get("when", "current")
    if position not in POSITIONS:
        problems.append(
            f"{p}.when: unknown position {position!r}; use one of {', '.join(POSITIONS)}"
        )
    operator = item.get("operator")
    cls = CRITERIA_OPERATORS.get(operator) if isinstance(operator, str) else None
    if cls is None:
        problems.append(
            f"{p}.operator: unknown operator {operator!r}; use one of {', '.join(CRITERIA_OPERATORS)}"
        )
        return problems
    if facts is not None and facts.grows_with_time and operator not in facts.operators:
        problems.append(
            f"{p}: {criterion} grows with time, so it takes only gte or lte "
            f"(the instant it becomes true is then exact)"
        )
        return problems
    if kind is None:
        return problems
    if kind not in cls.kinds:
        problems.append(
            f"{p}: {operator} is not allowed on a {kind} criterion; use {_or_list(allowed_operators(kind))}"
        )
        return problems
    if not cls.takes_value:
        if item.get("value") is not None:
            problems.append(f"{p}.value: {operator} takes no value; remove it")
        return problems
    if "value" not in item:
        problems.append(f"{p}.value: {operator} needs a value")
        return problems
    problem = _check_value(item["value"], kind, facts)
    if problem:
        problems.append(f"{p}.value: {problem}")
    return problems


def _check_value(value: Any, kind: str, facts: CriterionFacts | None) -> str | None:
    if kind == "string":
        if not isinstance(value, str):
            return f"{value!r} is not a string; write it in quotes (a comma separates list entries)"
        return None
    if kind == "number":
        if not _is_number(value):
            hint = " without quotes" if isinstance(value, str) else ""
            return f"{value!r} is not a number; write a number{hint}"
        return None if facts is None else _check_range(value, facts)
    if kind == "boolean":
        if not isinstance(value, bool):
            return f"{value!r} is not a boolean; use true or false (no quotes)"
        return None
    if kind == "day":
        if not isinstance(value, str) or value.strip().capitalize() not in _DAY_NAMES:
            return f"{value!r} is not a day; use one of {', '.join(_DAY_NAMES)}"
        return None
    if not isinstance(value, str) or _HHMM.fullmatch(value) is None:
        return f"{value!r} is not a time; use HH:MM from 00:00 to 23:45 in 15-minute steps"
    hours, minutes = int(value[:2]), int(value[3:])
    if minutes % 15:
        down = f"{hours:02d}:{minutes - minutes % 15:02d}"
        up_total = hours * 60 + minutes - minutes % 15 + 15
        up = f"{up_total // 60:02d}:{up_total % 60:02d}" if up_total < 24 * 60 else None
        return f"{value} is not on a 15-minute slot; use {down}" + (f" or {up}" if up else "")
    return None


def _check_range(value: float, facts: CriterionFacts) -> str | None:
    """The registry's bounds of a number criterion (``hour``: a whole number 0–23)."""
    low, high = facts.minimum, facts.maximum
    if high is not None:
        whole = float(value).is_integer() or not facts.whole
        if not (whole and (low is None or low <= value) and value <= high):
            what = "a whole number" if facts.whole else "a number"
            return f"{value!r} is not {facts.value_name}; use {what} from {low:g} to {high:g}"
        return None
    if low is not None and value < low:
        return f"{value!r} is {'negative' if low == 0 else 'too small'}; {facts.id} is never below {low:g}"
    return None


# ----------------------------------------------------------------------------- regexes


def check_regex(pattern: Any) -> str | None:
    """Why ``pattern`` is not in the common Python/RE2 syntax, or ``None`` if it is.

    >>> check_regex("^/cart/[0-9]+$") is None
    True
    >>> check_regex("a(?=b)")
    'a(?=b) is not accepted by RE2 (invalid perl operator: (?=); use no look-around, back-references, possessive or atomic groups'
    """
    if not isinstance(pattern, str):
        return f"{pattern!r} is not a string; a regex is written as a string"
    re2 = re2_problem(pattern)  # first: RE2 refuses what would be costly to compile
    if re2 is not None:
        if re2.startswith(("invalid perl operator", "invalid escape", "bad repetition")):
            return (
                f"{pattern} is not accepted by RE2 ({re2}); use no look-around, back-references,"
                f" possessive or atomic groups"
            )
        return f"{pattern} does not compile in RE2 ({re2})"
    with warnings.catch_warnings():
        # Python warns where it reads a class otherwise than RE2 ([[:alpha:]], &&, --)
        warnings.simplefilter("error", FutureWarning)
        try:
            re.compile(pattern)
        except re.error as error:
            return f"{pattern} does not compile in Python ({error})"
        except FutureWarning as warning:
            return f"{pattern} reads differently in Python ({warning}); escape the [ or & - | ~"
    if re.search(r"(?<!\\)\{,", pattern):
        return f"{pattern} uses {{,n}}, which Python and RE2 read differently; write {{0,n}}"
    return None


# ----------------------------------------------------------------------------- expressions


def check_expression(
    expr: Any, saved_groups: Mapping[str, Any] | None, path: str = "expression"
) -> list[str]:
    """Every problem of a GrowthBook-style expression, as ``"json.path: message"`` strings.

    Attribute paths must come from the vocabulary of
    :mod:`engage_lab.conditions.vocabulary` (``vars.<name>`` for custom variables);
    saved groups named by ``$inGroup``, ``$notInGroup`` and ``$savedGroup`` must exist.

    Examples
    --------
    >>> check_expression({"page.duration": {"$eq": 30}}, None, "t[0].expression")
    ['t[0].expression["page.duration"]: page.duration grows with time, so it takes only $gt, $gte, $lt or $lte with a number (the instant it becomes true is then exact)']
    >>> check_expression({"visitor.id": {"$inGroup": "vip"}}, {}, "e")
    ['e["visitor.id"].$inGroup: unknown saved group \\'vip\\'; define it in saved_groups or fix the name']
    >>> check_expression({"$or": [{"page.path": {"$regex": "^/cart"}}, {"vars.cart": {"$gte": 1}}]}, None, "e")
    []
    """
    too_deep = [f"{p}: {message}" for p, message in elem_match_too_deep(expr, path)]
    return too_deep + _ExpressionChecker(saved_groups).condition(expr, path, vocabulary=True)


def elem_match_too_deep(expr: Any, path: str = "expression") -> list[tuple[str, str]]:
    """``(json path, message)`` for each place where :data:`ARRAY_OPERATORS` nest deeper than
    :data:`MAX_ELEM_MATCH_NESTING` in a raw condition (iterative: any depth is measured).

    Every such key counts, wherever it stands: a configuration says nothing useful by
    putting one inside a literal.

    >>> deep = {"$elemMatch": {"$eq": "/a"}}
    >>> for _ in range(MAX_ELEM_MATCH_NESTING):
    ...     deep = {"$elemMatch": deep}
    >>> elem_match_too_deep({"visit.urls": deep}, "e")  # doctest: +ELLIPSIS
    [('e["visit.urls"].$elemMatch.$elemMatch....$elemMatch', "$elemMatch makes 7 nested levels of $elemMatch / $all / $alli; at most 6 are allowed (DuckDB's query planning doubles with each level)")]
    """
    problems: list[tuple[str, str]] = []
    stack: list[tuple[Any, str, int]] = [(expr, path, 0)]
    while stack:
        item, here, depth = stack.pop()
        if isinstance(item, dict):
            for key, child in reversed(item.items()):
                deeper = depth + (key in ARRAY_OPERATORS)
                p = key_path(here, key) if isinstance(key, str) else here
                if deeper > MAX_ELEM_MATCH_NESTING:
                    message = (
                        f"{key} makes {deeper} nested levels of {' / '.join(ARRAY_OPERATORS)};"
                        f" at most {MAX_ELEM_MATCH_NESTING} are allowed (DuckDB's query"
                        " planning doubles with each level)"
                    )
                    problems.append((p, message))
                    continue
                stack.append((child, p, deeper))
        elif isinstance(item, list):
            stack.extend(
                (child, f"{here}[{i}]", depth) for i, child in reversed(list(enumerate(item)))
            )
    return problems


class _ExpressionChecker:
    def __init__(self, saved_groups: Mapping[str, Any] | None) -> None:
        self.groups = saved_groups or {}

    def condition(self, expr: Any, path: str, vocabulary: bool) -> list[str]:
        if not isinstance(expr, dict):
            return [f"{path}: a condition must be a JSON object"]
        problems: list[str] = []
        for key, value in expr.items():
            p = key_path(path, key)
            if key in ("$or", "$nor", "$and"):
                if not isinstance(value, list):
                    problems.append(f"{p}: {key} takes a list of conditions")
                    continue
                for i, item in enumerate(value):
                    problems += self.condition(item, f"{p}[{i}]", vocabulary)
            elif key == "$not":
                problems += self.condition(value, p, vocabulary)
            elif key == "$savedGroup":
                problems += self.saved_group_reference(value, p)
            elif key.startswith("$"):
                problems.append(
                    f"{p}: unknown operator {key}; use $or, $nor, $and, $not or $savedGroup"
                )
            else:
                problems += self.attribute(key, value, p, vocabulary)
        return problems

    def saved_group_reference(self, value: Any, p: str) -> list[str]:
        if not isinstance(value, dict) or not isinstance(value.get("id"), str):
            return [
                f'{p}: $savedGroup takes {{"id": GROUP_ID}} with an optional string attributeKey'
            ]
        if "attributeKey" in value and not isinstance(value["attributeKey"], str):
            return [f"{p}.attributeKey: must be a string attribute path"]
        if value["id"] not in self.groups:
            return [
                f"{p}.id: unknown saved group {value['id']!r}; define it in saved_groups or fix the name"
            ]
        return []

    def attribute(self, key: str, value: Any, p: str, vocabulary: bool) -> list[str]:
        problems: list[str] = []
        known_type = None
        if vocabulary:
            problem, known_type = _check_attribute_path(key)
            if problem:
                problems.append(f"{p}: {problem}")
        if key in TIME_GROWING_ATTRIBUTES and vocabulary:
            ok = (
                is_operator_object(value)
                and bool(value)
                and all(op in _THRESHOLD_OPERATORS and _is_number(v) for op, v in value.items())
            )
            if not ok:
                problems.append(
                    f"{p}: {key} grows with time, so it takes only $gt, $gte, $lt or $lte with a "
                    f"number (the instant it becomes true is then exact)"
                )
                return problems
        problems += self.value(value, p, known_type)
        return problems

    def value(self, value: Any, p: str, known_type: str | None) -> list[str]:
        if not is_operator_object(value):
            if isinstance(value, dict) and any(
                isinstance(k, str) and k.startswith("$") for k in value
            ):
                return [f"{p}: an operator object may not mix $operators and plain keys"]
            return []
        problems: list[str] = []
        for op, operand in value.items():
            problems += self.operator(op, operand, key_path(p, op), known_type)
        return problems

    def operator(self, op: str, operand: Any, p: str, known_type: str | None) -> list[str]:
        if op in CONDITION_KEYS:
            return [f"{p}: {op} combines conditions; put it beside attributes, not inside one"]
        if op not in EXPRESSION_OPERATORS:
            return [f"{p}: unknown operator {op}; use one of {', '.join(EXPRESSION_OPERATORS)}"]
        if op in ("$in", "$nin", "$ini", "$nini", "$all", "$alli"):
            if not isinstance(operand, list):
                return [f"{p}: {op} takes a list of values"]
            if op in ("$all", "$alli"):
                return [q for i, v in enumerate(operand) for q in self.value(v, f"{p}[{i}]", None)]
            return []
        if op in ("$regex", "$regexi", "$notRegex", "$notRegexi"):
            problem = check_regex(operand)
            return [f"{p}: {problem}"] if problem else []
        if op in ("$inGroup", "$notInGroup"):
            if not isinstance(operand, str):
                return [f"{p}: {op} takes a saved group id (a string)"]
            if operand not in self.groups:
                return [
                    f"{p}: unknown saved group {operand!r}; define it in saved_groups or fix the name"
                ]
            return []
        if op == "$exists":
            return [] if isinstance(operand, bool) else [f"{p}: $exists takes true or false"]
        if op == "$type":
            if operand not in _TYPE_NAMES:
                return [f"{p}: unknown type {operand!r}; use one of {', '.join(_TYPE_NAMES)}"]
            return []
        if op == "$size":
            if _is_number(operand) or is_operator_object(operand):
                return self.value(operand, p, "number")
            return [f"{p}: $size takes a number or an operator object on the length"]
        if op == "$not":
            return self.value(operand, p, known_type)
        if op == "$elemMatch":
            if not isinstance(operand, dict):
                return [f"{p}: $elemMatch takes a condition object"]
            if is_operator_object(operand) and not any(k in CONDITION_KEYS for k in operand):
                return self.value(operand, p, None)
            return self.condition(operand, p, vocabulary=False)
        if op in ("$lt", "$lte", "$gt", "$gte"):
            if not (_is_number(operand) or isinstance(operand, str)):
                return [f"{p}: {op} compares only numbers or strings; use a number or a string"]
            if known_type in ("number", "string") and _type_of(operand) != known_type:
                return [f"{p}: the attribute is a {known_type}; compare it with a {known_type}"]
            return []
        if op in ("$veq", "$vne", "$vlt", "$vlte", "$vgt", "$vgte"):
            if not isinstance(operand, str):
                return [f"{p}: {op} compares versions; write the version as a string"]
            return []
        if op in ("$eq", "$ne") and isinstance(operand, (list, dict)):
            return [f"{p}: {op} never matches an array or object; use a literal value instead"]
        return []


def _type_of(value: Any) -> str:
    if isinstance(value, str):
        return "string"
    return "number" if _is_number(value) else "other"


def _check_attribute_path(key: str) -> tuple[str | None, str | None]:
    root = key.split(".", 1)[0]
    roots = ", ".join(f"{r}.*" for r in sorted(ATTRIBUTE_ROOTS))
    if root not in ATTRIBUTE_ROOTS:
        return (f"unknown attribute {key!r}; attributes start with {roots}", None)
    if root == "vars":
        if key.count(".") < 1 or not key.split(".", 2)[1]:
            return ("vars takes a custom variable name: vars.<name>", None)
        return (None, None)
    for name, kind in EXPRESSION_ATTRIBUTES.items():
        if key == name:
            return (None, kind)
        if kind == "array" and key.startswith(name + "."):
            rest = key[len(name) + 1 :]
            if rest == "length":
                return (None, "number")
            if rest.isdigit():
                return (None, "string")
    known = ", ".join(k for k in EXPRESSION_ATTRIBUTES if k.startswith(root + "."))
    return (f"unknown attribute {key!r}; {root} has {known}", None)
