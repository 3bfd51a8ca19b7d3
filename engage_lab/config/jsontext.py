"""JSON text in and out: strict parsing with located errors, and the canonical form.

The **canonical form** of a configuration is what :func:`canonical_json` writes: UTF-8
text, 2-space indentation, keys of the models in model field order (keys inside raw
conditions, custom variables and saved groups in the order given), only the keys that
were given, non-ASCII characters written as themselves (no ``\\u`` escapes), numbers as
Python writes them (an integer stays an integer, ``0.25`` stays ``0.25``), and one
trailing newline. A file in canonical form loads and writes back byte for byte.
"""

from __future__ import annotations

import json
import math
from typing import Any

from engage_lab.config.limits import MAX_NESTING, NUMBER_RANGE
from engage_lab.config.problems import problem

__all__ = ["canonical_json", "parse_json"]


class _Unreadable:
    """A JSON number no double holds (``1e400``), too long to be one (5,000 digits), or
    one of the constants ``NaN`` / ``Infinity`` that Python reads and JSON has not."""

    def __init__(self, text: str) -> None:
        self.text = text

    def describe(self) -> str:
        if self.text in ("NaN", "Infinity", "-Infinity"):
            return f"{self.text} is not a JSON number; write a finite number"
        digits = len(self.text.lstrip("-"))
        shown = self.text if len(self.text) <= 24 else f"a {digits:,}-digit number"
        return f"{shown} is out of range; use a value in {NUMBER_RANGE}"


def _float(text: str) -> float | _Unreadable:
    value = float(text)
    return value if math.isfinite(value) else _Unreadable(text)


def _int(text: str) -> int | _Unreadable:
    # Python refuses to read integers of more than 4,300 digits (a ValueError, not a
    # JSONDecodeError); anything past 2**53 is refused later anyway, so long ones stop here.
    return int(text) if len(text) <= 40 else _Unreadable(text)


class _Object(dict):
    """A JSON object that remembers the keys it saw twice."""

    duplicate_keys: list[str]


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    result = _Object()
    result.duplicate_keys = []
    for key, value in pairs:
        if key in result:
            result.duplicate_keys.append(key)
        result[key] = value
    return result


#: Below this depth values are left as parsed: far past any valid configuration (the
#: validator refuses it with its path), and short of Python's recursion limit.
_PLAIN_DEPTH = 4 * MAX_NESTING


def _plain(value: Any, path: list[str | int], lines: list[str]) -> Any:
    """Turn ``_Object`` back into plain dicts, reporting duplicate keys on the way."""
    if len(path) > _PLAIN_DEPTH:
        return value
    if isinstance(value, _Object):
        for key in dict.fromkeys(value.duplicate_keys):
            lines.append(
                problem([*path, key], "key given twice; JSON keeps only the last, remove one")
            )
        return {key: _plain(item, [*path, key], lines) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item, [*path, index], lines) for index, item in enumerate(value)]
    if isinstance(value, _Unreadable):
        lines.append(problem(path, value.describe()))
    return value


def parse_json(text: str | bytes) -> tuple[Any, list[str]]:
    """Parse JSON text; return the data and the problems found (empty when fine).

    Malformed JSON is one problem naming line and column; duplicate keys are refused
    by path, and so are the non-standard constants ``NaN`` / ``Infinity``, numbers out of
    range (``1e400``, which Python would read as infinity, or thousands of digits) by
    path, and text nested too deeply to read (a ``RecursionError``) in one line.

    >>> parse_json('[1 2]')[1]
    ["line 1, column 4: Expecting ',' delimiter"]
    >>> parse_json('{"a": 1, "a": 2}')[1]
    ['a: key given twice; JSON keeps only the last, remove one']
    >>> print(*parse_json('{"a": [1e400]}')[1])
    a[0]: 1e400 is out of range; use a value in [-9007199254740992, 9007199254740992] (2**53)
    """
    try:
        raw = json.loads(
            text,
            object_pairs_hook=_object,
            parse_constant=_Unreadable,
            parse_float=_float,
            parse_int=_int,
        )
        lines: list[str] = []
        data = _plain(raw, [], lines)
    except RecursionError:
        return None, [
            f"the JSON nests too deeply to read; a configuration's expressions, criteria and"
            f" saved groups nest at most {MAX_NESTING} levels"
        ]
    except json.JSONDecodeError as exc:
        return None, [f"line {exc.lineno}, column {exc.colno}: {exc.msg}"]
    except UnicodeDecodeError as exc:
        return None, [f"not UTF-8 text: {exc.reason} at byte {exc.start}"]
    return data, lines


def canonical_json(data: Any) -> str:
    """JSON text in the canonical form (2-space indent, UTF-8, trailing newline).

    >>> print(canonical_json({"b": 1, "a": [0.25, "é"]}), end="")
    {
      "b": 1,
      "a": [
        0.25,
        "é"
      ]
    }
    """
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
