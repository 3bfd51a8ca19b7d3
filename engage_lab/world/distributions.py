"""The generated world's distributions, read back from its files: tables and figures.

Read a generated folder with :func:`read_world` (the ``*.jsonl`` tables and ``truth/``),
then each function gives one distribution as a DataFrame; :func:`figure` draws any of
them with plotly. Times are server times (the browser clock offset removed), hours and
weekdays local to the source's time zone.

* :func:`pages_per_visit` — visits by number of page views (``truth/visits.jsonl``);
* :func:`dwell_seconds` — seconds on each page with a recorded end, by page category;
* :func:`visits_per_visitor` — visitors by number of visits;
* :func:`traffic_by_hour` / :func:`traffic_by_weekday` — page views by local hour / day;
* :func:`agent_occupancy` — mean availability state by local hour (capacity, in
  progress, waiting, occupancy = in progress / capacity) sampled every ``step``;
* :func:`queue_waits` — queue waits (``started_at - queued_at``) by channel;
* :func:`params_table` — the parameters the world was drawn with (``WorldParams``).

>>> import tempfile
>>> from engage_lab.world import generate_world
>>> with tempfile.TemporaryDirectory() as out:
...     _ = generate_world(out, visitors=20, seed=3, days=2, progress=False)
...     w = read_world(out)
>>> int(pages_per_visit(w)["visits"].sum()) == len(w.tables["visit_truth"])
True
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engage_lab.availability.state import Timeline
from engage_lab.conditions.vocabulary import DAY_NAMES
from engage_lab.world import libm

__all__ = [
    "WorldFiles",
    "agent_occupancy",
    "dwell_seconds",
    "figure",
    "pages_per_visit",
    "params_table",
    "queue_wait_seconds",
    "queue_waits",
    "read_world",
    "traffic_by_hour",
    "traffic_by_weekday",
    "visits_per_visitor",
]

#: Day names, Monday first (the ``weekday`` column of the traffic table).
WEEKDAYS = DAY_NAMES


@dataclass(frozen=True)
class WorldFiles:
    """A generated world as read from its folder."""

    folder: Path
    #: record type (``page_view``, ``visit_truth``, ...) -> DataFrame of its records.
    tables: dict[str, pd.DataFrame]
    #: ``truth/params.json``: ``run`` (seed, mode, days, ...) and ``params``.
    run: dict[str, Any]
    params: dict[str, Any]

    @property
    def timezone(self) -> str:
        return str(self.params["timezone"])

    def table(self, record_type: str) -> pd.DataFrame:
        """The records of one type (an empty frame when there are none)."""
        return self.tables.get(record_type, pd.DataFrame())


def read_world(folder: str | Path) -> WorldFiles:
    """Read a generated world folder (tables at the top, ``truth/`` beside)."""
    root = Path(folder)
    tables: dict[str, list[dict[str, Any]]] = {}
    for path in [*sorted(root.glob("*.jsonl")), *sorted((root / "truth").glob("*.jsonl"))]:
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            tables.setdefault(record["type"], []).append(record)
    facts = json.loads((root / "truth" / "params.json").read_text(encoding="utf-8"))
    frames = {kind: pd.DataFrame(rows) for kind, rows in tables.items()}
    return WorldFiles(root, frames, facts["run"], facts["params"])


def _utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True, format="ISO8601")


def _server_starts(w: WorldFiles) -> pd.Series:
    pages = w.table("page_view")
    visitors = w.table("visitor")
    offsets = dict(zip(visitors["id"], visitors.get("clock_offset_ms", 0), strict=True))
    shift = pages["visitor_id"].map(offsets).fillna(0).astype("int64")
    return _utc(pages["started_at"]) - pd.to_timedelta(shift, unit="ms")


def pages_per_visit(w: WorldFiles) -> pd.DataFrame:
    """``pages``, ``visits``: how many visits have that many page views."""
    counts = w.table("visit_truth")["page_views"].value_counts().sort_index()
    return pd.DataFrame({"pages": counts.index.astype(int), "visits": counts.to_numpy()})


def visits_per_visitor(w: WorldFiles) -> pd.DataFrame:
    """``visits``, ``visitors``: how many visitors made that many visits (0: none recorded)."""
    counts = w.table("visitor_truth")["visits"].value_counts().sort_index()
    return pd.DataFrame({"visits": counts.index.astype(int), "visitors": counts.to_numpy()})


def dwell_seconds(w: WorldFiles) -> pd.DataFrame:
    """``page_view_id``, ``category``, ``seconds`` for every page view with a recorded end.

    The category comes from the site map (``page_view.title`` is unique per page state;
    the path's first segment stands for it: ``product``, ``cart``, ... , ``home`` for ``/``).
    """
    pages = w.table("page_view")
    if "ended_at" not in pages:
        return pd.DataFrame(columns=["page_view_id", "category", "seconds"])
    ended = pages[pages["ended_at"].notna()]
    seconds = (_utc(ended["ended_at"]) - _utc(ended["started_at"])).dt.total_seconds()
    first = ended["url"].str.replace(r"^[a-z]+://[^/]+/?", "", regex=True).str.split(r"[/?#]")
    category = first.str[0].replace("", "home")
    return pd.DataFrame(
        {
            "page_view_id": ended["id"].to_numpy(),
            "category": category.to_numpy(),
            "seconds": seconds.to_numpy(),
        }
    ).reset_index(drop=True)


def traffic_by_hour(w: WorldFiles) -> pd.DataFrame:
    """``hour`` (local, 0–23), ``page_views``."""
    local = _server_starts(w).dt.tz_convert(w.timezone)
    counts = local.dt.hour.value_counts().reindex(range(24), fill_value=0)
    return pd.DataFrame({"hour": list(range(24)), "page_views": counts.to_numpy()})


def traffic_by_weekday(w: WorldFiles) -> pd.DataFrame:
    """``weekday`` (Monday first), ``page_views``, ``per_day`` (divided by the number of
    such days in the span, so a short span is not biased to its first weekdays)."""
    local = _server_starts(w).dt.tz_convert(w.timezone)
    counts = local.dt.dayofweek.value_counts().reindex(range(7), fill_value=0)
    days = int(w.run["days"])
    occurrences = np.array([days // 7 + (1 if d < days % 7 else 0) for d in range(7)])
    per_day = np.where(occurrences > 0, counts.to_numpy() / np.maximum(occurrences, 1), 0.0)
    return pd.DataFrame(
        {"weekday": list(WEEKDAYS), "page_views": counts.to_numpy(), "per_day": per_day}
    )


def agent_occupancy(w: WorldFiles, step: str = "15min") -> pd.DataFrame:
    """Mean availability state by local hour, sampled every ``step`` over the span.

    Columns ``hour``, ``capacity``, ``in_progress``, ``waiting``, ``occupancy`` (mean of
    in progress / capacity over the samples with capacity; NaN when never staffed).
    """
    convs = w.table("conversation")
    timeline = Timeline.from_frames(
        w.table("agent").rename(columns={"id": "agent_id"}),
        w.table("presence").rename(columns={"id": "presence_id"}),
        convs.rename(columns={"id": "conversation_id"}),
    )
    start = pd.Timestamp(w.run["span_start"])
    grid = pd.date_range(start, start + pd.Timedelta(days=int(w.run["days"])), freq=step,
                         inclusive="left")  # fmt: skip
    ms = grid.as_unit("ms").asi8
    states = [timeline.at(int(t)) for t in ms]
    frame = pd.DataFrame(
        {
            "hour": grid.tz_convert(w.timezone).hour,
            "capacity": [s.capacity for s in states],
            "in_progress": [s.in_progress for s in states],
            "waiting": [s.waiting for s in states],
        }
    )
    staffed = frame["capacity"] > 0
    frame["occupancy"] = np.where(staffed, frame["in_progress"] / frame["capacity"].clip(lower=1),
                                  np.nan)  # fmt: skip
    out = frame.groupby("hour", as_index=False).mean()
    return out.reindex(columns=["hour", "capacity", "in_progress", "waiting", "occupancy"])


def queue_waits(w: WorldFiles) -> pd.DataFrame:
    """Per channel: ``conversations``, ``started``, wait quantiles in seconds
    (``median_s``, ``p90_s``, ``max_s``) over the started ones."""
    convs = w.table("conversation").copy()
    started = convs[convs["started_at"].notna()] if "started_at" in convs else convs.iloc[0:0]
    wait = (_utc(started["started_at"]) - _utc(started["queued_at"])).dt.total_seconds()
    rows = []
    for channel in sorted(convs["channel"].unique()):
        mine = wait[started["channel"] == channel]
        rows.append(
            {
                "channel": channel,
                "conversations": int((convs["channel"] == channel).sum()),
                "started": len(mine),
                "median_s": float(mine.median()) if len(mine) else np.nan,
                "p90_s": float(mine.quantile(0.9)) if len(mine) else np.nan,
                "max_s": float(mine.max()) if len(mine) else np.nan,
            }
        )
    return pd.DataFrame(rows)


def queue_wait_seconds(w: WorldFiles) -> pd.DataFrame:
    """``channel``, ``wait_s`` of every started conversation (for a histogram)."""
    convs = w.table("conversation")
    started = convs[convs["started_at"].notna()]
    wait = (_utc(started["started_at"]) - _utc(started["queued_at"])).dt.total_seconds()
    return pd.DataFrame({"channel": started["channel"].to_numpy(), "wait_s": wait.to_numpy()})


def params_table(w: WorldFiles) -> pd.DataFrame:
    """``parameter``, ``value`` (JSON text) of every ``WorldParams`` field, truth included."""
    rows = []
    for name, value in w.params.items():
        if isinstance(value, dict):
            rows += [(f"{name}.{k}", json.dumps(v)) for k, v in value.items()]
        else:
            rows.append((name, json.dumps(value)))
    return pd.DataFrame(rows, columns=["parameter", "value"])


#: Waits below this many seconds are drawn at it on the log axis of queue waits (a log
#: axis has no 0, and most web chats that find a free slot wait exactly 0 s).
WAIT_FLOOR_S = 1.0


def figure(name: str, frame: pd.DataFrame, timezone: str = "UTC") -> Any:
    """A plotly figure of one distribution (``name`` = the function that made ``frame``).

    Axes of local hours and weekdays name ``timezone`` (the world's source timezone,
    :attr:`WorldFiles.timezone`). Queue waits are drawn on a log axis with waits under
    ``WAIT_FLOOR_S`` (0 s: a free slot) drawn at the floor, as the axis title says; the
    legend sits above the plot, clear of the axis titles.

    >>> figure("traffic_by_hour", pd.DataFrame({"hour": [0, 1], "page_views": [3, 5]})).data[0].type
    'bar'
    >>> waits = pd.DataFrame({"channel": ["web_chat", "web_chat"], "wait_s": [0.0, 30.0]})
    >>> [float(v) for v in figure("queue_wait_seconds", waits).data[0].y]
    [1.0, 30.0]
    """
    import plotly.express as px

    local = {"hour": f"hour of day ({timezone})", "weekday": f"day of week ({timezone})",
             "per_day": "page views per day", "page_views": "page views"}  # fmt: skip
    if name == "pages_per_visit":
        fig = px.bar(frame, x="pages", y="visits", log_y=True, title="Pages per visit (log scale)")
    elif name == "visits_per_visitor":
        fig = px.bar(frame, x="visits", y="visitors", title="Visits per visitor")
    elif name == "dwell_seconds":
        fig = px.histogram(frame.assign(log10_seconds=libm.log10(frame["seconds"].clip(lower=0.1))),
                           x="log10_seconds", color="category", nbins=40,
                           title="Dwell per page (recorded ends)",
                           labels={"log10_seconds": "log10 of seconds (under 0.1 s drawn at 0.1 s)"})  # fmt: skip
    elif name == "traffic_by_hour":
        fig = px.bar(frame, x="hour", y="page_views", labels=local,
                     title=f"Page views by local hour ({timezone})")  # fmt: skip
    elif name == "traffic_by_weekday":
        y = "per_day" if "per_day" in frame else "page_views"
        fig = px.bar(frame, x="weekday", y=y, labels=local,
                     title=f"Page views per day, by local weekday ({timezone})")  # fmt: skip
    elif name == "agent_occupancy":
        fig = px.line(frame, x="hour", y=["capacity", "in_progress", "waiting", "occupancy"],
                      markers=True, labels={**local, "value": "mean", "variable": ""},
                      title=f"Agents by local hour (mean state, {timezone})")  # fmt: skip
    elif name == "queue_wait_seconds":
        zero = frame["wait_s"] < WAIT_FLOOR_S
        shares = ", ".join(
            f"{c} {share:.0%}" for c, share in zero.groupby(frame["channel"]).mean().items()
        )
        fig = px.box(frame.assign(wait_s=frame["wait_s"].clip(lower=WAIT_FLOOR_S)), x="channel",
                     y="wait_s", log_y=True, title=f"Queue waits (under 1 s: {shares})",
                     labels={"wait_s": "wait, s (log scale; under 1 s drawn at 1 s)"})  # fmt: skip
    else:
        raise ValueError(f"no figure for {name!r}")
    return fig.update_layout(
        height=360,
        margin={"l": 60, "r": 20, "t": 80, "b": 50},
        title={"x": 0.01, "xanchor": "left", "y": 0.97, "yanchor": "top"},
        legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"},
    )
