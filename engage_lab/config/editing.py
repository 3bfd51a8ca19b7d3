"""Validated edits of a configuration: each returns new JSON data for ``Config`` to check.

A ``Config`` is immutable and valid whenever it exists; its edit methods
(:meth:`~engage_lab.config.Config.edit`, ``with_threshold``, ``move_trigger`` …) build
the edited JSON data here and validate it as a whole, so an edit that would leave the
configuration invalid raises :class:`~engage_lab.ConfigError` naming the JSON path
(``triggers[1].criteria[2].value: must be a number``), as ``engage-lab validate`` does.
Functions here take and return plain JSON data; they never build a ``Config``.

>>> data = {"triggers": [{"id": "a"}, {"id": "b"}, {"id": "c"}]}
>>> [t["id"] for t in moved(data, "c", 0)["triggers"]]
['c', 'a', 'b']
>>> set_at({"source": {"mode": "live_chat"}}, "source.queuing_factor", 0.5)
{'source': {'mode': 'live_chat', 'queuing_factor': 0.5}}
"""

from __future__ import annotations

import copy
from typing import Any

from engage_lab.config.problems import format_path, is_well_formed_path, parse_path, problem
from engage_lab.errors import ConfigError

__all__ = [
    "criterion_path",
    "deleted_at",
    "duplicated",
    "moved",
    "set_at",
    "trigger_index",
]


def _segments(path: str | list[str | int]) -> list[str | int]:
    segments = parse_path(path) if isinstance(path, str) else list(path)
    if not segments:
        raise ConfigError(["the path is empty; name a key such as source.queuing_factor"])
    if isinstance(path, str) and not is_well_formed_path(path):
        raise ConfigError(
            [f"cannot read the path {path!r}; write it as messages do, e.g. triggers[1].label"]
        )
    return segments


def _parent(data: Any, segments: list[str | int]) -> Any:
    """The container holding the last segment (every segment before it must exist)."""
    here = data
    for depth in range(len(segments) - 1):
        here = _child(here, segments, depth)
    return here


def _child(here: Any, segments: list[str | int], depth: int) -> Any:
    segment = segments[depth]
    where = format_path(segments[: depth + 1])
    if isinstance(here, list) and isinstance(segment, int):
        if 0 <= segment < len(here):
            return here[segment]
        raise ConfigError([problem(where, f"no such entry; the list has {len(here)}")])
    if isinstance(here, dict) and isinstance(segment, str):
        if segment in here:
            return here[segment]
        raise ConfigError([problem(where, "no such key in this configuration")])
    raise ConfigError([problem(where, "no such key or entry in this configuration")])


def set_at(data: dict[str, Any], path: str | list[str | int], value: Any) -> dict[str, Any]:
    """A copy of ``data`` with ``value`` at ``path`` (a key may be new, an entry must exist).

    >>> set_at({"a": [1, 2]}, "a[1]", 5)
    {'a': [1, 5]}
    """
    result = copy.deepcopy(data)
    segments = _segments(path)
    parent = _parent(result, segments)
    last = segments[-1]
    if (isinstance(parent, dict) and isinstance(last, str)) or (
        isinstance(parent, list) and isinstance(last, int) and 0 <= last < len(parent)
    ):
        parent[last] = copy.deepcopy(value)
    else:
        _child(parent, segments, len(segments) - 1)  # raises, naming the path
    return result


def deleted_at(data: dict[str, Any], path: str | list[str | int]) -> dict[str, Any]:
    """A copy of ``data`` without the key or list entry at ``path``.

    >>> deleted_at({"a": [1, 2], "b": 3}, "a[0]"), deleted_at({"b": 3}, "b")
    ({'a': [2], 'b': 3}, {})
    """
    result = copy.deepcopy(data)
    segments = _segments(path)
    parent = _parent(result, segments)
    _child(parent, segments, len(segments) - 1)  # must exist
    del parent[segments[-1]]
    return result


def trigger_index(data: dict[str, Any], trigger_id: str) -> int:
    """The position of the trigger ``trigger_id`` (``ConfigError`` listing the ids if none)."""
    ids = [t.get("id") for t in data.get("triggers", [])]
    if trigger_id in ids:
        return ids.index(trigger_id)
    raise ConfigError(
        [problem("triggers", f"no trigger {trigger_id!r}; the ids are " + ", ".join(map(str, ids)))]
    )


def moved(data: dict[str, Any], trigger_id: str, to: int) -> dict[str, Any]:
    """A copy with the trigger moved to position ``to`` (0 first; negative from the end)."""
    result = copy.deepcopy(data)
    triggers = result["triggers"]
    count = len(triggers)
    if not -count <= to < count:
        raise ConfigError(
            [
                problem(
                    "triggers", f"no position {to}; there are {count} triggers (0 to {count - 1})"
                )
            ]
        )
    trigger = triggers.pop(trigger_index(data, trigger_id))
    triggers.insert(to % count, trigger)
    return result


def duplicated(
    data: dict[str, Any], trigger_id: str, new_id: str, label: str | None
) -> dict[str, Any]:
    """A copy with a copy of the trigger, under ``new_id``, right after the original."""
    result = copy.deepcopy(data)
    index = trigger_index(data, trigger_id)
    twin = copy.deepcopy(result["triggers"][index])
    twin["id"] = new_id
    if label is not None:
        twin["label"] = label
    result["triggers"].insert(index + 1, twin)
    return result


def criterion_path(data: dict[str, Any], trigger_id: str, criterion: int | str) -> list[str | int]:
    """The path of the value a threshold edit sets.

    ``criterion`` is the criterion's position in ``criteria``, its criterion id when the
    trigger has exactly one criterion of that id, or a path inside the trigger
    (``criteria[1].value``, ``expression["page.count"]["$gte"]``).

    >>> data = {"triggers": [{"id": "t", "criteria": [{"criterion": "page_path"},
    ...     {"criterion": "page_visit_duration", "operator": "gte", "value": 30}]}]}
    >>> format_path(criterion_path(data, "t", "page_visit_duration"))
    'triggers[0].criteria[1].value'
    """
    index = trigger_index(data, trigger_id)
    here: list[str | int] = ["triggers", index]
    criteria = data["triggers"][index].get("criteria") or []
    if isinstance(criterion, int) and not isinstance(criterion, bool):
        if not 0 <= criterion < len(criteria):
            raise ConfigError(
                [
                    problem(
                        [*here, "criteria"],
                        f"no criterion {criterion}; the trigger has {len(criteria)}",
                    )
                ]
            )
        return [*here, "criteria", criterion, "value"]
    if criterion.startswith(("criteria[", "expression")):
        return [*here, *_segments(criterion)]
    matches = [k for k, c in enumerate(criteria) if c.get("criterion") == criterion]
    if len(matches) == 1:
        return [*here, "criteria", matches[0], "value"]
    what = "no criterion" if not matches else f"{len(matches)} criteria"
    raise ConfigError(
        [
            problem(
                [*here, "criteria"],
                f"{what} {criterion!r}; name it by its position"
                + (f" ({', '.join(map(str, matches))})" if matches else ""),
            )
        ]
    )
