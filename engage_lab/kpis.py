"""KPIs of a replay: counts, the product's funnel per visit, reach, timing, agents, fidelity.

Everything is computed from the replayed events (the :mod:`engage_lab.events` schema)
plus the replayed page views (``page_view_id, visitor_id, visit_id, started_at`` — the
denominators: a visit without any event still counts) and, for the agent side, the
history's ``conversations`` and availability :class:`~engage_lab.availability.Timeline`.
Both engines meet here, so a KPI means the same whatever replayed the events.

Definitions (DESIGN.md sections 7 and 9; engage-facts section 6):

* ``activations`` = ``trigger_activated`` events; ``executions`` = ``trigger_executed``
  (``executions_online`` / ``executions_offline`` by mode);
* ``refused`` = gated activations the draw turned down: ``trigger_activated`` with mode
  ``offline`` (non-gated triggers always activate online; a gated one activates online
  iff ``u < p``). An activation that did not execute for a missing fixed-button
  placeholder is not a refusal: it is counted in ``activated_not_executed``;
* ``items_shown`` = ``item_shown`` (``items_shown_buttons`` / ``items_shown_invitations``
  from ``button_shown`` / ``invitation_shown``); ``chats_shown`` = ``chat_shown``;
  ``engagements`` = ``chat_engaged``;
* the funnel looks at all events of each visit; each is a share of visits:
  Q1 ``q1_offered`` a ``trigger_executed`` with a trigger id and mode ``online``;
  Q2 ``q2_tried`` a ``chat_engaged``; Q3 ``q3_refused_offer`` Q1 and no ``chat_engaged``;
  Q4 ``q4_helped`` a ``message_received``; Q5 ``q5_service_failed`` a ``chat_engaged``
  and no ``message_received``. No visit at all gives shares of 0.0;
* ``displays_by_stage`` = stage → ``chat_shown`` plus ``item_shown`` events (every
  page-view stage listed, zeros included);
* ``reach`` = share of visitors offered (Q1 on at least one of their visits);
* ``time_to_first_offer_median_s`` / ``_p90_s``: over offered visits, seconds from the
  visit's first replayed page view start to its first Q1 event (null when none);
* ``refusals_by_hour``: local hour (0–23, the configuration's timezone) → refusals;
* ``agent_occupancy`` = load-time / capacity-time over the replayed span (load and
  capacity from :class:`~engage_lab.availability.Timeline`), ``agent_capacity_mean`` its
  time-average capacity, ``agents_unavailable_share`` the share of the span with no
  capacity; :func:`occupancy_over_time` gives the same per time bin;
* ``web_chat_conversations``, ``unserved_conversations``, ``queue_wait_median_s`` /
  ``_p90_s`` (started conversations, ``started_at - queued_at``): the history's web-chat
  conversations of the replayed page views.

>>> from engage_lab.events import EventRecord, events_to_frame
>>> ev = events_to_frame([
...     EventRecord("v", "v1", "p1", 1000, "trigger_activated", "configured", "t", mode="online"),
...     EventRecord("v", "v1", "p1", 1000, "trigger_executed", "configured", "t", mode="online"),
...     EventRecord("v", "v1", "p1", 1000, "chat_shown", "configured", "t")])
>>> pages = pd.DataFrame({"page_view_id": ["p1", "p2"], "visitor_id": ["v", "w"],
...                       "visit_id": ["v1", "w1"], "started_at": [0, 0]})
>>> k = compute_kpis(ev, pages)
>>> k["visits"], k["q1_offered"], k["q3_refused_offer"], k["displays_by_stage"]["configured"]
(2, 0.5, 0.5, 1)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from engage_lab.availability.state import NEVER, Timeline, to_ms_array
from engage_lab.events import DECISION_EVENTS, STAGES, EventComparison, compare_events

__all__ = [
    "JSON_KPIS",
    "PAGE_STAGES",
    "compare_recorded",
    "compute_kpis",
    "conversation_kpis",
    "fidelity_mismatches",
    "funnel_by_visit",
    "jsonable",
    "occupancy_kpis",
    "occupancy_over_time",
    "offers",
    "recorded_as_events",
]

#: The ``kpis`` keys of ``engage-lab replay --json`` (DESIGN.md section 9), in order.
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
_ENGAGEMENT_EVENTS = ("chat_engaged", "message_sent", "message_received", "chat_closed")


def _ms(column: pd.Series) -> np.ndarray:
    return to_ms_array(column.reset_index(drop=True))


def _count(events: pd.DataFrame, event: str, mode: str | None = None) -> int:
    mask = events["event"] == event
    if mode is not None:
        mask &= events["mode"] == mode
    return int(mask.sum())


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _quantiles(values: np.ndarray) -> tuple[float | None, float | None]:
    if len(values) == 0:
        return None, None
    median, p90 = np.percentile(values.astype(np.float64), [50, 90])
    return float(median), float(p90)


def _offer_mask(events: pd.DataFrame) -> pd.Series:
    """Q1 events: ``trigger_executed`` with a trigger id and mode online."""
    return (
        (events["event"] == "trigger_executed")
        & events["trigger_id"].notna()
        & (events["mode"] == "online")
    )


def funnel_by_visit(
    events: pd.DataFrame, pages: pd.DataFrame, *, _codes: tuple | None = None
) -> pd.DataFrame:
    """The product's funnel questions per visit (one row per visit of ``pages``).

    Events are attached to visits through their page view (``pages.visit_id``), so a
    visit's answers look at all its events.

    >>> from engage_lab.events import EventRecord, events_to_frame
    >>> ev = events_to_frame([EventRecord("v", "v1", "p1", 5, "chat_engaged", "engagement")])
    >>> pages = pd.DataFrame({"page_view_id": ["p1"], "visitor_id": ["v"], "visit_id": ["v1"]})
    >>> funnel_by_visit(ev, pages)[["q2_tried", "q5_service_failed"]].values.tolist()
    [[True, True]]
    """
    codes, _, visit_ids, visitor_ids = _codes or _visit_codes(events, pages)
    known = codes >= 0
    n = len(visit_ids)

    def has(mask: pd.Series) -> np.ndarray:
        hit = np.zeros(n, dtype=bool)
        hit[codes[mask.to_numpy() & known]] = True
        return hit

    visits = pd.DataFrame({"visit_id": visit_ids, "visitor_id": visitor_ids})
    visits["q1_offered"] = has(_offer_mask(events))
    visits["q2_tried"] = has(events["event"] == "chat_engaged")
    visits["q3_refused_offer"] = visits["q1_offered"] & ~visits["q2_tried"]
    visits["q4_helped"] = has(events["event"] == "message_received")
    visits["q5_service_failed"] = visits["q2_tried"] & ~visits["q4_helped"]
    return visits


def _visit_codes(
    events: pd.DataFrame, pages: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Visits as integer codes (in order of first page view): each event's visit (-1: its
    page view was not replayed), each page's visit, and per code the visit id and visitor."""
    page_codes, visit_ids = pd.factorize(pages["visit_id"].astype(str), sort=False)
    visitor_of = np.empty(len(visit_ids), dtype=object)
    visitor_of[page_codes] = pages["visitor_id"].to_numpy()
    position = pd.Index(pages["page_view_id"]).get_indexer(events["page_view_id"])
    codes = np.where(position >= 0, page_codes[np.maximum(position, 0)], -1)
    return codes, page_codes, np.asarray(visit_ids, dtype=object), visitor_of


def offers(
    events: pd.DataFrame, pages: pd.DataFrame, timezone: str = "UTC", *, online: bool = True
) -> pd.DataFrame:
    """The offers (Q1 events; ``online=False``: refusals) with where and when they happened.

    Columns: the event's ``page_view_id, visitor_id, event_at, trigger_id`` plus the
    page's ``path`` (when ``pages`` has it) and the local ``hour`` and ``day_of_week`` in
    ``timezone``.
    """
    mask = (
        _offer_mask(events)
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


def compute_kpis(
    events: pd.DataFrame,
    pages: pd.DataFrame,
    *,
    timezone: str = "UTC",
    conversations: pd.DataFrame | None = None,
    timeline: Timeline | None = None,
    comparison: EventComparison | None = None,
) -> dict[str, Any]:
    """Every KPI of a replay as a dict (see the module docstring for definitions).

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
        Replay versus recording (:func:`engage_lab.events.compare_events`): adds
        ``fidelity``.
    """
    n_pages = len(pages)
    codes = _visit_codes(events, pages)  # shared by the funnel and the offer timing
    funnel = funnel_by_visit(events, pages, _codes=codes)
    n_visits = len(funnel)
    kpis: dict[str, Any] = {
        "page_views": n_pages,
        "visits": n_visits,
        "activations": _count(events, "trigger_activated"),
        "executions": _count(events, "trigger_executed"),
        "executions_online": _count(events, "trigger_executed", "online"),
        "executions_offline": _count(events, "trigger_executed", "offline"),
        "refused": _count(events, "trigger_activated", "offline"),
        "items_shown": _count(events, "item_shown"),
        "chats_shown": _count(events, "chat_shown"),
        "engagements": _count(events, "chat_engaged"),
    }
    for q in _FUNNEL:
        kpis[q] = _share(int(funnel[q].sum()), n_visits)
    displays = events[events["event"].isin(("chat_shown", "item_shown"))]
    by_stage = displays["stage"].value_counts()
    kpis["displays_by_stage"] = {s: int(by_stage.get(s, 0)) for s in PAGE_STAGES}
    if comparison is not None:
        kpis["fidelity"] = float(comparison.fidelity)
    # -- extras, beside the keys of the stable interface
    kpis["visitors"] = int(pages["visitor_id"].nunique())
    kpis["items_shown_buttons"] = _count(events, "button_shown")
    kpis["items_shown_invitations"] = _count(events, "invitation_shown")
    kpis["items_shown_offline"] = _count(events, "item_shown", "offline")
    kpis["activated_not_executed"] = _activated_not_executed(events)
    offered_visitors = funnel.loc[funnel["q1_offered"], "visitor_id"].nunique()
    kpis["reach"] = _share(int(offered_visitors), kpis["visitors"])
    kpis["offers_per_visit"] = _share(int(_offer_mask(events).sum()), n_visits)
    median, p90 = _time_to_first_offer(events, pages, codes)
    kpis["time_to_first_offer_median_s"] = median
    kpis["time_to_first_offer_p90_s"] = p90
    refusals = offers(events, pages, timezone, online=False)
    per_hour = refusals["hour"].value_counts()
    kpis["refusals_by_hour"] = {h: int(per_hour.get(h, 0)) for h in range(24)}
    if timeline is not None and n_pages:
        start, end = _span(pages)
        kpis.update(occupancy_kpis(timeline, start, end))
    if conversations is not None:
        kpis.update(conversation_kpis(conversations, pages))
    return kpis


def _activated_not_executed(events: pd.DataFrame) -> int:
    """Online activations without an execution of the same trigger on the same page."""
    keys = ["page_view_id", "trigger_id"]
    activated = events.loc[
        (events["event"] == "trigger_activated") & (events["mode"] != "offline"), keys
    ]
    executed = events.loc[events["event"] == "trigger_executed", keys].drop_duplicates()
    merged = activated.merge(executed, on=keys, how="left", indicator=True)
    return int((merged["_merge"] == "left_only").sum())


def _time_to_first_offer(
    events: pd.DataFrame, pages: pd.DataFrame, visit_codes: tuple
) -> tuple[float | None, float | None]:
    codes, page_codes, visit_ids, _ = visit_codes
    never = np.iinfo(np.int64).max
    visit_start = np.full(len(visit_ids), never, dtype=np.int64)
    np.minimum.at(visit_start, page_codes, _ms(pages["started_at"]))
    mask = _offer_mask(events).to_numpy() & (codes >= 0)
    first = np.full(len(visit_ids), never, dtype=np.int64)
    np.minimum.at(first, codes[mask], _ms(events["event_at"])[mask])
    offered = first != never
    return _quantiles((first[offered] - visit_start[offered]) / 1000.0)


def _span(pages: pd.DataFrame) -> tuple[int, int]:
    start = int(_ms(pages["started_at"]).min())
    ends = _ms(pages["ended_at"]) if "ended_at" in pages else _ms(pages["started_at"])
    ends = ends[ends != NEVER]
    return start, int(max(ends.max(), start)) if len(ends) else start


# ------------------------------------------------------------------ agents


def _integrals(
    timeline: Timeline, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per bin ``[edges[i], edges[i+1])``: ∫capacity, ∫load, ms with no capacity, length."""
    lo, hi = int(edges[0]), int(edges[-1])
    steps = timeline.valid_from[(timeline.valid_from > lo) & (timeline.valid_from < hi)]
    cuts = np.unique(np.concatenate([edges.astype(np.int64), steps]))
    length = np.diff(cuts)
    starts = cuts[:-1]
    idx = np.searchsorted(timeline.valid_from, starts, side="right") - 1
    found = idx >= 0
    safe = np.where(found, idx, 0)

    def value(name: str) -> np.ndarray:
        values = getattr(timeline, name)
        return np.where(found, values[safe] if len(values) else 0, 0).astype(np.float64)

    capacity = value("capacity")
    load = value("in_progress") + value("waiting")
    bins = np.searchsorted(edges, starts, side="right") - 1
    n = len(edges) - 1
    return (
        np.bincount(bins, capacity * length, n),
        np.bincount(bins, load * length, n),
        np.bincount(bins, (capacity == 0) * length.astype(np.float64), n),
        np.diff(edges).astype(np.float64),
    )


def occupancy_kpis(timeline: Timeline, start: int, end: int) -> dict[str, float | None]:
    """Occupancy over ``[start, end)`` ms: ∫load / ∫capacity and its companions.

    >>> tl = Timeline._from_deltas([0, 50], [2, 0], [1, 1], [0, 0])
    >>> occupancy_kpis(tl, 0, 100)["agent_occupancy"]   # load 1 then 2, capacity 2
    0.75
    """
    if end <= start:
        return {
            "agent_occupancy": None,
            "agent_capacity_mean": None,
            "agents_unavailable_share": None,
        }
    capacity, load, empty, length = _integrals(timeline, np.array([start, end], dtype=np.int64))
    return {
        "agent_occupancy": float(load[0] / capacity[0]) if capacity[0] > 0 else None,
        "agent_capacity_mean": float(capacity[0] / length[0]),
        "agents_unavailable_share": float(empty[0] / length[0]),
    }


def occupancy_over_time(timeline: Timeline, start: Any, end: Any, freq: str = "1h") -> pd.DataFrame:
    """Agent occupancy per time bin: ``bin_start`` (UTC), ``capacity`` and ``load``
    (time-averaged over the bin), ``occupancy`` (∫load / ∫capacity, NaN without capacity).

    >>> tl = Timeline._from_deltas([0], [4], [2], [0])
    >>> occupancy_over_time(tl, 0, 7_200_000)["occupancy"].tolist()
    [0.5, 0.5]
    """
    lo, hi = int(to_ms_array([start])[0]), int(to_ms_array([end])[0])
    step = int(pd.Timedelta(freq).total_seconds() * 1000)
    edges = np.arange(lo - lo % step, hi + step, step, dtype=np.int64)
    if len(edges) < 2:
        edges = np.array([lo, lo + step], dtype=np.int64)
    capacity, load, _, length = _integrals(timeline, edges)
    with np.errstate(divide="ignore", invalid="ignore"):
        occupancy = np.where(capacity > 0, load / np.where(capacity > 0, capacity, 1), np.nan)
    return pd.DataFrame(
        {
            "bin_start": pd.to_datetime(edges[:-1], unit="ms", utc=True),
            "capacity": capacity / length,
            "load": load / length,
            "occupancy": occupancy,
        }
    )


def conversation_kpis(conversations: pd.DataFrame, pages: pd.DataFrame) -> dict[str, Any]:
    """Web-chat conversations of the replayed page views: count, unserved, queue waits.

    >>> conv = pd.DataFrame({"channel": ["web_chat", "web_chat", "phone"],
    ...     "page_view_id": ["p1", "p1", None], "queued_at": [0, 0, 0],
    ...     "started_at": [30_000, None, 0], "outcome": ["served", "unserved", None]})
    >>> k = conversation_kpis(conv, pd.DataFrame({"page_view_id": ["p1"]}))
    >>> k["web_chat_conversations"], k["unserved_conversations"], k["queue_wait_median_s"]
    (2, 1, 30.0)
    """
    keep = set(pages["page_view_id"])
    web = conversations[
        (conversations["channel"] == "web_chat") & conversations["page_view_id"].isin(keep)
    ]
    queued = _ms(web["queued_at"])
    started = _ms(web["started_at"])
    waits = (started - queued)[(started != NEVER) & (queued != NEVER)] / 1000.0
    median, p90 = _quantiles(waits)
    unserved = int((web["outcome"] == "unserved").sum())
    return {
        "web_chat_conversations": len(web),
        "unserved_conversations": unserved,
        "unserved_share": _share(unserved, len(web)),
        "queue_wait_median_s": median,
        "queue_wait_p90_s": p90,
    }


# ------------------------------------------------------------------ fidelity


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
    has_trigger = frame["trigger_id"].notna()
    continuation = (
        frame["trigger_continuation"].fillna(False).astype(bool)
        if "trigger_continuation" in frame
        else pd.Series(False, index=frame.index)
    )
    embedded = (
        frame["page_view_id"].map(page["embedded"]).fillna(False).astype(bool)
        if "embedded" in page
        else pd.Series(False, index=frame.index)
    )
    stage = np.where(
        frame["event"].isin(_ENGAGEMENT_EVENTS),
        "engagement",
        np.where(
            has_trigger | (frame["event"] != "chat_shown"),
            "configured",
            np.where(continuation, "continuation", np.where(embedded, "embedded", "messaging")),
        ),
    )
    frame["stage"] = stage
    for name in EVENT_COLUMNS:
        if name not in frame:
            frame[name] = None
    frame = frame.sort_values(["visitor_id", "event_at", "page_view_id"], kind="stable")
    return _typed_frame(frame[list(EVENT_COLUMNS)])


def fidelity_mismatches(
    replayed: pd.DataFrame,
    recorded: pd.DataFrame,
    comparison: EventComparison,
    pages: pd.DataFrame,
    first: int = 20,
) -> pd.DataFrame:
    """The first ``first`` mismatching page views (by start) with both sides' decision events.

    Columns: ``page_view_id, side`` (``replay`` / ``recorded``), ``event_at, event,
    trigger_id, item_id, mode, stage`` and ``differs`` (this event's key does not occur
    the same number of times on the other side).
    """
    columns = ["page_view_id", "side", "event_at", "event", "trigger_id", "item_id", "mode"]
    columns += ["stage", "differs"]
    bad = comparison.mismatched
    if not bad:
        empty = {c: pd.Series(dtype=object) for c in columns}
        empty["event_at"] = pd.Series(dtype="datetime64[ms, UTC]")
        empty["differs"] = pd.Series(dtype=bool)
        return pd.DataFrame(empty)
    order = pages[pages["page_view_id"].isin(bad)].assign(_t=lambda f: _ms(f["started_at"]))
    chosen = order.sort_values(["_t", "page_view_id"])["page_view_id"].head(first).tolist()
    rank = {p: i for i, p in enumerate(chosen)}
    keys = ["page_view_id", "event_at", "event", "trigger_id", "item_id", "mode"]
    diff = comparison.mismatches.assign(event_at=lambda f: _ms(f["event_at"]))
    diff_keys = {tuple(_nullable(v) for v in row) for row in diff[keys].itertuples(index=False)}
    parts = []
    for side, frame in (("replay", replayed), ("recorded", recorded)):
        part = frame[frame["page_view_id"].isin(rank) & frame["event"].isin(DECISION_EVENTS)]
        part = part[[c for c in columns if c in part]].assign(side=side)
        ms = _ms(part["event_at"])
        part["differs"] = [
            (p, int(t), e, _nullable(tr), _nullable(it), _nullable(m)) in diff_keys
            for p, t, e, tr, it, m in zip(
                part["page_view_id"], ms, part["event"], part["trigger_id"], part["item_id"],
                part["mode"], strict=True,
            )
        ]  # fmt: skip
        parts.append(part)
    table = pd.concat(parts, ignore_index=True)
    table["_rank"] = table["page_view_id"].map(rank)
    table["_t"] = _ms(table["event_at"])
    table = table.sort_values(["_rank", "_t", "side"], kind="stable")
    return table[columns].reset_index(drop=True)


def _nullable(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def compare_recorded(
    replayed: pd.DataFrame, recorded: pd.DataFrame, pages: pd.DataFrame
) -> EventComparison:
    """Replay versus recording over the replayed page views (decision events only)."""
    return compare_events(replayed, recorded, page_view_ids=pages["page_view_id"].tolist())


# ------------------------------------------------------------------ JSON


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
