"""Value helpers with the exact semantics of the ``growthbook`` 4.0 Python SDK.

These follow ``growthbook/core.py`` (MIT License, Copyright (c) 2021 GrowthBook): path
reading, JSON type names, strict and deep equality, membership, ordering (strings by
UTF-16 code units, as in JavaScript) and padded version strings. They are ported, not
imported: the SDK is a test-only peer.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any

import re2

from engage_lab.conditions.vocabulary import lower

__all__ = [
    "compare",
    "get_path",
    "get_type",
    "is_array_index",
    "is_in",
    "is_member",
    "is_orderable",
    "js_number_to_string",
    "js_strict_equal",
    "member_key",
    "member_keys",
    "padded_version",
    "strict_deep_equal",
]


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def get_type(value: Any) -> str:
    """The JSON type name GrowthBook's ``$type`` compares with."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if _is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, set)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "unknown"


def is_array_index(key: str, length: int) -> bool:
    # a canonical index ("0", "7", not "07" or "-0") below length, at most 10 digits
    return (
        len(key) <= 10
        and key.isascii()
        and key.isdigit()
        and (key == "0" or key[0] != "0")
        and int(key) < length
    )


def get_path(attributes: Any, path: str) -> Any:
    """Read a dotted path: object keys, array ``length`` and canonical array indices."""
    current = attributes
    for segment in path.split("."):
        if isinstance(current, dict) and segment in current:
            current = current[segment]
        elif isinstance(current, list) and segment == "length":
            current = len(current)
        elif isinstance(current, list) and is_array_index(segment, len(current)):
            current = current[int(segment)]
        else:
            return None
    return current


def js_key_order(obj: dict[Any, Any]) -> list[Any]:
    """Keys in JavaScript property order: array-index keys ascending, then the others."""
    keys = list(obj)
    indices = [k for k in keys if isinstance(k, str) and is_array_index(k, 2**32 - 1)]
    others = [k for k in keys if not (isinstance(k, str) and is_array_index(k, 2**32 - 1))]
    return sorted(indices, key=int) + others


def _json_value(v: Any) -> Any:
    # JSON.stringify writes NaN and Infinity as null
    return None if isinstance(v, float) and not math.isfinite(v) else v


def strict_deep_equal(a: Any, b: Any) -> bool:
    """Literal equality as JavaScript's JSON.stringify comparison: same JSON types all the way
    down, object keys in the same JavaScript order, ``1.0`` equal to ``1``."""
    ta = get_type(a)
    if ta != get_type(b):
        return False
    if ta == "array":
        return len(a) == len(b) and all(
            strict_deep_equal(_json_value(x), _json_value(y)) for x, y in zip(a, b, strict=False)
        )
    if ta == "object":
        return js_key_order(a) == js_key_order(b) and all(
            strict_deep_equal(_json_value(a[k]), _json_value(b[k])) for k in a
        )
    return bool(a == b)


def js_strict_equal(a: Any, b: Any) -> bool:
    """JavaScript ``===`` between two JSON values: containers never equal."""
    ta = get_type(a)
    if ta != get_type(b) or ta in ("array", "object"):
        return False
    return bool(a == b)


def is_in(values: list[Any], attribute: Any, insensitive: bool = False) -> bool:
    """``$in``: the attribute (or, for an array, one of its elements) strictly equals a value."""
    return is_member(member_keys(values, insensitive), attribute, insensitive)


def member_key(value: Any, insensitive: bool = False) -> tuple[str, Any] | None:
    """A key two values share iff :func:`js_strict_equal` holds between them (strings
    lowercased when ``insensitive``); ``None`` for a value equal to nothing (arrays,
    objects, NaN). ``1`` and ``1.0`` share a key, ``1`` and ``true`` do not.

    >>> member_key(1) == member_key(1.0), member_key(1) == member_key(True)
    (True, False)
    """
    kind = get_type(value)
    if kind in ("array", "object", "unknown") or (kind == "number" and value != value):
        return None
    if insensitive and kind == "string":
        value = lower(value)  # as SQL's lower (no final sigma)
    return kind, value


def member_keys(values: list[Any], insensitive: bool = False) -> frozenset[tuple[str, Any]]:
    """The :func:`member_key` of every value of a ``$in`` list (a set: membership in O(1))."""
    keys = (member_key(v, insensitive) for v in values)
    return frozenset(k for k in keys if k is not None)


def is_member(keys: frozenset[tuple[str, Any]], attribute: Any, insensitive: bool = False) -> bool:
    """:func:`is_in` over the :func:`member_keys` of the values."""
    if isinstance(attribute, dict):
        return False
    candidates = attribute if isinstance(attribute, list) else [attribute]
    return any(member_key(c, insensitive) in keys for c in candidates)


def is_orderable(a: Any, b: Any) -> bool:
    """Only two numbers or two strings are ordered."""
    return (_is_number(a) and _is_number(b)) or (isinstance(a, str) and isinstance(b, str))


def compare(a: Any, b: Any) -> int:
    """-1, 0 or 1; strings by UTF-16 code units; raises ValueError on NaN."""
    if (isinstance(a, float) and math.isnan(a)) or (isinstance(b, float) and math.isnan(b)):
        raise ValueError("NaN")
    if isinstance(a, str) and isinstance(b, str) and not (a.isascii() and b.isascii()):
        ua = a.encode("utf-16-be", "surrogatepass")
        ub = b.encode("utf-16-be", "surrogatepass")
        return (ua > ub) - (ua < ub)
    return (a > b) - (a < b)


def js_number_to_string(value: float) -> str:
    """A number as JavaScript's ``String(n)`` writes it."""
    try:
        x = float(value)
    except OverflowError:
        x = math.inf if value > 0 else -math.inf
    if math.isnan(x):
        return "NaN"
    if x == 0:
        return "0"
    if x < 0:
        return "-" + js_number_to_string(-x)
    if math.isinf(x):
        return "Infinity"
    mantissa, _, exponent = repr(x).partition("e")
    whole, _, fraction = mantissa.partition(".")
    padded = (whole + fraction).lstrip("0")
    digits = padded.rstrip("0")
    k = len(digits)
    n = int(exponent or "0") - len(fraction) + len(padded)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    mantissa = digits[0] + ("." + digits[1:] if k > 1 else "")
    return mantissa + "e" + ("+" if n > 0 else "-") + str(abs(n - 1))


# RE2, as the SQL compilers strip it in DuckDB: Python's re took quadratic time on a
# value of many "+" before a newline (40,000 characters: 20 s), and its "$" also matches
# before a final newline, where RE2's and DuckDB's does not
_VERSION_STRIP = re2.compile(r"(^v|\+.*$)")
_VERSION_SPLIT = re.compile(r"[-.]")


def padded_version(value: Any) -> str:
    """A version string made comparable as text: build info and a leading ``v`` dropped,
    numeric parts left-padded to 5, ``~`` appended to a release without pre-release."""
    if _is_number(value):
        value = js_number_to_string(value)
    if not value or not isinstance(value, str):
        value = "0"
    return _padded(value)


@lru_cache(maxsize=1024)
def _padded(text: str) -> str:
    parts = _VERSION_SPLIT.split(_VERSION_STRIP.sub("", text))
    if len(parts) == 3:
        parts.append("~")
    # ASCII digits only, as the SDK's /^[0-9]+$/ and the SQL compiler's [0-9]+ read them
    return "-".join(p.rjust(5, " ") if p.isascii() and p.isdigit() else p for p in parts)
