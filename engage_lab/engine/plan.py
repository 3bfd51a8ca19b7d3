"""What a configuration needs from the history: the fast engine's plan.

A :class:`Plan` is computed once per configuration. It lists, for the enabled triggers
in list order, everything the SQL and the sequential pass read:

* the parsed condition trees (criteria AND expression) and whether a trigger reads the
  chat state (``chat_shown`` / ``chat_opened`` / ``chat.*``): such a trigger's condition is
  evaluated under the four chat states (shown, opened) and the sequential pass picks the
  one in force, since other triggers' actions change it within a page;
* the time-growing thresholds as crossing offsets (ms after the page / visit start, both
  the ``>= X`` and ``> X`` instants) and the clock step (15 min, or 1 min for ``time.time``);
* the criteria the conditions read and whether a criterion needs the visit's past pages
  (a position other than ``current``);
* the action program of each trigger (items, chat, hide) for the sequential pass.

The plan's :attr:`Plan.structure_key` ignores the numbers a tuning slider moves (criteria
thresholds, probabilities): two configurations with the same key share compiled SQL and
cached intermediate tables.

>>> from engage_lab.config import Config
>>> cfg = Config.from_dict({"schema_version": 1, "source": {"mode": "live_chat"},
...     "triggers": [{"id": "t", "label": "T", "actions": [{"type": "show_chat_minimized"}],
...                   "criteria": [{"criterion": "page_visit_duration", "operator": "gte",
...                                 "value": 45}]}]})
>>> plan = make_plan(cfg)
>>> plan.triggers[0].page_offsets, plan.triggers[0].reads_chat
((45000, 45001), False)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engage_lab.conditions import nodes
from engage_lab.conditions.evaluator import parse_criteria_for_pages
from engage_lab.conditions.vocabulary import custom_declaration
from engage_lab.conditions.walking import (
    criteria_nodes,
    first_ms_above,
    first_ms_at_least,
    time_reads,
)
from engage_lab.config import Config, Trigger
from engage_lab.config.models import (
    HideOtherElementsAction,
    ShowAndOpenChatAction,
    ShowChatMinimizedAction,
    ShowItemAction,
)
from engage_lab.errors import EngineError

__all__ = [
    "Plan",
    "TriggerPlan",
    "UnsupportedByFastEngineError",
    "first_ms_above",
    "first_ms_at_least",
    "make_plan",
]

_CHAT_CRITERIA = frozenset({"chat_shown", "chat_opened"})

# Action codes of the sequential pass.
ACT_ITEM, ACT_CHAT, ACT_OPEN_CHAT = 1, 2, 3


class UnsupportedByFastEngineError(EngineError):
    """A configuration uses something the fast engine does not replay (use the reference)."""


@dataclass(frozen=True)
class TriggerPlan:
    """One enabled trigger as the engine sees it (``rank``: position in the full list)."""

    trigger: Trigger
    rank: int
    criteria_tree: nodes.Node | None
    expression_tree: nodes.Node | None
    reads_chat: bool
    page_offsets: tuple[int, ...]
    visit_offsets: tuple[int, ...]
    clock_step: int
    #: (code, item index) per action, in action order (automatic messages left out)
    program: tuple[tuple[int, int], ...]
    hides: bool
    #: item indices shown in offline mode when refused (live chat, online/offline items)
    offline_items: tuple[int, ...]
    #: fixed-button ids the page must carry a placeholder for
    fixed_items: tuple[str, ...]

    @property
    def id(self) -> str:
        return self.trigger.id


@dataclass(frozen=True)
class Plan:
    """Everything the engine reads for one configuration (see the module docstring)."""

    config: Config
    triggers: tuple[TriggerPlan, ...]
    #: item ids and kinds by item index
    items: tuple[tuple[str, str], ...]
    #: criterion id -> kind, and whether it needs past pages
    criteria: dict[str, tuple[str, bool]]
    uses_expression: bool
    custom_names: tuple[str, ...]
    structure_key: str

    @property
    def any_gated(self) -> bool:
        return any(t.trigger.gated for t in self.triggers)


def _threshold_free(data: Any) -> Any:
    """The configuration's JSON with every number replaced (the structure key)."""
    if isinstance(data, bool) or data is None or isinstance(data, str):
        return data
    if isinstance(data, int | float):
        return "#"
    if isinstance(data, list):
        return [_threshold_free(x) for x in data]
    return {k: _threshold_free(v) for k, v in data.items()}


def _expression_reads_chat(tree: nodes.Node) -> bool:
    for node in nodes.walk(tree):
        if isinstance(node, nodes.Field) and (node.path == "chat" or node.path.startswith("chat.")):
            return True
    return False


def make_plan(config: Config) -> Plan:
    """Build the :class:`Plan` of a configuration.

    Raises
    ------
    UnsupportedByFastEngineError
        For what the fast engine does not replay: chat-state criteria at a past position,
        undeclared custom variables in criteria, ``min_seconds_between_executions``.
    """
    items = tuple(
        [(b.id, "button") for b in config.catalog.buttons]
        + [(i.id, "invitation") for i in config.catalog.invitations]
    )
    item_index = {item_id: k for k, (item_id, _) in enumerate(items)}
    if len(items) > 62:
        raise UnsupportedByFastEngineError("the fast engine handles at most 62 catalog items")
    declared = config.custom_variable_types
    criteria: dict[str, tuple[str, bool]] = {}
    custom: set[str] = set()
    plans: list[TriggerPlan] = []
    uses_expression = False
    for rank, trigger in enumerate(config.triggers):
        if not trigger.enabled:
            continue
        ext = trigger.extensions
        if ext is not None and ext.min_ms_between_executions is not None:
            raise UnsupportedByFastEngineError(
                f"trigger {trigger.id!r}: min_seconds_between_executions is not replayed by "
                "the fast engine; use the reference engine"
            )
        tree = None
        reads_chat = False
        if trigger.criteria:
            for c in trigger.criteria:
                name = c.get("criterion")
                if (
                    isinstance(name, str)
                    and name.startswith("custom_")
                    and custom_declaration(name, declared) is None
                ):
                    raise UnsupportedByFastEngineError(
                        f"trigger {trigger.id!r}: custom variable {name!r} is not declared; "
                        "the fast engine needs its type"
                    )
            tree = parse_criteria_for_pages(list(trigger.criteria), [], declared)
            for node in criteria_nodes(tree):
                past = node.position != "current"
                if node.criterion in _CHAT_CRITERIA:
                    reads_chat = True
                    if past:
                        raise UnsupportedByFastEngineError(
                            f"trigger {trigger.id!r}: {node.criterion} at position "
                            f"{node.position!r} (past pages' chat state) is not replayed by "
                            "the fast engine"
                        )
                    continue
                kind, had_past = criteria.get(node.criterion, (node.kind, False))
                if kind != node.kind:
                    raise UnsupportedByFastEngineError(
                        f"criterion {node.criterion!r} read as two kinds ({kind}, {node.kind})"
                    )
                criteria[node.criterion] = (kind, had_past or past)
                if node.criterion.startswith("custom_"):
                    custom.add(node.criterion)
        expression = None
        if trigger.expression is not None:
            raise UnsupportedByFastEngineError(
                f"trigger {trigger.id!r}: expressions are not replayed by the fast engine yet; "
                "use the reference engine"
            )
            uses_expression = True
            reads_chat = reads_chat or _expression_reads_chat(expression)
        reads = time_reads(trigger.criteria, expression)
        program: list[tuple[int, int]] = []
        for action in trigger.actions:
            if isinstance(action, ShowItemAction):
                program.append((ACT_ITEM, item_index[action.item]))
            elif isinstance(action, ShowAndOpenChatAction):
                program.append((ACT_OPEN_CHAT, -1))
            elif isinstance(action, ShowChatMinimizedAction):
                program.append((ACT_CHAT, -1))
        shown = [a.item for a in trigger.actions if isinstance(a, ShowItemAction)]
        offline = tuple(item_index[i] for i in shown if config.item(i).online_offline)
        plans.append(
            TriggerPlan(
                trigger=trigger,
                rank=rank,
                criteria_tree=tree,
                expression_tree=expression,
                reads_chat=reads_chat,
                page_offsets=reads.page_offsets,
                visit_offsets=reads.visit_offsets,
                clock_step=reads.clock_step,
                program=tuple(program),
                hides=any(isinstance(a, HideOtherElementsAction) for a in trigger.actions),
                offline_items=offline if config.source.mode == "live_chat" else (),
                fixed_items=tuple(i for i in shown if config.item(i).fixed),
            )
        )
    key = json.dumps(_threshold_free(config.to_dict()), sort_keys=True, separators=(",", ":"))
    return Plan(
        config=config,
        triggers=tuple(plans),
        items=items,
        criteria=criteria,
        uses_expression=uses_expression,
        custom_names=tuple(sorted(custom)),
        structure_key=key,
    )
