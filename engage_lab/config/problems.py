"""Problems as ``json.path: message`` lines: pydantic's errors translated, paths ordered.

Pydantic reports locations as tuples with extra segments (the tag of a discriminated
union) and messages written for programmers. Here each error becomes one line that
names the JSON path as a user writes it (``triggers[2].actions[0].item``) and says what
to do.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable, Sequence
from typing import Any, Union

from pydantic import BaseModel, ValidationError

__all__ = [
    "format_path",
    "is_well_formed_path",
    "parse_path",
    "problem",
    "problems_from_validation_error",
    "sort_problems",
]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def format_path(segments: Sequence[str | int]) -> str:
    """A JSON path as users read it.

    >>> format_path(["triggers", 2, "criteria", 0])
    'triggers[2].criteria[0]'
    >>> format_path(["saved_groups", "big spenders"])
    'saved_groups["big spenders"]'
    """
    text = ""
    for segment in segments:
        if isinstance(segment, int):
            text += f"[{segment}]"
        elif _IDENTIFIER.match(segment):
            text += f".{segment}" if text else segment
        else:
            text += '["' + segment.replace("\\", "\\\\").replace('"', '\\"') + '"]'
    return text


def problem(path: Sequence[str | int] | str, message: str) -> str:
    """One problem line: ``path: message`` (the bare message at the root)."""
    where = path if isinstance(path, str) else format_path(path)
    return f"{where}: {message}" if where else message


def _unwrap(tp: Any) -> Any:
    """Strip ``Annotated`` and ``None`` from a type until a model, container or union remains."""
    while True:
        if typing.get_origin(tp) is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if typing.get_origin(tp) in (Union, types.UnionType):
            members = [m for m in typing.get_args(tp) if m is not type(None)]
            if len(members) == 1:
                tp = members[0]
                continue
        return tp


def _union_models(tp: Any) -> list[type[BaseModel]]:
    if typing.get_origin(tp) not in (Union, types.UnionType):
        return []
    members = [_unwrap(m) for m in typing.get_args(tp)]
    return [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]


def _tag_of(model: type[BaseModel]) -> str | None:
    for field in model.model_fields.values():
        args = typing.get_args(field.annotation)
        if typing.get_origin(field.annotation) is typing.Literal and len(args) == 1:
            return str(args[0])
    return None


def _walk(root: type[BaseModel], loc: Sequence[str | int]) -> tuple[list[str | int], Any]:
    """The user-facing path of a pydantic location, and the model that holds its last key.

    Tag segments of discriminated unions (``"show_item"`` in
    ``triggers.0.actions.0.show_item.item``) are dropped.
    """
    path: list[str | int] = []
    tp: Any = root
    holder: Any = None
    for segment in loc:
        tp = _unwrap(tp)
        models = _union_models(tp)
        if models and isinstance(segment, str):
            chosen = [m for m in models if _tag_of(m) == segment]
            if chosen:
                tp = chosen[0]
                continue
        path.append(segment)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            holder = tp
            field = tp.model_fields.get(str(segment))
            tp = field.annotation if field is not None else None
        elif typing.get_origin(tp) is list:
            holder, tp = None, typing.get_args(tp)[0]
        elif typing.get_origin(tp) is dict:
            holder, tp = None, typing.get_args(tp)[1]
        else:
            holder, tp = None, None
    return path, holder


def _choices(expected: str) -> str:
    return ", ".join(re.findall(r"'([^']*)'", expected))


def _message(error: dict[str, Any], holder: Any, path: list[str | int]) -> str:
    kind, ctx = error["type"], error.get("ctx", {})
    if kind == "missing":
        return "is required; add this key"
    if kind == "extra_forbidden":
        known = list(holder.model_fields) if holder is not None else []
        close = difflib.get_close_matches(str(path[-1]), known, n=1)
        hint = f"did you mean {close[0]}?" if close else "allowed keys: " + ", ".join(known)
        return f"unknown key; {hint}" if known else "unknown key; remove it"
    if kind == "literal_error":
        if path == ["schema_version"]:
            return f"unsupported schema version {error['input']!r}; this engage_lab reads version 1"
        return "must be one of " + _choices(ctx.get("expected", ""))
    if kind == "union_tag_invalid":
        key = ctx.get("discriminator", "").strip("'")
        return f"unknown {key} {ctx.get('tag')!r}; use one of " + _choices(
            ctx.get("expected_tags", "")
        )
    if kind == "union_tag_not_found":
        return f"needs a {ctx.get('discriminator', '').strip(chr(39))} key"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a JSON object"
    if kind == "list_type":
        return "must be a JSON array"
    if kind == "string_type":
        return "must be a string"
    if kind == "bool_type":
        return "must be true or false"
    if kind == "int_type":
        return "must be a whole number"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "too_short":
        if path == ["triggers"]:
            return "at least one trigger is required (a trigger with no criteria always matches)"
        if path == ["history"]:
            return "at least one entry is required"
        if len(path) >= 1 and path[-1] == "actions":
            return "at least one action is required"
        least = ctx.get("min_length", 1)
        return "needs at least one entry" if least == 1 else f"needs at least {least} entries"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}"
    if kind == "less_than_equal":
        from engage_lab.config.limits import shown

        return f"{shown(error['input'])} is out of range; use at most {ctx.get('le')}"
    return str(error["msg"])  # our own PydanticCustomError messages are written for users


def problems_from_validation_error(root: type[BaseModel], exc: ValidationError) -> list[str]:
    """Every pydantic error of ``exc`` as a ``json.path: message`` line.

    >>> from engage_lab.config.models import Source
    >>> try:
    ...     Source.model_validate({"mode": "chat"})
    ... except ValidationError as exc:
    ...     problems_from_validation_error(Source, exc)
    ['mode: must be one of live_chat, messaging']
    """
    lines = []
    for error in exc.errors(include_url=False):
        path, holder = _walk(root, error["loc"])
        lines.append(problem(path, _message(error, holder, path)))
    return list(dict.fromkeys(lines))


_SEGMENT = re.compile(r'\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]')


def parse_path(path: str) -> list[str | int]:
    """The segments of a path written by :func:`format_path`.

    >>> parse_path('triggers[2].criteria[0]')
    ['triggers', 2, 'criteria', 0]
    """
    segments: list[str | int] = []
    for name, index, quoted in _SEGMENT.findall(path):
        if index:
            segments.append(int(index))
        else:
            segments.append(name or quoted.replace('\\"', '"').replace("\\\\", "\\"))
    return segments


def is_well_formed_path(path: str) -> bool:
    """Whether ``path`` is written as :func:`format_path` writes paths (nothing skipped).

    >>> is_well_formed_path('saved_groups["big spenders"][0]'), is_well_formed_path("triggers.1")
    (True, False)
    """
    consumed = "".join(match.group(0) for match in _SEGMENT.finditer(path))
    return bool(path) and consumed == path and not path.startswith(".")


def _field_rank(tp: Any, name: str) -> tuple[int, Any]:
    """Where ``name`` stands among the fields of ``tp`` (a model or a union of models)."""
    models = [tp] if isinstance(tp, type) and issubclass(tp, BaseModel) else _union_models(tp)
    for model in models:
        if name in model.model_fields:
            return list(model.model_fields).index(name), model.model_fields[name].annotation
    return 1_000, None  # unknown keys after the known ones


def _sort_key(line: str, root: type[BaseModel]) -> tuple[Any, ...]:
    path = line.split(": ", 1)[0] if ": " in line else ""
    key: list[Any] = []
    tp: Any = root
    for segment in parse_path(path):
        tp = _unwrap(tp)
        if isinstance(segment, int):
            key.append((segment, ""))
            tp = typing.get_args(tp)[0] if typing.get_origin(tp) is list else None
        elif typing.get_origin(tp) is dict:
            key.append((0, segment))
            tp = typing.get_args(tp)[1]
        else:
            rank, tp = _field_rank(tp, segment)
            key.append((rank, segment))
    return tuple(key)


def sort_problems(lines: Iterable[str], root: type[BaseModel]) -> list[str]:
    """Problems in document order (fields in model order, list entries by index), no repeats.

    >>> from engage_lab.config.models import ConfigFields
    >>> sort_problems(["triggers[10].id: b", "source.mode: a", "triggers[2].id: c"],
    ...               ConfigFields)
    ['source.mode: a', 'triggers[2].id: c', 'triggers[10].id: b']
    """
    unique = list(dict.fromkeys(lines))
    return sorted(unique, key=lambda line: _sort_key(line, root))
