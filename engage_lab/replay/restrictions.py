"""Restrictions of a replay: a time range, a visitor sample, a segment.

All optional and combined with AND:

* ``time_range=(start, end)`` — page views starting in ``[start, end)`` (state before the
  range is not carried in);
* ``sample=fraction`` — a stable hash sample of visitors
  (:func:`engage_lab.draws.in_sample` keyed by the replay's seed, else the source's);
* ``segment=condition`` — a GrowthBook-style condition (same operators and semantics as
  trigger expressions) evaluated once per page view over :data:`SEGMENT_ATTRIBUTES`.
  Page views outside the segment are not replayed: they are removed from the history
  the engine sees, so the remaining pages' visit context (page counts, previous pages)
  is that of the restricted history. Visits stay those of the whole history (derived
  before the restriction, with the configuration's idle duration), as for a time range.
  Its values reach DuckDB as bound parameters, never as SQL text; a non-finite number
  (``NaN``, ``Infinity``, or ``1e400``, which reads as one) is refused with its JSON path.

>>> sql, params = segment_sql({"page.path": {"$regex": "^/cart"}})
>>> sql.startswith("COALESCE("), "^/cart" in sql, ("seg_p1", "^/cart") in params
(True, False, True)
>>> check_segment('{"page.path": {"$gt": NaN}}')
Traceback (most recent call last):
...
engage_lab.errors.ConditionError: segment["page.path"]["$gt"]: NaN is not a finite number; write a finite number
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from typing import Any

from pandas.errors import OutOfBoundsDatetime
from sqlglot import exp

from engage_lab.availability.state import to_ms
from engage_lab.conditions import nodes, parse_expression
from engage_lab.conditions.checks import elem_match_too_deep
from engage_lab.conditions.compiler import compile_condition
from engage_lab.data.validate import PLAUSIBLE, PLAUSIBLE_MS
from engage_lab.errors import ConditionError, EngineError

__all__ = [
    "SEGMENT_ATTRIBUTES",
    "check_fraction",
    "check_segment",
    "check_time_range",
    "segment_sql",
]

#: Attributes a segment condition may read (dotted paths) and the column they come from.
SEGMENT_ATTRIBUTES: dict[str, str] = {
    "page.page_view_id": "page_view_id",
    "page.url": "url",
    "page.path": "path",
    "page.title": "title",
    "page.referrer": "referrer",
    "page.device": "device",
    "page.embedded": "embedded",
    "page.page_change": "page_change",
    "visitor.id": "visitor_id",
    "visitor.country": "country",
}


def check_time_range(time_range: Any) -> tuple[int, int] | None:
    """``(start, end)`` in ms, checked (``None`` stays ``None``).

    Both lie from 2000-01-01 to 2100-01-01, the span every recorded instant lies in.

    >>> check_time_range(("2026-03-01", "2026-03-02"))
    (1772323200000, 1772409600000)
    >>> check_time_range(("0001-01-01", "2026-03-02"))
    Traceback (most recent call last):
    ...
    engage_lab.errors.EngineError: time_range: the start must lie from 2000-01-01 to 2100-01-01, as every recorded instant does
    """
    if time_range is None:
        return None
    try:
        start_at, end_at = time_range
    except (TypeError, ValueError) as exc:
        raise EngineError(f"time_range must be two instants (start, end): {exc}") from exc
    bounds = []
    for which, value in (("start", start_at), ("end", end_at)):
        try:
            ms = to_ms(value)
        except OutOfBoundsDatetime:
            ms = None  # beyond what a timestamp holds: said with the range
        except (TypeError, ValueError) as exc:
            raise EngineError(f"time_range must be two instants (start, end): {exc}") from exc
        if ms is None or not PLAUSIBLE_MS[0] <= ms <= PLAUSIBLE_MS[1]:
            raise EngineError(
                f"time_range: the {which} must lie from {PLAUSIBLE[0]} to {PLAUSIBLE[1]}, "
                "as every recorded instant does"
            )
        bounds.append(ms)
    start, end = bounds
    if end <= start:
        raise EngineError("time_range: the end must be after the start")
    return start, end


def check_fraction(sample: Any) -> float | None:
    """A sample fraction in ``(0, 1]``, checked."""
    if sample is None:
        return None
    if isinstance(sample, bool) or not isinstance(sample, int | float) or not 0 < sample <= 1:
        raise EngineError(f"sample must be a fraction in (0, 1], not {sample!r}")
    return float(sample)


def check_segment(segment: Any) -> dict[str, Any] | None:
    """Parse and check a segment: GrowthBook syntax, only :data:`SEGMENT_ATTRIBUTES`."""
    if segment is None:
        return None
    if isinstance(segment, str):
        try:
            segment = json.loads(segment, parse_constant=_non_finite, parse_float=_non_finite)
        except json.JSONDecodeError as exc:
            raise ConditionError(f"segment is not JSON: {exc}", "segment") from exc
    if not isinstance(segment, Mapping):
        raise ConditionError("a segment is a JSON object (a condition)", "segment")
    _check_finite(segment, "segment")
    for where, message in elem_match_too_deep(segment, "segment")[:1]:
        raise ConditionError(message, where)
    tree = _segment_tree(segment)
    for path in sorted(_field_paths(tree)):
        if path not in SEGMENT_ATTRIBUTES:
            known = ", ".join(SEGMENT_ATTRIBUTES)
            raise ConditionError(
                f"segment reads {path!r}; a segment may read {known}", f"segment[{path!r}]"
            )
    return dict(segment)


class _Written(float):
    """A non-finite number as the segment wrote it (``NaN``, ``1e400``), for the message."""

    text: str


def _non_finite(text: str) -> float:
    """Python's JSON reader takes ``NaN`` / ``Infinity`` (not JSON) and reads ``1e400`` as
    an infinity: keep their text, :func:`_check_finite` refuses them with their path."""
    value = float(text)
    if math.isfinite(value):
        return value
    written = _Written(value)
    written.text = text
    return written


def _check_finite(value: Any, path: str) -> None:
    """Refuse a non-finite number anywhere in a segment (``inf`` and ``nan`` have no SQL
    literal and compare with nothing), naming its JSON path."""
    stack = [(value, path)]
    while stack:
        item, here = stack.pop()
        if isinstance(item, Mapping):
            stack.extend((child, f"{here}[{json.dumps(key)}]") for key, child in item.items())
        elif isinstance(item, list | tuple):
            stack.extend((child, f"{here}[{k}]") for k, child in enumerate(item))
        elif isinstance(item, float) and not math.isfinite(item):
            shown = getattr(item, "text", None) or repr(item)
            raise ConditionError(f"{shown} is not a finite number; write a finite number", here)


def _segment_tree(segment: Mapping[str, Any]) -> nodes.Node:
    """The segment's condition tree, parsed once per distinct segment (checking it and
    compiling it read the same tree)."""
    return _parse_segment(json.dumps(segment, sort_keys=False, separators=(",", ":")))


@functools.lru_cache(maxsize=64)
def _parse_segment(text: str) -> nodes.Node:
    return parse_expression(json.loads(text), "segment")


def _field_paths(node: Any) -> set[str]:
    out: set[str] = set()
    if isinstance(node, nodes.Field):
        out.add(node.path)
    if isinstance(node, nodes.Node):
        for name in getattr(type(node), "__slots__", ()):
            out |= _field_paths(getattr(node, name, None))
    elif isinstance(node, tuple | list):
        for child in node:
            out |= _field_paths(child)
    return out


def _attributes() -> exp.Expression:
    """The segment's attribute document over a page view row (with ``country``)."""
    groups: dict[str, list[exp.Expression]] = {}
    for path, column in SEGMENT_ATTRIBUTES.items():
        root, key = path.split(".", 1)
        groups.setdefault(root, []).extend([exp.Literal.string(key), exp.column(column)])
    args: list[exp.Expression] = []
    for root, pairs in groups.items():
        args += [exp.Literal.string(root), exp.func("json_object", *pairs)]
    return exp.func("json_object", *args)


def segment_sql(segment: Mapping[str, Any]) -> tuple[str, tuple[tuple[str, Any], ...]]:
    """The segment as a boolean SQL expression over a ``page_views`` row with the
    visitor's ``country`` (parameters prefixed ``seg_``), and its parameters."""
    compiled = compile_condition(_segment_tree(segment))
    document = _attributes()

    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder):
            return exp.Placeholder(this=f"seg_{node.name}")
        if isinstance(node, exp.Column) and node.name == "attributes" and not node.table:
            return document.copy()
        return node

    expression = compiled.expression.transform(rewrite)
    # lists (``$in`` values) as tuples: the parameters key the replay's page facts
    params = tuple(
        sorted(
            (f"seg_{k}", tuple(v) if isinstance(v, list) else v) for k, v in compiled.params.items()
        )
    )
    return expression.sql("duckdb"), params
