"""What engines need to know about a tree: its criteria and its time thresholds.

The fast engine and the reference Chat Manager walk the tree instead of re-reading JSON:
:func:`criteria_nodes` lists the criteria (criterion, position, operator, values) and
:func:`time_thresholds` the thresholds on attributes that grow with time, from which
the exact instant a condition turns true can be computed; :func:`merged_criteria` ANDs
criteria that read the same value into fewer, with the same result.

>>> from engage_lab.conditions import parse_criteria, parse_expression
>>> tree = parse_criteria([{"criterion": "page_visit_duration", "operator": "gte", "value": 30},
...                        {"criterion": "page_url", "operator": "contains", "value": "cart"}])
>>> [(c.criterion, c.position, c.test.op) for c in criteria_nodes(tree)]
[('page_visit_duration', 'current', 'gte'), ('page_url', 'current', 'contains')]
>>> time_thresholds(tree)
[TimeThreshold(attribute='page_visit_duration', operator='gte', value=30, position='current')]
>>> time_thresholds(parse_expression({"visit.duration": {"$gt": 60}}))
[TimeThreshold(attribute='visit.duration', operator='$gt', value=60, position='current')]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from engage_lab.conditions import nodes as n
from engage_lab.conditions.vocabulary import POSITIONS, TIME_GROWING_ATTRIBUTES

__all__ = [
    "BEYOND_MS",
    "MINUTE_MS",
    "QUARTER_MS",
    "TimeReads",
    "TimeThreshold",
    "criteria_nodes",
    "first_ms_above",
    "first_ms_at_least",
    "merged_criteria",
    "time_reads",
    "time_thresholds",
]

#: Clock boundary steps: 15-minute slots (also hours and days: every zone offset in use
#: is a whole quarter of an hour) and the exact minute an expression's ``time.time`` reads.
QUARTER_MS = 15 * 60 * 1000
MINUTE_MS = 60 * 1000

_EXPRESSION_THRESHOLDS = (n.OpGt, n.OpGte, n.OpLt, n.OpLte)


@dataclass(frozen=True, slots=True)
class TimeThreshold:
    """A threshold on a time-growing attribute: ``attribute operator value``.

    ``attribute`` is a criterion id (``page_visit_duration``, ``visit_duration``) or an
    expression path (``page.duration``, ``visit.duration``); ``operator`` is ``gte`` /
    ``lte`` or ``$gt`` / ``$gte`` / ``$lt`` / ``$lte``; ``position`` the criterion's
    position (expressions: ``current``).
    """

    attribute: str
    operator: str
    value: float
    position: str = "current"


def criteria_nodes(tree: n.Node) -> list[n.Criterion]:
    """Every :class:`~engage_lab.conditions.nodes.Criterion` of the tree, in order."""
    return [node for node in n.walk(tree) if isinstance(node, n.Criterion)]


def time_thresholds(tree: n.Node) -> list[TimeThreshold]:
    """Every threshold on an attribute that grows with time, in tree order."""
    out: list[TimeThreshold] = []
    for node in n.walk(tree):
        if isinstance(node, n.Criterion) and node.facts.grows_with_time:
            if isinstance(node.test, n.Gte | n.Lte):
                out.append(
                    TimeThreshold(node.criterion, node.test.op, node.test.value, node.position)
                )
        elif isinstance(node, n.Field) and node.path in TIME_GROWING_ATTRIBUTES:
            tests = node.test.tests if isinstance(node.test, n.Operators) else (node.test,)
            for test in tests:
                if isinstance(test, _EXPRESSION_THRESHOLDS):
                    value = test.operand.value
                    if isinstance(value, (int, float)) and not isinstance(value, bool):
                        out.append(TimeThreshold(node.path, test.op, value))
    return out


#: Beyond any duration the engines replay (``config.limits.MAX_DURATION_MS`` is 2**53
#: ms): a threshold past it is crossed at ``BEYOND_MS`` (never, after any page's end) or,
#: negative, at ``-BEYOND_MS`` (before any page's start), still an exact int64 offset.
BEYOND_MS = 2**53 + 1


def _start_ms(seconds: float, rounding: Callable[[float], int]) -> int:
    """``rounding(seconds * 1000)`` clamped to ``±BEYOND_MS``: the searches then take a
    few steps (``1e300`` looped forever: its neighbours all divide to the same double)."""
    ms = seconds * 1000
    if not -BEYOND_MS < ms < BEYOND_MS:  # also inf and NaN
        return -BEYOND_MS if ms < 0 else BEYOND_MS
    return rounding(ms)


def first_ms_at_least(seconds: float) -> int:
    """The least integer ``d`` (ms) with ``d / 1000 >= seconds``, in doubles, within
    ``±BEYOND_MS``.

    >>> first_ms_at_least(45), first_ms_at_least(0.0015), first_ms_at_least(0.1)
    (45000, 2, 100)
    >>> first_ms_at_least(1e300) == BEYOND_MS, first_ms_at_least(-1e300) == -BEYOND_MS
    (True, True)
    """
    d = _start_ms(seconds, math.ceil)
    while d > -BEYOND_MS and (d - 1) / 1000 >= seconds:
        d -= 1
    while d < BEYOND_MS and d / 1000 < seconds:
        d += 1
    return d


def first_ms_above(seconds: float) -> int:
    """The least integer ``d`` (ms) with ``d / 1000 > seconds``, in doubles, within
    ``±BEYOND_MS``.

    >>> first_ms_above(45), first_ms_above(0.0015)
    (45001, 2)
    >>> first_ms_above(float("inf")) == BEYOND_MS, first_ms_above(float("nan")) == BEYOND_MS
    (True, True)
    """
    d = _start_ms(seconds, math.floor)
    while d < BEYOND_MS and d / 1000 <= seconds:
        d += 1
    while d > -BEYOND_MS and (d - 1) / 1000 > seconds:
        d -= 1
    return d


@dataclass(frozen=True)
class TimeReads:
    """Where a trigger's conditions can change with time alone.

    ``page_offsets`` / ``visit_offsets``: ms after the page / visit start at which a
    duration threshold is crossed (both the ``>= X`` and ``> X`` instants);
    ``clock_step``: 0, or the clock boundary step in ms (15 min for the criteria's slots,
    hours and days; 1 min when an expression reads ``time.time``).
    """

    page_offsets: tuple[int, ...]
    visit_offsets: tuple[int, ...]
    clock_step: int


def time_reads(criteria: Sequence[n.Criterion], expression: n.Node | None) -> TimeReads:
    """The :class:`TimeReads` of parsed criteria and a parsed expression (or None).

    Both engines compute their candidate instants from this one function.

    >>> from engage_lab.conditions import parse_criteria
    >>> tree = parse_criteria([{"criterion": "page_visit_duration", "operator": "gte", "value": 45},
    ...                        {"criterion": "time", "operator": "lte", "value": "19:45"}])
    >>> time_reads(criteria_nodes(tree), None)
    TimeReads(page_offsets=(45000, 45001), visit_offsets=(), clock_step=900000)
    """
    page: set[int] = set()
    visit: set[int] = set()
    step = 0
    for node in criteria:
        facts = node.facts
        if facts.source == "clock":
            step = step or QUARTER_MS
        if facts.grows_with_time and isinstance(node.test, n.Gte | n.Lte):
            target = page if facts.reads == "page" else visit
            value = node.test.value
            target.update((first_ms_at_least(value), first_ms_above(value)))
    if expression is not None:
        for th in time_thresholds(expression):
            target = page if th.attribute == "page.duration" else visit
            target.update((first_ms_at_least(th.value), first_ms_above(th.value)))
        for node in n.walk(expression):
            if isinstance(node, n.Field) and node.path.startswith("time."):
                step = MINUTE_MS if node.path == "time.time" else (step or QUARTER_MS)
            if isinstance(node, n.Field) and node.path == "time":
                step = MINUTE_MS
    return TimeReads(tuple(sorted(page)), tuple(sorted(visit)), step)


#: positions that select at most one page: two tests there meet on the same value
_ONE_PAGE = frozenset(
    p for p, back in POSITIONS.items() if p == "first" or (back is not None and back[0] == back[1])
)
#: negative list tests: ANDed on one value, their entries add up
_UNION = (n.IsNot, n.DoesNotContain)


def merged_criteria(criteria: tuple[n.Criterion, ...]) -> tuple[n.Criterion, ...]:
    """ANDed criteria with the same result, fewer where some read the same thing.

    Exact rewrites only, so a trigger with thousands of criteria costs about what its
    distinct reads cost, in every engine (the reference without its shortcuts evaluates
    the criteria as written, and its tests compare both ways):

    * an equal test of the same criterion at the same position is dropped;
    * ``gte`` tests of one criterion at one position keep the largest value, ``lte``
      tests the smallest: the position holds the stronger test on some page iff it holds
      both (one test's pages are a subset of the other's);
    * ``is_not`` / ``does_not_contain`` tests of one criterion at a position of one page
      become one test with all the entries (none of A and none of B on the same value).

    The first criterion of each group keeps its place.

    >>> from engage_lab.conditions import parse_criteria
    >>> tree = parse_criteria([
    ...     {"criterion": "page_visit_duration", "operator": "gte", "value": 10},
    ...     {"criterion": "page_path", "operator": "is_not", "value": "/a"},
    ...     {"criterion": "page_visit_duration", "operator": "gte", "value": 30},
    ...     {"criterion": "page_path", "operator": "is_not", "value": "/b, /a"}], {})
    >>> [(c.criterion, c.test) for c in merged_criteria(tree.children)]
    [('page_visit_duration', Gte(value=30)), ('page_path', IsNot(values=('/a', '/b')))]
    """
    merged: dict[Any, n.Criterion] = {}
    for node in criteria:
        test = node.test
        read = (node.criterion, node.position, node.kind)
        if isinstance(test, n.Gte | n.Lte):
            key: Any = (*read, type(test))
        elif isinstance(test, _UNION) and node.position in _ONE_PAGE:
            key = (*read, type(test))
        else:
            key = (*read, test)
        kept = merged.get(key)
        if kept is None:
            merged[key] = node
            continue
        old = kept.test
        if isinstance(test, n.Gte) and isinstance(old, n.Gte):
            new: n.CriterionTest = n.Gte(max(old.value, test.value))
        elif isinstance(test, n.Lte) and isinstance(old, n.Lte):
            new = n.Lte(min(old.value, test.value))
        elif isinstance(test, _UNION) and isinstance(old, _UNION):
            new = type(test)(tuple(dict.fromkeys((*old.values, *test.values))))
        else:  # the same test again
            continue
        merged[key] = n.Criterion(node.criterion, node.position, node.kind, new, kept.source)
    return tuple(merged.values())
