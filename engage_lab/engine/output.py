"""The fast engine's result: packed event arrays, named and ordered on demand.

:class:`FastRun` holds what the pass emitted — per event the instant, the page view and
one packed code (:func:`engage_lab.kpis.coded.pack`: event, stage, mode, trigger, item) —
with the outcome events of the honoured engagements appended. :meth:`FastRun.coded`
hands them to the KPIs as they are (no copy, no strings). :meth:`FastRun.frame` builds
the events frame of :mod:`engage_lab.events` in its canonical order: visitor, instant,
page view id, then stage, the fixed point's pass, trigger list position, event and item
at one instant. The pass emits events visitor by visitor in time order, so the order is a
stable sort of an almost sorted key plus a compiled pass over the ties. Within one page
view and instant it emits the triggers in the order they activated, list order within a
pass: a slot earlier in its entry than the one before starts a new pass. The gated
triggers' ``p`` and ``u`` are not stored per event: they are functions of the instant
(the availability step and the trigger's policy) and of the ids (the md5 draw),
recomputed for the frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb
import numba
import numpy as np
import pandas as pd
import pyarrow as pa

from engage_lab import tiers
from engage_lab.availability.policy_kernel import policy_p
from engage_lab.engine import actions as A
from engage_lab.engine.ids import page_draw
from engage_lab.engine.inputs import SlotArrays
from engage_lab.engine.pages import Pages
from engage_lab.engine.plan import Plan
from engage_lab.events import EVENT_COLUMNS, EVENT_RANK, STAGES
from engage_lab.kpis.coded import EVENTS, MODES, CodedEvents, decode
from engage_lab.tiers import tiered

__all__ = ["FastRun", "GatingContext"]


@dataclass(frozen=True)
class GatingContext:
    """What recomputes ``p`` and ``u`` of a gated trigger's events (see the pass)."""

    plan: Plan
    seed: np.ndarray
    #: (visitor id bytes, offsets, page view id bytes, offsets, longest key)
    ids: tuple[Any, ...]
    #: availability steps (t, capacity, in progress, waiting)
    timeline: tuple[np.ndarray, ...]
    #: slot index per (configuration entry, global trigger index), -1 none
    slot_of: np.ndarray
    slots: SlotArrays
    #: per event (the run's order): the availability state it was decided in, instead
    #: of the timeline (the world generator's live pool)
    states: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


@dataclass(eq=False)
class FastRun:
    """One fast replay (see the module docstring)."""

    plan: Plan
    pages: Pages
    t: np.ndarray
    pvi: np.ndarray
    code: np.ndarray
    con: duckdb.DuckDBPyConnection
    #: availability steps (t, capacity, in progress, waiting), a leading zero step at -inf
    timeline: tuple[np.ndarray, ...] = ()
    gating: GatingContext | None = None
    _frame: pd.DataFrame | None = field(default=None, repr=False)
    #: the run it was replayed in: the event order and draws, built later, use its tier
    _tier_run: Any = field(default_factory=tiers.current, repr=False)

    def __len__(self) -> int:
        return len(self.t)

    def coded(self) -> CodedEvents:
        """The events as :class:`~engage_lab.kpis.CodedEvents` (what the KPIs read)."""
        return CodedEvents(
            self.pvi, self.t, self.code, self.plan.trigger_ids, tuple(i for i, _ in self.plan.items)
        )

    @tiers.resuming
    def canonical_order(self) -> np.ndarray:
        """Positions of the events in the canonical order of the events schema."""
        c = self.coded()
        pvi = c.pvi.astype(np.int64)
        visitor = self.pages.visitor.astype(np.int64)[pvi]
        t = c.t
        order = np.lexsort((t, visitor)) if len(t) else np.zeros(0, np.int64)
        trig_rank = c.trigger.astype(np.int64)  # trigger ids are in canonical order; -1 first
        # A trigger that a later trigger's action enabled (a later pass of the instant's
        # fixed point) comes after the triggers of the earlier passes.
        passes = tiered(_fixed_point_passes)(
            order, pvi, t, c.stage.astype(np.int64), trig_rank,
            self.pages.entry.astype(np.int64), self._slot_positions(),
        )  # fmt: skip
        trig_rank = passes * (len(self.plan.trigger_ids) + 1) + trig_rank
        event_rank = np.array([EVENT_RANK[e] for e in EVENTS], np.int64)[c.event.astype(np.int64)]
        item_ids = [i for i, _ in self.plan.items]
        by_name = np.argsort(np.array([*item_ids, ""], dtype=object))
        item_rank = np.empty(len(by_name), np.int64)
        item_rank[by_name] = np.arange(len(by_name))
        item = c.item.astype(np.int64)
        item_key = np.where(item >= 0, item_rank[item] + 1, 0)
        page_rank = np.zeros(len(self.pages), np.int64)
        mixed = tiered(_mixed_pages)(order, visitor, t, pvi)
        if len(mixed):
            ids = self.pages.scan_page_view_ids(self.con).take(pa.array(self.pages.pos[mixed]))
            names = np.array(ids.to_pylist(), dtype=object)
            page_rank[mixed[np.argsort(names, kind="stable")]] = np.arange(1, len(mixed) + 1)
        tiered(_sort_ties)(order, visitor, t, page_rank[pvi], c.stage.astype(np.int64), trig_rank,
                   event_rank, item_key)  # fmt: skip
        return order

    def _slot_positions(self) -> np.ndarray:
        """``[entry, global trigger] ->`` the slot's index (list order within an entry;
        -1: no such slot)."""
        plan = self.plan
        out = np.full((max(len(plan.entries), 1), max(len(plan.trigger_ids), 1)), -1, np.int64)
        for j, slot in enumerate(plan.slots):
            out[slot.entry, slot.gid] = j
        return out

    def refused_at(self) -> np.ndarray:
        """Instants (ms) of the gated activations the draw turned down (``u >= p``), whatever
        look they used: in messaging a refusal is online, so the codes cannot tell it."""
        c = self.coded()
        rows = np.flatnonzero(c.event == EVENTS.index("trigger_activated"))
        p, u = self.gated_values(rows)
        refused = ~np.isnan(p) & (u >= p)
        return c.t[rows[refused]].astype(np.int64)

    @tiers.resuming
    def gated_values(self, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``p`` and ``u`` of the events at positions ``order`` (NaN where not gated)."""
        c = self.coded()
        n = len(order)
        p = np.full(n, np.nan)
        u = np.full(n, np.nan)
        g = self.gating
        if g is None or n == 0:
            return p, u
        pvi = c.pvi[order].astype(np.int64)
        trig = c.trigger[order].astype(np.int64)
        slot = np.where(trig >= 0, g.slot_of[self.pages.entry[pvi].astype(np.int64), trig], -1)
        gated = (slot >= 0) & (g.slots.sint[np.maximum(slot, 0), A.S_GATED] != 0)
        rows = np.flatnonzero(gated)
        if len(rows):
            v_data, v_off, p_data, p_at, longest = g.ids
            if g.states is not None:
                at = order[rows]
                cap, busy, wait = (a[at] for a in g.states)
            else:
                cap, busy, wait = _states_at(c.t[order][rows], *g.timeline)
            p[rows], u[rows] = tiered(_gated_values)(
                slot[rows], self.pages.visitor.astype(np.int64)[pvi[rows]], pvi[rows], cap,
                busy, wait, g.slots.sint, g.slots.pol_xp, g.slots.key_data, g.seed, v_data,
                v_off, p_data, p_at, longest,
            )  # fmt: skip
        return p, u

    def frame(self) -> pd.DataFrame:
        """The events frame (:mod:`engage_lab.events` schema, canonical order)."""
        if self._frame is None:
            self._frame = self._build_frame()
        return self._frame

    def _build_frame(self) -> pd.DataFrame:
        c = self.coded()
        order = self.canonical_order()
        pvi = c.pvi.astype(np.int64)[order]
        pages, con = self.pages, self.con
        scan_ids = pages.scan_page_view_ids(con)
        p, u = self.gated_values(order)
        item = c.item.astype(np.int64)[order]
        data: dict[str, Any] = {
            "visitor_id": decode(pages.visitor_ids(con), pages.visitor[pvi], text=True),
            "visit_id": decode(scan_ids, pages.visit_pos[pvi], text=True),
            "page_view_id": decode(scan_ids, pages.pos[pvi], text=True),
            "event_at": pd.Series(
                pd.to_datetime(c.t[order], unit="ms", utc=True).astype("datetime64[ms, UTC]")
            ),
            "event": decode(EVENTS, c.event[order], text=True),
            "stage": decode(STAGES, c.stage[order], text=True),
            "trigger_id": decode(self.plan.trigger_ids, c.trigger[order], text=True),
            "item_id": decode([i for i, _ in self.plan.items], item, text=True),
            "item_type": decode([k for _, k in self.plan.items], item, text=True),
            "mode": decode(MODES, c.mode[order], text=True),
            "server_probability": pd.Series(p),
            "draw": pd.Series(u),
        }
        return pd.DataFrame({name: data[name] for name in EVENT_COLUMNS})


def _states_at(
    t: np.ndarray, steps_t: np.ndarray, cap: np.ndarray, busy: np.ndarray, wait: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The availability state at each instant (all zero before the first step)."""
    step = np.searchsorted(steps_t, t, side="right") - 1
    ok = step >= 0
    at = np.maximum(step, 0)
    return tuple(np.where(ok, a[at], 0).astype(np.int64) for a in (cap, busy, wait))  # type: ignore[return-value]


@numba.njit(cache=True)
def _gated_values(slot, visitor, pos, cap, busy, wait, sint, pol_xp, key_data, seed, v_data,
                  v_off, p_data, p_at, longest):  # fmt: skip
    """``p`` (the slot's policy in the availability state of the event) and ``u`` (the
    draw) per gated event, as :func:`engage_lab.engine.actions.fixed_point` computed them."""
    n = slot.shape[0]
    p = np.empty(n, np.float64)
    u = np.empty(n, np.float64)
    scratch = np.empty(longest + 2, np.uint8)
    for r in range(n):
        j = slot[r]
        lo, hi = sint[j, A.S_POL_LO], sint[j, A.S_POL_HI]
        p[r] = policy_p(sint[j, A.S_POL_KIND], sint[j, A.S_POL_PARAM], sint[j, A.S_POL_OVER] != 0,
                        pol_xp[0, lo:hi], pol_xp[1, lo:hi], cap[r], busy[r], wait[r])  # fmt: skip
        tail = key_data[sint[j, A.S_KEY_LO] : sint[j, A.S_KEY_HI]]
        u[r] = page_draw(seed, v_data, v_off, visitor[r], p_data, p_at, pos[r], tail, scratch)
    return p, u


_CONFIGURED_STAGE = STAGES.index("configured")


@numba.njit(cache=True)
def _fixed_point_passes(order, pvi, t, stage, trig, entry, slot_pos):
    """Per event, the pass of its instant's fixed point in which its trigger activated:
    walking ``order`` (emission order within a page view and instant), a configured
    trigger's slot earlier in the entry than the previous trigger's starts a new pass."""
    out = np.zeros(order.shape[0], np.int64)
    last_pvi = -1
    last_t = np.int64(0)
    last_slot = -1
    current = 0
    for k in range(order.shape[0]):
        e = order[k]
        if stage[e] != _CONFIGURED_STAGE or trig[e] < 0:
            continue
        slot = slot_pos[entry[pvi[e]], trig[e]]
        if pvi[e] != last_pvi or t[e] != last_t:
            current = 0
        elif slot < last_slot:
            current += 1
        out[e] = current
        last_pvi, last_t, last_slot = pvi[e], t[e], slot
    return out


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
