"""Checks that need more than one field: ids, references, options that must agree, conditions.

They read the raw JSON data (what ``json.loads`` gave), defensively, so they still run
when pydantic found problems elsewhere: a user sees every problem at once, not one per
attempt. Anything with the wrong shape is left to the pydantic models to report.
Conditions are checked by :mod:`engage_lab.conditions` (``check_criteria`` and
``check_expression``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from engage_lab.conditions import check_criteria, check_expression
from engage_lab.conditions.vocabulary import TIME_GROWING_ATTRIBUTES, TIME_GROWING_CRITERIA
from engage_lab.config.limits import (
    MAX_DURATION_SECONDS,
    MAX_NESTING,
    MAX_NUMBER,
    NUMBER_RANGE,
    nesting_depth,
    out_of_range,
)
from engage_lab.config.problems import problem

__all__ = ["raw_value_problems", "semantic_problems"]

_CUSTOM_NAME = re.compile(r"^custom_[A-Za-z0-9_]+$")
_ITEM_LISTS = ("buttons", "invitations", "messages")
_CHAT_SHOWING = {"show_chat_minimized", "show_and_open_chat", "show_item"}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def semantic_problems(data: Any) -> list[str]:
    """Problems across fields of a configuration given as parsed JSON (unsorted).

    >>> semantic_problems({"schema_version": 1, "source": {"mode": "live_chat"},
    ...                    "triggers": []})
    ['triggers: at least one trigger is required (a trigger with no criteria always matches)']
    """
    root = _dict(data)
    source = _dict(root.get("source"))
    lines = _source_problems(source)
    item_kinds, lines_catalog = _catalog_problems(_dict(root.get("catalog")))
    lines += lines_catalog
    variable_types, lines_vars = _custom_variable_problems(root.get("custom_variables"))
    lines += lines_vars
    lines += _saved_group_problems(root.get("saved_groups"))
    for name, group in _dict(root.get("saved_groups")).items():
        lines += raw_value_problems(group, ["saved_groups", name])
    triggers = root.get("triggers")
    if isinstance(triggers, list) and not triggers:
        lines.append(
            problem(
                "triggers",
                "at least one trigger is required (a trigger with no criteria always matches)",
            )
        )
    first_seen: dict[str, int] = {}
    saved_groups = _dict(root.get("saved_groups"))
    for index, trigger in enumerate(_list(triggers)):
        if not isinstance(trigger, dict):
            continue
        trigger_id = _str(trigger.get("id"))
        if trigger_id is not None:
            if trigger_id in first_seen:
                lines.append(
                    problem(
                        ["triggers", index, "id"],
                        f"duplicate trigger id {trigger_id!r} (also triggers[{first_seen[trigger_id]}]);"
                        " give each trigger its own id",
                    )
                )
            else:
                first_seen[trigger_id] = index
        lines += _trigger_problems(trigger, index, item_kinds)
        lines += _condition_problems(trigger, index, variable_types, saved_groups)
    return lines


def _source_problems(source: dict[str, Any]) -> list[str]:
    lines = []
    if source.get("mode") == "live_chat" and source.get("display") == "embedded":
        lines.append(
            problem(
                "source.display",
                "embedded display exists only in messaging mode; use floating in live_chat",
            )
        )
    if source.get("mode") == "messaging" and "impossibility_delay" in source:
        lines.append(
            problem(
                "source.impossibility_delay",
                "the impossibility message exists only in live_chat mode; remove this key",
            )
        )
    visit_idle = source.get("visit_idle")
    if visit_idle is not None:
        from engage_lab.durations import DurationError, duration_ms

        try:
            if duration_ms(visit_idle) == 0:
                lines.append(
                    problem("source.visit_idle", 'must be longer than 0, e.g. "24h" (the default)')
                )
        except DurationError:
            pass  # reported by the model
    return lines


def _catalog_problems(catalog: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Item kinds by id (``button``, ``invitation``, ``message``) and duplicate-id problems."""
    kinds: dict[str, str] = {}
    where: dict[str, str] = {}
    lines = []
    for list_name in _ITEM_LISTS:
        for index, entry in enumerate(_list(catalog.get(list_name))):
            item_id = _str(_dict(entry).get("id"))
            if item_id is None:
                continue
            path = f"catalog.{list_name}[{index}]"
            if item_id in kinds:
                lines.append(
                    problem(
                        f"{path}.id",
                        f"duplicate item id {item_id!r} (also {where[item_id]}); ids are unique"
                        " across buttons, invitations and messages",
                    )
                )
                continue
            kinds[item_id] = list_name[:-1]
            where[item_id] = path
    return kinds, lines


def _custom_variable_problems(variables: Any) -> tuple[dict[str, str], list[str]]:
    types: dict[str, str] = {}
    lines = []
    for name, declaration in _dict(variables).items():
        if not _CUSTOM_NAME.match(name):
            lines.append(
                problem(
                    ["custom_variables", name],
                    "a custom variable's name starts with custom_ followed by letters, digits"
                    " or _ (e.g. custom_cart_amount)",
                )
            )
        var_type = _dict(declaration).get("type")
        if var_type in ("string", "number", "boolean"):
            types[name] = var_type
    return types, lines


def _saved_group_problems(groups: Any) -> list[str]:
    return [
        problem(["saved_groups", name], "a saved group's id must not be empty")
        for name in _dict(groups)
        if not name.strip()
    ]


def _trigger_problems(trigger: dict[str, Any], index: int, item_kinds: dict[str, str]) -> list[str]:
    lines = []
    here: list[str | int] = ["triggers", index]
    actions = _list(trigger.get("actions"))
    types = [_dict(a).get("type") for a in actions]
    for position, action in enumerate(actions):
        action = _dict(action)
        if action.get("type") == "show_item" and (item := _str(action.get("item"))):
            kind = item_kinds.get(item)
            if kind is None:
                lines.append(
                    problem(
                        [*here, "actions", position, "item"],
                        f"unknown item {item!r}; declare it in catalog.buttons or catalog.invitations",
                    )
                )
            elif kind == "message":
                lines.append(
                    problem(
                        [*here, "actions", position, "item"],
                        f"{item!r} is an automatic message; use an automatic_message action for it",
                    )
                )
        if action.get("type") == "automatic_message" and (message := _str(action.get("message"))):
            kind = item_kinds.get(message)
            if kind != "message":
                hint = (
                    f"{message!r} is {'an' if kind == 'invitation' else 'a'} {kind};"
                    " use a show_item action for it"
                    if kind
                    else f"unknown message {message!r}; declare it in catalog.messages"
                )
                lines.append(problem([*here, "actions", position, "message"], hint))
    if actions and all(t == "automatic_message" for t in types):
        lines.append(
            problem(
                [*here, "actions"],
                "an automatic message cannot be the only action; add show_and_open_chat"
                " (it does nothing if the chat is already shown) or show an item",
            )
        )
    elif "automatic_message" in types and not _CHAT_SHOWING & set(types):
        lines.append(
            problem(
                [*here, "actions"],
                "an automatic message appears only with the chat; add show_and_open_chat,"
                " show_chat_minimized or show an item",
            )
        )
    gated = trigger.get("only_if_agents_available") is True
    policy = _dict(trigger.get("server_probability"))
    if "server_probability" in trigger and trigger["server_probability"] is not None and not gated:
        lines.append(
            problem(
                [*here, "server_probability"],
                "applies only to gated triggers; set only_if_agents_available to true or remove it",
            )
        )
    if policy.get("policy") in ("reserve", "curve") and trigger.get("queuing_factor") is not None:
        lines.append(
            problem(
                [*here, "queuing_factor"],
                f"the {policy['policy']} policy ignores the queuing factor; remove it or use the"
                " product policy",
            )
        )
    if policy.get("policy") == "curve":
        lines += _curve_problems(_list(policy.get("points")), [*here, "server_probability"])
    return lines


def _curve_problems(points: list[Any], here: list[str | int]) -> list[str]:
    lines = []
    previous: int | float | None = None
    for position, point in enumerate(points):
        x = point[0] if isinstance(point, list) and len(point) == 2 else None
        if not _is_number(x):
            previous = None
            continue
        if previous is not None and x <= previous:
            lines.append(
                problem(
                    [*here, "points", position],
                    f"points must be sorted by strictly increasing x ({x!r} after {previous!r})",
                )
            )
        previous = x
    return lines


def _condition_problems(
    trigger: dict[str, Any],
    index: int,
    variable_types: Mapping[str, str],
    saved_groups: Mapping[str, Any],
) -> list[str]:
    """Problems of the trigger's criteria and expression, from engage_lab.conditions."""
    lines = []
    criteria = trigger.get("criteria")
    if isinstance(criteria, list):
        hostile = []
        for position, criterion in enumerate(criteria):
            in_seconds = _dict(criterion).get("criterion") in TIME_GROWING_CRITERIA
            hostile += raw_value_problems(
                criterion, ["triggers", index, "criteria", position], in_seconds=in_seconds
            )
        lines += hostile
        if not hostile:  # a hostile value is not parsed: it could exhaust the recursion
            lines += check_criteria(criteria, variable_types, f"triggers[{index}].criteria")
    expression = trigger.get("expression")
    if isinstance(expression, dict):
        hostile = raw_value_problems(expression, ["triggers", index, "expression"])
        lines += hostile
        if not hostile:
            lines += check_expression(expression, saved_groups, f"triggers[{index}].expression")
    return lines


def raw_value_problems(value: Any, path: list[str | int], *, in_seconds: bool = False) -> list[str]:
    """What the engines cannot replay in a condition or saved group given as raw JSON.

    It nests at most ``MAX_NESTING`` levels; its numbers are finite and at most ``2**53``
    in magnitude; numbers under a time-growing attribute (``page.duration``,
    ``visit.duration``) or of a time-growing criterion (``in_seconds``) are seconds, at
    most ``MAX_DURATION_SECONDS``. Iterative: a hostile value cannot exhaust the recursion.

    >>> raw_value_problems({"$not": {"page.count": {"$gt": 1e40}}}, ["expression"])
    ['expression["$not"]["page.count"]["$gt"]: 1e+40 is out of range; use a value in [-9007199254740992, 9007199254740992] (2**53)']
    """
    depth = nesting_depth(value)
    if depth > MAX_NESTING:
        return [
            problem(
                path,
                f"nests {depth} levels of objects and arrays; at most {MAX_NESTING} are"
                " allowed (merge nested $and / $or into one list)",
            )
        ]
    lines = []
    stack: list[tuple[Any, list[str | int], bool]] = [(value, path, in_seconds)]
    while stack:
        item, here, seconds = stack.pop()
        if isinstance(item, dict):
            for key, child in reversed(item.items()):
                stack.append((child, [*here, key], seconds or key in TIME_GROWING_ATTRIBUTES))
        elif isinstance(item, list):
            stack.extend(
                (child, [*here, k], seconds) for k, child in reversed(list(enumerate(item)))
            )
        elif _is_number(item):
            if isinstance(item, float) and not math.isfinite(item):
                lines.append(problem(here, "must be a finite number"))
            elif seconds and abs(item) > MAX_DURATION_SECONDS:
                allowed = f"[-{MAX_DURATION_SECONDS}, {MAX_DURATION_SECONDS}] seconds (2**53 ms)"
                lines.append(problem(here, out_of_range(item, allowed)))
            elif abs(item) > MAX_NUMBER:
                lines.append(problem(here, out_of_range(item, NUMBER_RANGE)))
    return lines
