"""What a configuration needs from the history: the fast engine's plan.

A :class:`Plan` is computed once per configuration (or configuration history). Each
enabled trigger of each configuration entry is a *slot*; a slot's criteria are its
*leaves*, classified by what their value depends on (the criterion's source in the
registry, :mod:`engage_lab.conditions.registry`):

``page``      path, URL, title, page and visit counts: fixed for the whole page view;
``duration``  page / visit duration: a threshold crossed at one instant;
``clock``     time, hour, day of week in the source timezone: changes at clock steps;
``identity``  identity / signed identity: turns true when it is set;
``var``       a custom variable: changes with the page's variable changes;
``chat``      chat shown / opened: changed by the triggers' own actions (the pass).

A leaf at a past position reads the earlier pages of the visit by their final state, so
on a given page view its past part is fixed; only its current part can change. The
expression (if any) is one more dynamic leaf of the slot, evaluated in SQL at its
breakpoints. Criteria are ANDed, so a slot holds where all its leaves hold.

The plan's :attr:`Plan.structure_key` ignores the numbers a tuning slider moves
(thresholds, probabilities): two configurations with the same key share compiled SQL.

>>> from engage_lab.config import Config
>>> cfg = Config.from_dict({"schema_version": 1, "source": {"mode": "live_chat"},
...     "triggers": [{"id": "t", "label": "T", "actions": [{"type": "show_chat_minimized"}],
...                   "criteria": [{"criterion": "page_visit_duration", "operator": "gte",
...                                 "value": 45}]}]})
>>> plan = make_plan(cfg)
>>> [(leaf.criterion, leaf.source) for leaf in plan.slots[0].leaves]
[('page_visit_duration', 'duration')]
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engage_lab.availability.state import NEVER
from engage_lab.conditions import nodes
from engage_lab.conditions.registry import SOURCES
from engage_lab.conditions.vocabulary import POSITIONS
from engage_lab.conditions.walking import merged_criteria
from engage_lab.config import Config, ConfigHistory, Trigger
from engage_lab.config.models import (
    HideOtherElementsAction,
    ShowAndOpenChatAction,
    ShowChatMinimizedAction,
    ShowItemAction,
)
from engage_lab.engine.actions import ACT_CHAT, ACT_ITEM, ACT_OPEN_CHAT
from engage_lab.engine.kernel import (
    POS_ANY,
    POS_ANY_PREVIOUS,
    POS_BACK,
    POS_FIRST,
)
from engage_lab.errors import EngineError

__all__ = [
    "SOURCES",
    "Entry",
    "Leaf",
    "Plan",
    "Slot",
    "UnsupportedByFastEngineError",
    "make_plan",
]


class UnsupportedByFastEngineError(EngineError):
    """A configuration uses something the fast engine does not replay (use the reference)."""


@dataclass(frozen=True)
class Leaf:
    """One criterion of a slot."""

    node: nodes.Criterion

    @property
    def source(self) -> str:
        """Where its value comes from (:data:`SOURCES`: the registry's)."""
        return self.node.facts.source

    @property
    def criterion(self) -> str:
        return self.node.criterion

    @property
    def position(self) -> tuple[int, int, int]:
        """``(code, back_first, back_last)`` for the pass (kernel position codes)."""
        pos = self.node.position
        if pos == "any":
            return POS_ANY, 0, 0
        if pos == "any_previous":
            return POS_ANY_PREVIOUS, 0, 0
        if pos == "first":
            return POS_FIRST, 0, 0
        back = POSITIONS[pos]
        assert back is not None
        return POS_BACK, back[0], back[1]

    @property
    def current_only(self) -> bool:
        return self.node.position == "current"


@dataclass(frozen=True)
class Slot:
    """One enabled trigger of one configuration entry, as the engine sees it."""

    entry: int
    trigger: Trigger
    config: Config
    gid: int  # index of the trigger id in :attr:`Plan.trigger_ids`
    rank: int  # position in its entry's trigger list
    leaves: tuple[Leaf, ...]
    expression: nodes.Node | None
    #: (code, global item index) per action, in action order (automatic messages left out)
    program: tuple[tuple[int, int], ...]
    hides: bool
    #: global item indices shown in offline mode when refused (live chat, online/offline)
    offline_items: tuple[int, ...]
    #: fixed-button ids the page must carry a placeholder for
    fixed_items: tuple[str, ...]

    @property
    def id(self) -> str:
        return self.trigger.id

    @property
    def dynamic_leaves(self) -> tuple[Leaf, ...]:
        """Leaves whose value can change within a page view (not page, not chat)."""
        return tuple(leaf for leaf in self.leaves if leaf.source not in ("page", "chat"))


@dataclass(frozen=True)
class Entry:
    """One configuration of a history (``effective_at``: ms; the first may be ``-inf``)."""

    config: Config
    effective_at: int


@dataclass(frozen=True)
class Plan:
    """Everything the engine reads for one configuration (see the module docstring)."""

    entries: tuple[Entry, ...]
    slots: tuple[Slot, ...]  # sorted by (entry, rank)
    #: trigger ids in canonical order (each entry's order, new ids appended)
    trigger_ids: tuple[str, ...]
    #: item ids and kinds by global item index
    items: tuple[tuple[str, str], ...]
    mode: str
    structure_key: str

    @property
    def any_gated(self) -> bool:
        """An enabled trigger is gated (a plan may hold disabled ones, see :func:`make_plan`)."""
        return any(s.trigger.gated and s.trigger.enabled for s in self.slots)

    @property
    def first(self) -> Config:
        return self.entries[0].config


def _threshold_free(data: Any) -> Any:
    """The configuration's JSON with every number replaced (the structure key)."""
    if isinstance(data, bool) or data is None or isinstance(data, str):
        return data
    if isinstance(data, int | float):
        return "#"
    if isinstance(data, list):
        return [_threshold_free(x) for x in data]
    return {k: _threshold_free(v) for k, v in data.items()}


def make_plan(config: Config | ConfigHistory, *, disabled_too: bool = False) -> Plan:
    """Build the :class:`Plan` of a configuration or configuration history.

    ``disabled_too``: disabled triggers get slots as well (``slot.trigger.enabled`` is
    false): the plan of a configuration is then the same whichever triggers are enabled,
    and the replay masks the disabled slots instead of compiling another plan.

    Raises
    ------
    UnsupportedByFastEngineError
        For criteria the validator refuses (a duration with an operator other than
        ``gte`` / ``lte``).
    """
    if isinstance(config, Config):
        entries = (Entry(config, -NEVER),)
    else:
        entries = tuple(Entry(e.config, e.effective_at_ms) for e in config.history)
    modes = {e.config.source.mode for e in entries}
    if len(modes) != 1:
        raise UnsupportedByFastEngineError("a configuration history must keep one source mode")
    trigger_ids: list[str] = []
    items: list[tuple[str, str]] = []
    for e in entries:
        trigger_ids += [t.id for t in e.config.triggers if t.id not in trigger_ids]
        for item in (*e.config.catalog.buttons, *e.config.catalog.invitations):
            if (item.id, item.kind) not in items:
                items.append((item.id, item.kind))
    item_index = {(i, k): n for n, (i, k) in enumerate(items)}
    slots = []
    for k, e in enumerate(entries):
        for rank, trigger in enumerate(e.config.triggers):
            if trigger.enabled or disabled_too:
                slots.append(_slot(k, e.config, trigger, rank, trigger_ids, item_index))
    data = [_threshold_free(e.config.to_dict()) for e in entries]
    key = json.dumps(
        {"entries": data, "at": [e.effective_at for e in entries]},
        sort_keys=True,
        separators=(",", ":"),
    )
    return Plan(
        entries=entries,
        slots=tuple(slots),
        trigger_ids=tuple(trigger_ids),
        items=tuple(items),
        mode=modes.pop(),
        structure_key=key,
    )


def _slot(
    entry: int,
    config: Config,
    trigger: Trigger,
    rank: int,
    trigger_ids: list[str],
    item_index: dict[tuple[str, str], int],
) -> Slot:
    parsed = config.conditions(trigger)
    leaves: list[Leaf] = []
    for node in merged_criteria(parsed.criteria):  # exact: fewer leaves, same result
        if node.facts.grows_with_time and not isinstance(node.test, nodes.Gte | nodes.Lte):
            raise UnsupportedByFastEngineError(
                f"trigger {trigger.id!r}: {node.criterion} takes only gte or lte"
            )
        leaves.append(Leaf(node))
    expression = parsed.expression
    program: list[tuple[int, int]] = []
    for action in trigger.actions:
        if isinstance(action, ShowItemAction):
            item = config.item(action.item)
            program.append((ACT_ITEM, item_index[(item.id, item.kind)]))
        elif isinstance(action, ShowAndOpenChatAction):
            program.append((ACT_OPEN_CHAT, -1))
        elif isinstance(action, ShowChatMinimizedAction):
            program.append((ACT_CHAT, -1))
    shown = [config.item(a.item) for a in trigger.actions if isinstance(a, ShowItemAction)]
    offline = tuple(item_index[(i.id, i.kind)] for i in shown if i.online_offline)
    return Slot(
        entry=entry,
        trigger=trigger,
        config=config,
        gid=trigger_ids.index(trigger.id),
        rank=rank,
        leaves=tuple(leaves),
        expression=expression,
        program=tuple(program),
        hides=any(isinstance(a, HideOtherElementsAction) for a in trigger.actions),
        offline_items=offline if config.source.mode == "live_chat" else (),
        fixed_items=tuple(i.id for i in shown if i.fixed),
    )
