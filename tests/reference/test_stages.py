"""Stages at the start of a page view, source status, single-page page changes."""

from __future__ import annotations

from tests.reference.builders import World, chat, config, crit, item, run, trig

ACT, EXE = "trigger_activated", "trigger_executed"
EMBEDDED = {"display": "embedded"}


def test_stage_embedded_shows_chat_on_container_page():
    w = World(mode="messaging")
    w.page("p1", 0, 60, embedded=True)
    cfg = config(trig("t1", item("b1")), mode="messaging", **EMBEDDED)
    assert run(w, cfg, "stage") == [(0, "chat_shown", None, None, None, "embedded")]


def test_embedded_display_ignores_triggers_on_every_page():
    w = World(mode="messaging")
    w.page("p1", 0, 60, embedded=False)  # no container: nothing at all
    w.identity("id1", -10)
    w.thread("th1", "id1", -5)  # an open thread would verify the messaging stage
    cfg = config(trig("t1", item("b1")), mode="messaging", **EMBEDDED)
    assert run(w, cfg) == []


def test_messaging_stage_open_thread():
    w = World(mode="messaging")
    w.identity("id1", 10)
    w.thread("th1", "id1", 5)
    w.page("p1", 0, 60)  # identity set after the start: not yet
    w.page("p2", 70, 130)
    cfg = config(trig("t1", item("b1")), mode="messaging")
    out = run(w, cfg, "stage")
    assert out[-1] == (70, "chat_shown", None, None, None, "messaging")
    assert [r[0] for r in out if r[1] == ACT] == [0]  # p2 decided by the messaging stage


def test_locked_thread_does_not_count():
    w = World(mode="messaging")
    w.identity("id1", -100)
    w.thread("th1", "id1", -50, locked=-10)
    w.thread("th2", "id1", -50, closed=-5)
    w.page("p1", 0, 60)
    cfg = config(trig("t1", item("b1")), mode="messaging")
    assert [r[5] for r in run(w, cfg, "stage")] == ["configured"] * 4


def test_identity_initiated_thread_counts_like_any_open_thread():
    w = World(mode="messaging")
    w.identity("id1", -100)
    w.thread("th1", "id1", -50, initiated=True)
    w.page("p1", 0, 60)
    cfg = config(trig("t1", item("b1")), mode="messaging")
    assert run(w, cfg, "stage") == [(0, "chat_shown", None, None, None, "messaging")]


def test_threads_shared_by_uuid():
    w = World(mode="messaging")
    w.identity("id-other", -500, visitor="v2", uuid="cust-1")  # same person, other browser
    w.thread("th1", "id-other", -400)
    w.identity("id1", -100, uuid="cust-1")
    w.page("p1", 0, 60)
    cfg = config(trig("t1", item("b1")), mode="messaging")
    assert run(w, cfg, "stage") == [(0, "chat_shown", None, None, None, "messaging")]


def test_messaging_stage_not_in_live_chat():
    w = World()
    w.identity("id1", -100)
    w.thread("th1", "id1", -50)
    w.page("p1", 0, 60)
    assert {r[5] for r in run(w, config(trig("t1")), "stage")} == {"configured"}


def test_inactive_source_nothing_fires():
    w = World()
    w.status(-100, "active")
    w.status(50, "maintenance")
    w.status(200, "inactive")
    w.status(300, "active")
    w.page("p1", 0, 60)  # starts active: runs, though maintenance starts mid-page
    w.page("p2", 100, 150)  # maintenance
    w.page("p3", 250, 260)  # inactive
    w.page("p4", 310, 320)
    w.recorded("p2", "chat_engaged", 120)  # an engagement there is not honoured
    out = run(w, config(trig("t1", item("b1"))))
    assert sorted({r[0] for r in out}) == [0, 310]


def test_status_change_mid_page_does_not_matter():
    w = World()
    w.status(-100, "inactive")
    w.status(30, "active")
    w.page("p1", 0, 60)  # inactive at its start: nothing, even after 30 s
    w.var("p1", "custom_cart", 1, 40)
    cfg = config(trig("t1", item("b1"), criteria=[crit("custom_cart", "gte", 1)]))
    assert run(w, cfg) == []


def test_items_shown_for_current_page_only():
    w = World()
    w.page("p1", 0, 60, path="/a")
    w.page("p2", 60, 120, path="/b")
    w.page("p3", 120, 180, path="/a")
    cfg = config(
        trig("t1", item("b1"), criteria=[crit("page_path", "is", "/a")]),
        trig("t2", item("b2"), criteria=[crit("chat_shown", "is", False)]),
    )
    # b1 is shown again on p3 (a full page load starts with nothing shown)
    assert [(r[0], r[3]) for r in run(w, cfg) if r[1] == "item_shown"] == [
        (0, "b1"),
        (0, "b2"),
        (60, "b2"),
        (120, "b1"),
        (120, "b2"),
    ]


def test_spa_page_change_keeps_items_and_chat():
    w = World()
    w.page("p1", 0, 60, path="/a")
    w.page("p2", 60, 120, path="/b", page_change=True)
    cfg = config(
        trig("t1", item("b1"), chat(), criteria=[crit("page_path", "is", "/a")]),
        trig("t2", item("b2"), criteria=[crit("chat_shown", "is", True)]),
        trig("t3", item("b1")),
    )
    # p2: the chat, b1 and b2 are still shown; t2 sees the chat and t3 re-activates,
    # but their items are visible already: no item events, and no chat_shown
    assert [r for r in run(w, cfg) if r[0] == 60] == [
        (60, ACT, "t2", None, "online"),
        (60, EXE, "t2", None, "online"),
        (60, ACT, "t3", None, "online"),
        (60, EXE, "t3", None, "online"),
    ]


def test_spa_page_change_reinitializes_triggers():
    w = World()
    w.page("p1", 0, 60)
    w.page("p2", 60, 120, page_change=True)
    out = run(w, config(trig("t1", item("b1"))))
    assert [(r[0], r[1]) for r in out if r[1] in (ACT, EXE)] == [
        (0, ACT),
        (0, EXE),
        (60, ACT),
        (60, EXE),
    ]
