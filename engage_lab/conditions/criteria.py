"""Parse the product's criteria (``{criterion, when, operator, value}`` lists) into the tree.

Values are normalized once, here: string entries are split on commas and normalized
(:func:`~engage_lab.conditions.vocabulary.split_entries`), days become ordinals
(Monday = 0), times minutes since midnight, booleans and numbers Python values.
Values that convert unambiguously are accepted (``"30"`` for a number, ``"true"`` for a
boolean, ``5`` for a string); :func:`~engage_lab.conditions.checks.check_criteria` is the
strict reviewer that reports them.

Custom variables without a declaration get a kind inferred by :func:`infer_kind`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from engage_lab.conditions.nodes import (
    CRITERIA_OPERATORS,
    And,
    Criterion,
    Gte,
    Json,
    Lte,
    Node,
)
from engage_lab.conditions.registry import (
    CRITERIA,
    VARIABLE_KINDS,
    is_custom,
    unknown_criterion_message,
)
from engage_lab.conditions.vocabulary import (
    POSITIONS,
    custom_declaration,
    js_number_text,
    parse_day,
    parse_time_value,
    split_entries,
)
from engage_lab.errors import ConditionError

__all__ = [
    "allowed_operators",
    "coerce_value",
    "infer_kind",
    "parse_criteria",
    "read_page_value",
]


def allowed_operators(kind: str) -> list[str]:
    """The operators a value kind takes, in registry order."""
    return [op for op, cls in CRITERIA_OPERATORS.items() if kind in cls.kinds]


def _to_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return None if isinstance(value, float) and math.isnan(value) else value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        if math.isnan(number) or math.isinf(number):
            return None
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    return None


def _to_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _to_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return js_number_text(value)
    return None


def read_page_value(value: Any, kind: str) -> Any:
    """A page's raw value read as ``kind``; ``None`` means not found.

    >>> read_page_value("19:50", "time"), read_page_value("3", "number"), read_page_value(None, "string")
    (1185, 3, None)
    """
    if value is None:
        return None
    if kind == "string":
        return _to_text(value)
    if kind == "number":
        return _to_number(value)
    if kind == "boolean":
        return _to_bool(value)
    if kind == "day":
        return parse_day(value)
    minutes = parse_time_value(value)
    return None if minutes is None else minutes - minutes % 15


def coerce_value(value: Any, kind: str, operator: str) -> tuple[Any, ...] | None:
    """A criterion's value as the test's values for ``kind``; ``None`` if it does not convert.

    >>> coerce_value("a, Bé", "string", "is"), coerce_value("Friday", "day", "lte")
    (('a', 'be'), (4,))
    """
    if kind == "string":
        text = _to_text(value)
        return None if text is None else split_entries(text)
    if kind == "number":
        number = _to_number(value)
        return None if number is None else (number,)
    if kind == "boolean":
        flag = _to_bool(value)
        return None if flag is None else (flag,)
    if kind == "day":
        day = parse_day(value)
        return None if day is None else (day,)
    minutes = parse_time_value(value)
    return None if minutes is None else (minutes,)


def _json_kind(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "string"


def infer_kind(operator: str, value: Any, page_values: Sequence[Any] = ()) -> str:
    """The kind of an undeclared custom variable (never an error).

    Candidates in order: the kind every non-null page value shares (booleans, numbers;
    anything else is a string), then the kind of the criterion's value, then ``string``
    (``gte``/``lte`` always read numbers). The first candidate that takes the operator and
    the value wins.

    >>> infer_kind("is", 0, [1, 2]), infer_kind("is", "yes"), infer_kind("gte", "5", ["7"])
    ('number', 'string', 'number')
    """
    if operator in ("gte", "lte"):
        return "number"
    kinds = {_json_kind(v) for v in page_values} - {None}
    candidates = []
    if len(kinds) == 1:
        candidates.append(kinds.pop())
    elif kinds:
        candidates.append("string")
    value_kind = _json_kind(value)
    if value_kind is not None:
        candidates.append(value_kind)
    candidates.append("string")
    cls = CRITERIA_OPERATORS.get(operator)
    for kind in candidates:
        if cls is not None and kind not in cls.kinds:
            continue
        if cls is None or not cls.takes_value or coerce_value(value, kind, operator) is not None:
            return kind
    return "string"


def _criterion_kind(criterion: Any, custom_variables: Mapping[str, str] | None, item: dict) -> str:
    if criterion in CRITERIA:
        return CRITERIA[criterion].kind
    declared = custom_declaration(criterion, custom_variables)
    if declared is not None:
        if declared not in VARIABLE_KINDS:
            raise ConditionError(
                f"custom variable type {declared!r} is not string, number or boolean"
            )
        return declared
    if custom_variables is None:
        return infer_kind(item.get("operator", ""), item.get("value"))
    raise ConditionError("undeclared custom variable")


def parse_criteria(
    criteria: Any,
    custom_variables: Mapping[str, str] | None = None,
    path: str = "criteria",
) -> Node:
    """Parse a criteria list (ANDed) into a tree.

    Parameters
    ----------
    criteria
        A list of ``{"criterion", "when", "operator", "value"}`` objects (``when``
        defaults to ``current``; ``is_present``/``is_not_present`` take no value).
    custom_variables
        Declared custom variables: name (``cart`` or ``custom_cart``) -> ``string`` |
        ``number`` | ``boolean``. ``None``: kinds are inferred from each criterion's value.
    path
        The JSON path of ``criteria``, used in error messages.

    Examples
    --------
    >>> tree = parse_criteria([{"criterion": "page_title", "operator": "is", "value": "A, b"}])
    >>> tree.children[0].test
    Is(values=('a', 'b'))
    >>> parse_criteria([{"criterion": "page_url", "operator": "gte", "value": 3}])
    Traceback (most recent call last):
    ...
    engage_lab.errors.ConditionError: criteria[0].operator: gte is not allowed on a string criterion; use is, is_not, is_present, is_not_present, contains, does_not_contain, starts_with or ends_with
    """
    if not isinstance(criteria, list):
        raise ConditionError("criteria must be a list of criterion objects", path)
    return And(
        tuple(_parse_one(item, custom_variables, f"{path}[{i}]") for i, item in enumerate(criteria))
    )


def _or_list(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _parse_one(item: Any, custom_variables: Mapping[str, str] | None, path: str) -> Criterion:
    if not isinstance(item, dict):
        raise ConditionError(
            "a criterion must be an object {criterion, when, operator, value}", path
        )
    criterion = item.get("criterion")
    if not isinstance(criterion, str) or (criterion not in CRITERIA and not is_custom(criterion)):
        # only custom_<name> reads a variable: any other unknown name is refused here
        raise ConditionError(unknown_criterion_message(criterion), f"{path}.criterion")
    try:
        kind = _criterion_kind(criterion, custom_variables, item)
    except ConditionError as error:
        raise ConditionError(f"{error.detail}: {criterion}", f"{path}.criterion") from None
    position = item.get("when", "current")
    if position not in POSITIONS:
        raise ConditionError(
            f"unknown position {position!r}; use one of {', '.join(POSITIONS)}", f"{path}.when"
        )
    operator = item.get("operator")
    cls = CRITERIA_OPERATORS.get(operator)  # type: ignore[arg-type]
    if cls is None:
        raise ConditionError(
            f"unknown operator {operator!r}; use one of {', '.join(CRITERIA_OPERATORS)}",
            f"{path}.operator",
        )
    if kind not in cls.kinds:
        raise ConditionError(
            f"{operator} is not allowed on a {kind} criterion; use {_or_list(allowed_operators(kind))}",
            f"{path}.operator",
        )
    value = item.get("value")
    if not cls.takes_value:
        return Criterion(criterion, position, kind, cls(), Json.of(value))
    if "value" not in item:
        raise ConditionError(f"{operator} needs a value", path)
    values = coerce_value(value, kind, operator)
    if values is None:
        raise ConditionError(f"{value!r} is not a {kind} value", f"{path}.value")
    test = cls(values[0]) if cls in (Gte, Lte) else cls(values)  # type: ignore[call-arg]
    return Criterion(criterion, position, kind, test, Json.of(value))
