"""Exploration functions on a hand-written history (tests/explore/conftest.py).

Expected numbers are worked out by hand from the fixture rows; the comments show how.
"""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import engage_lab as el
from engage_lab import explore
from engage_lab.data import schema
from engage_lab.errors import DatabaseError, EngageLabError


def test_create_tables_has_every_schema_column():
    con = duckdb.connect()
    explore.create_tables(con)
    for table in schema.TABLES:
        described = con.execute(
            "select column_name, data_type from information_schema.columns"
            " where table_name = ? order by ordinal_position",
            [table.name],
        ).fetchall()
        assert described == [(c.name, c.sql_type) for c in table.columns]


def test_source_timezone(con):
    assert explore.source_timezone(con) == "Europe/Paris"
    con.execute("delete from source")
    assert explore.source_timezone(con) == "UTC"


def test_loaded_summary_counts_and_spans(con):
    summary = explore.loaded_summary(con).set_index("table")
    assert summary.loc["page_views", "rows"] == 5
    assert summary.loc["visits (derived)", "rows"] == 3  # visits A, B, C
    assert summary.loc["var_changes", "rows"] == 7
    assert summary.loc["conversations", "rows"] == 4
    assert summary.loc["identities", "rows"] == 0
    assert summary.loc["page_views", "first"] == pd.Timestamp("2026-03-02 08:10:00")
    assert summary.loc["page_views", "last"] == pd.Timestamp("2026-03-08 12:00:00")
    assert pd.isna(summary.loc["agents", "first"])  # agents have no time column
    # one row per schema table plus the derived visits, in schema order
    assert list(summary.index) == [
        *[t.name for t in schema.TABLES[:3]],
        "page_views",
        "visits (derived)",
        *[t.name for t in schema.TABLES[4:]],
    ]


def test_traffic_by_hour_in_source_timezone(con):
    by_hour = explore.traffic_by_hour(con).set_index("hour")
    assert len(by_hour) == 24 and by_hour.index.tolist() == list(range(24))
    # pv1-pv3 at 08:1x UTC = 09:1x Paris; pv4 23:30 UTC = 00:30; pv5 12:00 UTC = 13:00
    assert by_hour.loc[9].tolist() == [3, 1]
    assert by_hour.loc[0].tolist() == [1, 1]
    assert by_hour.loc[13].tolist() == [1, 1]
    assert by_hour["page_views"].sum() == 5 and by_hour["visits"].sum() == 3


def test_traffic_by_hour_in_utc_when_asked(con):
    by_hour = explore.traffic_by_hour(con, timezone="UTC").set_index("hour")
    assert by_hour.loc[8, "page_views"] == 3
    assert by_hour.loc[23, "page_views"] == 1
    assert by_hour.loc[0, "page_views"] == 0


def test_traffic_by_weekday(con):
    local = explore.traffic_by_weekday(con).set_index("day")
    assert list(local.index) == list(explore.WEEKDAYS)
    # Paris: Monday pv1-pv3; pv4 is Tuesday 00:30 local; pv5 Sunday
    assert local.loc["Monday"].tolist() == [1, 3, 1]
    assert local.loc["Tuesday"].tolist() == [2, 1, 1]
    assert local.loc["Sunday"].tolist() == [7, 1, 1]
    utc = explore.traffic_by_weekday(con, timezone="UTC").set_index("day")
    assert utc.loc["Monday", "page_views"] == 4 and utc.loc["Tuesday", "page_views"] == 0


def test_pages_per_visit(con):
    frame = explore.pages_per_visit(con)
    # visit A has 3 page views, B and C one each
    assert frame[["pages", "visits"]].values.tolist() == [[1, 2], [3, 1]]
    assert frame["share"].tolist() == pytest.approx([2 / 3, 1 / 3])


def test_page_durations_recorded_and_inferred(con):
    durations = explore.page_durations(con).set_index("page_view_id")
    assert durations["seconds"].to_dict() == {
        "pv1": 60.0,
        "pv2": 150.0,
        "pv3": 45.0,  # ends at its last event, the var change at 08:14:45
        "pv4": 10.0,
        "pv5": 1800.0,  # no event: 30 minutes
    }
    assert durations["end_kind"].to_dict() == {
        "pv1": "recorded",
        "pv2": "recorded",
        "pv3": "last event",
        "pv4": "recorded",
        "pv5": "default length",
    }
    assert durations.loc["pv3", "ended_at"] == pd.Timestamp("2026-03-02 08:14:45")
    assert not durations.loc["pv5", "end_recorded"]


def test_page_durations_keep_an_end_the_loader_inferred(con):
    con.execute(
        "update page_views set ended_at = '2026-03-08 12:30:00', end_recorded = false"
        " where page_view_id = 'pv5'"
    )
    row = explore.page_durations(con).set_index("page_view_id").loc["pv5"]
    assert (row["seconds"], bool(row["end_recorded"])) == (1800.0, False)
    assert row["end_kind"] == "default length"


def test_dwell_time_summary(con):
    summary = explore.dwell_time_summary(con).set_index("end_kind")
    assert summary.loc["recorded"].tolist() == [3, 73.3, 60.0, 132.0, 150.0]
    # recorded: 60, 150, 10 -> mean 73.33, median 60, p90 = 60 + 0.8 * 90 = 132
    assert summary.loc["last event", "page_views"] == 1
    assert summary.loc["default length", "max_s"] == 1800.0
    # all: 10, 45, 60, 150, 1800 -> mean 413, p90 = 150 + 0.6 * 1650 = 1140
    assert summary.loc["all"].tolist() == [5, 413.0, 60.0, 1140.0, 1800.0]


def test_custom_variables(con):
    frame = explore.custom_variables(con).set_index("name")
    cart = frame.loc["custom_cart"]
    assert cart["value_types"] == "number"
    assert (cart["changes"], cart["page_views"], cart["max_changes_per_page"]) == (3, 2, 2)
    assert cart["changes_per_page"] == 1.5
    assert cart["pages_changed_mid_page"] == 1  # pv2: 10 then 25.5
    assert (cart["min_number"], cart["max_number"]) == (10.0, 25.5)
    assert cart["most_common"] == "25.5"
    logged = frame.loc["custom_logged_in"]
    assert logged["value_types"] == "boolean" and logged["pages_changed_mid_page"] == 1
    assert logged["most_common"] == "false"  # a tie, broken by text
    assert math.isnan(logged["min_number"])
    plan = frame.loc["custom_plan"]
    assert plan["value_types"] == "null, string"


def test_custom_variables_prefer_the_loaded_value_type(con):
    con.execute("update var_changes set value_type = 'string' where var_change_id = 'vc7'")
    assert explore.custom_variables(con).set_index("name").loc["custom_plan", "value_types"] == (
        "string"
    )


def test_agent_load_per_quarter_hour(con):
    load = explore.agent_load(con, "15 minutes")
    assert load["bucket_start"].dt.strftime("%H:%M").tolist() == [
        "10:00", "10:15", "10:30", "10:45", "11:00", "11:15",
    ]  # fmt: skip
    assert load["agents_available"].tolist() == pytest.approx([1, 2, 1, 2, 1, 1])
    assert load["agents_away"].tolist() == pytest.approx([0, 0, 1, 0, 0, 0])
    assert load["capacity"].tolist() == pytest.approx([2, 5, 3, 5, 3, 3])
    # c1 10:00-10:20 (a1), c2 10:20-10:40 (a2), c3 10:35-10:50 (a1, away until 10:45)
    assert load["conversations"].tolist() == pytest.approx([1, 1, 4 / 3, 1 / 3, 0, 0])
    assert load["conversations_on_available"].tolist() == pytest.approx([1, 1, 2 / 3, 1 / 3, 0, 0])
    assert load["occupancy"].tolist() == pytest.approx([0.5, 0.2, 2 / 9, 1 / 15, 0, 0])


def test_agent_load_per_hour(con):
    load = explore.agent_load(con, "1 hour")
    assert len(load) == 2
    first, second = load.iloc[0], load.iloc[1]
    # a1 available 45 min, a2 45 min; a1 away 15 min
    assert first["agents_available"] == pytest.approx(1.5)
    assert first["agents_away"] == pytest.approx(0.25)
    assert first["capacity"] == pytest.approx(0.75 * 2 + 0.75 * 3)
    assert first["conversations"] == pytest.approx(55 / 60)
    assert first["occupancy"] == pytest.approx(0.75 / 3.75)
    # 11:00-11:30 only a2 (until the end of the span at 11:30)
    assert second["agents_available"] == pytest.approx(0.5)
    assert second["occupancy"] == 0


def test_agent_load_without_capacity_is_nan(con):
    con.execute("update agents set soft_limit = 0")
    assert explore.agent_load(con, "1 hour")["occupancy"].isna().all()


def test_empty_database_gives_empty_or_zero_frames():
    con = duckdb.connect()
    explore.create_tables(con)
    assert explore.traffic_by_hour(con)["page_views"].sum() == 0
    assert explore.pages_per_visit(con).empty
    assert explore.dwell_time_summary(con).empty
    assert explore.custom_variables(con).empty
    assert explore.agent_load(con).empty


class FakeLab:
    def __init__(self, con):
        self.con = con


def test_accepts_an_object_holding_a_connection(con):
    assert explore.source_timezone(FakeLab(con)) == "Europe/Paris"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: explore.traffic_by_hour(c, timezone="Mars/Olympus"), "unknown timezone"),
        (lambda c: explore.traffic_by_weekday(c, timezone=""), "unknown timezone"),
        (lambda c: explore.agent_load(c, "soon"), "not a duration"),
        (lambda c: explore.agent_load(c, "0 seconds"), "positive whole number"),
        (lambda c: explore.agent_load(c, "1.5 seconds"), "positive whole number"),
        (lambda c: explore.loaded_summary(object()), "not a Lab or a DuckDB connection"),
    ],
)
def test_bad_arguments_are_refused(con, call, message):
    with pytest.raises(explore.ExploreArgumentError, match=message) as caught:
        call(con)
    assert isinstance(caught.value, EngageLabError)


def test_missing_tables_raise_database_error():
    with pytest.raises(DatabaseError, match="lacks a table") as caught:
        explore.pages_per_visit(duckdb.connect())
    assert isinstance(caught.value.__cause__, duckdb.Error)


def test_chat_event_counts_cover_the_vocabulary(con):
    counts = explore.chat_event_counts(con).set_index("event")
    assert list(counts.index) == list(schema.CHAT_EVENTS)
    # ce2 (online, pv1, t1) and ce4 (offline, pv4, t2)
    assert counts.loc["trigger_activated"].tolist() == [2, 1, 1, 2, 2, 2]
    assert counts.loc["trigger_executed"].tolist() == [1, 1, 0, 1, 1, 1]
    assert counts.loc["started"].tolist() == [1, 0, 0, 1, 1, 0]
    assert counts.loc["chat_closed"].tolist() == [0, 0, 0, 0, 0, 0]


def test_conversation_summary(con):
    summary = explore.conversation_summary(con)
    assert summary[["channel", "outcome", "conversations", "started"]].values.tolist() == [
        ["email", "-", 1, 1],
        ["phone", "-", 1, 1],
        ["web_chat", "served", 1, 1],
        ["web_chat", "unserved", 1, 0],
    ]
    by_key = summary.set_index(["channel", "outcome"])
    assert by_key.loc[("web_chat", "served"), "median_wait_s"] == 60.0  # 10:19 -> 10:20
    assert by_key.loc[("email", "-"), "median_length_s"] == 900.0  # 10:35 -> 10:50
    assert pd.isna(by_key.loc[("web_chat", "unserved"), "median_wait_s"])


def test_agent_load_is_the_same_whatever_the_threads(tmp_path):
    """Time-weighted means are sums of integer overlaps: one thread and several add them
    in different orders and give the same bytes (the notebooks' figures depend on it)."""
    lab = el.open(tmp_path / "sample.duckdb")
    lab.load(Path(__file__).resolve().parents[2] / "data" / "sample", progress=False)
    frames = []
    for threads in (1, 2, 4):
        lab.con.execute(f"SET threads = {threads}")  # test-only setting, fixed numbers
        frames.append(explore.agent_load(lab, "15 minutes"))
    lab.close()
    assert len(frames[0]) > 100 and frames[0]["capacity"].sum() > 0
    for other in frames[1:]:
        pd.testing.assert_frame_equal(frames[0], other, check_exact=True)
