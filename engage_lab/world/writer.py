"""JSON Lines output: one file per table, exact and deterministic formatting, fast.

Lines are assembled from per-column JSON fragments (``,"key":value``) built with numpy
and list comprehensions, in chunks, so output is byte-for-byte reproducible and its
format is ours: compact separators, keys in schema order after ``type`` and ``id``,
timestamps ``YYYY-MM-DDTHH:MM:SS.mmmZ``, UTF-8, optional fields omitted when absent
(never written as ``null``), one record a line ending in ``\\n``.

>>> import numpy as np
>>> ts = TimeColumn("started_at", np.array([0, 1250], np.int64))
>>> ts.fragments(0, 2)
[',"started_at":"1970-01-01T00:00:00.000Z"', ',"started_at":"1970-01-01T00:00:01.250Z"']
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "BoolColumn",
    "CodeColumn",
    "IdColumn",
    "IntColumn",
    "TextColumn",
    "TimeColumn",
    "format_ms",
    "write_jsonl",
]

CHUNK_ROWS = 200_000


def format_ms(ms: np.ndarray) -> list[str]:
    """ISO 8601 UTC strings with milliseconds and a ``Z`` for integer milliseconds.

    >>> format_ms(np.array([1772443800250]))
    ['2026-03-02T09:30:00.250Z']
    """
    text = np.datetime_as_string(np.asarray(ms, dtype=np.int64).astype("datetime64[ms]"), "ms")
    return [s + "Z" for s in text.tolist()]


def _key(name: str) -> str:
    return f',"{name}":'


@dataclass(frozen=True, slots=True)
class TimeColumn:
    """A timestamp column in integer milliseconds; ``present`` False omits the field."""

    name: str
    ms: np.ndarray
    present: np.ndarray | None = None

    def fragments(self, lo: int, hi: int) -> list[str]:
        key = _key(self.name)
        text = np.datetime_as_string(self.ms[lo:hi].astype("datetime64[ms]"), "ms").tolist()
        if self.present is None:
            return [f'{key}"{s}Z"' for s in text]
        keep = self.present[lo:hi].tolist()
        return [f'{key}"{s}Z"' if k else "" for s, k in zip(text, keep, strict=True)]


@dataclass(frozen=True, slots=True)
class IdColumn:
    """A reference to generated ids ``{prefix}{number:0{width}d}``; a negative number omits it."""

    name: str
    numbers: np.ndarray
    prefix: str
    width: int

    def fragments(self, lo: int, hi: int) -> list[str]:
        head = f'{_key(self.name)}"{self.prefix}'
        w = self.width
        return [f'{head}{n:0{w}d}"' if n >= 0 else "" for n in self.numbers[lo:hi].tolist()]


@dataclass(frozen=True, slots=True)
class CodeColumn:
    """Values from a small table of JSON values by code; code -1 (or a None value) omits it."""

    name: str
    codes: np.ndarray
    values: Sequence[object]

    def fragments(self, lo: int, hi: int) -> list[str]:
        key = _key(self.name)
        table = [
            "" if v is None else key + json.dumps(v, ensure_ascii=False, separators=(",", ":"))
            for v in self.values
        ]
        table.append("")  # code -1
        return [table[c] for c in self.codes[lo:hi].tolist()]


@dataclass(frozen=True, slots=True)
class BoolColumn:
    """A boolean column."""

    name: str
    values: np.ndarray

    def fragments(self, lo: int, hi: int) -> list[str]:
        yes, no = _key(self.name) + "true", _key(self.name) + "false"
        return [yes if v else no for v in self.values[lo:hi].tolist()]


@dataclass(frozen=True, slots=True)
class IntColumn:
    """An integer column."""

    name: str
    values: np.ndarray

    def fragments(self, lo: int, hi: int) -> list[str]:
        key = _key(self.name)
        return [f"{key}{v}" for v in self.values[lo:hi].tolist()]


@dataclass(frozen=True, slots=True)
class TextColumn:
    """Preformatted JSON values (one string per row); an empty string omits the field."""

    name: str
    values: Sequence[str]

    def fragments(self, lo: int, hi: int) -> list[str]:
        key = _key(self.name)
        return [key + v if v else "" for v in self.values[lo:hi]]


def write_jsonl(
    path: Path,
    record_type: str,
    ids: IdColumn,
    columns: Sequence[TimeColumn | IdColumn | CodeColumn | BoolColumn | IntColumn | TextColumn],
    rows: int,
    advance: Callable[[int], None] | None = None,
) -> int:
    """Write ``rows`` records of ``record_type`` to ``path``; return the row count.

    ``ids`` gives each record's ``id`` (its fragment key is ignored); ``columns`` follow in
    order. ``advance(n)`` is called after each chunk (progress).
    """
    head = f'{{"type":"{record_type}","id":"{ids.prefix}'
    width = ids.width
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for lo in range(0, rows, CHUNK_ROWS):
            hi = min(lo + CHUNK_ROWS, rows)
            parts = [c.fragments(lo, hi) for c in columns]
            numbers = ids.numbers[lo:hi].tolist()
            lines = [
                f'{head}{n:0{width}d}"' + "".join(frags) + "}\n"
                for n, *frags in zip(numbers, *parts, strict=True)
            ]
            fh.write("".join(lines))
            if advance is not None:
                advance(hi - lo)
    return rows


def write_json(path: Path, obj: object) -> None:
    """Deterministic pretty JSON (keys in insertion order, UTF-8, final newline)."""
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
