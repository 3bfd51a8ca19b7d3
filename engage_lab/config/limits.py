"""What a configuration may hold so that both engines can replay it.

The engines count time in int64 epoch milliseconds, compare condition values as
doubles and walk conditions recursively. A configuration that passes validation must
replay on both, so the validator refuses what they cannot hold, with the JSON path and
the allowed range:

* every number is finite and at most ``2**53`` in magnitude (``MAX_NUMBER``): integers
  up to it are exact in a double, which is how both engines compare condition values;
* a duration (``visit_idle``, ``impossibility_delay``, ``min_seconds_between_executions``,
  the seconds of ``page_visit_duration`` / ``visit_duration`` criteria and of
  ``page.duration`` / ``visit.duration`` in expressions) is at most ``MAX_DURATION_MS``
  milliseconds: ``2**53`` ms, about 285,000 years, so an instant of the data plus any
  duration stays an exact int64 millisecond count and a valid DuckDB timestamp;
* a queuing factor is at most ``MAX_QUEUING_FACTOR`` (a million times the agents'
  capacity), so the extra places stay exact in int64 arithmetic;
* an expression, a criterion or a saved group nests at most ``MAX_NESTING`` levels of
  JSON objects and arrays (the value itself is level 1), so the recursive walks of the
  validator, the evaluators and the SQL compilers stay far from Python's recursion limit.
* ``$elemMatch`` / ``$all`` / ``$alli`` nest at most ``MAX_ELEM_MATCH_NESTING`` levels
  (:mod:`engage_lab.conditions.checks`): each is a list lambda in SQL, and DuckDB's
  planning of nested lambdas doubles with each level;
* a regex is RE2, linear in the text in every engine (:mod:`engage_lab.conditions.regex`);
* a duration threshold beyond ``MAX_DURATION_MS`` can only come from a tree that skipped
  the validator: the engines clamp its crossing to ``±BEYOND_MS``
  (:data:`engage_lab.conditions.walking.BEYOND_MS`: never, or before the page starts).

>>> MAX_NUMBER, MAX_DURATION_MS, MAX_NESTING, MAX_ELEM_MATCH_NESTING
(9007199254740992, 9007199254740992, 64, 6)
>>> nesting_depth({"$or": [{"$not": {"page.path": "/x"}}]})
4
"""

from __future__ import annotations

import math
from typing import Any

from engage_lab.conditions.checks import MAX_ELEM_MATCH_NESTING

__all__ = [
    "MAX_DOCUMENT_DEPTH",
    "MAX_DURATION_MS",
    "MAX_DURATION_SECONDS",
    "MAX_ELEM_MATCH_NESTING",
    "MAX_NESTING",
    "MAX_NUMBER",
    "MAX_QUEUING_FACTOR",
    "NUMBER_RANGE",
    "nesting_depth",
    "out_of_range",
    "shown",
]

#: The largest magnitude of any number in a configuration (2**53, exact in a double).
MAX_NUMBER = 2**53
#: The allowed range of a number, as messages write it.
NUMBER_RANGE = f"[-{MAX_NUMBER}, {MAX_NUMBER}] (2**53)"
#: The longest duration in milliseconds (2**53 ms, about 285,000 years).
MAX_DURATION_MS = 2**53
#: The longest duration written in seconds (``MAX_DURATION_MS / 1000``).
MAX_DURATION_SECONDS = MAX_DURATION_MS // 1000
#: The largest queuing factor (extra queue places as a share of agent capacity).
MAX_QUEUING_FACTOR = 1_000_000
#: The deepest nesting of JSON objects and arrays in an expression, a criterion or a
#: saved group (the value itself is level 1).
MAX_NESTING = 64
#: The deepest nesting of a whole configuration: an expression at its limit sits three
#: levels below the top (the configuration, ``triggers``, the trigger).
MAX_DOCUMENT_DEPTH = MAX_NESTING + 3


def shown(value: Any) -> str:
    """A number as a message shows it: as written, or its digit count when very long.

    >>> shown(1e20), shown(10**30)
    ('1e+20', 'a 31-digit number')
    """
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**24:
        # Python refuses to write integers of more than 4,300 digits: count those by log10
        big = abs(value) >= 10**4000
        digits = math.floor(math.log10(abs(value))) + 1 if big else len(str(abs(value)))
        return f"a {digits:,}-digit number"
    return repr(value)


def out_of_range(value: Any, allowed: str) -> str:
    """The message for a number outside ``allowed`` (the range, as users write it).

    >>> out_of_range(1e20, "[0, 1000000]")
    '1e+20 is out of range; use a value in [0, 1000000]'
    """
    return f"{shown(value)} is out of range; use a value in {allowed}"


def nesting_depth(value: Any) -> int:
    """How many levels of JSON objects and arrays ``value`` nests (a scalar: 0).

    Iterative, so a hostile value nested thousands of levels deep is measured without
    recursion.

    >>> nesting_depth({"$not": {"$not": {"page.path": "/x"}}}), nesting_depth([[1], []]), nesting_depth(3)
    (3, 2, 0)
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list | tuple):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest
