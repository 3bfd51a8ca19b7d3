"""Engagement (recorded outcomes), continuation and its ends."""

from __future__ import annotations

from engage_lab.reference import NoEngagements
from tests.reference.builders import World, config, crit, item, run, trig

ACT, EXE = "trigger_activated", "trigger_executed"
DAY = 24 * 3600


def engaged_world(close_at: float | None = None, chat_outcome: str = "served") -> World:
    """p1 [0, 60) shows b1 at 0; the visitor engages at 30; p2 [60, 120); p3 [120, 180)."""
    w = World()
    for k in range(3):
        w.page(f"p{k + 1}", 60 * k, 60 * k + 60)
    w.recorded("p1", "chat_engaged", 30)
    w.recorded("p1", "message_sent", 30)
    if chat_outcome == "served":
        w.web_chat("c1", "p1", 30, 35, None, "served")
        w.recorded("p1", "message_received", 40)
    else:
        w.web_chat("c1", "p1", 30, None, 30 + 480, "unserved")
    if close_at is not None:
        w.recorded("p2" if close_at < 120 else "p3", "chat_closed", close_at)
    return w


CFG = config(trig("t1", item("b1")))


def test_engagement_blocks_later_triggers():
    w = World()
    w.page("p1", 0, 100)
    w.recorded("p1", "chat_engaged", 30)
    cfg = config(
        trig("t1", item("b1")),
        trig("t2", item("b2"), criteria=[crit("page_visit_duration", "gte", 50)]),
    )
    assert run(w, cfg, "stage") == [
        (0, ACT, "t1", None, "online", "configured"),
        (0, EXE, "t1", None, "online", "configured"),
        (0, "item_shown", "t1", "b1", "online", "configured"),
        (0, "button_shown", "t1", "b1", "online", "configured"),
        (30, "chat_engaged", None, None, None, "engagement"),
    ]


def test_engagement_requires_visible_chat_or_item():
    w = World()
    w.page("p1", 0, 100, path="/a")
    w.recorded("p1", "chat_engaged", 30)
    w.recorded("p1", "message_sent", 30)
    cfg = config(trig("t1", item("b1"), criteria=[crit("page_path", "is", "/b")]))
    assert run(w, cfg) == []  # dropped, with its outcome events


def test_engagement_at_decision_instant_comes_after_decisions():
    w = World()
    w.page("p1", 0, 100)
    w.recorded("p1", "chat_engaged", 0)
    out = run(w, CFG, "stage")
    assert out[-1] == (0, "chat_engaged", None, None, None, "engagement")
    assert len(out) == 5


def test_engagement_reemits_outcome_events():
    out = run(engaged_world(close_at=100), CFG, "stage")
    assert [r for r in out if r[5] == "engagement"] == [
        (30, "chat_engaged", None, None, None, "engagement"),
        (30, "message_sent", None, None, None, "engagement"),
        (40, "message_received", None, None, None, "engagement"),
        (100, "chat_closed", None, None, None, "engagement"),
    ]


def test_second_engagement_while_engaged_not_honoured():
    w = engaged_world()
    w.recorded("p1", "chat_engaged", 45)
    out = run(w, CFG)
    assert [r[0] for r in out if r[1] == "chat_engaged"] == [30]


def test_stage_continuation_shows_chat_with_null_trigger():
    out = run(engaged_world(), CFG, "stage")
    assert (60, "chat_shown", None, None, None, "continuation") in out
    assert (120, "chat_shown", None, None, None, "continuation") in out
    assert not [r for r in out if r[0] >= 60 and r[1] == ACT]


def test_live_chat_continuation_ends_when_visitor_closes():
    out = run(engaged_world(close_at=100), CFG, "stage")
    assert [(r[0], r[1], r[5]) for r in out if r[0] >= 60 and r[1] != "chat_closed"] == [
        (60, "chat_shown", "continuation"),
        # closed at 100: from the next page view on, triggers activate again
        (120, ACT, "configured"),
        (120, EXE, "configured"),
        (120, "item_shown", "configured"),
        (120, "button_shown", "configured"),
    ]


def test_unserved_after_impossibility_delay_ends_continuation():
    w = World()
    w.page("p1", 0, 60)
    w.page("p2", 60, 300)
    w.page("p3", 510, 600)  # starts exactly at 30 + 8 min: the conversation has ended
    w.recorded("p1", "chat_engaged", 30)
    w.recorded("p1", "message_sent", 30)
    w.recorded("p2", "message_received", 520)  # after the end: dropped
    w.web_chat("c1", "p1", 30, None, 510, "unserved")
    out = run(w, CFG, "stage")
    assert [(r[0], r[1], r[5]) for r in out if r[0] >= 30 and r[1] != "button_shown"] == [
        (30, "chat_engaged", "engagement"),
        (30, "message_sent", "engagement"),
        (60, "chat_shown", "continuation"),
        (510, ACT, "configured"),
        (510, EXE, "configured"),
        (510, "item_shown", "configured"),
    ]


def test_impossibility_delay_zero_disables_unserved_end():
    w = World()
    w.page("p1", 0, 60)
    w.page("p2", 3600, 3660)
    w.recorded("p1", "chat_engaged", 30)
    w.web_chat("c1", "p1", 30, None, None, "unserved")
    out = run(w, config(trig("t1", item("b1")), impossibility_delay=0), "stage")
    assert (3600, "chat_shown", None, None, None, "continuation") in out


def test_visit_idle_ends_continuation():
    w = engaged_world()
    w.page("p4", 180 + DAY + 1, 180 + DAY + 60)
    out = run(w, CFG, "stage")
    assert [r[5] for r in out if r[0] > DAY] == ["configured"] * 4


def test_messaging_continuation_until_visit_idles_out():
    w = World(mode="messaging")
    w.page("p1", 0, 60)
    w.page("p2", 5 * 3600, 5 * 3600 + 60)
    w.page("p3", 30 * 3600 + 60, 30 * 3600 + 120)
    w.recorded("p1", "chat_engaged", 30)
    w.recorded("p1", "chat_closed", 50)  # closing the window does not end a messaging thread
    out = run(w, config(trig("t1", item("b1")), mode="messaging"), "stage")
    assert [(r[0], r[5]) for r in out if r[0] >= 5 * 3600] == [
        (5 * 3600, "continuation"),
        (30 * 3600 + 60, "configured"),
        (30 * 3600 + 60, "configured"),
        (30 * 3600 + 60, "configured"),
        (30 * 3600 + 60, "configured"),
    ]


def test_no_other_trigger_does_not_stop_continuation():
    w = engaged_world()
    out = run(w, config(trig("t1", item("b1"), no_other_trigger_after=True)), "stage")
    assert (60, "chat_shown", None, None, None, "continuation") in out


def test_no_engagements_source_ignores_recorded_engagements():
    out = run(engaged_world(close_at=100), CFG, "stage", engagements=NoEngagements())
    assert {r[5] for r in out} == {"configured"}
    assert [r[0] for r in out if r[1] == ACT] == [0, 60, 120]
