"""The world's distribution figures: local-time axes name the timezone; no 0 on a log axis."""

from __future__ import annotations

import pandas as pd
import pytest

from engage_lab.world.distributions import WAIT_FLOOR_S, figure


@pytest.mark.parametrize(
    ("name", "frame", "axis"),
    [
        ("traffic_by_hour", pd.DataFrame({"hour": [0, 1], "page_views": [3, 5]}), "hour of day"),
        (
            "traffic_by_weekday",
            pd.DataFrame({"weekday": ["Monday"], "per_day": [2.5]}),
            "day of week",
        ),
        (
            "agent_occupancy",
            pd.DataFrame(
                {
                    "hour": [9],
                    "capacity": [3.0],
                    "in_progress": [1.0],
                    "waiting": [0.0],
                    "occupancy": [0.33],
                }
            ),
            "hour of day",
        ),
    ],
)
def test_local_time_axes_name_the_timezone(name, frame, axis):
    fig = figure(name, frame, "Europe/Paris")
    assert fig.layout.xaxis.title.text == f"{axis} (Europe/Paris)"
    assert "Europe/Paris" in fig.layout.title.text
    assert figure(name, frame).layout.xaxis.title.text == f"{axis} (UTC)"


def test_queue_waits_put_no_zero_on_the_log_axis_and_say_so():
    waits = pd.DataFrame(
        {"channel": ["web_chat"] * 3 + ["email"] * 2, "wait_s": [0.0, 0.0, 12.0, 5.0, 600.0]}
    )
    fig = figure("queue_wait_seconds", waits)
    assert fig.layout.yaxis.type == "log"
    values = [float(v) for trace in fig.data for v in trace.y]
    assert min(values) == WAIT_FLOOR_S > 0
    assert sorted(values) == [1.0, 1.0, 5.0, 12.0, 600.0]  # only the zeros moved
    assert "under 1 s drawn at 1 s" in fig.layout.yaxis.title.text
    assert "web_chat 67%" in fig.layout.title.text and "email 0%" in fig.layout.title.text


@pytest.mark.parametrize("name", ["dwell_seconds", "queue_wait_seconds", "agent_occupancy"])
def test_legend_sits_above_the_plot(name):
    frames = {
        "dwell_seconds": pd.DataFrame({"seconds": [3.0, 40.0], "category": ["home", "cart"]}),
        "queue_wait_seconds": pd.DataFrame({"channel": ["phone"], "wait_s": [3.0]}),
        "agent_occupancy": pd.DataFrame(
            {
                "hour": [9],
                "capacity": [3.0],
                "in_progress": [1.0],
                "waiting": [0.0],
                "occupancy": [0.33],
            }
        ),
    }
    legend = figure(name, frames[name]).layout.legend
    assert legend.y >= 1 and legend.yanchor == "bottom"
