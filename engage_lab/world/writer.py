"""JSON Lines output: one file per table, exact and deterministic formatting, fast.

Lines are assembled from per-column JSON fragments (``,"key":value``) built with numpy
and list comprehensions, in chunks, so output is byte-for-byte reproducible and its
format is ours: compact separators, keys in schema order after ``type`` and ``id``,
timestamps ``YYYY-MM-DDTHH:MM:SS.mmmZ``, UTF-8, optional fields omitted when absent
(never written as ``null``), one record a line ending in ``\\n``.

>>> import numpy as np
import pandas as pd
>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "x.jsonl"
>>> ids = IdColumn("id", np.array([1, 2]), "s1-x-", 3)
>>> write_jsonl(path, "x", ids, [TimeColumn("at_ms", np.array([0, 1250]))], 2)
2
>>> print(path.read_text(), end="")
{"type":"x","id":"s1-x-001","at_ms":"1970-01-01T00:00:00.000Z"}
{"type":"x","id":"s1-x-002","at_ms":"1970-01-01T00:00:01.250Z"}
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "BoolColumn",
    "CodeColumn",
    "FragmentColumn",
    "IdColumn",
    "IntColumn",
    "TextColumn",
    "TextIdColumn",
    "TimeColumn",
    "format_ms",
    "frame_columns",
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


def _escape(text: str) -> str:
    """Literal text for a %-format template."""
    return text.replace("%", "%%")


# Each column gives a piece of a %-format line template and the values for its
# placeholders: one C-level ``template % row`` per line is the fast path in Python.


_SECONDS_OF_DAY: list[str] = []


def _time_parts(ms: np.ndarray) -> tuple[list[str], list[str], list[int]]:
    """Date, ``HH:MM:SS`` and milliseconds of each instant, from small lookup tables
    (several times faster than formatting each instant)."""
    if not _SECONDS_OF_DAY:
        _SECONDS_OF_DAY.extend(
            f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400)
        )
    if len(ms) == 0:
        return [], [], []
    day, rest = np.divmod(np.asarray(ms, dtype=np.int64), 86_400_000)
    first = int(day.min())
    dates = np.datetime_as_string(
        np.arange(first, int(day.max()) + 1).astype("datetime64[D]"), "D"
    ).tolist()
    second, milli = np.divmod(rest, 1000)
    table = _SECONDS_OF_DAY
    return (
        [dates[d] for d in (day - first).tolist()],
        [table[x] for x in second.tolist()],
        milli.tolist(),
    )


@dataclass(frozen=True, slots=True)
class TimeColumn:
    """A timestamp column in integer milliseconds; ``present`` False omits the field."""

    name: str
    ms: np.ndarray
    present: np.ndarray | None = None

    @property
    def piece(self) -> str:
        if self.present is not None:
            return "%s"
        return _escape(_key(self.name)) + '"%sT%s.%03dZ"'

    def values(self, lo: int, hi: int) -> list[list]:
        dates, clock, milli = _time_parts(self.ms[lo:hi])
        if self.present is None:
            return [dates, clock, milli]
        key = _key(self.name)
        keep = self.present[lo:hi].tolist()
        return [
            [
                f'{key}"{d}T{c}.{m:03d}Z"' if k else ""
                for d, c, m, k in zip(dates, clock, milli, keep, strict=True)
            ]
        ]


@dataclass(frozen=True, slots=True)
class IdColumn:
    """A reference to generated ids ``{prefix}{number:0{width}d}``; a negative number omits it."""

    name: str
    numbers: np.ndarray
    prefix: str
    width: int

    @property
    def _all_present(self) -> bool:
        return len(self.numbers) == 0 or int(self.numbers.min()) >= 0

    @property
    def piece(self) -> str:
        if self._all_present:
            return _escape(f'{_key(self.name)}"{self.prefix}') + f'%0{self.width}d"'
        return "%s"

    def values(self, lo: int, hi: int) -> list[list]:
        numbers = self.numbers[lo:hi].tolist()
        if self._all_present:
            return [numbers]
        head, w = f'{_key(self.name)}"{self.prefix}', self.width
        return [[f'{head}{n:0{w}d}"' if n >= 0 else "" for n in numbers]]


@dataclass(frozen=True, slots=True)
class CodeColumn:
    """Values from a small table of JSON values by code; code -1 (or a None value) omits it."""

    name: str
    codes: np.ndarray
    table: Sequence[object]
    #: the table's ``,"key":value`` fragments, then "" for code -1 (formatted once)
    fragments: list[str] = field(init=False, repr=False, compare=False)

    piece = "%s"

    def __post_init__(self) -> None:
        key = _key(self.name)
        fragments = [
            "" if v is None else key + json.dumps(v, ensure_ascii=False, separators=(",", ":"))
            for v in self.table
        ]
        fragments.append("")  # code -1
        object.__setattr__(self, "fragments", fragments)

    def values(self, lo: int, hi: int) -> list[list]:
        fragments = self.fragments
        return [[fragments[c] for c in self.codes[lo:hi].tolist()]]


@dataclass(frozen=True, slots=True)
class FragmentColumn:
    """Several fields at once: a table of ready ``,"key":value...`` fragments by code.

    Used where a few consecutive fields depend on one small code (a page's URL, path and
    title), so each line looks one thing up instead of several.
    """

    codes: np.ndarray
    fragments: Sequence[str]

    piece = "%s"

    def values(self, lo: int, hi: int) -> list[list]:
        table = list(self.fragments)
        return [[table[c] for c in self.codes[lo:hi].tolist()]]


@dataclass(frozen=True, slots=True)
class BoolColumn:
    """A boolean column."""

    name: str
    flags: np.ndarray

    @property
    def piece(self) -> str:
        return _escape(_key(self.name)) + "%s"

    def values(self, lo: int, hi: int) -> list[list]:
        return [[("false", "true")[v] for v in self.flags[lo:hi].tolist()]]


@dataclass(frozen=True, slots=True)
class IntColumn:
    """An integer column."""

    name: str
    numbers: np.ndarray

    @property
    def piece(self) -> str:
        return _escape(_key(self.name)) + "%d"

    def values(self, lo: int, hi: int) -> list[list]:
        return [self.numbers[lo:hi].tolist()]


@dataclass(frozen=True, slots=True)
class TextColumn:
    """Preformatted JSON values (one string per row); an empty string omits the field."""

    name: str
    texts: Sequence[str]

    piece = "%s"

    def values(self, lo: int, hi: int) -> list[list]:
        key = _key(self.name)
        return [[key + v if v else "" for v in self.texts[lo:hi]]]


@dataclass(frozen=True, slots=True)
class TextIdColumn:
    """Record ids given as strings (instead of generated numbers)."""

    name: str
    ids: Sequence[str]

    piece = "%s"

    def values(self, lo: int, hi: int) -> list[list]:
        return [[json.dumps(i, ensure_ascii=False) for i in self.ids[lo:hi]]]


Column = TimeColumn | IdColumn | CodeColumn | FragmentColumn | BoolColumn | IntColumn | TextColumn


def frame_columns(
    columns: Sequence[tuple[str, str]],
    frame: pd.DataFrame,
    offsets_ms: np.ndarray | None = None,
    shifted: tuple[str, ...] = (),
) -> list[Column]:
    """The writer's columns of a frame: ``columns`` are ``(name, SQL type)`` in output
    order (those absent from the frame are skipped); missing values (None, NaN, NaT)
    omit the field; the ``shifted`` timestamps get ``offsets_ms`` added (browser clocks).

    Values are written as JSON: timestamps as ISO instants, booleans, integers, doubles
    by ``repr``, anything else as the JSON string of ``str(value)``; each column's
    distinct values are formatted once.
    """
    out: list[Column] = []
    for name, sql_type in columns:
        if name not in frame:
            continue
        col = frame[name]
        present = col.notna().to_numpy()
        if sql_type == "TIMESTAMP":
            ms = np.zeros(len(col), np.int64)
            if present.any():
                ms[present] = col[present].astype("datetime64[ms, UTC]").astype("int64").to_numpy()
            if name in shifted and offsets_ms is not None:
                ms = ms + np.asarray(offsets_ms, np.int64)
            out.append(TimeColumn(name, ms, None if present.all() else present))
        elif sql_type == "DOUBLE":
            values = col.to_numpy(np.float64, na_value=np.nan)
            out.append(TextColumn(name, [repr(v) if v == v else "" for v in values.tolist()]))
        elif sql_type in ("BIGINT", "INTEGER"):
            texts = [str(int(v)) if k else "" for v, k in zip(col.tolist(), present, strict=True)]
            out.append(TextColumn(name, texts))
        else:
            codes, uniques = pd.factorize(col, use_na_sentinel=True)
            if sql_type == "BOOLEAN":
                table: list[object] = [bool(u) for u in uniques]
            else:
                table = [str(u) for u in uniques]
            out.append(CodeColumn(name, np.asarray(codes, np.int64), table))
    return out


def write_jsonl(
    path: Path,
    record_type: str,
    ids: IdColumn | TextIdColumn,
    columns: Sequence[Column],
    rows: int,
    advance: Callable[[int], None] | None = None,
    *,
    append: bool = False,
) -> int:
    """Write ``rows`` records of ``record_type`` to ``path``; return the row count.

    ``ids`` gives each record's ``id`` (its name is ignored); ``columns`` follow in order.
    ``advance(n)`` is called after each chunk (progress). ``append``: add to the file.
    """
    if isinstance(ids, TextIdColumn):
        head = _escape(f'{{"type":"{record_type}","id":') + "%s"
    else:
        head = _escape(f'{{"type":"{record_type}","id":"{ids.prefix}') + f'%0{ids.width}d"'
    template = head + "".join(c.piece for c in columns) + "}\n"
    with open(path, "a" if append else "w", encoding="utf-8", newline="\n") as fh:
        for lo in range(0, rows, CHUNK_ROWS):
            hi = min(lo + CHUNK_ROWS, rows)
            parts = (
                ids.values(lo, hi)
                if isinstance(ids, TextIdColumn)
                else [ids.numbers[lo:hi].tolist()]
            )
            for column in columns:
                parts += column.values(lo, hi)
            fh.write("".join(map(template.__mod__, zip(*parts, strict=True))))
            if advance is not None:
                advance(hi - lo)
    return rows


def write_json(path: Path, obj: object) -> None:
    """Deterministic pretty JSON (keys in insertion order, UTF-8, final newline)."""
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
