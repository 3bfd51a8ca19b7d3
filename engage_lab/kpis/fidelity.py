"""Fidelity: the replayed decision events against the recorded ones, per page view.

A page view matches when its decision events — event, trigger, item, mode and instant
(to the millisecond) — are the same multiset on both sides (:data:`DECISION_EVENTS`;
engagement-side events are outcomes, not decisions). :func:`compare_codes` compares
coded events: a 64-bit sum of mixed keys per page view and side finds the page views
that differ in one linear pass; only those are compared key by key, on demand.

Equal multisets of keys give equal sums, so a page view whose sums (or counts) differ
does differ: the pass finds no false mismatch, and the key-by-key comparison (the
mismatch table) waits until it is read. A tuning loop compares many replays with one
recording: :func:`decision_sums` of the recording is computed once and handed to
:func:`compare_codes` (``recorded_sums``), which then reads only the replay's events.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
import pandas as pd

from engage_lab import tiers
from engage_lab.availability.state import to_ms_array
from engage_lab.events import DECISION_EVENTS, EVENT_RANK, STAGES
from engage_lab.kpis.coded import (
    EVENTS,
    MODES,
    STAGE_SHIFT,
    CodedEvents,
    PageTable,
    code_of,
    decode,
)
from engage_lab.tiers import tiered

__all__ = [
    "Comparison",
    "compare_codes",
    "compare_recorded",
    "decision_sums",
    "fidelity_mismatches",
    "infer_stages",
    "recorded_as_events",
]

_ENGAGEMENT_EVENTS = ("chat_engaged", "message_sent", "message_received", "chat_closed")
_DECISION_CODES = np.array([code_of(e) for e in DECISION_EVENTS], np.int64)
_NO_STAGE = ~(0x7 << STAGE_SHIFT) & 0x7FFFFFFF


def _ms(column: pd.Series) -> np.ndarray:
    return to_ms_array(column.reset_index(drop=True))


def recorded_as_events(chat_events: pd.DataFrame, pages: pd.DataFrame) -> pd.DataFrame:
    """Recorded ``chat_events`` rows of the replayed page views, in the events schema.

    ``visit_id`` comes from ``pages``; ``started`` events are dropped (not decisions);
    the stage is inferred: an event with a trigger id is ``configured``; a ``chat_shown``
    without one is ``continuation`` when ``trigger_continuation``, else ``embedded`` on a
    page with the embedded container (``pages.embedded``), else ``messaging``;
    engagement-side events are ``engagement``.

    >>> rec = pd.DataFrame({"page_view_id": ["p1", "p1"], "visitor_id": ["v", "v"],
    ...     "event_at": [0, 10], "event": ["started", "chat_shown"], "trigger_id": [None, None],
    ...     "trigger_continuation": [None, True]})
    >>> pages = pd.DataFrame({"page_view_id": ["p1"], "visit_id": ["v1"]})
    >>> recorded_as_events(rec, pages)[["event", "stage", "visit_id"]].values.tolist()
    [['chat_shown', 'continuation', 'v1']]
    """
    from engage_lab.events import EVENT_COLUMNS, _typed_frame

    frame = chat_events[
        chat_events["page_view_id"].isin(set(pages["page_view_id"]))
        & (chat_events["event"] != "started")
    ].copy()
    page = pages.set_index("page_view_id")
    frame["visit_id"] = frame["page_view_id"].map(page["visit_id"])
    has_trigger = frame["trigger_id"].notna().to_numpy()
    continuation = (
        frame["trigger_continuation"].fillna(False).astype(bool).to_numpy()
        if "trigger_continuation" in frame
        else np.zeros(len(frame), bool)
    )
    embedded = (
        frame["page_view_id"].map(page["embedded"]).fillna(False).astype(bool).to_numpy()
        if "embedded" in page
        else np.zeros(len(frame), bool)
    )
    codes = frame["event"].map({e: k for k, e in enumerate(EVENTS)}).to_numpy(dtype=np.int64)
    stage = decode(STAGES, infer_stages(codes, has_trigger, continuation, embedded))
    frame["stage"] = stage
    for name in EVENT_COLUMNS:
        if name not in frame:
            frame[name] = None
    frame = frame.sort_values(["visitor_id", "event_at", "page_view_id"], kind="stable")
    return _typed_frame(frame[list(EVENT_COLUMNS)])


def infer_stages(
    event: np.ndarray, has_trigger: np.ndarray, continuation: np.ndarray, embedded: np.ndarray
) -> np.ndarray:
    """The stage of recorded events (codes of :data:`engage_lab.events.STAGES`): an
    engagement-side event is ``engagement``; an event with a trigger id, or other than
    ``chat_shown``, is ``configured``; a ``chat_shown`` without one is ``continuation``
    when ``trigger_continuation``, else ``embedded`` on a page with the embedded
    container, else ``messaging``.

    >>> infer_stages(np.array([code_of("chat_shown")]), np.array([False]),
    ...              np.array([True]), np.array([False])).tolist() == [STAGES.index("continuation")]
    True
    """
    engagement = np.isin(event, [code_of(e) for e in _ENGAGEMENT_EVENTS])
    configured = has_trigger | (event != code_of("chat_shown"))
    stage = np.where(
        engagement,
        STAGES.index("engagement"),
        np.where(
            configured,
            STAGES.index("configured"),
            np.where(
                continuation,
                STAGES.index("continuation"),
                np.where(embedded, STAGES.index("embedded"), STAGES.index("messaging")),
            ),
        ),
    )
    return stage.astype(np.int8)


def fidelity_mismatches(
    replayed: pd.DataFrame,
    recorded: pd.DataFrame,
    comparison: Comparison,
    pages: pd.DataFrame,
    first: int = 20,
) -> pd.DataFrame:
    """The first ``first`` mismatching page views (by start) with both sides' decision
    events (:meth:`Comparison.table`; the frames are those ``comparison`` was made of)."""
    del replayed, recorded, pages  # the comparison holds both sides, coded
    return comparison.table(first)


def _nullable(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def compare_recorded(
    replayed: pd.DataFrame, recorded: pd.DataFrame, pages: pd.DataFrame
) -> Comparison:
    """Replay versus recording over the replayed page views (decision events only)."""
    table = PageTable.from_frame(pages)
    a, _ = CodedEvents.from_frames(replayed, pages)
    b, _ = CodedEvents.from_frames(recorded, pages, a.trigger_ids)
    a, b = _same_items(a, b)
    return compare_codes(a, b, table)


def _same_items(a: CodedEvents, b: CodedEvents) -> tuple[CodedEvents, CodedEvents]:
    """Both sides with one trigger and one item vocabulary."""
    triggers = list(a.trigger_ids) + [t for t in b.trigger_ids if t not in a.trigger_ids]
    items = list(a.item_ids) + [i for i in b.item_ids if i not in a.item_ids]
    return a.recoded(triggers, items), b.recoded(triggers, items)


@numba.njit(cache=True)
def _mix(x):
    # splitmix64 finalizer (wrapping uint64 arithmetic)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@numba.njit(cache=True)
def _page_sums(pvi, t, code, decision, n_pages, sums, counts, sign):
    for r in range(pvi.shape[0]):
        p = pvi[r]
        if p < 0 or p >= n_pages or not decision[code[r] & 0xF]:
            continue
        # the compared key: instant, event, mode, trigger, item (not the stage)
        key = np.uint64(t[r]) * np.uint64(0x9E3779B97F4A7C15)
        key ^= np.uint64(code[r] & _NO_STAGE) << np.uint64(32)
        sums[p] += _mix(key) * np.uint64(sign)
        counts[p] += sign


def _page_sums_python(pvi, t, code, decision, n_pages, sums, counts, sign):
    """:func:`_page_sums` in numpy for interpreted runs (the same wrapping uint64 sums).

    numpy's scalar uint64 arithmetic warns on the wrap-around the hash relies on (and
    refuses ``uint64(-1)``); its array arithmetic wraps silently, as compiled code does.
    """
    keep = (pvi >= 0) & (pvi < n_pages)
    keep[keep] = decision[code[keep] & 0xF]
    p = pvi[keep]
    key = t[keep].astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    key ^= (code[keep] & _NO_STAGE).astype(np.uint64) << np.uint64(32)
    mixed = _mix.py_func(key)  # its source, on arrays: the same finalizer, wrapping
    np.add.at(sums, p, mixed * np.array(sign).astype(np.uint64))
    np.add.at(counts, p, sign)


tiers.register(_page_sums, _page_sums_python)


@dataclass
class Comparison:
    """Replay versus recording (see the module docstring).

    ``mismatched_pvi``: page views (page table indices) that differ; :attr:`fidelity` the
    share that match (1.0 when there are none); :attr:`mismatched` / :attr:`matching`
    their ids; :attr:`mismatches` one row per differing event key (``page_view_id,
    event_at, event, trigger_id, item_id, mode, count_a, count_b``).
    """

    a: CodedEvents
    b: CodedEvents
    pages: PageTable
    mismatched_pvi: np.ndarray
    _frames: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def fidelity(self) -> float:
        n = len(self.pages)
        return 1.0 if n == 0 else (n - len(self.mismatched_pvi)) / n

    @property
    def page_views(self) -> frozenset[str]:
        return frozenset(self.pages.ids("page_view").tolist())

    @property
    def mismatched(self) -> frozenset[str]:
        return frozenset(self.pages.ids("page_view")[self.mismatched_pvi].tolist())

    @property
    def matching(self) -> frozenset[str]:
        return self.page_views - self.mismatched

    def differing_keys(self, pvi: np.ndarray | None = None) -> pd.DataFrame:
        """The differing event keys of page views ``pvi`` (default: all mismatched)."""
        chosen = self.mismatched_pvi if pvi is None else np.asarray(pvi, np.int64)
        parts = []
        for side, ev in (("a", self.a), ("b", self.b)):
            keep = np.isin(ev.pvi, chosen) & np.isin(ev.event, _DECISION_CODES)
            sub = ev.where(keep)
            parts.append(
                pd.DataFrame(
                    {
                        "pvi": sub.pvi,
                        "event_at": sub.t,
                        "event": sub.event,
                        "trigger": sub.trigger,
                        "item": sub.item,
                        "mode": sub.mode,
                        "side": side,
                    }
                )
            )
        both = pd.concat(parts, ignore_index=True)
        keys = ["pvi", "event_at", "event", "trigger", "item", "mode"]
        counts = both.groupby([*keys, "side"]).size().unstack("side", fill_value=0)
        for side in ("a", "b"):
            if side not in counts:
                counts[side] = 0
        counts = counts.reset_index()
        diff = counts[counts["a"] != counts["b"]]
        ids = self.pages.ids("page_view")
        out = pd.DataFrame(
            {
                "page_view_id": ids[diff["pvi"].to_numpy(np.int64)],
                "event_at": diff["event_at"].to_numpy(np.int64),
                "event": decode(EVENTS, diff["event"]),
                "trigger_id": decode(self.a.trigger_ids, diff["trigger"]),
                "item_id": decode(self.a.item_ids, diff["item"]),
                "mode": decode(MODES, diff["mode"]),
                "count_a": diff["a"].to_numpy(np.int64),
                "count_b": diff["b"].to_numpy(np.int64),
            }
        )
        out["_rank"] = out["event"].map(EVENT_RANK)
        out = out.sort_values(
            ["page_view_id", "event_at", "_rank", "trigger_id", "item_id"],
            kind="stable",
            na_position="first",
        ).drop(columns="_rank")
        out["event_at"] = pd.to_datetime(out["event_at"], unit="ms", utc=True)
        return out.reset_index(drop=True)

    def table(self, first: int = 20) -> pd.DataFrame:
        """The first ``first`` mismatching page views (by start, then id) with both sides'
        decision events: ``page_view_id, side`` (``replay`` / ``recorded``), ``event_at,
        event, trigger_id, item_id, mode, stage`` and ``differs`` (the event's key does
        not occur the same number of times on the other side)."""
        columns = ["page_view_id", "side", "event_at", "event", "trigger_id", "item_id", "mode"]
        columns += ["stage", "differs"]
        if len(self.mismatched_pvi) == 0:
            empty = {c: pd.Series(dtype=object) for c in columns}
            empty["event_at"] = pd.Series(dtype="datetime64[ms, UTC]")
            empty["differs"] = pd.Series(dtype=bool)
            return pd.DataFrame(empty)
        bad = self.mismatched_pvi
        ids = self.pages.ids("page_view")
        order = np.lexsort((ids[bad].astype(str), self.pages.start[bad]))
        chosen = bad[order[:first]]
        rank = np.full(len(self.pages) + 1, -1, np.int64)
        rank[chosen] = np.arange(len(chosen))
        diff = self.differing_keys(chosen)
        diff_keys = {
            (p, int(t.value // 1_000_000), e, _nullable(tr), _nullable(it), _nullable(m))
            for p, t, e, tr, it, m in diff[
                ["page_view_id", "event_at", "event", "trigger_id", "item_id", "mode"]
            ].itertuples(index=False)
        }
        parts = []
        for side, ev in (("replay", self.a), ("recorded", self.b)):
            inside = (ev.pvi >= 0) & (ev.pvi < len(self.pages))
            keep = inside & np.isin(ev.event, _DECISION_CODES)
            keep[keep] = rank[ev.pvi[keep]] >= 0
            sub = ev.where(keep)
            names = sub.names()
            part = pd.DataFrame(
                {
                    "page_view_id": ids[sub.pvi],
                    "side": side,
                    "_t": sub.t,
                    "event": names["event"],
                    "trigger_id": names["trigger_id"],
                    "item_id": names["item_id"],
                    "mode": names["mode"],
                    "stage": names["stage"],
                    "_rank": rank[sub.pvi],
                    "_ev": np.array([EVENT_RANK[e] for e in EVENTS])[sub.event.astype(np.int64)],
                }
            )
            part["differs"] = [
                (p, int(t), e, _nullable(tr), _nullable(it), _nullable(m)) in diff_keys
                for p, t, e, tr, it, m in zip(
                    part["page_view_id"], part["_t"], part["event"], part["trigger_id"],
                    part["item_id"], part["mode"], strict=True,
                )
            ]  # fmt: skip
            parts.append(part)
        table = pd.concat(parts, ignore_index=True)
        table = table.sort_values(["_rank", "_t", "side", "_ev"], kind="stable")
        table["event_at"] = pd.to_datetime(table["_t"].to_numpy(np.int64), unit="ms", utc=True)
        return table[columns].reset_index(drop=True)

    @property
    def mismatches(self) -> pd.DataFrame:
        if "all" not in self._frames:
            self._frames["all"] = self.differing_keys()
        return self._frames["all"]


def decision_sums(ev: CodedEvents, n_pages: int, sign: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Per page view ``0 … n_pages - 1``: the wrapping 64-bit sum of the mixed keys of its
    decision events times ``sign``, and their count times ``sign`` (other page views'
    events are left out). Sums of two sides add (wrapping addition commutes): a page
    view whose total is zero in both arrays holds the same keys on both sides, but for a
    64-bit collision.

    >>> ev = CodedEvents(np.array([0, 1]), np.array([5, 5]),
    ...                  np.array([code_of("chat_shown")] * 2), (), ())
    >>> sums, counts = decision_sums(ev, 2)
    >>> counts.tolist(), bool(sums[0] == sums[1] != 0)
    ([1, 1], True)
    """
    sums = np.zeros(n_pages, np.uint64)
    counts = np.zeros(n_pages, np.int64)
    _add_sums(ev, sums, counts, sign)
    return sums, counts


def _add_sums(ev: CodedEvents, sums: np.ndarray, counts: np.ndarray, sign: int) -> None:
    decision = np.zeros(len(EVENTS), np.bool_)
    decision[_DECISION_CODES] = True
    tiered(_page_sums)(
        ev.pvi.astype(np.int64, copy=False),
        ev.t.astype(np.int64, copy=False),
        ev.code.astype(np.int64),
        decision,
        len(sums),
        sums,
        counts,
        sign,
    )


def compare_codes(
    a: CodedEvents,
    b: CodedEvents,
    pages: PageTable,
    *,
    recorded_sums: tuple[np.ndarray, np.ndarray] | None = None,
) -> Comparison:
    """Compare two coded event sets over the page table (same trigger / item codes).

    ``recorded_sums``: ``decision_sums(b, len(pages), -1)`` when already computed (a
    tuning loop compares every replay with one recording); ``b``'s events are then not
    read again.
    """
    n = len(pages)
    if recorded_sums is None:
        sums, counts = decision_sums(b, n, -1)
    else:
        sums, counts = (x.copy() for x in recorded_sums)
        if len(sums) != n or len(counts) != n:
            raise ValueError(f"recorded_sums cover {len(sums)} page views, not {n}")
    _add_sums(a, sums, counts, 1)
    # equal key multisets give equal sums and counts: every page view found differs (a
    # 64-bit collision could only hide one); the differing keys are listed when read
    mismatched = np.flatnonzero((sums != 0) | (counts != 0))
    return Comparison(a, b, pages, mismatched)
