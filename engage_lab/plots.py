"""Plotly figures of the exploration frames (:mod:`engage_lab.explore`).

Each function takes the DataFrame its ``explore`` namesake returns and builds a plain
``plotly.graph_objects.Figure`` (no widget). Values are passed to plotly as Python lists
and times as ISO strings, so a figure's JSON is the same on every run and machine (the
notebooks store it and nbval compares it).

Conventions every figure keeps:

* a time axis is in the source's timezone (the ``timezone`` argument, see
  :func:`engage_lab.explore.source_timezone`) and its title names it:
  ``time (Europe/Paris)``, ``hour of day (Europe/Paris)``;
* the legend sits above the plot area, right-aligned under the title, never over an
  axis title (a legend below the plot covers the x-axis title; one on the right covers
  a second y axis).

>>> import pandas as pd
>>> frame = pd.DataFrame({"pages": [1, 3], "visits": [2, 1], "share": [2 / 3, 1 / 3]})
>>> pages_per_visit_figure(frame).data[0].y
(2, 1)
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

__all__ = [
    "LEGEND",
    "agent_presence_figure",
    "custom_variables_figure",
    "dwell_time_figure",
    "occupancy_figure",
    "pages_per_visit_figure",
    "time_title",
    "traffic_by_hour_figure",
    "traffic_by_weekday_figure",
]

TEMPLATE = "plotly_white"
HEIGHT = 360


def _ints(series: pd.Series) -> list[int]:
    return [int(v) for v in series]


def _floats(series: pd.Series, digits: int = 4) -> list[float | None]:
    return [None if pd.isna(v) else round(float(v), digits) for v in series]


def _local_times(series: pd.Series, timezone: str) -> list[str]:
    """UTC instants (naive, as the database stores them) as wall-clock times in ``timezone``.

    >>> _local_times(pd.Series(pd.to_datetime(["2026-03-02 09:00"])), "Europe/Paris")
    ['2026-03-02 10:00']
    """
    instants = pd.to_datetime(series)
    if instants.dt.tz is None:
        instants = instants.dt.tz_localize("UTC")
    return [v.strftime("%Y-%m-%d %H:%M") for v in instants.dt.tz_convert(timezone)]


def time_title(timezone: str, what: str = "time") -> str:
    """The title of a time axis, naming its timezone.

    >>> time_title("Europe/Paris", "hour of day")
    'hour of day (Europe/Paris)'
    """
    return f"{what} ({timezone})"


#: The legend of every figure: one row above the plot area, right-aligned.
LEGEND = {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"}


def _layout(fig: go.Figure, title: str, x: str, y: str) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01, "xanchor": "left", "y": 0.97, "yanchor": "top"},
        xaxis_title=x,
        yaxis_title=y,
        template=TEMPLATE,
        height=HEIGHT,
        margin={"l": 60, "r": 20, "t": 80, "b": 50},
        legend=LEGEND,
    )
    return fig


def traffic_by_hour_figure(frame: pd.DataFrame, timezone: str = "UTC") -> go.Figure:
    """Page views and visits per local hour of day (grouped bars).

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"hour": range(24), "page_views": [2] * 24, "visits": [1] * 24})
    >>> [trace.name for trace in traffic_by_hour_figure(frame, "Europe/Paris").data]
    ['page views', 'visits']
    """
    hours = _ints(frame["hour"])
    fig = go.Figure(
        [
            go.Bar(x=hours, y=_ints(frame["page_views"]), name="page views"),
            go.Bar(x=hours, y=_ints(frame["visits"]), name="visits"),
        ]
    )
    fig.update_xaxes(dtick=1)
    title = f"Traffic by hour of day ({timezone})"
    return _layout(fig, title, time_title(timezone, "hour of day"), "count")


def traffic_by_weekday_figure(frame: pd.DataFrame, timezone: str = "UTC") -> go.Figure:
    """Page views and visits per local day of week (grouped bars, Monday first).

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"weekday": [1, 2], "day": ["Monday", "Tuesday"],
    ...                       "page_views": [3, 1], "visits": [1, 1]})
    >>> traffic_by_weekday_figure(frame).data[0].x
    ('Monday', 'Tuesday')
    """
    days = [str(d) for d in frame["day"]]
    fig = go.Figure(
        [
            go.Bar(x=days, y=_ints(frame["page_views"]), name="page views"),
            go.Bar(x=days, y=_ints(frame["visits"]), name="visits"),
        ]
    )
    title = f"Traffic by day of week ({timezone})"
    return _layout(fig, title, time_title(timezone, "day of week"), "count")


def pages_per_visit_figure(frame: pd.DataFrame) -> go.Figure:
    """Visits by number of page views (bars).

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"pages": [1, 2], "visits": [5, 3], "share": [0.625, 0.375]})
    >>> pages_per_visit_figure(frame).data[0].x
    (1, 2)
    """
    fig = go.Figure(go.Bar(x=_ints(frame["pages"]), y=_ints(frame["visits"]), name="visits"))
    if frame["pages"].max() <= 25:  # a tick per count while they fit; past that plotly's
        fig.update_xaxes(dtick=1)
    return _layout(fig, "Page views per visit", "page views in the visit", "visits")


def dwell_time_figure(durations: pd.DataFrame, cap_seconds: int = 600) -> go.Figure:
    """Histogram of page view lengths, one series per kind of end (recorded or inferred).

    Lengths above ``cap_seconds`` are drawn in the last bin (the 30-minute default length
    of pages without any event would otherwise flatten the picture).

    >>> import pandas as pd
    >>> durations = pd.DataFrame({"seconds": [10.0, 700.0], "end_kind": ["recorded", "last event"]})
    >>> [trace.name for trace in dwell_time_figure(durations).data]
    ['recorded', 'last event']
    """
    fig = go.Figure()
    for kind in ("recorded", "last event", "default length"):
        seconds = durations.loc[durations["end_kind"] == kind, "seconds"]
        if seconds.empty:
            continue
        capped = [min(float(s), float(cap_seconds)) for s in seconds]
        fig.add_trace(
            go.Histogram(
                x=capped,
                name=kind,
                xbins={"start": 0, "end": cap_seconds + 15, "size": 15},
                opacity=0.75,
            )
        )
    fig.update_layout(barmode="stack")
    title = f"Page view length (seconds; {cap_seconds}+ in the last bin)"
    return _layout(fig, title, "seconds", "page views")


def custom_variables_figure(frame: pd.DataFrame) -> go.Figure:
    """Changes and pages per custom variable (grouped bars).

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"name": ["custom_cart"], "changes": [3], "page_views": [2],
    ...                       "pages_changed_mid_page": [1]})
    >>> len(custom_variables_figure(frame).data)
    3
    """
    names = [str(n) for n in frame["name"]]
    fig = go.Figure(
        [
            go.Bar(x=names, y=_ints(frame["changes"]), name="changes"),
            go.Bar(x=names, y=_ints(frame["page_views"]), name="page views setting it"),
            go.Bar(
                x=names,
                y=_ints(frame["pages_changed_mid_page"]),
                name="pages where it changed",
            ),
        ]
    )
    return _layout(fig, "Custom variables", "variable", "count")


def agent_presence_figure(load: pd.DataFrame, timezone: str = "UTC") -> go.Figure:
    """Agents available and away over time (mean per bucket, stacked areas).

    ``load`` is :func:`engage_lab.explore.agent_load`'s frame (UTC buckets); the time axis
    shows them in ``timezone``.

    >>> import pandas as pd
    >>> load = pd.DataFrame({"bucket_start": pd.to_datetime(["2026-03-02 10:00"]),
    ...                      "agents_available": [1.5], "agents_away": [0.25]})
    >>> figure = agent_presence_figure(load, "Europe/Paris")
    >>> figure.data[0].y, figure.data[0].x, figure.layout.xaxis.title.text
    ((1.5,), ('2026-03-02 11:00',), 'time (Europe/Paris)')
    """
    times = _local_times(load["bucket_start"], timezone)
    fig = go.Figure(
        [
            go.Scatter(
                x=times,
                y=_floats(load["agents_available"]),
                name="available",
                mode="lines",
                line={"shape": "hv"},
                stackgroup="presence",
            ),
            go.Scatter(
                x=times,
                y=_floats(load["agents_away"]),
                name="away",
                mode="lines",
                line={"shape": "hv"},
                stackgroup="presence",
            ),
        ]
    )
    return _layout(fig, "Agent presence (mean agents per bucket)", time_title(timezone), "agents")


def occupancy_figure(load: pd.DataFrame, timezone: str = "UTC") -> go.Figure:
    """Capacity, conversations in progress on available agents, and occupancy over time.

    ``load`` is :func:`engage_lab.explore.agent_load`'s frame (UTC buckets); the time axis
    shows them in ``timezone``.

    >>> import pandas as pd
    >>> load = pd.DataFrame({"bucket_start": pd.to_datetime(["2026-03-02 10:00"]),
    ...                      "capacity": [3.75], "conversations_on_available": [0.75],
    ...                      "occupancy": [0.2]})
    >>> occupancy_figure(load).data[2].y
    (20.0,)
    """
    times = _local_times(load["bucket_start"], timezone)
    occupancy = [None if v is None else round(100 * v, 2) for v in _floats(load["occupancy"])]
    fig = go.Figure(
        [
            go.Scatter(
                x=times,
                y=_floats(load["capacity"]),
                name="capacity (sum of soft limits)",
                mode="lines",
                line={"shape": "hv"},
            ),
            go.Scatter(
                x=times,
                y=_floats(load["conversations_on_available"]),
                name="conversations on available agents",
                mode="lines",
                line={"shape": "hv"},
            ),
            go.Scatter(
                x=times,
                y=occupancy,
                name="occupancy %",
                mode="lines",
                line={"shape": "hv", "dash": "dot"},
                yaxis="y2",
            ),
        ]
    )
    # The percent axis from 0 to 100 on its own ticks: synced to the counts' grid it started
    # at an odd value (3.5 %) level with the counts' 0.
    fig.update_layout(
        yaxis={"rangemode": "tozero"},
        yaxis2={
            "title": "occupancy %",
            "overlaying": "y",
            "side": "right",
            "range": [0, 100],
            "tickmode": "linear",
            "tick0": 0,
            "dtick": 25,
            "showgrid": False,
        },
    )
    return _layout(fig, "Agent occupancy", time_title(timezone), "conversations")
