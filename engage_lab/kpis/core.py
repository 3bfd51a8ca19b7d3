"""The KPIs of a replay, computed from coded events (:mod:`engage_lab.kpis.coded`).

Definitions: see :mod:`engage_lab.kpis`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numba
import numpy as np
import pandas as pd

from engage_lab.availability.state import NEVER, Timeline
from engage_lab.events import STAGES
from engage_lab.kpis.agents import _quantiles, _share, conversation_kpis, occupancy_kpis
from engage_lab.kpis.coded import (
    MODE_SHIFT,
    STAGE_SHIFT,
    TRIGGER_SHIFT,
    CodedEvents,
    PageTable,
    code_of,
)
from engage_lab.tiers import tiered

__all__ = [
    "JSON_KPIS",
    "PAGE_STAGES",
    "compute_kpis",
    "funnel_by_visit",
    "history_kpis",
    "jsonable",
    "kpis_from_codes",
    "offer_mask",
    "offers",
    "visit_funnel",
]

#: The ``kpis`` keys of ``engage-lab replay --json``, in order.
JSON_KPIS = (
    "page_views",
    "visits",
    "activations",
    "executions",
    "executions_online",
    "executions_offline",
    "refused",
    "items_shown",
    "chats_shown",
    "engagements",
    "q1_offered",
    "q2_tried",
    "q3_refused_offer",
    "q4_helped",
    "q5_service_failed",
    "displays_by_stage",
)
#: Stages that decide a page view (``displays_by_stage`` keys).
PAGE_STAGES = tuple(s for s in STAGES if s != "engagement")
_FUNNEL = ("q1_offered", "q2_tried", "q3_refused_offer", "q4_helped", "q5_service_failed")
_ONLINE, _OFFLINE = 1, 2


def offer_mask(ev: CodedEvents) -> np.ndarray:
    """Q1 events: ``trigger_executed`` with a trigger id and mode online."""
    return (ev.event == code_of("trigger_executed")) & (ev.trigger >= 0) & (ev.mode == _ONLINE)


@numba.njit(cache=True)
def _group_min(groups, values, n_groups, default):
    """Per group: the least value (``default`` for an empty group)."""
    out = np.full(n_groups, default, np.int64)
    for i in range(groups.shape[0]):
        g = groups[i]
        if values[i] < out[g]:
            out[g] = values[i]
    return out


def _first_page(pages: PageTable) -> np.ndarray:
    """Per visit: its first page view (index)."""
    return pages.remembered(
        "first_page",
        lambda: tiered(_group_min)(
            pages.visit, np.arange(len(pages), dtype=np.int64), pages.n_visits, len(pages)
        ),
    )


_EXECUTED, _ENGAGED, _RECEIVED = (
    code_of("trigger_executed"),
    code_of("chat_engaged"),
    code_of("message_received"),
)
_CHAT_SHOWN, _ITEM_SHOWN = code_of("chat_shown"), code_of("item_shown")
_ACTIVATED = code_of("trigger_activated")


@numba.njit(cache=True)
def _tally(pvi, code, t, visit, n_pages, n_visits):
    """One pass over the events: counts per (event, mode), displays per stage, and per
    visit Q1 / Q2 / Q4 and the first offer instant; the offers of all rows; the instants
    of the refusals (activations offline)."""
    counts = np.zeros((16, 4), np.int64)
    refused = np.empty(16 + code.shape[0] // 64, np.int64)
    n_refused = 0
    displays = np.zeros(8, np.int64)
    q1 = np.zeros(n_visits, np.bool_)
    q2 = np.zeros(n_visits, np.bool_)
    q4 = np.zeros(n_visits, np.bool_)
    first_offer = np.full(n_visits, NEVER, np.int64)
    offers = 0
    for r in range(code.shape[0]):
        c = code[r]
        ev = c & 0xF
        mode = (c >> MODE_SHIFT) & 0x3
        counts[ev, mode] += 1
        if ev == _ACTIVATED and mode == _OFFLINE:
            if n_refused == refused.shape[0]:
                grown = np.empty(2 * n_refused, np.int64)
                for q in range(n_refused):  # a loop: a slice assignment compiles a shape check
                    grown[q] = refused[q]
                refused = grown
            refused[n_refused] = t[r]
            n_refused += 1
        if ev in (_CHAT_SHOWN, _ITEM_SHOWN):
            displays[(c >> STAGE_SHIFT) & 0x7] += 1
        offer = ev == _EXECUTED and mode == _ONLINE and ((c >> TRIGGER_SHIFT) & 0x7FF) > 0
        if offer:
            offers += 1
        p = pvi[r]
        if p < 0 or p >= n_pages:
            continue
        v = visit[p]
        if offer:
            q1[v] = True
            if t[r] < first_offer[v]:
                first_offer[v] = t[r]
        elif ev == _ENGAGED:
            q2[v] = True
        elif ev == _RECEIVED:
            q4[v] = True
    return counts, displays, q1, q2, q4, first_offer, offers, refused[:n_refused]


def _tallied(ev: CodedEvents, pages: PageTable) -> tuple[Any, ...]:
    # the event columns as they are (views of the engine's buffers): no widening copies
    return tiered(_tally)(
        ev.pvi if ev.pvi.dtype.kind == "i" else ev.pvi.astype(np.int64),
        ev.code.astype(np.int32, copy=False),
        ev.t.astype(np.int64, copy=False),
        pages.visit.astype(np.int64, copy=False),
        len(pages),
        pages.n_visits,
    )


def _funnel(q1: np.ndarray, q2: np.ndarray, q4: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "q1_offered": q1,
        "q2_tried": q2,
        "q3_refused_offer": q1 & ~q2,
        "q4_helped": q4,
        "q5_service_failed": q2 & ~q4,
    }


def visit_funnel(ev: CodedEvents, pages: PageTable) -> dict[str, np.ndarray]:
    """The funnel questions per visit code (boolean arrays)."""
    _, _, q1, q2, q4, _, _, _ = _tallied(ev, pages)
    return _funnel(q1, q2, q4)


def kpis_from_codes(
    ev: CodedEvents,
    pages: PageTable,
    *,
    timezone: str = "UTC",
    conversations: Mapping[str, Any] | None = None,
    timeline: Timeline | None = None,
    fidelity: float | None = None,
    history: Mapping[str, Any] | None = None,
    refused_at: np.ndarray | None = None,
) -> dict[str, Any]:
    """Every KPI (see :mod:`engage_lab.kpis`) from coded events and the page table;
    ``conversations``: the conversation KPIs already computed (merged in); ``history``:
    :func:`history_kpis` already computed (``timeline`` and ``conversations`` unread);
    ``refused_at``: the refusals' instants read from the draws (messaging, where a refusal
    has the online look), instead of the offline activations."""
    counts, displays, q1, q2, q4, first_offer, n_offers, refused = _tallied(ev, pages)
    offline_activations = int(counts[_ACTIVATED, _OFFLINE])
    if refused_at is not None:
        refused = refused_at

    def count(name: str, mode: int | None = None) -> int:
        row = counts[code_of(name)]
        return int(row.sum() if mode is None else row[mode])

    funnel = _funnel(q1, q2, q4)
    n_visits = pages.n_visits
    kpis: dict[str, Any] = {
        "page_views": len(pages),
        "visits": n_visits,
        "activations": count("trigger_activated"),
        "executions": count("trigger_executed"),
        "executions_online": count("trigger_executed", _ONLINE),
        "executions_offline": count("trigger_executed", _OFFLINE),
        "refused": len(refused),
        "items_shown": count("item_shown"),
        "chats_shown": count("chat_shown"),
        "engagements": count("chat_engaged"),
    }
    for q in _FUNNEL:
        kpis[q] = _share(int(funnel[q].sum()), n_visits)
    kpis["displays_by_stage"] = {s: int(displays[STAGES.index(s)]) for s in PAGE_STAGES}
    if fidelity is not None:
        kpis["fidelity"] = float(fidelity)
    # -- extras, beside the keys of the stable interface
    kpis["visitors"] = pages.n_visitors
    kpis["items_shown_buttons"] = count("button_shown")
    kpis["items_shown_invitations"] = count("invitation_shown")
    kpis["items_shown_offline"] = count("item_shown", _OFFLINE)
    # an activation executes at once with its own mode, or not at all (missing placeholder)
    not_offline = [0, _ONLINE]
    kpis["activated_not_executed"] = int(
        counts[code_of("trigger_activated"), not_offline].sum()
        - counts[code_of("trigger_executed"), not_offline].sum()
    ) - (len(refused) - offline_activations)  # online refusals are refusals
    offered_visitors = np.zeros(pages.n_visitors, dtype=bool)
    offered_visitors[pages.visitor[_first_page(pages)[q1]]] = True
    kpis["reach"] = _share(int(offered_visitors.sum()), pages.n_visitors)
    kpis["offers_per_visit"] = _share(int(n_offers), n_visits)
    visit_start = pages.remembered(
        "visit_start", lambda: tiered(_group_min)(pages.visit, pages.start, n_visits, NEVER)
    )
    offered = first_offer != NEVER
    median, p90 = _quantiles((first_offer[offered] - visit_start[offered]) / 1000.0)
    kpis["time_to_first_offer_median_s"] = median
    kpis["time_to_first_offer_p90_s"] = p90
    hours = _local_hours(refused, timezone)
    per_hour = np.bincount(hours, minlength=24) if len(hours) else np.zeros(24, np.int64)
    kpis["refusals_by_hour"] = {h: int(per_hour[h]) for h in range(24)}
    if history is None:
        history = history_kpis(pages, timeline=timeline, conversations=conversations)
    kpis.update(history)
    return kpis


def history_kpis(
    pages: PageTable,
    *,
    timeline: Timeline | None = None,
    conversations: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The KPIs read from the history's logs, not from the replayed events: occupancy
    over the replayed span (with a ``timeline``) and the conversation KPIs (merged in).
    They depend on the page views alone: a tuning loop computes them once."""
    out: dict[str, Any] = {}
    if timeline is not None and len(pages):
        start, end = _span(pages)
        out.update(occupancy_kpis(timeline, start, end))
    if conversations is not None:
        out.update(conversations)
    return out


def _local_hours(t: np.ndarray, timezone: str) -> np.ndarray:
    if len(t) == 0:
        return np.zeros(0, np.int64)
    local = pd.to_datetime(t, unit="ms", utc=True).tz_convert(timezone)
    return np.asarray(local.hour, np.int64)


def _span(pages: PageTable) -> tuple[int, int]:
    start = int(pages.start.min())
    ends = pages.end[pages.end != NEVER]
    return start, int(max(ends.max(), start)) if len(ends) else start


# ------------------------------------------------------------------ frame interfaces


def compute_kpis(
    events: pd.DataFrame,
    pages: pd.DataFrame,
    *,
    timezone: str = "UTC",
    conversations: pd.DataFrame | None = None,
    timeline: Timeline | None = None,
    comparison: Any = None,
) -> dict[str, Any]:
    """Every KPI of a replay as a dict (see :mod:`engage_lab.kpis` for definitions).

    Parameters
    ----------
    events
        The replayed events (:mod:`engage_lab.events` schema).
    pages
        The replayed page views: ``page_view_id, visitor_id, visit_id`` and
        ``started_at`` (plus ``ended_at`` for the agent span).
    timezone
        Zone of ``refusals_by_hour`` (the configuration's source timezone).
    conversations
        The history's ``conversations`` (for queue waits and unserved conversations).
    timeline
        Availability from the agent logs (for occupancy).
    comparison
        Replay versus recording (anything with a ``fidelity``): adds ``fidelity``.
    """
    coded, table = CodedEvents.from_frames(events, pages)
    conv = None if conversations is None else conversation_kpis(conversations, pages)
    fidelity = None if comparison is None else comparison.fidelity
    return kpis_from_codes(
        coded, table, timezone=timezone, conversations=conv, timeline=timeline, fidelity=fidelity
    )


def funnel_by_visit(events: pd.DataFrame, pages: pd.DataFrame) -> pd.DataFrame:
    """The product's funnel questions per visit (one row per visit of ``pages``).

    Events are attached to visits through their page view (``pages.visit_id``), so a
    visit's answers look at all its events.

    >>> from engage_lab.events import EventRecord, events_to_frame
    >>> ev = events_to_frame([EventRecord("v", "v1", "p1", 5, "chat_engaged", "engagement")])
    >>> pages = pd.DataFrame({"page_view_id": ["p1"], "visitor_id": ["v"], "visit_id": ["v1"]})
    >>> funnel_by_visit(ev, pages)[["q2_tried", "q5_service_failed"]].values.tolist()
    [[True, True]]
    """
    coded, table = CodedEvents.from_frames(events, pages)
    return funnel_frame(coded, table)


def funnel_frame(coded: CodedEvents, table: PageTable) -> pd.DataFrame:
    """:func:`funnel_by_visit` from codes: ``visit_id, visitor_id`` and Q1–Q5."""
    first_page = _first_page(table)
    visits = pd.DataFrame(
        {
            "visit_id": table.ids("visit"),
            "visitor_id": table.ids("visitor")[table.visitor[first_page]]
            if table.n_visits
            else np.zeros(0, dtype=object),
        }
    )
    for name, values in visit_funnel(coded, table).items():
        visits[name] = values
    return visits


def offers(
    events: pd.DataFrame, pages: pd.DataFrame, timezone: str = "UTC", *, online: bool = True
) -> pd.DataFrame:
    """The offers (Q1 events; ``online=False``: refusals) with where and when they happened.

    Columns: the event's ``page_view_id, visitor_id, event_at, trigger_id`` plus the
    page's ``path`` (when ``pages`` has it) and the local ``hour`` and ``day_of_week`` in
    ``timezone``.
    """
    executed = events["event"] == "trigger_executed"
    mask = (
        executed & events["trigger_id"].notna() & (events["mode"] == "online")
        if online
        else (events["event"] == "trigger_activated") & (events["mode"] == "offline")
    )
    out = events.loc[mask, ["page_view_id", "visitor_id", "event_at", "trigger_id"]].copy()
    if "path" in pages:
        out["path"] = out["page_view_id"].map(pages.set_index("page_view_id")["path"])
    local = pd.to_datetime(out["event_at"], utc=True).dt.tz_convert(timezone)
    out["hour"] = local.dt.hour.astype("int64")
    out["day_of_week"] = local.dt.day_name()
    return out.reset_index(drop=True)


def jsonable(value: Any) -> Any:
    """Plain JSON values: numpy scalars to Python, NaN / inf to None, keys to strings.

    >>> jsonable({"a": np.int64(3), "b": float("nan"), 4: [np.float64(0.5)]})
    {'a': 3, 'b': None, '4': [0.5]}
    """
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
