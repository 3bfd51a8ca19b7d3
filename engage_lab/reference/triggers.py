"""What the Chat Manager needs to know about a trigger before evaluating it.

Per trigger (and configuration): the instants inside a page view at which its conditions
may change because time grows (duration thresholds, the clock), and whether its
conditions hold on a state. Conditions: the criteria (ANDed) and the expression, both
when both are given; none at all is always true.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engage_lab.conditions import nodes
from engage_lab.conditions.evaluator import evaluate_node, evaluate_on_pages
from engage_lab.conditions.registry import CRITERIA
from engage_lab.conditions.vocabulary import position_range
from engage_lab.conditions.walking import (
    TimeReads,
    first_ms_above,
    first_ms_at_least,
    merged_criteria,
)
from engage_lab.config import Config, Trigger

__all__ = [
    "ParsedConditions",
    "TriggerReads",
    "clock_boundaries",
    "compute_reads",
    "conditions_hold",
    "criteria_reads",
    "criterion_nodes",
    "first_ms_above",
    "first_ms_at_least",
    "parse_conditions",
    "possible_on_page",
    "static_criteria_hold",
]


#: Time-dependent reads of one trigger (shared with the fast engine through the tree).
TriggerReads = TimeReads


def compute_reads(trigger: Trigger, config: Config) -> TriggerReads:
    """The :class:`TriggerReads` of the trigger's criteria and expression (parsed once by
    the configuration: :meth:`~engage_lab.config.Config.conditions`).

    >>> cfg = Config.from_dict({"schema_version": 1, "source": {"mode": "live_chat"},
    ...     "triggers": [{"id": "t", "label": "T", "actions": [{"type": "show_chat_minimized"}],
    ...     "criteria": [{"criterion": "page_visit_duration", "operator": "gte", "value": 45},
    ...                  {"criterion": "time", "operator": "lte", "value": "19:45"}]}]})
    >>> compute_reads(cfg.triggers[0], cfg)
    TimeReads(page_offsets=(45000, 45001), visit_offsets=(), clock_step=900000)
    """
    return config.conditions(trigger).time_reads


def clock_boundaries(start: int, end: int, step: int) -> list[int]:
    """Multiples of ``step`` ms in ``(start, end)`` (all zone offsets in use are whole
    quarters of an hour, so local 15-minute boundaries are UTC ones).

    >>> clock_boundaries(0, 1_800_000, 900_000)
    [900000]
    """
    if step <= 0:
        return []
    first = (start // step + 1) * step
    return list(range(first, end, step))


@dataclass(frozen=True)
class ParsedConditions:
    """A trigger's conditions as the Chat Manager evaluates them: the criteria tree and
    the expression tree (the configuration's, parsed once when it loaded), and the part
    of the criteria that cannot change during a page view."""

    criteria: tuple[nodes.Criterion, ...]
    criteria_tree: nodes.Node
    expression_tree: nodes.Node | None
    #: The criteria that cannot change during a page view (page path, URL, title, counts,
    #: positions on past pages only): false at the page's start means false all along.
    static_tree: nodes.Node | None = None
    #: True when the static criteria read the current page only (their result then
    #: depends on the page's path, URL, title and counts alone, and can be memoized).
    static_current_only: bool = False
    #: The other criteria (the ones that can change during a page view), if any.
    dynamic_tree: nodes.Node | None = None


def parse_conditions(trigger: Trigger, config: Config) -> ParsedConditions:
    """A trigger's conditions for repeated evaluation (from :meth:`Config.conditions`)."""
    parsed = config.conditions(trigger)
    # the shortcuts' trees: criteria that read the same value merged (exact, and checked
    # against the literal tree by the tests of the shortcuts)
    merged = merged_criteria(parsed.criteria)
    static = tuple(c for c in merged if _is_static(c))
    dynamic = tuple(c for c in merged if not _is_static(c))
    current_only = all(c.position == "current" and c.facts.fixed_in_page for c in static)
    return ParsedConditions(
        parsed.criteria,
        parsed.criteria_tree,
        parsed.expression,
        nodes.And(static) if static else None,
        current_only,
        nodes.And(dynamic) if dynamic else None,
    )


#: Positions that never include the current page (past pages are final).
_PAST_ONLY = frozenset(
    {"previous", "any_previous"}
    | {f"previous_{k}" for k in range(2, 6)}
    | {f"any_of_previous_{k}" for k in range(2, 6)}
)


def _is_static(node: nodes.Criterion) -> bool:
    return node.facts.fixed_in_page or node.position in _PAST_ONLY


def possible_on_page(
    parsed: ParsedConditions,
    pages_at_start: Sequence[Mapping[str, Any]],
    memo: dict[Any, bool] | None = None,
) -> bool:
    """False when the static criteria already fail at the page's start (an optimization
    that never changes a result: the static part of an AND cannot become true later).

    ``memo`` (shared per configuration and trigger) remembers results by the current
    page's fixed values when the static criteria read nothing else.
    """
    if parsed.static_tree is None:
        return True
    if memo is None or not parsed.static_current_only:
        return evaluate_on_pages(parsed.static_tree, pages_at_start)
    current = pages_at_start[-1]
    key = tuple(current.get(name) for name in _PAGE_FIXED_ORDER)
    if key not in memo:
        memo[key] = evaluate_on_pages(parsed.static_tree, pages_at_start[-1:])
    return memo[key]


#: Criteria whose value on the current page is fixed for the whole page view (a memo key).
_PAGE_FIXED_ORDER = tuple(sorted(c.id for c in CRITERIA.values() if c.fixed_in_page))


def criterion_nodes(tree: nodes.Node) -> tuple[nodes.Criterion, ...]:
    """The criteria of a criteria tree, in tree order."""
    return tuple(node for node in nodes.walk(tree) if isinstance(node, nodes.Criterion))


def criteria_reads(
    criteria: Sequence[nodes.Criterion], pages: Sequence[Mapping[str, Any]]
) -> tuple[Any, ...]:
    """Every page value the criteria of a tree (:func:`criterion_nodes`) read on
    ``pages``: per criterion, its values on the pages its position selects.
    ``evaluate_on_pages(tree, pages)`` depends on nothing else, so two page lists with
    equal reads give the same result (a memo key).

    >>> from engage_lab.conditions import parse_criteria
    >>> tree = parse_criteria([{"criterion": "page_path", "when": "previous",
    ...     "operator": "is", "value": "/a"}], {})
    >>> criteria_reads(criterion_nodes(tree), [{"page_path": "/a"}, {"page_path": "/b"}])
    (('/a',),)
    """
    reads = []
    # criteria of one criterion and position read the same values: once in the key
    for criterion, position in dict.fromkeys((c.criterion, c.position) for c in criteria):
        first, last = position_range(position, len(pages))
        reads.append(tuple(page.get(criterion) for page in pages[first - 1 : last]))
    return tuple(reads)


def static_criteria_hold(parsed: ParsedConditions, pages: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the static criteria hold on ``pages`` (the same all page long)."""
    return parsed.static_tree is None or evaluate_on_pages(parsed.static_tree, pages)


def conditions_hold(
    parsed: ParsedConditions,
    config: Config,
    pages: Sequence[Mapping[str, Any]],
    attributes: Callable[[], Mapping[str, Any]],
    static_held: bool = False,
) -> bool:
    """Whether the criteria and the expression hold (``attributes`` is only called when
    there is an expression); the same results as ``evaluate_criteria`` / ``evaluate``.

    ``static_held``: the static criteria are known to hold on this page
    (:func:`static_criteria_hold` on it), so only the others are evaluated."""
    tree = parsed.dynamic_tree if static_held else parsed.criteria_tree
    if tree is not None and parsed.criteria and not evaluate_on_pages(tree, pages):
        return False
    if parsed.expression_tree is not None:
        return evaluate_node(parsed.expression_tree, attributes(), config.saved_groups)
    return True
