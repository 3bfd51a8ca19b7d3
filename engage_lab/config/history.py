"""``ConfigHistory``: the configurations a source had, each with the instant it took effect.

Real histories span configuration edits; a faithful replay reads, for each page view,
the configuration in effect when it started. The file shape::

    {
      "schema_version": 1,
      "history": [
        {"effective_at": "2026-03-01T00:00:00Z", "config": {...a configuration...}},
        {"effective_at": "2026-03-15T09:30:00Z", "config": {...}}
      ]
    }

Rules: at least one entry; ``effective_at`` is an ISO 8601 instant in UTC (``Z`` or
``+00:00``) with at most millisecond precision; entries sorted by strictly increasing
``effective_at``; every configuration valid; one mode throughout (a history covers one
chat source, and a source's mode decides what its recorded events mean). Other
settings, the timezone included, may change between entries.

>>> from engage_lab.config import packaged_history
>>> h = packaged_history("history-live-chat")
>>> len(h.history)
2
>>> h.at("2026-01-01T00:00:00Z").trigger("fixed-help-button").label
'Help button (footer)'
"""

from __future__ import annotations

import bisect
import os
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import Field, PlainValidator, ValidationError, WithJsonSchema
from pydantic_core import PydanticCustomError

from engage_lab.config.configuration import _STRUCTURE_ONLY, Config, read_text
from engage_lab.config.jsontext import canonical_json, parse_json
from engage_lab.config.models import _Model
from engage_lab.config.problems import problem, problems_from_validation_error, sort_problems
from engage_lab.config.validate import semantic_problems
from engage_lab.errors import ConfigError

__all__ = [
    "ConfigHistory",
    "HistoryEntry",
    "NoConfigurationInEffectError",
    "load_any",
    "parse_instant",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class NoConfigurationInEffectError(ConfigError):
    """An instant before the first entry of a configuration history."""


def parse_instant(value: datetime | int | str) -> datetime:
    """An aware UTC datetime from an ISO 8601 string, a datetime or epoch milliseconds.

    >>> parse_instant("2026-03-01T09:30:00Z")
    datetime.datetime(2026, 3, 1, 9, 30, tzinfo=datetime.timezone.utc)
    >>> parse_instant(0).isoformat()
    '1970-01-01T00:00:00+00:00'
    """
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("a naive datetime is ambiguous; give it a timezone (UTC)")
        return value.astimezone(UTC)
    if isinstance(value, int) and not isinstance(value, bool):
        return _EPOCH + timedelta(milliseconds=value)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError(f"{value!r} has no timezone; end it with Z (UTC)")
        return parsed.astimezone(UTC)
    raise ValueError("an instant is an ISO 8601 string, an aware datetime or epoch milliseconds")


def _epoch_ms(instant: datetime) -> int:
    return (instant - _EPOCH) // timedelta(milliseconds=1)


def _utc_timestamp(value: Any) -> str:
    message = 'must be an ISO 8601 instant in UTC, such as "2026-03-01T09:30:00Z"'
    if not isinstance(value, str):
        raise PydanticCustomError("timestamp", message)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise PydanticCustomError("timestamp", message) from exc
    if parsed.tzinfo is None or parsed.utcoffset() != timedelta(0):
        raise PydanticCustomError("timestamp", message + " (Z or +00:00)")
    if parsed.microsecond % 1000:
        raise PydanticCustomError("timestamp", "must not be finer than a millisecond")
    return value


UtcTimestamp = Annotated[
    str,
    PlainValidator(_utc_timestamp),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class HistoryEntry(_Model):
    """One configuration and the instant it took effect."""

    effective_at: UtcTimestamp
    """ISO 8601 instant in UTC (`Z` or `+00:00`) from which this configuration applies."""
    config: Config
    """The configuration in effect from `effective_at` until the next entry."""

    @property
    def effective_at_ms(self) -> int:
        """``effective_at`` in epoch milliseconds."""
        return _epoch_ms(parse_instant(self.effective_at))


class ConfigHistory(_Model):
    """Configurations over time, for faithful replay of periods with edits."""

    schema_version: Literal[1]
    """Format version of this file; this engage_lab reads version 1."""
    history: Annotated[list[HistoryEntry], Field(min_length=1)]
    """Entries sorted by strictly increasing `effective_at`."""

    # --- building ---------------------------------------------------------------------

    @classmethod
    def _build(cls, data: Any) -> tuple[ConfigHistory | None, list[str]]:
        if not isinstance(data, dict):
            return None, ["the configuration history must be a JSON object"]
        if "triggers" in data and "history" not in data:
            return None, ["this is a configuration, not a history; load it with Config.load"]
        problems = _history_problems(data)
        result = None
        try:
            result = cls.model_validate(data, context={_STRUCTURE_ONLY: True})
        except ValidationError as exc:
            problems += problems_from_validation_error(cls, exc)
        problems = sort_problems(problems, cls)
        return (None if problems else result), problems

    @classmethod
    def check(cls, data: Any) -> list[str]:
        """Every problem of a history given as parsed JSON (empty when valid)."""
        return cls._build(data)[1]

    @classmethod
    def check_json(cls, text: str | bytes) -> list[str]:
        """Every problem of a history's JSON text (empty when valid); never raises."""
        data, problems = parse_json(text)
        return problems if problems else cls.check(data)

    @classmethod
    def from_dict(cls, data: Any) -> ConfigHistory:
        """A history from parsed JSON; ``ConfigError`` lists every problem."""
        result, problems = cls._build(data)
        if result is None:
            raise ConfigError(problems, headline=_headline(problems))
        return result

    @classmethod
    def from_json(cls, text: str | bytes) -> ConfigHistory:
        """A history from JSON text; ``ConfigError`` lists every problem."""
        data, problems = parse_json(text)
        if problems:
            raise ConfigError(problems, headline="invalid JSON")
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ConfigHistory:
        """A history from a JSON file; ``ConfigError`` names the file and every problem."""
        data, problems = parse_json(read_text(path))
        if not problems:
            result, problems = cls._build(data)
            if result is not None:
                return result
        raise ConfigError(
            problems,
            headline=_headline(problems, f"{os.fspath(path)}: "),
        )

    @classmethod
    def of(cls, config: Config, effective_at: str = "1970-01-01T00:00:00Z") -> ConfigHistory:
        """A one-entry history: ``config`` in effect from ``effective_at`` (default: always).

        Lets a replay take a configuration or a history alike.

        >>> from engage_lab.config import production
        >>> ConfigHistory.of(production("live_chat")).at(0).mode
        'live_chat'
        """
        return cls.from_dict(
            {
                "schema_version": 1,
                "history": [{"effective_at": effective_at, "config": config.to_dict()}],
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """The history as JSON data (only the keys that were given)."""
        return self.model_dump(mode="json", exclude_unset=True)

    def to_json(self) -> str:
        """The history as canonical JSON text."""
        return canonical_json(self.to_dict())

    # --- lookups ----------------------------------------------------------------------

    @property
    def mode(self) -> str:
        """The source mode, the same in every entry."""
        return self.history[0].config.source.mode

    def at(self, instant: datetime | int | str) -> Config:
        """The configuration in effect at ``instant`` (ISO string, aware datetime or epoch ms).

        An entry applies from its ``effective_at`` included to the next one excluded.
        Raises :class:`NoConfigurationInEffectError` before the first entry.
        """
        ms = _epoch_ms(parse_instant(instant))
        starts = [entry.effective_at_ms for entry in self.history]
        position = bisect.bisect_right(starts, ms) - 1
        if position < 0:
            raise NoConfigurationInEffectError(
                [
                    f"no configuration in effect at {instant}: the history starts at "
                    f"{self.history[0].effective_at}"
                ]
            )
        return self.history[position].config

    def segments(self) -> list[tuple[int, int | None, Config]]:
        """``(start_ms, end_ms, config)`` per entry; ``end_ms`` is excluded, ``None`` = open."""
        starts = [entry.effective_at_ms for entry in self.history]
        ends: list[int | None] = [*starts[1:], None]
        return [
            (s, e, entry.config) for s, e, entry in zip(starts, ends, self.history, strict=True)
        ]


def _headline(problems: list[str], where: str = "") -> str:
    count = len(problems)
    return f"{where}invalid configuration history ({count} problem{'s' if count != 1 else ''})"


def _history_problems(data: dict[str, Any]) -> list[str]:
    """Problems of the configurations (with their paths) and of the order and modes."""
    lines: list[str] = []
    entries = data.get("history")
    if not isinstance(entries, list):
        return lines
    previous: tuple[int, datetime] | None = None
    first_mode: tuple[int, Any] | None = None
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        config = entry.get("config")
        if isinstance(config, dict):
            prefix = f"history[{index}].config."
            lines += [prefix + line for line in semantic_problems(config)]
            mode = (
                config.get("source", {}).get("mode")
                if isinstance(config.get("source"), dict)
                else None
            )
            if mode in ("live_chat", "messaging"):
                if first_mode is None:
                    first_mode = (index, mode)
                elif mode != first_mode[1]:
                    lines.append(
                        problem(
                            ["history", index, "config", "source", "mode"],
                            f"{mode} differs from {first_mode[1]} in history[{first_mode[0]}];"
                            " a history covers one source, whose mode does not change",
                        )
                    )
        try:
            instant = parse_instant(_utc_timestamp(entry.get("effective_at")))
        except (PydanticCustomError, ValueError):
            continue  # reported by the model
        if previous is not None and instant <= previous[1]:
            lines.append(
                problem(
                    ["history", index, "effective_at"],
                    f"must be later than history[{previous[0]}].effective_at; sort the entries"
                    " by effective_at, one entry per instant",
                )
            )
        previous = (index, instant)
    return lines


def load_any(path: str | os.PathLike[str]) -> Config | ConfigHistory:
    """A configuration or a configuration history, whichever the file holds.

    A top-level ``history`` key (and no ``triggers``) marks a history. Raises
    :class:`~engage_lab.ConfigError` with every problem (its ``headline`` names the file).
    """
    data, problems = parse_json(read_text(path))
    is_history = isinstance(data, dict) and "history" in data and "triggers" not in data
    if not problems:
        result, problems = (ConfigHistory if is_history else Config)._build(data)
        if result is not None:
            return result
    what = "configuration history" if is_history else "configuration"
    count = len(problems)
    raise ConfigError(
        problems,
        headline=f"{os.fspath(path)}: invalid {what} ({count} problem{'s' if count != 1 else ''})",
    )
