"""Condition decisions (DESIGN.md section 5, items 1-3, 8-10, 22) seen through the Chat
Manager, and the remaining stage rules."""

from __future__ import annotations

from tests.reference.builders import World, chat, config, crit, item, run, trig

ACT = "trigger_activated"


def activations(world, cfg, **kw):
    return [(r[0], r[2]) for r in run(world, cfg, **kw) if r[1] == ACT]


def test_not_found_operators():
    w = World()
    w.page("p1", 0, 60)
    cfg = config(
        trig("pos-is", criteria=[crit("custom_plan", "is", "pro")]),
        trig("pos-contains", criteria=[crit("custom_plan", "contains", "p")]),
        trig("pos-gte", criteria=[crit("custom_cart", "gte", 0)]),
        trig("pos-present", criteria=[crit("custom_plan", "is_present")]),
        trig("neg-is-not", item("b1"), criteria=[crit("custom_plan", "is_not", "pro")]),
        trig(
            "neg-not-contain", item("b1"), criteria=[crit("custom_plan", "does_not_contain", "p")]
        ),
        trig("neg-not-present", item("b1"), criteria=[crit("custom_plan", "is_not_present")]),
    )
    assert [t for _, t in activations(w, cfg)] == [
        "neg-is-not",
        "neg-not-contain",
        "neg-not-present",
    ]


def test_list_entries_and_blank_value():
    w = World()
    w.page("p1", 0, 60)
    w.var("p1", "custom_plan", "  ", 0)  # blank
    cfg = config(
        trig("list", criteria=[crit("custom_plan", "is", "a, , ")]),
        trig("blank-is-not-empty", criteria=[crit("custom_plan", "is_not", "")]),
        trig("blank-not-present", item("b1"), criteria=[crit("custom_plan", "is_not_present")]),
    )
    assert [t for _, t in activations(w, cfg)] == ["blank-not-present"]


def test_normalization_of_page_title_and_path():
    w = World()
    w.page("p1", 0, 60, path="/Crème", title="  Crème Brûlée ")
    cfg = config(
        trig(
            "t1",
            criteria=[
                crit("page_title", "is", "tarte, CREME brulee"),
                crit("page_path", "is", "/creme"),
            ],
        )
    )
    assert activations(w, cfg) == [(0, "t1")]


def test_legacy_hour_criterion():
    w = World()
    w.page("p1", -120, 120)  # 07:58 to 08:02 UTC
    cfg = config(trig("t1", criteria=[crit("hour", "is", 8)]))
    assert activations(w, cfg) == [(0, "t1")]


def test_weeks_run_monday_to_sunday():
    w = World()
    w.page("p1", -9 * 3600, -9 * 3600 + 60)  # Sunday 23:00 UTC
    w.page("p2", 0, 60, visitor="v2")  # Monday
    cfg = config(trig("t1", criteria=[crit("day_of_week", "gte", "Saturday")]))
    assert activations(w, cfg) == [(-9 * 3600, "t1")]


def test_expression_reads_vars_by_full_or_bare_name():
    w = World()
    w.page("p1", 0, 60)
    w.var("p1", "custom_plan", "pro", 5)
    cfg = config(
        trig("t1", expression={"vars.custom_plan": "pro"}),
        trig("t2", item("b1"), expression={"vars.plan": {"$in": ["pro"]}}),
    )
    assert activations(w, cfg) == [(5, "t1"), (5, "t2")]


def test_continuation_before_messaging_stage():
    w = World(mode="messaging")
    w.identity("id1", -100)
    w.thread("th1", "id1", -50)
    w.page("p1", 0, 60, embedded=False)
    w.page("p2", 60, 120)
    w.recorded("p1", "chat_engaged", 30)
    out = run(w, config(trig("t1"), mode="messaging"), "stage")
    assert [(r[0], r[1], r[5]) for r in out if r[1] == "chat_shown"] == [
        (0, "chat_shown", "messaging"),
        (60, "chat_shown", "continuation"),
    ]


def test_no_other_trigger_does_not_stop_messaging_stage():
    w = World(mode="messaging")
    w.page("p1", 0, 60)
    w.identity("id1", 10)
    w.thread("th1", "id1", 10)
    w.page("p2", 60, 120)
    cfg = config(trig("t1", chat(), no_other_trigger_after=True), mode="messaging")
    out = run(w, cfg, "stage")
    assert (60, "chat_shown", None, None, None, "messaging") in out


def test_engagement_in_embedded_chat():
    w = World(mode="messaging")
    w.page("p1", 0, 60, embedded=True)
    w.page("p2", 60, 120, embedded=True)
    w.recorded("p1", "chat_engaged", 20)
    cfg = config(trig("t1"), mode="messaging", display="embedded")
    assert run(w, cfg, "stage") == [
        (0, "chat_shown", None, None, None, "embedded"),
        (20, "chat_engaged", None, None, None, "engagement"),
        (60, "chat_shown", None, None, None, "embedded"),
    ]


def test_spa_page_change_stage_does_not_show_chat_again():
    w = World()
    w.page("p1", 0, 60)
    w.page("p2", 60, 120)
    w.page("p3", 120, 180, page_change=True)  # the chat is still on screen
    w.recorded("p1", "chat_engaged", 30)
    out = run(w, config(trig("t1", chat())), "stage")
    assert [(r[0], r[5]) for r in out if r[1] == "chat_shown"] == [
        (0, "configured"),
        (60, "continuation"),
    ]


def test_overlapping_page_views_stop_at_next_start():
    w = World()
    w.page("p1", 0, 100)
    w.page("p2", 50, 150)  # opened while p1 was still recorded as open
    cfg = config(
        trig("t1", item("b1"), criteria=[crit("page_visit_duration", "gte", 60)]),
    )
    # p1's threshold at 60 is past p2's start (50): p1 stops there
    assert activations(w, cfg) == [(110, "t1")]


def test_past_page_clock_read_at_its_end():
    w = World()
    w.page("p1", -60, 0)  # 07:59 to 08:00: its end is in the 08:00 slot
    w.page("p2", 10, 70)
    cfg = config(trig("t1", criteria=[crit("time", "gte", "08:00", when="previous")]))
    assert activations(w, cfg) == [(10, "t1")]


def test_latest_identity_decides_threads():
    w = World(mode="messaging")
    w.identity("id1", -100)
    w.thread("th1", "id1", -90)
    w.identity("id2", -50)  # identified again: a new identity without threads
    w.page("p1", 0, 60)
    out = run(w, config(trig("t1"), mode="messaging"), "stage")
    assert {r[5] for r in out} == {"configured"}


def test_engagement_honoured_on_the_page_containing_it():
    w = World()
    w.page("p1", 0, 60)
    w.page("p2", 60, 120, page_change=True)  # b1 stays on screen
    w.recorded("p1", "chat_engaged", 90)  # recorded against p1, happens during p2
    out = run(
        w,
        config(trig("t1", item("b1"), criteria=[crit("page_visit_count", "is", 1)])),
        "page_view_id",
    )
    assert (90, "chat_engaged", None, None, None, "p2") in out
