"""The agent side of a replay: occupancy over the replayed span, web-chat conversations.

Load and capacity come from an availability :class:`~engage_lab.availability.Timeline`;
conversations are the history's web-chat conversations of the replayed page views.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from engage_lab.availability.state import NEVER, Timeline, to_ms_array

__all__ = ["conversation_kpis", "conversation_stats", "occupancy_kpis", "occupancy_over_time"]


def _ms(column: pd.Series) -> np.ndarray:
    return to_ms_array(column.reset_index(drop=True))


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _quantiles(values: np.ndarray) -> tuple[float | None, float | None]:
    if len(values) == 0:
        return None, None
    median, p90 = np.percentile(values.astype(np.float64), [50, 90])
    return float(median), float(p90)


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
    unserved = (web["outcome"] == "unserved").to_numpy(dtype=bool)
    return conversation_stats(_ms(web["queued_at"]), _ms(web["started_at"]), unserved)


def conversation_stats(
    queued: np.ndarray, started: np.ndarray, unserved: np.ndarray
) -> dict[str, Any]:
    """The conversation KPIs of web chats given as arrays (ms; NEVER: missing)."""
    waits = (started - queued)[(started != NEVER) & (queued != NEVER)] / 1000.0
    median, p90 = _quantiles(waits)
    n_unserved = int(np.count_nonzero(unserved))
    return {
        "web_chat_conversations": len(queued),
        "unserved_conversations": n_unserved,
        "unserved_share": _share(n_unserved, len(queued)),
        "queue_wait_median_s": median,
        "queue_wait_p90_s": p90,
    }
