"""The fast engine's result: coded event arrays, named and ordered on demand.

:class:`FastRun` holds what the pass emitted (integer codes: page view ``pvi``, event,
stage, slot, item, mode; instants; probabilities and draws) plus the outcome events of
the honoured engagements. :meth:`FastRun.codes` gives them as one set of arrays (what
the KPIs read, no strings); :meth:`FastRun.frame` builds the events frame of
:mod:`engage_lab.events` in its canonical order: visitor, instant, page view id, then
stage, trigger list position, event and item at one instant. The pass already emits
events visitor by visitor in time order, so the order is a stable sort of an almost
sorted key plus a compiled pass over the ties.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb
import numba
import numpy as np
import pandas as pd
import pyarrow as pa

from engage_lab.engine.kernel import EVENT_NAMES, STAGE_NAMES
from engage_lab.engine.pages import Pages
from engage_lab.engine.plan import Plan
from engage_lab.events import EVENT_COLUMNS, EVENT_RANK, STAGES
from engage_lab.kpis.coded import EVENTS, CodedEvents

__all__ = ["ALL_EVENTS", "FastRun"]

ALL_EVENTS = (*EVENT_NAMES, "message_sent", "message_received", "chat_closed")
_ENGAGEMENT_STAGE = STAGE_NAMES.index("engagement")
_CODE_OF = {name: k for k, name in enumerate(ALL_EVENTS)}
#: engine event codes to the shared vocabulary of :mod:`engage_lab.kpis.coded`
_TO_EVENTS = np.array([EVENTS.index(e) for e in ALL_EVENTS], np.int8)
assert STAGE_NAMES == STAGES, "the pass's stage codes are the events schema's"


@dataclass
class FastRun:
    """One fast replay (see the module docstring)."""

    plan: Plan
    pages: Pages
    #: (t, pvi, event, stage, slot, item, mode, p, u) as emitted by the pass
    events: list[np.ndarray]
    #: (pvi, t, event name) of the outcome events, or None
    outcomes: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    con: duckdb.DuckDBPyConnection
    #: availability steps (t, capacity, in progress, waiting), a leading zero step at -inf
    timeline: tuple[np.ndarray, ...] = ()
    _codes: dict[str, np.ndarray] | None = field(default=None, repr=False)
    _frame: pd.DataFrame | None = field(default=None, repr=False)

    def codes(self) -> dict[str, np.ndarray]:
        """All events as arrays: ``t, pvi, event, stage, trigger`` (index into
        :attr:`Plan.trigger_ids`, -1 none), ``item`` (into :attr:`Plan.items`, -1),
        ``mode`` (0 none, 1 online, 2 offline), ``p``, ``u`` — in emission order."""
        if self._codes is None:
            t, pvi, ev, stage, slot, item, mode, p, u = self.events
            gid = np.array([s.gid for s in self.plan.slots] + [-1], np.int64)
            trig = gid[slot.astype(np.int64)]
            parts = {
                "t": t, "pvi": pvi, "event": ev.astype(np.int8), "stage": stage.astype(np.int8),
                "trigger": trig.astype(np.int16), "item": item.astype(np.int16),
                "mode": mode.astype(np.int8), "p": p, "u": u,
            }  # fmt: skip
            if self.outcomes is not None and len(self.outcomes[0]):
                o_pvi, o_t, o_ev = self.outcomes
                m = len(o_pvi)
                extra = {
                    "t": o_t, "pvi": o_pvi,
                    "event": np.array([_CODE_OF[e] for e in o_ev], np.int8),
                    "stage": np.full(m, _ENGAGEMENT_STAGE, np.int8),
                    "trigger": np.full(m, -1, np.int16), "item": np.full(m, -1, np.int16),
                    "mode": np.zeros(m, np.int8), "p": np.full(m, np.nan),
                    "u": np.full(m, np.nan),
                }  # fmt: skip
                parts = {k: np.concatenate([v, extra[k]]) for k, v in parts.items()}
            self._codes = parts
        return self._codes

    def coded(self) -> CodedEvents:
        """The events as :class:`~engage_lab.kpis.CodedEvents` (what the KPIs read)."""
        c = self.codes()
        return CodedEvents(
            pvi=c["pvi"].astype(np.int64),
            t=c["t"].astype(np.int64),
            event=_TO_EVENTS[c["event"].astype(np.int64)],
            stage=c["stage"],
            trigger=c["trigger"].astype(np.int32),
            item=c["item"].astype(np.int32),
            mode=c["mode"],
            trigger_ids=self.plan.trigger_ids,
            item_ids=tuple(i for i, _ in self.plan.items),
        )

    def canonical_order(self) -> np.ndarray:
        """Positions of :meth:`codes` in the canonical order of the events schema."""
        c = self.codes()
        pvi = c["pvi"].astype(np.int64)
        visitor = self.pages.visitor.astype(np.int64)[pvi]
        t = c["t"].astype(np.int64)
        order = np.lexsort((t, visitor)) if len(t) else np.zeros(0, np.int64)
        list_rank = np.arange(len(self.plan.trigger_ids) + 1, dtype=np.int64)
        list_rank[-1] = -1
        trig_rank = list_rank[c["trigger"].astype(np.int64)]
        event_rank = np.array([EVENT_RANK[e] for e in ALL_EVENTS], np.int64)[
            c["event"].astype(np.int64)
        ]
        item_ids = [i for i, _ in self.plan.items]
        by_name = np.argsort(np.array([*item_ids, ""], dtype=object))
        item_rank = np.empty(len(by_name), np.int64)
        item_rank[by_name] = np.arange(len(by_name))
        item = c["item"].astype(np.int64)
        item_key = np.where(item >= 0, item_rank[item] + 1, 0)
        page_rank = np.zeros(len(self.pages), np.int64)
        mixed = _mixed_pages(order, visitor, t, pvi)
        if len(mixed):
            ids = self.pages.scan_page_view_ids(self.con).take(pa.array(self.pages.pos[mixed]))
            names = np.array(ids.to_pylist(), dtype=object)
            page_rank[mixed[np.argsort(names, kind="stable")]] = np.arange(1, len(mixed) + 1)
        _sort_ties(order, visitor, t, page_rank[pvi], c["stage"].astype(np.int64), trig_rank,
                   event_rank, item_key)  # fmt: skip
        return order

    def frame(self) -> pd.DataFrame:
        """The events frame (:mod:`engage_lab.events` schema, canonical order)."""
        if self._frame is None:
            self._frame = self._build_frame()
        return self._frame

    def _build_frame(self) -> pd.DataFrame:
        c = self.codes()
        order = self.canonical_order()
        pvi = c["pvi"].astype(np.int64)[order]
        pages, con = self.pages, self.con
        scan_ids = pages.scan_page_view_ids(con)
        data: dict[str, Any] = {
            "visitor_id": _strings(pages.visitor_ids(con), pages.visitor.astype(np.int64)[pvi]),
            "visit_id": _strings(scan_ids, pages.visit_pos[pvi]),
            "page_view_id": _strings(scan_ids, pages.pos[pvi]),
            "event_at": pd.Series(
                pd.to_datetime(c["t"][order], unit="ms", utc=True).astype("datetime64[ms, UTC]")
            ),
            "event": _vocabulary(list(ALL_EVENTS), c["event"].astype(np.int64)[order]),
            "stage": _vocabulary(list(STAGE_NAMES), c["stage"].astype(np.int64)[order]),
            "trigger_id": _vocabulary(
                list(self.plan.trigger_ids), c["trigger"].astype(np.int64)[order]
            ),
            "item_id": _vocabulary(
                [i for i, _ in self.plan.items], c["item"].astype(np.int64)[order]
            ),
            "item_type": _vocabulary(
                [k for _, k in self.plan.items], c["item"].astype(np.int64)[order]
            ),
            "mode": _vocabulary(["online", "offline"], c["mode"].astype(np.int64)[order] - 1),
            "server_probability": pd.Series(c["p"][order].astype("float64")),
            "draw": pd.Series(c["u"][order].astype("float64")),
        }
        return pd.DataFrame({name: data[name] for name in EVENT_COLUMNS})


def _strings(values: pa.Array, take: np.ndarray) -> pd.Series:
    return pd.Series(values.take(pa.array(take)).to_pandas(), dtype="str")


def _vocabulary(values: list[str], codes: np.ndarray) -> pd.Series:
    """Codes to strings (``-1`` and below: null)."""
    vocab = pd.array([*values, ""], dtype="str")
    out = pd.Series(vocab.take(np.where(codes >= 0, codes, -1), allow_fill=True))
    return out.astype("str")


@numba.njit(cache=True)
def _mixed_pages(order, visitor, t, pvi):
    """Page views that share an instant of their visitor with another page view's event
    (their id decides the order): sorted, unique."""
    n = order.shape[0]
    mark = np.zeros(pvi.max() + 1 if n else 1, np.bool_)
    i = 0
    while i < n:
        j = i + 1
        while j < n and visitor[order[j]] == visitor[order[i]] and t[order[j]] == t[order[i]]:
            j += 1
        if j - i > 1:
            first = pvi[order[i]]
            mixed = False
            for k in range(i + 1, j):
                if pvi[order[k]] != first:
                    mixed = True
                    break
            if mixed:
                for k in range(i, j):
                    mark[pvi[order[k]]] = True
        i = j
    return np.flatnonzero(mark)


@numba.njit(cache=True)
def _before(a, b, page, stage, trig, event, item):
    if page[a] != page[b]:
        return page[a] < page[b]
    if stage[a] != stage[b]:
        return stage[a] < stage[b]
    if trig[a] != trig[b]:
        return trig[a] < trig[b]
    if event[a] != event[b]:
        return event[a] < event[b]
    return item[a] < item[b]


@numba.njit(cache=True)
def _sort_ties(order, visitor, t, page, stage, trig, event, item):
    """Stable insertion sort of each run of equal (visitor, instant) by the tie keys."""
    n = order.shape[0]
    i = 0
    while i < n:
        j = i + 1
        while j < n and visitor[order[j]] == visitor[order[i]] and t[order[j]] == t[order[i]]:
            j += 1
        for k in range(i + 1, j):
            x = order[k]
            m = k - 1
            while m >= i and _before(x, order[m], page, stage, trig, event, item):
                order[m + 1] = order[m]
                m -= 1
            order[m + 1] = x
        i = j
