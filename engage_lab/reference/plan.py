"""Per-configuration facts the Chat Manager looks up again and again, computed once.

A :class:`ConfigPlan` holds, for one configuration, what never changes during a run:
the enabled triggers in list order, each trigger's parsed conditions and time reads
(:mod:`engage_lab.reference.triggers`), the items its actions show, the catalog by id,
and the memo of which triggers' page-fixed criteria hold on a page with given fixed
values. It is pure caching: every answer is what the configuration itself would give.

>>> from engage_lab.config import Config
>>> cfg = Config.from_dict({"schema_version": 1, "source": {"mode": "live_chat"},
...     "catalog": {"buttons": [{"id": "b", "label": "B"}]},
...     "triggers": [{"id": "t", "label": "T", "actions": [{"type": "show_item", "item": "b"}],
...                   "criteria": [{"criterion": "page_path", "operator": "is", "value": "/a"}]},
...                  {"id": "off", "label": "Off", "enabled": False,
...                   "actions": [{"type": "show_chat_minimized"}]}]})
>>> plan = ConfigPlan(cfg)
>>> [p.trigger.id for p in plan.triggers], plan.triggers[0].shown_items
(['t'], ('b',))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engage_lab.config import Config, Trigger
from engage_lab.config.models import HideOtherElementsAction, ShowItemAction
from engage_lab.reference.triggers import (
    ParsedConditions,
    TriggerReads,
    compute_reads,
    criteria_reads,
    criterion_nodes,
    parse_conditions,
    possible_on_page,
)

__all__ = ["ConfigPlan", "TriggerPlan"]


@dataclass(frozen=True)
class TriggerPlan:
    """One enabled trigger with what the Chat Manager reads of it."""

    trigger: Trigger
    position: int
    conditions: ParsedConditions
    reads: TriggerReads
    shown_items: tuple[str, ...]
    hides_others: bool
    min_ms_between: int | None
    #: The criteria of the static tree (what :func:`criteria_reads` reads), if any.
    static_criteria: tuple[Any, ...] = ()
    #: The shown items that are fixed buttons (they need their placeholder on the page).
    fixed_items: tuple[str, ...] = ()


@dataclass
class ConfigPlan:
    """The enabled triggers of a configuration, parsed once (see the module docstring)."""

    config: Config
    triggers: tuple[TriggerPlan, ...] = ()
    items: dict[str, Any] = field(default_factory=dict)
    trigger_ids: frozenset[str] = frozenset()
    #: the current page's values of :attr:`_current_names` -> ids of the triggers whose
    #: static criteria read only the current page's fixed values (or who have none) and
    #: hold there.
    _possible_by_page: dict[tuple[Any, ...], frozenset[str]] = field(default_factory=dict)
    #: (trigger id, values its static criteria read) -> whether they hold.
    _static_by_reads: dict[tuple[Any, ...], bool] = field(default_factory=dict)
    _current_only: tuple[TriggerPlan, ...] = ()
    _current_names: tuple[str, ...] = ()
    _visit_static: tuple[TriggerPlan, ...] = ()

    def __post_init__(self) -> None:
        config = self.config
        self.items = {i.id: i for i in (*config.catalog.buttons, *config.catalog.invitations)}
        plans = []
        for position, trigger in enumerate(config.triggers):
            if not trigger.enabled:
                continue
            ext = trigger.extensions
            conditions = parse_conditions(trigger, config)
            static = conditions.static_tree
            shown = tuple(a.item for a in trigger.actions if isinstance(a, ShowItemAction))
            plans.append(
                TriggerPlan(
                    trigger,
                    position,
                    conditions,
                    compute_reads(trigger, config),
                    shown,
                    any(isinstance(a, HideOtherElementsAction) for a in trigger.actions),
                    None if ext is None else ext.min_ms_between_executions,
                    () if static is None else criterion_nodes(static),
                    tuple(i for i in shown if i in self.items and self.items[i].fixed),
                )
            )
        self.triggers = tuple(plans)
        self.trigger_ids = frozenset(p.trigger.id for p in plans)
        self._current_only = tuple(p for p in plans if _current_only(p.conditions))
        self._visit_static = tuple(p for p in plans if not _current_only(p.conditions))
        names = {c.criterion for p in self._current_only for c in p.static_criteria}
        self._current_names = tuple(sorted(names))

    def possible(self, pages_at_start: list[dict[str, Any]]) -> frozenset[str]:
        """Ids of the triggers whose page-fixed criteria hold at the page's start
        (:func:`~engage_lab.reference.triggers.possible_on_page`; a trigger outside this
        set cannot activate on the page). Memoized by the current page's fixed values
        for the triggers whose static criteria read nothing else, and by the values these
        read for the others."""
        current = pages_at_start[-1]
        key = tuple(current.get(name) for name in self._current_names)
        by_page = self._possible_by_page.get(key)
        if by_page is None:
            by_page = frozenset(
                p.trigger.id
                for p in self._current_only
                if possible_on_page(p.conditions, pages_at_start[-1:])
            )
            self._possible_by_page[key] = by_page
        others = {p.trigger.id for p in self._visit_static if self._static_holds(p, pages_at_start)}
        return by_page | others if others else by_page

    def _static_holds(self, planned: TriggerPlan, pages: list[dict[str, Any]]) -> bool:
        """``possible_on_page`` memoized by the page values its static criteria read."""
        key = (planned.trigger.id, criteria_reads(planned.static_criteria, pages))
        try:
            known = self._static_by_reads.get(key)
        except TypeError:  # an unhashable value (a list): no memo
            return possible_on_page(planned.conditions, pages)
        if known is None:
            known = self._static_by_reads[key] = possible_on_page(planned.conditions, pages)
        return known


def _current_only(parsed: ParsedConditions) -> bool:
    """No static criteria, or static criteria that read the current page's fixed values."""
    return parsed.static_tree is None or parsed.static_current_only
