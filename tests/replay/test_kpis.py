"""KPIs on a hand-built event frame; every expected number is worked out by hand below.

Scenario (times in seconds after 2026-03-02T00:00:00Z; Europe/Paris is UTC+1 then):

* visitor A, visit A1 = pA1 (0 s), pA2 (60 s): gated t1 executes online at 10 s and shows
  button b (online); the visitor engages at 70 s and gets an agent message at 80 s
  → Q1 Q2 Q4.
* visitor A, visit A2 = pA3 (one day later): gated t1 refused at +5 s (activated and executed
  offline, invitation i shown offline) → no question (an offline execution is no offer).
* visitor B, visit B1 = pB1: t2 executes online at 30 s and shows the chat; engaged at 40 s,
  no agent message → Q1 Q2 Q5.
* visitor C, visit C1 = pC1: continuation chat shown at 0 s; t3 activated online at 5 s but
  not executed (placeholder missing) → none.
* visitor D, visit D1 = pD1: t2 executes online at 120 s; no engagement → Q1 Q3.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from engage_lab.availability import Timeline
from engage_lab.events import EventRecord, events_to_frame
from engage_lab.kpis import (
    JSON_KPIS,
    compare_recorded,
    compute_kpis,
    conversation_kpis,
    fidelity_mismatches,
    funnel_by_visit,
    jsonable,
    occupancy_kpis,
    occupancy_over_time,
    offers,
    recorded_as_events,
)

T0 = 1_772_409_600_000  # 2026-03-02T00:00:00Z in ms
DAY = 86_400_000


def s(seconds: float) -> int:
    return T0 + int(seconds * 1000)


def rec(visitor, visit, page, at, event, stage="configured", trigger=None, **kw):
    return EventRecord(visitor, visit, page, at, event, stage, trigger, **kw)


PAGES = pd.DataFrame(
    {
        "page_view_id": ["pA1", "pA2", "pA3", "pB1", "pC1", "pD1"],
        "visitor_id": ["A", "A", "A", "B", "C", "D"],
        "visit_id": ["A1", "A1", "A2", "B1", "C1", "D1"],
        "started_at": [s(0), s(60), s(0) + DAY, s(0), s(0), s(0)],
        "ended_at": [s(60), s(200), s(0) + DAY + 60_000, s(50), s(20), s(200)],
        "path": ["/a", "/b", "/a", "/cart", "/c", "/cart"],
    }
)

GATED_ON = {"server_probability": 1.0, "draw": 0.2}
GATED_OFF = {"server_probability": 0.0, "draw": 0.5}
EVENTS = events_to_frame(
    [
        rec("A", "A1", "pA1", s(10), "trigger_activated", trigger="t1", mode="online", **GATED_ON),
        rec("A", "A1", "pA1", s(10), "trigger_executed", trigger="t1", mode="online", **GATED_ON),
        rec("A", "A1", "pA1", s(10), "item_shown", trigger="t1", item_id="b", item_type="button",
            mode="online", **GATED_ON),
        rec("A", "A1", "pA1", s(10), "button_shown", trigger="t1", item_id="b", item_type="button",
            mode="online", **GATED_ON),
        rec("A", "A1", "pA2", s(70), "chat_engaged", "engagement"),
        rec("A", "A1", "pA2", s(80), "message_received", "engagement"),
        rec("A", "A2", "pA3", s(5) + DAY, "trigger_activated", trigger="t1", mode="offline",
            **GATED_OFF),
        rec("A", "A2", "pA3", s(5) + DAY, "trigger_executed", trigger="t1", mode="offline",
            **GATED_OFF),
        rec("A", "A2", "pA3", s(5) + DAY, "item_shown", trigger="t1", item_id="i",
            item_type="invitation", mode="offline", **GATED_OFF),
        rec("A", "A2", "pA3", s(5) + DAY, "invitation_shown", trigger="t1", item_id="i",
            item_type="invitation", mode="offline", **GATED_OFF),
        rec("B", "B1", "pB1", s(30), "trigger_activated", trigger="t2", mode="online"),
        rec("B", "B1", "pB1", s(30), "trigger_executed", trigger="t2", mode="online"),
        rec("B", "B1", "pB1", s(30), "chat_shown", trigger="t2"),
        rec("B", "B1", "pB1", s(40), "chat_engaged", "engagement"),
        rec("C", "C1", "pC1", s(0), "chat_shown", "continuation"),
        rec("C", "C1", "pC1", s(5), "trigger_activated", trigger="t3", mode="online"),
        rec("D", "D1", "pD1", s(120), "trigger_activated", trigger="t2", mode="online"),
        rec("D", "D1", "pD1", s(120), "trigger_executed", trigger="t2", mode="online"),
    ]
)  # fmt: skip


@pytest.fixture(scope="module")
def kpis():
    return compute_kpis(EVENTS, PAGES, timezone="Europe/Paris")


def test_counts(kpis):
    assert kpis["page_views"] == 6
    assert kpis["visits"] == 5
    assert kpis["visitors"] == 4
    assert kpis["activations"] == 5  # t1 (A1), t1 (A2), t2 (B1), t3 (C1), t2 (D1)
    assert kpis["executions"] == 4  # all but t3
    assert kpis["executions_online"] == 3
    assert kpis["executions_offline"] == 1
    assert kpis["refused"] == 1  # the gated activation of A2 (mode offline)
    assert kpis["activated_not_executed"] == 1  # t3 on pC1
    assert kpis["items_shown"] == 2
    assert kpis["items_shown_buttons"] == 1
    assert kpis["items_shown_invitations"] == 1
    assert kpis["items_shown_offline"] == 1
    assert kpis["chats_shown"] == 2  # B1 configured, C1 continuation
    assert kpis["engagements"] == 2


def test_funnel_shares_of_visits(kpis):
    assert kpis["q1_offered"] == pytest.approx(3 / 5)  # A1, B1, D1
    assert kpis["q2_tried"] == pytest.approx(2 / 5)  # A1, B1
    assert kpis["q3_refused_offer"] == pytest.approx(1 / 5)  # D1
    assert kpis["q4_helped"] == pytest.approx(1 / 5)  # A1
    assert kpis["q5_service_failed"] == pytest.approx(1 / 5)  # B1


def test_funnel_per_visit():
    table = funnel_by_visit(EVENTS, PAGES).set_index("visit_id")
    expected = {
        "A1": (True, True, False, True, False),
        "A2": (False, False, False, False, False),
        "B1": (True, True, False, False, True),
        "C1": (False, False, False, False, False),
        "D1": (True, False, True, False, False),
    }
    columns = ["q1_offered", "q2_tried", "q3_refused_offer", "q4_helped", "q5_service_failed"]
    for visit, answers in expected.items():
        assert tuple(bool(x) for x in table.loc[visit, columns]) == answers, visit


def test_visit_without_events_counts_in_the_denominator():
    pages = pd.concat(
        [PAGES, pd.DataFrame({"page_view_id": ["pE1"], "visitor_id": ["E"], "visit_id": ["E1"],
                              "started_at": [s(0)], "ended_at": [s(1)], "path": ["/"]})]
    )  # fmt: skip
    k = compute_kpis(EVENTS, pages)
    assert k["visits"] == 6
    assert k["q1_offered"] == pytest.approx(3 / 6)
    assert k["reach"] == pytest.approx(3 / 5)


def test_displays_by_stage(kpis):
    # configured: item_shown A1, item_shown A2, chat_shown B1; continuation: chat_shown C1
    assert kpis["displays_by_stage"] == {
        "embedded": 0,
        "continuation": 1,
        "messaging": 0,
        "configured": 3,
    }


def test_reach_and_time_to_first_offer(kpis):
    assert kpis["reach"] == pytest.approx(3 / 4)  # A, B, D of 4 visitors
    # first offers 10 s, 30 s, 120 s after their visit starts: median 30, p90 30 + 0.8 * 90
    assert kpis["time_to_first_offer_median_s"] == pytest.approx(30.0)
    assert kpis["time_to_first_offer_p90_s"] == pytest.approx(102.0)
    assert kpis["offers_per_visit"] == pytest.approx(3 / 5)


def test_refusals_by_hour_in_the_source_timezone(kpis):
    # the refusal is at 2026-03-03T00:00:05Z = 01:00:05 in Paris
    assert kpis["refusals_by_hour"][1] == 1
    assert sum(kpis["refusals_by_hour"].values()) == 1
    utc = compute_kpis(EVENTS, PAGES, timezone="UTC")
    assert utc["refusals_by_hour"][0] == 1


def test_no_offer_gives_null_timing_and_zero_shares():
    empty = EVENTS.iloc[0:0]
    k = compute_kpis(empty, PAGES)
    assert k["time_to_first_offer_median_s"] is None
    assert k["q1_offered"] == 0.0
    none = compute_kpis(empty, PAGES.iloc[0:0])
    assert none["visits"] == 0 and none["q2_tried"] == 0.0 and none["reach"] == 0.0


def test_offers_where_and_when():
    table = offers(EVENTS, PAGES, "Europe/Paris")
    assert sorted(table["page_view_id"]) == ["pA1", "pB1", "pD1"]
    assert sorted(table["path"]) == ["/a", "/cart", "/cart"]
    assert set(table["hour"]) == {1}  # 00:00:10–00:02:00 UTC is 01:xx in Paris
    refusals = offers(EVENTS, PAGES, "UTC", online=False)
    assert refusals["page_view_id"].tolist() == ["pA3"]


def test_json_keys_and_numbers(kpis):
    for key in JSON_KPIS:
        assert key in kpis
    text = json.dumps(jsonable(kpis))
    back = json.loads(text)
    for key in JSON_KPIS:
        if key == "displays_by_stage":
            assert all(isinstance(v, int) for v in back[key].values())
        else:
            assert isinstance(back[key], int | float) and not isinstance(back[key], bool), key


# ------------------------------------------------------------------ agents


def _timeline() -> Timeline:
    agents = pd.DataFrame({"agent_id": ["a1"], "soft_limit": [2]})
    presence = pd.DataFrame(
        {
            "presence_id": ["p1", "p2"],
            "agent_id": ["a1", "a1"],
            "changed_at": [s(0), s(100)],
            "status": ["available", "offline"],
        }
    )
    conversations = pd.DataFrame(
        {
            "agent_id": ["a1"],
            "channel": ["web_chat"],
            "queued_at": [s(10)],
            "started_at": [s(20)],
            "ended_at": [s(60)],
        }
    )
    return Timeline.from_frames(agents, presence, conversations)


def test_occupancy_over_the_span():
    # capacity 2 on [0, 100 s); waiting [10, 20), in progress [20, 60): ∫load = 10 + 40 = 50
    # over [0, 200 s): ∫capacity = 200 -> occupancy 0.25; capacity mean 1.0; no capacity half
    k = occupancy_kpis(_timeline(), s(0), s(200))
    assert k["agent_occupancy"] == pytest.approx(0.25)
    assert k["agent_capacity_mean"] == pytest.approx(1.0)
    assert k["agents_unavailable_share"] == pytest.approx(0.5)
    assert occupancy_kpis(_timeline(), s(150), s(200))["agent_occupancy"] is None


def test_occupancy_per_bin():
    table = occupancy_over_time(_timeline(), s(0), s(200), freq="100s")
    # bins [0,100) and [100,200): occupancy 50 / 200 and no capacity
    assert table["occupancy"].iloc[0] == pytest.approx(0.25)
    assert np.isnan(table["occupancy"].iloc[1])
    assert table["capacity"].tolist()[:2] == [2.0, 0.0]


def test_compute_kpis_includes_agent_and_conversation_kpis():
    conversations = pd.DataFrame(
        {
            "channel": ["web_chat", "web_chat", "web_chat", "email"],
            "page_view_id": ["pA2", "pB1", "zz", None],
            "queued_at": [s(70), s(40), s(0), s(0)],
            "started_at": [s(75), None, s(1), s(0)],
            "outcome": ["served", "unserved", "served", None],
        }
    )
    k = compute_kpis(EVENTS, PAGES, conversations=conversations, timeline=_timeline())
    assert k["web_chat_conversations"] == 2  # "zz" is not a replayed page view
    assert k["unserved_conversations"] == 1
    assert k["queue_wait_median_s"] == pytest.approx(5.0)
    # span of the pages: 0 s to one day + 60 s; capacity 2 for 100 s of it
    span = DAY / 1000 + 60
    assert k["agent_capacity_mean"] == pytest.approx(200 / span)


def test_conversation_kpis_without_waits():
    conv = pd.DataFrame(
        {"channel": ["web_chat"], "page_view_id": ["p"], "queued_at": [0], "started_at": [None],
         "outcome": ["unserved"]}
    )  # fmt: skip
    k = conversation_kpis(conv, pd.DataFrame({"page_view_id": ["p"]}))
    assert k["queue_wait_median_s"] is None and k["unserved_share"] == 1.0


# ------------------------------------------------------------------ fidelity


def test_fidelity_of_events_against_themselves_is_one():
    comparison = compare_recorded(EVENTS, EVENTS.copy(), PAGES)
    assert comparison.fidelity == 1.0
    assert len(comparison.page_views) == 6


def test_fidelity_with_one_perturbed_decision_event():
    perturbed = EVENTS.copy()
    row = perturbed.index[
        (perturbed["event"] == "chat_shown") & (perturbed["page_view_id"] == "pB1")
    ]
    perturbed.loc[row, "event_at"] += pd.Timedelta(milliseconds=1)
    comparison = compare_recorded(EVENTS, perturbed, PAGES)
    assert comparison.fidelity == pytest.approx(5 / 6)
    assert comparison.mismatched == frozenset({"pB1"})
    table = fidelity_mismatches(EVENTS, perturbed, comparison, PAGES)
    assert set(table["page_view_id"]) == {"pB1"}
    assert sorted(table["side"].unique()) == ["recorded", "replay"]
    differing = table[table["differs"]]
    assert set(differing["event"]) == {"chat_shown"} and len(differing) == 2
    # decision events only: the engagement is not listed
    assert "chat_engaged" not in set(table["event"])


def test_outcome_events_do_not_count_for_fidelity():
    perturbed = EVENTS[EVENTS["event"] != "message_received"]
    assert compare_recorded(EVENTS, perturbed, PAGES).fidelity == 1.0


def test_mismatches_are_the_first_page_views_by_start():
    perturbed = EVENTS[~EVENTS["event"].isin(["trigger_activated"])]
    comparison = compare_recorded(EVENTS, perturbed, PAGES)
    table = fidelity_mismatches(EVENTS, perturbed, comparison, PAGES, first=2)
    # activations on pA1, pA3, pB1, pC1, pD1 are missing; all but pA3 start at 0 s
    assert table["page_view_id"].drop_duplicates().tolist() == ["pA1", "pB1"]


def test_recorded_events_get_stages_and_visits():
    recorded = pd.DataFrame(
        {
            "chat_event_id": ["e1", "e2", "e3", "e4", "e5", "e6"],
            "page_view_id": ["pA1", "pA1", "pC1", "pB1", "pB1", "elsewhere"],
            "visitor_id": ["A", "A", "C", "B", "B", "Z"],
            "event_at": [s(0), s(10), s(0), s(1), s(40), s(0)],
            "event": ["started", "trigger_activated", "chat_shown", "chat_shown",
                      "chat_engaged", "chat_shown"],
            "trigger_id": [None, "t1", None, None, None, None],
            "trigger_continuation": [None, False, True, False, None, None],
            "mode": [None, "online", None, None, None, None],
        }
    )  # fmt: skip
    pages = PAGES.assign(embedded=[False, False, False, True, False, False])
    out = recorded_as_events(recorded, pages)
    got = {(r.page_view_id, r.event): (r.stage, r.visit_id) for r in out.itertuples()}
    assert got == {
        ("pA1", "trigger_activated"): ("configured", "A1"),
        ("pC1", "chat_shown"): ("continuation", "C1"),
        ("pB1", "chat_shown"): ("embedded", "B1"),
        ("pB1", "chat_engaged"): ("engagement", "B1"),
    }
    no_container = recorded_as_events(recorded, PAGES)
    stage = no_container.loc[no_container["page_view_id"] == "pB1", "stage"].iloc[0]
    assert stage == "messaging"


def test_no_mismatch_gives_an_empty_typed_table():
    comparison = compare_recorded(EVENTS, EVENTS.copy(), PAGES)
    table = fidelity_mismatches(EVENTS, EVENTS.copy(), comparison, PAGES)
    assert len(table) == 0
    assert str(table["event_at"].dtype) == "datetime64[ms, UTC]"
    assert list(table.columns)[:2] == ["page_view_id", "side"]
