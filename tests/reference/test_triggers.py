"""Configured triggers: order, fixed point, gating outcomes, actions, options, caps."""

from __future__ import annotations

from engage_lab.draws import draw
from tests.reference.builders import (
    FixedAvailability,
    World,
    chat,
    config,
    crit,
    item,
    open_chat,
    run,
    trig,
)

ACT, EXE = "trigger_activated", "trigger_executed"


def one_page(end: float = 600, **kw) -> World:
    w = World(**kw)
    w.page("p1", 0, end, path="/cart")
    return w


def test_empty_conditions_always_true():
    cfg = config(trig("t1", item("b1")))
    assert run(one_page(), cfg) == [
        (0, ACT, "t1", None, "online"),
        (0, EXE, "t1", None, "online"),
        (0, "item_shown", "t1", "b1", "online"),
        (0, "button_shown", "t1", "b1", "online"),
    ]


def test_non_gated_trigger_is_online_without_probability():
    out = run(one_page(), config(trig("t1")), "server_probability", "draw")
    assert out == [
        (0, ACT, "t1", None, "online", None, None),
        (0, EXE, "t1", None, "online", None, None),
        (0, "chat_shown", "t1", None, None, None, None),
    ]


def test_disabled_trigger_never_evaluated():
    cfg = config(trig("t1", enabled=False), trig("t2", item("b1")))
    assert [r[2] for r in run(one_page(), cfg)] == ["t2"] * 4


def test_activates_at_most_once_per_page_view():
    w = one_page()
    w.var("p1", "custom_cart", 1, 10)
    w.var("p1", "custom_cart", 2, 20)
    cfg = config(trig("t1", item("b1"), criteria=[crit("custom_cart", "gte", 1)]))
    assert [r[:2] for r in run(w, cfg)] == [
        (10, ACT),
        (10, EXE),
        (10, "item_shown"),
        (10, "button_shown"),
    ]


def test_criteria_and_expression_both_required():
    w = one_page()
    w.var("p1", "custom_plan", "pro", 5)
    w.var("p1", "custom_cart", 3, 9)
    cfg = config(
        trig(
            "t1",
            criteria=[crit("custom_plan", "is", "pro")],
            expression={"vars.cart": {"$gte": 3}},
        )
    )
    assert [r[:3] for r in run(w, cfg)] == [(9, ACT, "t1"), (9, EXE, "t1"), (9, "chat_shown", "t1")]


def test_triggers_run_in_list_order_at_one_instant():
    # t2 sees the chat shown by t1 at the same instant and does not show it again
    cfg = config(trig("t1", open_chat()), trig("t2", open_chat()))
    assert run(one_page(), cfg) == [
        (0, ACT, "t1", None, "online"),
        (0, EXE, "t1", None, "online"),
        (0, "chat_shown", "t1", None, None),
        (0, ACT, "t2", None, "online"),
        (0, EXE, "t2", None, "online"),
    ]


def test_fixed_point_later_trigger_enables_earlier():
    cfg = config(
        trig("t1", item("b1"), criteria=[crit("chat_shown", "is", True)]),
        trig("t2", chat()),
    )
    # t1 holds in the second pass, after t2 showed the chat: its events come after t2's
    assert run(one_page(), cfg) == [
        (0, ACT, "t2", None, "online"),
        (0, EXE, "t2", None, "online"),
        (0, "chat_shown", "t2", None, None),
        (0, ACT, "t1", None, "online"),
        (0, EXE, "t1", None, "online"),
        (0, "item_shown", "t1", "b1", "online"),
        (0, "button_shown", "t1", "b1", "online"),
    ]


def test_chat_opened_criterion_reads_open_state():
    cfg = config(
        trig("t1", item("b1"), criteria=[crit("chat_opened", "is", True)]),
        trig("t2", chat()),
    )
    # minimized only: chat_opened stays false
    assert [r[2] for r in run(one_page(), cfg)] == ["t2"] * 3


def test_gated_executes_when_draw_below_probability():
    cfg = config(trig("t1", item("b1"), only_if_agents_available=True))
    out = run(one_page(), cfg, "server_probability", "draw", availability=FixedAvailability(1.0))
    u = draw("test-seed", "v1", "p1", "t1")
    assert out == [
        (0, ACT, "t1", None, "online", 1.0, u),
        (0, EXE, "t1", None, "online", 1.0, u),
        (0, "item_shown", "t1", "b1", "online", 1.0, u),
        (0, "button_shown", "t1", "b1", "online", 1.0, u),
    ]


def test_gated_refused_offline_item_in_live_chat():
    cfg = config(
        trig("t1", item("b1"), item("boff"), item("ioff"), chat(), only_if_agents_available=True)
    )
    assert run(one_page(), cfg, availability=FixedAvailability(0.0)) == [
        (0, ACT, "t1", None, "offline"),
        (0, EXE, "t1", None, "offline"),
        (0, "item_shown", "t1", "boff", "offline"),
        (0, "item_shown", "t1", "ioff", "offline"),
        (0, "button_shown", "t1", "boff", "offline"),
        (0, "invitation_shown", "t1", "ioff", "offline"),
    ]


def test_gated_refused_without_offline_item_shows_nothing():
    cfg = config(trig("t1", item("b1"), only_if_agents_available=True))
    assert run(one_page(), cfg, availability=FixedAvailability(0.0)) == [
        (0, ACT, "t1", None, "offline")
    ]


def test_gated_refused_messaging_shows_nothing():
    cfg = config(trig("t1", item("boff"), only_if_agents_available=True), mode="messaging")
    # refused (u >= p = 0); messaging always uses the online look
    assert run(one_page(mode="messaging"), cfg, availability=FixedAvailability(0.0)) == [
        (0, ACT, "t1", None, "online")
    ]


def test_messaging_executed_items_are_online():
    cfg = config(trig("t1", item("boff"), only_if_agents_available=True), mode="messaging")
    out = run(one_page(mode="messaging"), cfg, availability=FixedAvailability(1.0))
    assert {r[4] for r in out} == {"online"}


def test_fixed_button_missing_placeholder_activated_not_executed():
    cfg = config(trig("t1", item("bfix")))
    assert run(one_page(), cfg) == [(0, ACT, "t1", None, "online")]


def test_fixed_button_with_placeholder_executes():
    w = World()
    w.page("p1", 0, 60, placeholders=("bfix",))
    assert [r[1] for r in run(w, config(trig("t1", item("bfix"))))] == [
        ACT,
        EXE,
        "item_shown",
        "button_shown",
    ]


def test_no_other_trigger_blocks_rest_of_visit_not_itself():
    w = World()
    w.page("p1", 0, 60)
    w.page("p2", 70, 130)  # a reload in the same visit
    cfg = config(trig("t1", item("b1")), trig("t0", chat(), no_other_trigger_after=True))
    out = run(w, cfg)
    # p1: t1 (listed first) and t0 at the same instant; p2: t0 only, t1 blocked
    assert [(r[0], r[1], r[2]) for r in out if r[1] == ACT] == [
        (0, ACT, "t1"),
        (0, ACT, "t0"),
        (70, ACT, "t0"),
    ]


def test_no_other_trigger_blocks_later_trigger_at_same_instant():
    cfg = config(trig("t0", chat(), no_other_trigger_after=True), trig("t1", item("b1")))
    assert [r[2] for r in run(one_page(), cfg)] == ["t0"] * 3


def test_no_other_trigger_ends_with_the_visit():
    w = World()
    w.page("p1", 0, 60, path="/pay")
    w.page("p2", 60 + 25 * 3600, 60 + 25 * 3600 + 60)  # 25 h later: a new visit
    cfg = config(
        trig("t0", chat(), criteria=[crit("page_path", "is", "/pay")], no_other_trigger_after=True),
        trig("t1", item("b1")),
    )
    acts = [(r[0], r[2]) for r in run(w, cfg) if r[1] == ACT]
    assert acts == [(0, "t0"), (60 + 25 * 3600, "t1")]


def test_refused_no_other_trigger_does_not_block():
    cfg = config(
        trig("t0", item("b1"), no_other_trigger_after=True, only_if_agents_available=True),
        trig("t1", item("b2")),
    )
    acts = [r[2] for r in run(one_page(), cfg, availability=FixedAvailability(0.0)) if r[1] == ACT]
    assert acts == ["t0", "t1"]


def test_once_per_visit_counts_online_executions():
    w = World()
    for k in range(3):
        w.page(f"p{k}", 100 * k, 100 * k + 60)
    cfg = config(trig("t1", item("boff"), once_per_visit=True, only_if_agents_available=True))

    class RefuseFirstPage:
        def probability(self, t, trigger, config):
            return 0.0 if t < w_at(100) else 1.0

    from tests.reference.builders import at as w_at

    out = run(w, cfg, availability=RefuseFirstPage())
    # p0 refused (offline execution does not count), p1 executed online, p2 blocked
    assert [(r[0], r[1], r[4]) for r in out if r[1] in (ACT, EXE)] == [
        (0, ACT, "offline"),
        (0, EXE, "offline"),
        (100, ACT, "online"),
        (100, EXE, "online"),
    ]


def test_blocked_trigger_fires_nothing():
    w = World()
    w.page("p1", 0, 60)
    w.page("p2", 70, 130)
    cfg = config(trig("t1", item("b1"), once_per_visit=True))
    assert [r[0] for r in run(w, cfg)] == [0, 0, 0, 0]


def test_hide_other_elements_hides_earlier_items():
    w = one_page()
    w.var("p1", "custom_cart", 5, 30)
    cfg = config(
        trig("t1", item("b1")),
        trig(
            "t2",
            {"type": "hide_other_elements"},
            item("i1"),
            criteria=[crit("custom_cart", "gte", 1)],
        ),
        # t3 shows b1 again after it was hidden: it fires again
        trig("t3", item("b1"), criteria=[crit("custom_cart", "gte", 5)]),
    )
    out = run(w, cfg)
    assert [r for r in out if r[0] == 30] == [
        (30, ACT, "t2", None, "online"),
        (30, EXE, "t2", None, "online"),
        (30, "item_shown", "t2", "i1", "online"),
        (30, "invitation_shown", "t2", "i1", "online"),
        (30, ACT, "t3", None, "online"),
        (30, EXE, "t3", None, "online"),
        (30, "item_shown", "t3", "b1", "online"),
        (30, "button_shown", "t3", "b1", "online"),
    ]


def test_refused_trigger_takes_no_hide_action():
    cfg = config(
        trig("t1", item("b1")),
        trig("t2", {"type": "hide_other_elements"}, item("boff"), only_if_agents_available=True),
        trig("t3", item("b1")),
    )
    out = run(one_page(), cfg, availability=FixedAvailability(0.0))
    # b1 stays visible (t2 refused): t3 does not show it again
    assert [r[1:4] for r in out if r[2] == "t3"] == [(ACT, "t3", None), (EXE, "t3", None)]


def test_show_and_open_idempotent():
    cfg = config(trig("t1", chat()), trig("t2", open_chat()), trig("t3", open_chat()))
    out = run(one_page(), cfg)
    assert [r[1:3] for r in out if r[1] == "chat_shown"] == [("chat_shown", "t1")]


def test_show_and_open_opens_a_minimized_chat():
    cfg = config(
        trig("t1", chat()),
        trig("t2", open_chat()),
        trig("t3", item("b1"), criteria=[crit("chat_opened", "is", True)]),
    )
    assert "t3" in {r[2] for r in run(one_page(), cfg)}


def test_show_item_idempotent():
    cfg = config(trig("t1", item("b1")), trig("t2", item("b1"), item("b2")))
    shown = [(r[2], r[3]) for r in run(one_page(), cfg) if r[1] == "item_shown"]
    assert shown == [("t1", "b1"), ("t2", "b2")]


def test_automatic_message_fires_no_event():
    cfg = config(trig("t1", open_chat(), {"type": "automatic_message", "message": "m1"}))
    assert [r[1] for r in run(one_page(), cfg)] == [ACT, EXE, "chat_shown"]


def test_extension_cap_max_executions():
    w = World()
    for k in range(4):
        w.page(f"p{k}", k * 30 * 3600, k * 30 * 3600 + 60)  # four visits
    cfg = config(trig("t1", item("b1"), extensions={"max_executions_per_visitor": 2}))
    assert [r[0] / 3600 for r in run(w, cfg) if r[1] == EXE] == [0, 30]


def test_extension_cap_min_seconds():
    w = World()
    w.page("p1", 0, 60)
    w.page("p2", 70, 200)
    cfg = config(trig("t1", item("b1"), extensions={"min_seconds_between_executions": 100}))
    # p1 at 0; on p2 blocked until 0 + 100 s exactly, then activates
    assert [r[0] for r in run(w, cfg) if r[1] == ACT] == [0, 100]


def test_event_order_at_one_instant():
    cfg = config(
        trig("t2", open_chat(), item("i1"), item("b1")),
        trig("t1", item("b2")),
    )
    out = run(one_page(), cfg)
    assert out == [
        (0, ACT, "t2", None, "online"),
        (0, EXE, "t2", None, "online"),
        (0, "item_shown", "t2", "b1", "online"),
        (0, "item_shown", "t2", "i1", "online"),
        (0, "button_shown", "t2", "b1", "online"),
        (0, "invitation_shown", "t2", "i1", "online"),
        (0, "chat_shown", "t2", None, None),
        (0, ACT, "t1", None, "online"),
        (0, EXE, "t1", None, "online"),
        (0, "item_shown", "t1", "b2", "online"),
        (0, "button_shown", "t1", "b2", "online"),
    ]
