"""Figures carry the frame's numbers, and their JSON is the same on every build."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import pytest

from engage_lab import explore, plots


def test_traffic_figures_carry_the_counts(con):
    by_hour = explore.traffic_by_hour(con)
    fig = plots.traffic_by_hour_figure(by_hour, "Europe/Paris")
    assert isinstance(fig, go.Figure) and not isinstance(fig, go.FigureWidget)
    assert fig.data[0].y[9] == 3 and sum(fig.data[1].y) == 3
    assert "Europe/Paris" in fig.layout.title.text
    by_day = plots.traffic_by_weekday_figure(explore.traffic_by_weekday(con))
    assert by_day.data[0].x[0] == "Monday" and by_day.data[0].y[0] == 3


def test_dwell_figure_caps_long_pages_and_splits_by_end_kind(con):
    fig = plots.dwell_time_figure(explore.page_durations(con), cap_seconds=600)
    assert [t.name for t in fig.data] == ["recorded", "last event", "default length"]
    assert fig.data[2].x == (600.0,)  # pv5 (1800 s) drawn in the last bin
    assert sorted(fig.data[0].x) == [10.0, 60.0, 150.0]


def test_presence_and_occupancy_figures(con):
    load = explore.agent_load(con, "15 minutes")
    presence = plots.agent_presence_figure(load)
    assert presence.data[0].x[0] == "2026-03-02 10:00"
    assert presence.data[0].y == (1.0, 2.0, 1.0, 2.0, 1.0, 1.0)
    occupancy = plots.occupancy_figure(load)
    assert occupancy.data[2].y[:2] == (50.0, 20.0)  # percent


def test_occupancy_figure_leaves_gaps_where_there_is_no_capacity(con):
    con.execute("update agents set soft_limit = 0")
    fig = plots.occupancy_figure(explore.agent_load(con, "1 hour"))
    assert fig.data[2].y == (None, None)


def test_other_figures(con):
    assert plots.pages_per_visit_figure(explore.pages_per_visit(con)).data[0].y == (2, 1)
    fig = plots.custom_variables_figure(explore.custom_variables(con))
    assert fig.data[0].x == ("custom_cart", "custom_logged_in", "custom_plan")
    assert fig.data[0].y == (3, 2, 2)


@pytest.mark.parametrize(
    "build",
    [
        lambda c: plots.traffic_by_hour_figure(explore.traffic_by_hour(c)),
        lambda c: plots.agent_presence_figure(explore.agent_load(c)),
        lambda c: plots.occupancy_figure(explore.agent_load(c)),
        lambda c: plots.dwell_time_figure(explore.page_durations(c)),
    ],
)
def test_figure_json_is_reproducible_and_has_no_random_ids(con, build):
    first, second = build(con).to_json(), build(con).to_json()
    assert first == second
    assert '"uid"' not in first
    json.loads(first)


def test_time_axes_are_in_the_source_timezone_and_say_so(con):
    tz = explore.source_timezone(con)
    assert tz == "Europe/Paris"
    load = explore.agent_load(con, "15 minutes")
    for build in (plots.agent_presence_figure, plots.occupancy_figure):
        fig = build(load, tz)
        assert fig.data[0].x[0] == "2026-03-02 11:00"  # 10:00 UTC is 11:00 in Paris in March
        assert fig.layout.xaxis.title.text == "time (Europe/Paris)"
        utc = build(load)
        assert utc.data[0].x[0] == "2026-03-02 10:00"
        assert utc.layout.xaxis.title.text == "time (UTC)"
    by_hour = plots.traffic_by_hour_figure(explore.traffic_by_hour(con), tz)
    assert by_hour.layout.xaxis.title.text == "hour of day (Europe/Paris)"
    by_day = plots.traffic_by_weekday_figure(explore.traffic_by_weekday(con), tz)
    assert by_day.layout.xaxis.title.text == "day of week (Europe/Paris)"


def test_local_times_cross_a_daylight_saving_change():
    import pandas as pd

    utc = pd.Series(pd.to_datetime(["2026-03-29 00:30", "2026-03-29 01:30"]))
    assert plots._local_times(utc, "Europe/Paris") == ["2026-03-29 01:30", "2026-03-29 03:30"]


@pytest.mark.parametrize(
    "build",
    [
        lambda c: plots.traffic_by_hour_figure(explore.traffic_by_hour(c)),
        lambda c: plots.traffic_by_weekday_figure(explore.traffic_by_weekday(c)),
        lambda c: plots.pages_per_visit_figure(explore.pages_per_visit(c)),
        lambda c: plots.dwell_time_figure(explore.page_durations(c)),
        lambda c: plots.custom_variables_figure(explore.custom_variables(c)),
        lambda c: plots.agent_presence_figure(explore.agent_load(c)),
        lambda c: plots.occupancy_figure(explore.agent_load(c)),
    ],
)
def test_legend_sits_above_the_plot_area_clear_of_axis_titles(con, build):
    fig = build(con)
    legend = fig.layout.legend
    # above the plot area (y >= 1, anchored at its bottom): not over the x-axis title below
    # nor over a second y axis's title on the right
    assert legend.y >= 1 and legend.yanchor == "bottom" and legend.orientation == "h"
    assert fig.layout.margin.t >= 70  # room for the title and the legend row
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text
