"""Availability state from logs: literal definition, Python timeline and DuckDB ASOF agree."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engage_lab.availability import AvailabilityState
from engage_lab.availability.state import (
    NEVER,
    Timeline,
    state_at,
    states_at_sql,
    timeline_sql,
    to_ms,
    to_ms_array,
)

CONV_COLUMNS = ["conversation_id", "agent_id", "channel", "queued_at", "started_at", "ended_at"]


def _ts(values: list[int | None]) -> pd.Series:
    return pd.to_datetime(pd.Series(values, dtype="float64"), unit="ms").astype("datetime64[ms]")


def _frames(agents, presence, conversations):
    agents_df = pd.DataFrame(agents, columns=["agent_id", "soft_limit"])
    presence_df = pd.DataFrame(
        presence, columns=["presence_id", "agent_id", "changed_at", "status"]
    )
    presence_df["changed_at"] = _ts(presence_df["changed_at"].tolist())
    conv_df = pd.DataFrame(conversations, columns=CONV_COLUMNS)
    for col in ("queued_at", "started_at", "ended_at"):
        conv_df[col] = _ts(conv_df[col].tolist())
    for frame in (agents_df, presence_df, conv_df):
        for col in frame.columns:
            if col in ("agent_id", "presence_id", "status", "channel", "conversation_id"):
                frame[col] = frame[col].astype(object)
    return agents_df, presence_df, conv_df


_CON = duckdb.connect()
_CON.execute("SET asof_loop_join_threshold = 0")
# Compiled once: the table names do not change between examples.
_STATES_SQL = states_at_sql("instants").order_by("k").sql("duckdb")
_STATES_WINDOW_SQL = states_at_sql("instants", method="window").order_by("k").sql("duckdb")


def _sql_states(agents_df, presence_df, conv_df, instants: list[int]) -> list[AvailabilityState]:
    _CON.register("agents", agents_df)
    _CON.register("presence", presence_df)
    _CON.register("conversations", conv_df)
    _CON.register("instants", pd.DataFrame({"k": range(len(instants)), "instant": _ts(instants)}))
    rows = _CON.execute(_STATES_SQL).fetchall()
    assert _CON.execute(_STATES_WINDOW_SQL).fetchall() == rows  # portable form, same rows
    for *_, busy, wait, load in rows:
        assert load == busy + wait
    return [AvailabilityState(int(r[2]), int(r[3]), int(r[4])) for r in rows]


AGENT_IDS = ["a1", "a2", "a3"]
times = st.integers(0, 40)
maybe_time = st.one_of(st.none(), times)


@st.composite
def logs(draw):
    agents = [
        (a, draw(st.one_of(st.none(), st.integers(0, 3))))
        for a in AGENT_IDS[: draw(st.integers(1, 3))]
    ]
    presence = [
        (
            f"p{i:02d}",
            draw(st.sampled_from([*AGENT_IDS, "ghost"])),
            draw(times),
            draw(st.sampled_from(["available", "away", "offline"])),
        )
        for i in range(draw(st.integers(0, 8)))
    ]
    conversations = [
        (
            f"c{i}",
            draw(st.sampled_from([*AGENT_IDS, None])),
            draw(st.sampled_from(["web_chat", "email"])),
            draw(times),
            draw(maybe_time),
            draw(maybe_time),
        )
        for i in range(draw(st.integers(0, 8)))
    ]
    return agents, presence, conversations


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logs())
def test_timeline_and_sql_agree_with_the_literal_definition(log) -> None:
    agents_df, presence_df, conv_df = _frames(*log)
    mentioned = {t for row in log[1] for t in row[2:3]} | {
        t for row in log[2] for t in row[3:] if t is not None
    }
    instants = sorted(
        {-1, 41} | mentioned | {t - 1 for t in mentioned} | {t + 1 for t in mentioned}
    )
    literal = [state_at(t, agents_df, presence_df, conv_df) for t in instants]
    timeline = Timeline.from_frames(agents_df, presence_df, conv_df)
    assert [timeline.at(t) for t in instants] == literal
    many = timeline.at_many(_ts(instants))
    assert list(many["capacity"]) == [s.capacity for s in literal]
    assert list(many["load"]) == [s.load for s in literal]
    assert _sql_states(agents_df, presence_df, conv_df, instants) == literal


def _simple():
    return _frames(
        [("a1", 2), ("a2", 1)],
        [
            ("p1", "a1", 10, "available"),
            ("p2", "a2", 10, "available"),
            ("p3", "a1", 30, "away"),
            ("p4", "a1", 40, "available"),
        ],
        [
            ("c1", "a1", "email", 12, 12, 35),
            ("c2", None, "web_chat", 15, None, None),
            ("c3", "a2", "web_chat", 16, 20, 25),
            ("c4", None, "email", 15, None, None),
        ],
    )


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (9, (0, 0, 0)),  # nobody yet
        (10, (3, 0, 0)),  # presence applies from its instant
        (12, (3, 1, 0)),  # in progress from started_at
        (16, (3, 1, 2)),  # web chats waiting; the waiting email is not this source's queue
        (20, (3, 2, 1)),  # c3 started: no longer waiting, in progress
        (25, (3, 1, 1)),  # ended_at excluded
        (30, (1, 0, 1)),  # a1 away: their capacity and conversation stop counting
        (35, (1, 0, 1)),
        (40, (3, 0, 1)),
    ],
)
def test_instant_semantics_on_a_hand_built_log(t: int, expected: tuple[int, int, int]) -> None:
    frames = _simple()
    assert Timeline.from_frames(*frames).at(t) == AvailabilityState(*expected)
    assert state_at(t, *frames) == AvailabilityState(*expected)
    assert _sql_states(*frames, [t]) == [AvailabilityState(*expected)]


def test_ties_at_one_instant_take_the_greatest_presence_id() -> None:
    frames = _frames([("a1", 4)], [("p1", "a1", 5, "available"), ("p2", "a1", 5, "away")], [])
    assert Timeline.from_frames(*frames).at(6).capacity == 0
    assert _sql_states(*frames, [6])[0].capacity == 0
    frames = _frames([("a1", 4)], [("p9", "a1", 5, "available"), ("p2", "a1", 5, "away")], [])
    assert Timeline.from_frames(*frames).at(6).capacity == 4
    assert _sql_states(*frames, [6])[0].capacity == 4


def test_timeline_sql_steps_match_python_steps() -> None:
    frames = _simple()
    _CON.register("agents", frames[0])
    _CON.register("presence", frames[1])
    _CON.register("conversations", frames[2])
    steps = _CON.execute(timeline_sql().order_by("valid_from").sql("duckdb")).df()
    tl = Timeline.from_frames(*frames)
    assert to_ms_array(steps["valid_from"]).tolist() == tl.valid_from.tolist()
    assert steps["capacity"].tolist() == tl.capacity.tolist()
    assert steps["waiting"].tolist() == tl.waiting.tolist()
    assert tl.to_frame()["valid_from"].dtype == "datetime64[ms]"


def test_tables_may_be_given_as_queries() -> None:
    import sqlglot

    frames = _simple()
    _CON.register("all_agents", frames[0])
    _CON.register("presence", frames[1])
    _CON.register("conversations", frames[2])
    _CON.register("instants", pd.DataFrame({"instant": _ts([16])}))
    only_a2 = sqlglot.parse_one("select * from all_agents where agent_id = 'a2'")
    row = _CON.execute(states_at_sql("instants", agents=only_a2).sql("duckdb")).fetchone()
    assert row[1:] == (1, 0, 2, 2)


def test_time_conversion() -> None:
    assert to_ms(pd.Timestamp("2026-03-02T09:15:00.250Z")) == 1772442900250
    assert to_ms(np.datetime64("2026-03-02T09:15:00.250")) == 1772442900250
    assert to_ms(pd.Timestamp("2026-03-02 10:15:00.250+01:00")) == 1772442900250
    assert to_ms_array(pd.Series([None, 3.0])).tolist() == [NEVER, 3]
    with pytest.raises(ValueError):
        to_ms(pd.NaT)


def test_spark_form_uses_the_window_emulation_and_refuses_asof() -> None:
    from engage_lab.errors import UnsupportedOperatorError

    text = states_at_sql("instants", method="window", dialect="spark").sql("spark")
    assert "ASOF" not in text.upper() and "LEFT JOIN" in text and "MAX(" in text
    assert "QUALIFY" not in text.upper()  # sqlglot rewrites it as a subquery for Spark
    with pytest.raises(UnsupportedOperatorError):
        states_at_sql("instants", dialect="spark")
    with pytest.raises(ValueError):
        states_at_sql("instants", method="nearest")
