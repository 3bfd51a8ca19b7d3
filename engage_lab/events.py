"""The replayed decision events: one schema, one writer, one order, one comparison.

Both engines (the reference Chat Manager and the fast engine) produce rows of
:class:`EventRecord` — exactly the columns ``engage-lab replay --out`` writes — and meet here:

=====================  ====================  ===========================================
column                 Arrow type            meaning
=====================  ====================  ===========================================
visitor_id             string                the browser
visit_id               string                the visit (null only if the history has none)
page_view_id           string                the page view
event_at               timestamp[ms, UTC]    instant of the event
event                  string                JavaScript vocabulary (``trigger_executed``…)
stage                  string                ``embedded``, ``continuation``, ``messaging``,
                                             ``configured`` or ``engagement``
trigger_id             string                configured trigger (null for stages 1–3)
item_id, item_type     string                item shown (``button`` / ``invitation``)
mode                   string                ``online`` / ``offline``
server_probability     float64               the server's answer (null where not gated)
draw                   float64               the client's draw ``u`` (null where not gated)
=====================  ====================  ===========================================

**Stages.** The four page-view stages of the Chat Manager (``embedded``,
``continuation``, ``messaging``, ``configured``) and ``engagement`` for what follows
an engagement: ``chat_engaged``, ``message_sent``, ``message_received``,
``chat_closed`` (whichever stage showed the chat).

**Order at one instant** (``docs/semantics.md``): by stage in the order above, then the
pass of the instant's fixed point in which the trigger activated (a trigger enabled by a
later trigger's action comes after that action's events: the engines give the passes,
:func:`sort_events` ``rounds``), then trigger list order (null trigger first, triggers
missing from the list after the listed ones, by id), then event: ``started``,
``trigger_activated``, ``trigger_executed``,
``item_shown``, ``button_shown`` / ``invitation_shown``, ``chat_shown``, then the
engagement side ``chat_engaged``, ``message_sent``, ``message_received``,
``chat_closed``; remaining ties by ``item_id`` (null first). The canonical order of a
whole output is ``visitor_id, event_at, page_view_id`` then that key (:func:`sort_events`).

**Decision events** are ``trigger_activated``, ``trigger_executed``, ``item_shown``,
``button_shown``, ``invitation_shown`` and ``chat_shown``: what the Chat Manager decides.
Engagement-side events are outcomes of visitors and agents, not decisions, and are left
out of :func:`compare_events` (fidelity).

>>> rec = EventRecord("v1", "v1-1", "pv1", 1_000, "trigger_activated", "configured", "t1")
>>> frame = events_to_frame([rec])
>>> str(frame["event_at"].dtype), frame.loc[0, "event_at"].isoformat()
('datetime64[ms, UTC]', '1970-01-01T00:00:01+00:00')
>>> frame_to_arrow(frame).schema == EVENTS_SCHEMA
True
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from engage_lab.data.schema import CHAT_EVENTS, ITEM_TYPES, MODES
from engage_lab.errors import EngineError

__all__ = [
    "DECISION_EVENTS",
    "EVENTS_SCHEMA",
    "EVENT_COLUMNS",
    "EVENT_RANK",
    "STAGES",
    "EventComparison",
    "EventRecord",
    "EventSchemaError",
    "compare_events",
    "conform_events",
    "events_to_frame",
    "frame_to_arrow",
    "read_events",
    "sort_events",
    "write_events",
]

#: Stages in their order at one instant.
STAGES = ("embedded", "continuation", "messaging", "configured", "engagement")
# The event names are listed once, in the data schema (CHAT_EVENTS, the product's
# vocabulary), in their order at one instant; everything here derives from that list.
_INVITATION = CHAT_EVENTS.index("invitation_shown")
#: Rank of each event at one instant within one stage and trigger: the vocabulary's order,
#: ``button_shown`` and ``invitation_shown`` (an item's kind event) sharing one rank.
EVENT_RANK: dict[str, int] = {e: k - (k >= _INVITATION) for k, e in enumerate(CHAT_EVENTS)}
#: Events that fidelity compares (the Chat Manager's decisions): ``trigger_activated``
#: through ``chat_shown``.
DECISION_EVENTS = CHAT_EVENTS[
    CHAT_EVENTS.index("trigger_activated") : CHAT_EVENTS.index("chat_shown") + 1
]

EVENTS_SCHEMA = pa.schema(
    [
        pa.field("visitor_id", pa.string()),
        pa.field("visit_id", pa.string()),
        pa.field("page_view_id", pa.string()),
        pa.field("event_at", pa.timestamp("ms", tz="UTC")),
        pa.field("event", pa.string()),
        pa.field("stage", pa.string()),
        pa.field("trigger_id", pa.string()),
        pa.field("item_id", pa.string()),
        pa.field("item_type", pa.string()),
        pa.field("mode", pa.string()),
        pa.field("server_probability", pa.float64()),
        pa.field("draw", pa.float64()),
    ]
)
#: The ``--out`` columns in order.
EVENT_COLUMNS = tuple(EVENTS_SCHEMA.names)
_STRING_COLUMNS = tuple(f.name for f in EVENTS_SCHEMA if pa.types.is_string(f.type))
_FLOAT_COLUMNS = ("server_probability", "draw")
_REQUIRED = ("visitor_id", "page_view_id", "event_at", "event", "stage")
_VOCABULARY = {"event": tuple(EVENT_RANK), "stage": STAGES, "mode": MODES, "item_type": ITEM_TYPES}


class EventSchemaError(EngineError):
    """Events that do not fit the fixed schema (missing column, bad value, sub-ms instant).

    ``problems`` lists every problem found, one line each.
    """

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def _instant_ms(value: Any) -> int:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (dt.datetime, pd.Timestamp, np.datetime64, str)):
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        ns = stamp.as_unit("ns").value
        if ns % 1_000_000:
            raise EventSchemaError([f"event_at: {value!r} is finer than a millisecond"])
        return ns // 1_000_000
    raise EventSchemaError([f"event_at: expected an instant, got {value!r}"])


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One replayed event (the ``--out`` row). ``event_at`` is milliseconds since the
    epoch, UTC (datetimes are converted; naive ones read as UTC).

    >>> EventRecord("v", "v-1", "pv", "2026-03-02T09:15:00.250Z", "chat_shown", "messaging").event_at
    1772442900250
    >>> EventRecord("v", "v-1", "pv", 0, "chat_shown", "stage 9")
    Traceback (most recent call last):
    ...
    engage_lab.events.EventSchemaError: stage: 'stage 9' is not one of ...
    """

    visitor_id: str
    visit_id: str | None
    page_view_id: str
    event_at: int
    event: str
    stage: str
    trigger_id: str | None = None
    item_id: str | None = None
    item_type: str | None = None
    mode: str | None = None
    server_probability: float | None = None
    draw: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "event_at", _instant_ms(self.event_at))
        for name, allowed in _VOCABULARY.items():
            value = getattr(self, name)
            if value is not None and value not in allowed:
                raise EventSchemaError([f"{name}: {value!r} is not one of {list(allowed)}"])
        for name in ("visitor_id", "page_view_id"):
            if not isinstance(getattr(self, name), str):
                raise EventSchemaError([f"{name}: expected a string"])


def events_to_frame(records: Iterable[EventRecord]) -> pd.DataFrame:
    """Records to a DataFrame with the schema's columns and dtypes (``str``,
    ``datetime64[ms, UTC]``, ``float64`` with NaN for null).

    >>> events_to_frame([]).columns.tolist() == list(EVENT_COLUMNS)
    True
    """
    records = list(records)
    columns = {name: [getattr(r, name) for r in records] for name in EVENT_COLUMNS}
    frame = pd.DataFrame(columns, columns=list(EVENT_COLUMNS))
    return _typed_frame(frame)


def _typed_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=range(len(frame)))
    for name in EVENT_COLUMNS:
        column = frame[name].reset_index(drop=True)
        if name == "event_at":
            ms = _event_at_ms(column)
            out[name] = pd.to_datetime(ms, unit="ms", utc=True).astype("datetime64[ms, UTC]")
        elif name in _FLOAT_COLUMNS:
            try:
                out[name] = pd.to_numeric(column, errors="raise").astype("float64")
            except (TypeError, ValueError) as err:
                raise EventSchemaError([f"{name}: not a number ({err})"]) from err
        else:
            out[name] = column.astype(object).where(column.notna(), None).astype("str")
    return out


def _event_at_ms(column: pd.Series) -> np.ndarray:
    """int64 ms of an ``event_at`` column (int ms, naive-UTC or tz-aware datetimes)."""
    if column.isna().any():
        raise EventSchemaError(["event_at: missing instants"])
    if pd.api.types.is_integer_dtype(column.dtype):
        return column.to_numpy(dtype=np.int64)
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        naive = column if column.dt.tz is None else column.dt.tz_convert("UTC").dt.tz_localize(None)
        ns = naive.dt.as_unit("ns").to_numpy().view(np.int64)
        if (ns % 1_000_000).any():
            raise EventSchemaError(["event_at: instants finer than a millisecond"])
        return ns // 1_000_000
    return np.array([_instant_ms(v) for v in column], dtype=np.int64)


def _check_frame(frame: pd.DataFrame, drop_extra: bool) -> None:
    problems = [f"{name}: missing column" for name in EVENT_COLUMNS if name not in frame]
    extra = [name for name in frame.columns if name not in EVENT_COLUMNS]
    if extra and not drop_extra:
        problems.append(f"unexpected columns {extra} (pass drop_extra=True to drop them)")
    if problems:
        raise EventSchemaError(problems)
    for name in _REQUIRED:
        if frame[name].isna().any():
            problems.append(f"{name}: null in {int(frame[name].isna().sum())} rows")
    for name, allowed in _VOCABULARY.items():
        bad = sorted(set(frame[name].dropna().unique()) - set(allowed))
        if bad:
            problems.append(f"{name}: {bad} not in {list(allowed)}")
    if problems:
        raise EventSchemaError(problems)


def conform_events(frame: pd.DataFrame, *, drop_extra: bool = False) -> pd.DataFrame:
    """Check any engine's events frame and return it with the schema's columns and dtypes
    (the same frame :func:`events_to_frame` builds; ``event_at`` may come as int ms,
    naive-UTC or tz-aware datetimes of any unit).

    >>> f = pd.DataFrame({"visitor_id": ["v"], "visit_id": ["v-1"], "page_view_id": ["pv"],
    ...     "event_at": [1500], "event": ["chat_shown"], "stage": ["messaging"],
    ...     "trigger_id": [None], "item_id": [None], "item_type": [None], "mode": [None],
    ...     "server_probability": [None], "draw": [None]})
    >>> conform_events(f).dtypes["event_at"]
    datetime64[ms, UTC]
    """
    _check_frame(frame, drop_extra)
    return _typed_frame(frame)


def frame_to_arrow(frame: pd.DataFrame, *, drop_extra: bool = False) -> pa.Table:
    """A frame of events to an Arrow table with exactly :data:`EVENTS_SCHEMA`.

    Values are checked (vocabulary, required columns, whole milliseconds); extra columns
    are refused unless ``drop_extra``.

    >>> frame_to_arrow(pd.DataFrame({"visitor_id": ["v"]}))
    Traceback (most recent call last):
    ...
    engage_lab.events.EventSchemaError: visit_id: missing column
    ...
    """
    typed = conform_events(frame, drop_extra=drop_extra)
    arrays = [pa.array(typed[f.name], type=f.type, from_pandas=True) for f in EVENTS_SCHEMA]
    return pa.Table.from_arrays(arrays, schema=EVENTS_SCHEMA)


def write_events(
    events: pd.DataFrame | Iterable[EventRecord], path: str | Path, *, drop_extra: bool = False
) -> Path:
    """Write events to Parquet with the fixed Arrow schema (same input, same bytes).

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "events.parquet"
    >>> _ = write_events([EventRecord("v", "v-1", "pv", 5, "chat_shown", "messaging")], out)
    >>> read_events(out).loc[0, "stage"]
    'messaging'
    """
    frame = events if isinstance(events, pd.DataFrame) else events_to_frame(events)
    table = frame_to_arrow(frame, drop_extra=drop_extra)
    target = Path(path)
    pq.write_table(table, target)
    return target


def read_events(path: str | Path) -> pd.DataFrame:
    """Read an events Parquet file, checking its schema is exactly :data:`EVENTS_SCHEMA`."""
    table = pq.read_table(path)
    if not table.schema.equals(EVENTS_SCHEMA, check_metadata=False):
        raise EventSchemaError([f"{path}: schema {table.schema} is not the events schema"])
    return _typed_frame(table.to_pandas())


# ------------------------------------------------------------------ order


def _order_keys(
    frame: pd.DataFrame,
    trigger_order: Sequence[str] | Mapping[str, int] | None,
    rounds: Sequence[int] | np.ndarray | None = None,
):
    ranks = (
        dict(trigger_order)
        if isinstance(trigger_order, Mapping)
        else {t: i for i, t in enumerate(trigger_order or ())}
    )
    unknown_rank = max(ranks.values(), default=-1) + 1
    triggers = frame["trigger_id"]
    known = triggers.astype(object).map(ranks).astype("float64").fillna(unknown_rank)
    trigger_rank = known.where(triggers.notna(), -1)
    stage_rank = frame["stage"].map({s: i for i, s in enumerate(STAGES)})
    event_rank = frame["event"].map(EVENT_RANK)
    if stage_rank.isna().any() or event_rank.isna().any():
        raise EventSchemaError(["stage/event: values outside the vocabulary cannot be ordered"])
    return pd.DataFrame(
        {
            "visitor_id": frame["visitor_id"].astype(str).to_numpy(),
            "event_at": _event_at_ms(frame["event_at"]),
            "page_view_id": frame["page_view_id"].astype(str).to_numpy(),
            "stage": stage_rank.to_numpy(dtype=np.int64),
            "round": _rounds(rounds, len(frame)),
            "trigger_rank": trigger_rank.to_numpy(dtype=np.int64),
            "trigger_id": triggers.fillna("").astype(str).to_numpy(),
            "event": event_rank.to_numpy(dtype=np.int64),
            "item_id": frame["item_id"].fillna("").astype(str).to_numpy(),
            "has_item": frame["item_id"].notna().to_numpy(),
        }
    )


def _rounds(rounds: Sequence[int] | np.ndarray | None, n: int) -> np.ndarray:
    if rounds is None:
        return np.zeros(n, np.int64)
    out = np.asarray(rounds, dtype=np.int64)
    if out.shape != (n,):
        raise EventSchemaError([f"rounds: {out.shape[0] if out.ndim else 0} values for {n} events"])
    return out


def sort_events(
    frame: pd.DataFrame,
    trigger_order: Sequence[str] | Mapping[str, int] | None = None,
    *,
    rounds: Sequence[int] | np.ndarray | None = None,
) -> pd.DataFrame:
    """Put any engine's events into the canonical order (see the module docstring).

    ``trigger_order`` is the configured list of trigger ids (or ``{trigger_id: rank}``).
    ``rounds`` gives, per row, the pass of the fixed point at its instant in which its
    trigger activated (0: the first pass; None: 0 for every row): the events of a trigger
    that a later trigger's action enabled come after that action's events. The sort is
    stable; the index is reset.

    >>> rows = [EventRecord("v", "v-1", "pv", 0, e, "configured", t)
    ...         for e, t in [("trigger_executed", "t2"), ("trigger_activated", "t2"),
    ...                      ("trigger_activated", "t1")]]
    >>> sort_events(events_to_frame(rows), ["t1", "t2"])[["event", "trigger_id"]].values.tolist()
    [['trigger_activated', 't1'], ['trigger_activated', 't2'], ['trigger_executed', 't2']]
    >>> later = sort_events(events_to_frame(rows), ["t1", "t2"], rounds=[0, 0, 1])
    >>> later[["event", "trigger_id"]].values.tolist()
    [['trigger_activated', 't2'], ['trigger_executed', 't2'], ['trigger_activated', 't1']]
    """
    keys = _order_keys(frame, trigger_order, rounds)
    by = [
        "visitor_id",
        "event_at",
        "page_view_id",
        "stage",
        "round",
        "trigger_rank",
        "trigger_id",
        "event",
        "has_item",
        "item_id",
    ]
    order = keys.sort_values(by, kind="stable").index.to_numpy()
    return frame.iloc[order].reset_index(drop=True)


# ------------------------------------------------------------------ comparison

_COMPARED = ("page_view_id", "event_at", "event", "trigger_id", "item_id", "mode")
_NULL = "\x00null"  # stands for null in grouping keys; no id contains a NUL character


class EventComparison(NamedTuple):
    """Result of :func:`compare_events`.

    ``matching``: page views whose decision events agree; ``mismatches``: one row per
    differing event key (``page_view_id, event_at, event, trigger_id, item_id, mode,
    count_a, count_b``), sorted by page view and instant; ``page_views``: all page views
    compared. ``fidelity`` = share of ``page_views`` that match (1.0 when there are none).
    """

    matching: frozenset[str]
    mismatches: pd.DataFrame
    page_views: frozenset[str]

    @property
    def fidelity(self) -> float:
        return 1.0 if not self.page_views else len(self.matching) / len(self.page_views)

    @property
    def mismatched(self) -> frozenset[str]:
        return self.page_views - self.matching


def _decision_counts(frame: pd.DataFrame, side: str) -> pd.DataFrame:
    decisions = frame[frame["event"].isin(DECISION_EVENTS)]
    keys = pd.DataFrame(
        {
            name: (
                _event_at_ms(decisions[name])
                if name == "event_at"
                else decisions[name].astype(object).where(decisions[name].notna(), _NULL)
            )
            for name in _COMPARED
        }
    )
    counts = keys.groupby(list(_COMPARED), sort=False).size()
    return counts.rename(f"count_{side}").reset_index()


def compare_events(
    a: pd.DataFrame, b: pd.DataFrame, page_view_ids: Iterable[str] | None = None
) -> EventComparison:
    """Compare two engines' (or a replay's and the recording's) decision events.

    A page view matches when its decision events — event, trigger, item, mode and
    instant (to the millisecond) — are the same multiset on both sides. Page views
    compared: every page view in ``a`` or ``b`` plus ``page_view_ids`` (pass all replayed
    page views so those without any event count as matching).

    >>> rows = [EventRecord("v", "v-1", "pv1", 10, "chat_shown", "messaging"),
    ...         EventRecord("v", "v-1", "pv2", 20, "chat_shown", "messaging")]
    >>> a = events_to_frame(rows)
    >>> b = a.copy(); b.loc[1, "event_at"] += pd.Timedelta(milliseconds=1)
    >>> result = compare_events(a, b)
    >>> sorted(result.matching), result.fidelity, len(result.mismatches)
    (['pv1'], 0.5, 2)
    """
    for side in (a, b):
        missing = [c for c in (*_COMPARED, "event") if c not in side]
        if missing:
            raise EventSchemaError([f"{c}: missing column" for c in missing])
    merged = _decision_counts(a, "a").merge(
        _decision_counts(b, "b"), on=list(_COMPARED), how="outer"
    )
    merged[["count_a", "count_b"]] = merged[["count_a", "count_b"]].fillna(0).astype(np.int64)
    diff = merged[merged["count_a"] != merged["count_b"]].copy()
    page_views = (
        set(a["page_view_id"].dropna().astype(str).unique())
        | set(b["page_view_id"].dropna().astype(str).unique())
        | {str(p) for p in (page_view_ids or ())}
    )
    bad = set(diff["page_view_id"].astype(str).unique())
    for name in _COMPARED:
        if name != "event_at":
            diff[name] = diff[name].where(diff[name] != _NULL, None)
    diff["event_rank"] = diff["event"].map(EVENT_RANK)
    diff = diff.sort_values(
        ["page_view_id", "event_at", "event_rank", "trigger_id", "item_id"],
        kind="stable",
        na_position="first",
    )
    diff["event_at"] = pd.to_datetime(diff["event_at"].astype(np.int64), unit="ms", utc=True)
    mismatches = diff.drop(columns="event_rank").reset_index(drop=True)
    return EventComparison(frozenset(page_views - bad), mismatches, frozenset(page_views))


assert tuple(f.name for f in fields(EventRecord)) == EVENT_COLUMNS, "fields = --out columns"
