"""The events schema, its one writer, the canonical order and fidelity."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engage_lab.data.schema import CHAT_EVENTS
from engage_lab.events import (
    DECISION_EVENTS,
    EVENT_COLUMNS,
    EVENTS_SCHEMA,
    STAGES,
    EventRecord,
    EventSchemaError,
    compare_events,
    conform_events,
    events_to_frame,
    frame_to_arrow,
    read_events,
    sort_events,
    write_events,
)

T0 = 1_772_442_900_250  # 2026-03-02T09:15:00.250Z


def _rec(event="trigger_activated", stage="configured", trigger="t1", at=T0, pv="pv1", **kw):
    return EventRecord(kw.pop("visitor", "v1"), "v1-1", pv, at, event, stage, trigger, **kw)


def _history() -> list[EventRecord]:
    return [
        _rec("chat_shown", "continuation", None, pv="pv1"),
        _rec(
            "trigger_activated",
            trigger="t1",
            pv="pv2",
            at=T0 + 5000,
            server_probability=0.5,
            draw=0.25,
        ),
        _rec(
            "trigger_executed",
            trigger="t1",
            pv="pv2",
            at=T0 + 5000,
            mode="online",
            server_probability=0.5,
            draw=0.25,
        ),
        _rec(
            "item_shown",
            trigger="t1",
            pv="pv2",
            at=T0 + 5000,
            mode="online",
            item_id="inv",
            item_type="invitation",
        ),
        _rec(
            "invitation_shown",
            trigger="t1",
            pv="pv2",
            at=T0 + 5000,
            mode="online",
            item_id="inv",
            item_type="invitation",
        ),
        _rec("chat_engaged", "engagement", "t1", pv="pv2", at=T0 + 9000),
        _rec("trigger_activated", trigger="t2", pv="pv3", at=T0 + 20000, visitor="v2"),
    ]


# ------------------------------------------------------------------ schema


def test_schema_is_exactly_the_out_columns() -> None:
    assert EVENT_COLUMNS == (
        "visitor_id",
        "visit_id",
        "page_view_id",
        "event_at",
        "event",
        "stage",
        "trigger_id",
        "item_id",
        "item_type",
        "mode",
        "server_probability",
        "draw",
    )
    types = {f.name: f.type for f in EVENTS_SCHEMA}
    assert types["event_at"] == pa.timestamp("ms", tz="UTC")
    assert types["server_probability"] == types["draw"] == pa.float64()
    for name in EVENT_COLUMNS:
        if name not in ("event_at", "server_probability", "draw"):
            assert types[name] == pa.string()


def test_vocabularies() -> None:
    assert STAGES == ("embedded", "continuation", "messaging", "configured", "engagement")
    assert set(DECISION_EVENTS) < set(CHAT_EVENTS)
    assert not {"chat_engaged", "message_sent", "message_received", "chat_closed"} & set(
        DECISION_EVENTS
    )


def test_record_is_frozen_slotted_and_normalizes_instants() -> None:
    rec = _rec(
        at=dt.datetime(2026, 3, 2, 10, 15, 0, 250000, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    )
    assert rec.event_at == T0
    assert _rec(at=pd.Timestamp("2026-03-02 09:15:00.250")).event_at == T0  # naive = UTC
    assert not hasattr(rec, "__dict__")
    with pytest.raises(AttributeError):
        rec.event = "chat_shown"  # type: ignore[misc]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"event": "clicked"},
        {"stage": "stage4"},
        {"mode": "maybe"},
        {"item_type": "banner"},
        {"at": pd.Timestamp("2026-03-02 09:15:00.2505")},
        {"at": 1.5},
    ],
)
def test_bad_records_are_refused(kwargs) -> None:
    with pytest.raises(EventSchemaError):
        _rec(**kwargs)


def test_frame_dtypes_and_nulls() -> None:
    frame = events_to_frame(_history())
    assert list(frame.columns) == list(EVENT_COLUMNS)
    assert str(frame["event_at"].dtype) == "datetime64[ms, UTC]"
    assert frame["draw"].dtype == np.float64
    assert frame["trigger_id"].isna().iloc[0] and frame["draw"].isna().iloc[0]
    assert frame["event_at"].iloc[1] == pd.Timestamp(T0 + 5000, unit="ms", tz="UTC")


def test_arrow_table_has_the_exact_schema_and_nulls() -> None:
    table = frame_to_arrow(events_to_frame(_history()))
    assert table.schema.equals(EVENTS_SCHEMA)
    assert table.column("trigger_id").null_count == 1
    assert table.column("draw").null_count == 5  # 7 rows, 2 gated
    assert table.column("event_at")[0].value == T0


def test_engine_frames_with_naive_or_us_timestamps_are_accepted() -> None:
    frame = events_to_frame(_history())
    duck_like = frame.copy()
    duck_like["event_at"] = duck_like["event_at"].dt.tz_localize(None).astype("datetime64[us]")
    assert frame_to_arrow(duck_like).equals(frame_to_arrow(frame))
    pd.testing.assert_frame_equal(conform_events(duck_like), frame)
    as_ints = frame.copy()
    as_ints["event_at"] = [r.event_at for r in _history()]
    assert frame_to_arrow(as_ints).equals(frame_to_arrow(frame))


def test_frames_that_do_not_fit_are_refused() -> None:
    frame = events_to_frame(_history())
    with pytest.raises(EventSchemaError, match="draw: missing column"):
        frame_to_arrow(frame.drop(columns="draw"))
    with pytest.raises(EventSchemaError, match="unexpected columns"):
        frame_to_arrow(frame.assign(helper=1))
    assert frame_to_arrow(frame.assign(helper=1), drop_extra=True).schema.equals(EVENTS_SCHEMA)
    bad = frame.copy()
    bad.loc[0, "stage"] = "nowhere"
    bad.loc[1, "visitor_id"] = None
    with pytest.raises(EventSchemaError) as info:
        frame_to_arrow(bad)
    assert len(info.value.problems) == 2
    with pytest.raises(EventSchemaError, match="draw: not a number"):
        frame_to_arrow(frame.assign(draw="high"))
    sub_ms = frame.copy()
    sub_ms["event_at"] = sub_ms["event_at"].astype("datetime64[us, UTC]") + pd.Timedelta(
        microseconds=1
    )
    with pytest.raises(EventSchemaError, match="millisecond"):
        frame_to_arrow(sub_ms)


def test_parquet_round_trip_and_same_bytes(tmp_path) -> None:
    frame = events_to_frame(_history())
    first = write_events(frame, tmp_path / "a.parquet")
    second = write_events(_history(), tmp_path / "b.parquet")
    assert first.read_bytes() == second.read_bytes()
    assert pq.read_schema(first).equals(EVENTS_SCHEMA)
    back = read_events(first)
    pd.testing.assert_frame_equal(back, frame)


def test_reading_a_foreign_schema_is_refused(tmp_path) -> None:
    path = tmp_path / "other.parquet"
    pq.write_table(pa.table({"visitor_id": ["v"]}), path)
    with pytest.raises(EventSchemaError):
        read_events(path)


# ------------------------------------------------------------------ order


def test_canonical_order_at_one_instant() -> None:
    at = T0
    shuffled = [
        _rec("chat_shown", trigger="t2", at=at, mode="online"),
        _rec("button_shown", trigger="t2", at=at, mode="online", item_id="b", item_type="button"),
        _rec("trigger_executed", trigger="t1", at=at, mode="online"),
        _rec("item_shown", trigger="t2", at=at, mode="online", item_id="b", item_type="button"),
        _rec("trigger_activated", trigger="t2", at=at),
        _rec("chat_engaged", "engagement", trigger="t1", at=at),
        _rec("trigger_activated", trigger="t1", at=at),
        _rec("trigger_activated", trigger="zz-unlisted", at=at),
        _rec("trigger_executed", trigger="t2", at=at, mode="online"),
    ]
    ordered = sort_events(events_to_frame(shuffled), ["t2", "t1"])
    got = list(zip(ordered["trigger_id"], ordered["event"], strict=True))
    assert got == [
        ("t2", "trigger_activated"),
        ("t2", "trigger_executed"),
        ("t2", "item_shown"),
        ("t2", "button_shown"),
        ("t2", "chat_shown"),
        ("t1", "trigger_activated"),
        ("t1", "trigger_executed"),
        ("zz-unlisted", "trigger_activated"),
        ("t1", "chat_engaged"),  # engagement stage after the configured stage
    ]


def test_order_across_instants_visitors_and_stages() -> None:
    rows = [
        _rec("trigger_activated", at=T0 + 1, visitor="v1"),
        _rec("chat_shown", "messaging", None, at=T0, visitor="v2"),
        _rec("trigger_activated", at=T0, visitor="v1"),
        _rec("chat_shown", "continuation", None, at=T0, visitor="v1"),
    ]
    ordered = sort_events(events_to_frame(rows))
    assert ordered[["visitor_id", "stage"]].values.tolist() == [
        ["v1", "continuation"],
        ["v1", "configured"],
        ["v1", "configured"],
        ["v2", "messaging"],
    ]
    assert ordered["event_at"].iloc[2] > ordered["event_at"].iloc[1]


def test_several_items_of_one_trigger_order_by_event_then_item() -> None:
    rows = [
        _rec("button_shown", item_id="b2", item_type="button", mode="online"),
        _rec("item_shown", item_id="b2", item_type="button", mode="online"),
        _rec("item_shown", item_id="b1", item_type="button", mode="online"),
    ]
    ordered = sort_events(events_to_frame(rows), {"t1": 0})
    assert ordered[["event", "item_id"]].values.tolist() == [
        ["item_shown", "b1"],
        ["item_shown", "b2"],
        ["button_shown", "b2"],
    ]


def test_sorting_is_idempotent_and_refuses_unknown_values() -> None:
    frame = events_to_frame(_history())
    once = sort_events(frame.sample(frac=1.0, random_state=3), ["t1", "t2"])
    pd.testing.assert_frame_equal(sort_events(once, ["t1", "t2"]), once)
    bad = frame.copy()
    bad.loc[0, "event"] = "nope"
    with pytest.raises(EventSchemaError):
        sort_events(bad)


# ------------------------------------------------------------------ fidelity


def test_identical_outputs_have_fidelity_one() -> None:
    a = events_to_frame(_history())
    result = compare_events(a, a.sample(frac=1.0, random_state=1))
    assert result.fidelity == 1.0
    assert result.matching == {"pv1", "pv2", "pv3"}
    assert result.mismatches.empty


def test_one_millisecond_off_mismatches_that_page_view_only() -> None:
    a = events_to_frame(_history())
    b = a.copy()
    b.loc[b["event"] == "item_shown", "event_at"] += pd.Timedelta(milliseconds=1)
    result = compare_events(a, b)
    assert result.matching == {"pv1", "pv3"}
    assert result.mismatched == {"pv2"}
    assert result.fidelity == pytest.approx(2 / 3)
    mm = result.mismatches
    assert list(mm.columns) == [
        "page_view_id",
        "event_at",
        "event",
        "trigger_id",
        "item_id",
        "mode",
        "count_a",
        "count_b",
    ]
    assert mm[["count_a", "count_b"]].values.tolist() == [[1, 0], [0, 1]]
    assert (
        str(mm["event_at"].dtype).startswith("datetime64") and mm["item_id"].tolist() == ["inv"] * 2
    )


@pytest.mark.parametrize(
    ("column", "value"),
    [("mode", "offline"), ("trigger_id", "t9"), ("item_id", "other"), ("event", "button_shown")],
)
def test_each_compared_field_counts(column: str, value: str) -> None:
    a = events_to_frame(_history())
    b = a.copy()
    b.loc[3, column] = value  # the item_shown of pv2
    assert compare_events(a, b).mismatched == {"pv2"}


def test_missing_and_duplicated_decisions_mismatch() -> None:
    a = events_to_frame(_history())
    assert compare_events(a, a.drop(index=6)).mismatched == {"pv3"}
    doubled = pd.concat([a, a.iloc[[0]]], ignore_index=True)
    assert compare_events(a, doubled).mismatched == {"pv1"}


def test_engagement_side_and_gating_numbers_are_not_decisions() -> None:
    a = events_to_frame(_history())
    b = a[a["event"] != "chat_engaged"].copy()
    b["draw"] = 0.99
    assert compare_events(a, b).fidelity == 1.0


def test_page_views_without_events_count_as_matching() -> None:
    a = events_to_frame(_history())
    b = a.drop(index=6)
    result = compare_events(a, b, page_view_ids=["pv1", "pv2", "pv3", "pv4"])
    assert result.fidelity == 0.75
    assert compare_events(a.iloc[0:0], a.iloc[0:0]).fidelity == 1.0


def test_compare_refuses_frames_without_the_columns() -> None:
    a = events_to_frame(_history())
    with pytest.raises(EventSchemaError):
        compare_events(a.drop(columns="mode"), a)
