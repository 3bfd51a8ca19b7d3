"""Decisions where the product documentation is silent, found by replaying hand-made
histories (DESIGN section 5, items 26-29): a past page's final state, the ``mode`` of
trigger and item events, causal order at one instant, and the behaviours written down
with them.

Each case is a function building ``(world, configuration)``; its test states what the
reference replays, and tests/engine/test_differential_decisions.py replays the same
cases with the fast engine and asserts the same frame. Gated cases read the agent logs
(no agent: the server answers 0), so both engines see the same availability.
"""

from __future__ import annotations

from engage_lab.config import Config
from tests.reference.builders import World, chat, config, crit, item, open_chat, run, trig

ACT, EXE = "trigger_activated", "trigger_executed"
GATED = {"only_if_agents_available": True}
Case = tuple[World, Config]


def replayed(case: Case, *columns: str) -> list[tuple]:
    """The reference's events of a case, with the availability of its agent logs."""
    world, cfg = case
    return run(world, cfg, *columns, availability=None)


def activations(case: Case) -> list[tuple[float, str]]:
    return [(r[0], r[2]) for r in replayed(case) if r[1] == ACT]


# ------------------------------------------------------------------ 26. final state


def var_set_to_null_last() -> Case:
    """p1 sets both variables, then clears them (null); p2 reads p1 as its previous page."""
    w = World()
    w.page("p1", 0, 60, path="/a")
    w.var("p1", "custom_plan", "gold", 5)
    w.var("p1", "custom_cart", 10, 5)
    w.var("p1", "custom_plan", None, 20)
    w.var("p1", "custom_cart", None, 30)
    w.page("p2", 60, 120, path="/b")
    on_b = crit("page_path", "is", "/b")
    cfg = config(
        trig("plan-present", criteria=[on_b, crit("custom_plan", "is_present", when="previous")]),
        trig("plan-gold", criteria=[on_b, crit("custom_plan", "is", "gold", when="previous")]),
        trig("cart-gte", criteria=[on_b, crit("custom_cart", "gte", 1, when="previous")]),
        trig(
            "plan-absent",
            item("b1"),
            criteria=[on_b, crit("custom_plan", "is_not_present", when="previous")],
        ),
        trig(
            "cart-absent",
            item("b2"),
            criteria=[on_b, crit("custom_cart", "is_not_present", when="previous")],
        ),
        trig(
            "cart-cleared-now",
            item("i1"),
            criteria=[
                crit("page_path", "is", "/a"),
                crit("page_visit_duration", "gte", 25),
                crit("custom_cart", "is_not_present"),
            ],
        ),
    )
    return w, cfg


def test_past_page_variable_set_to_null_last_reads_as_not_found():
    assert activations(var_set_to_null_last()) == [
        (30, "cart-cleared-now"),  # the current page reads the null at once
        (60, "plan-absent"),
        (60, "cart-absent"),
    ]


def var_set_to_blank_last() -> Case:
    """p1 ends with a blank plan; p2 ends with the plan null then set again."""
    w = World()
    w.page("p1", 0, 60, path="/a")
    w.var("p1", "custom_plan", "gold", 5)
    w.var("p1", "custom_plan", "   ", 20)
    w.page("p2", 60, 120, path="/b")
    w.var("p2", "custom_plan", None, 65)
    w.var("p2", "custom_plan", "silver", 70)
    w.page("p3", 120, 180, path="/c")
    cfg = config(
        trig(
            "blank-previous",
            item("b1"),
            criteria=[
                crit("page_path", "is", "/b"),
                crit("custom_plan", "is_not_present", when="previous"),
            ],
        ),
        trig(
            "any-previous-gold",
            criteria=[crit("custom_plan", "is", "gold", when="any_previous")],
        ),
        trig(
            "previous-silver",
            item("b2"),
            criteria=[
                crit("page_path", "is", "/c"),
                crit("custom_plan", "is", "silver", when="previous"),
            ],
        ),
    )
    return w, cfg


def test_past_page_variable_set_to_blank_last_reads_as_not_found():
    # p1's last value is blank: "gold" earlier on p1 is not its final state
    assert activations(var_set_to_blank_last()) == [
        (60, "blank-previous"),
        (120, "previous-silver"),
    ]


# ------------------------------------------------------------------ 27. mode


def messaging_refused() -> Case:
    w = World(mode="messaging")
    w.page("p1", 0, 60, path="/a")
    cfg = config(
        trig("t1", item("boff"), item("b1"), chat(), **GATED),
        trig("t2", item("bfix"), **GATED),
        trig("t3", item("b2")),
        mode="messaging",
    )
    return w, cfg


def test_messaging_every_mode_is_online():
    # no agent: both gated triggers are refused; in messaging the look is online
    out = replayed(messaging_refused(), "stage")
    assert [r[:5] for r in out] == [
        (0, ACT, "t1", None, "online"),
        (0, ACT, "t2", None, "online"),
        (0, ACT, "t3", None, "online"),
        (0, EXE, "t3", None, "online"),
        (0, "item_shown", "t3", "b2", "online"),
        (0, "button_shown", "t3", "b2", "online"),
    ]


def live_chat_modes() -> Case:
    w = World()
    w.page("p1", 0, 60, path="/a")
    w.page("p2", 60, 120, path="/b", placeholders=("bfix",))
    cfg = config(
        trig("refused-offline", item("boff"), item("b1"), **GATED),
        trig("refused-online-only", item("b2"), **GATED),
        trig("fixed-missing", item("bfix"), criteria=[crit("page_path", "is", "/a")]),
        trig("plain", item("i1")),
    )
    return w, cfg


def test_live_chat_mode_is_the_look_used():
    out = [r[:5] for r in replayed(live_chat_modes()) if r[0] == 0]
    assert out == [
        (0, ACT, "refused-offline", None, "offline"),
        (0, EXE, "refused-offline", None, "offline"),
        (0, "item_shown", "refused-offline", "boff", "offline"),
        (0, "button_shown", "refused-offline", "boff", "offline"),
        (0, ACT, "refused-online-only", None, "offline"),
        (0, ACT, "fixed-missing", None, "online"),
        (0, ACT, "plain", None, "online"),
        (0, EXE, "plain", None, "online"),
        (0, "item_shown", "plain", "i1", "online"),
        (0, "invitation_shown", "plain", "i1", "online"),
    ]


# ------------------------------------------------------------------ 28. causal order


def causal_chain() -> Case:
    """t3 shows the chat; t2 (needs it shown) opens it; t1 (needs it open) shows b1;
    t4 holds from the start."""
    w = World()
    w.page("p1", 0, 60)
    w.page("p2", 60, 120)
    cfg = config(
        trig("t1", item("b1"), criteria=[crit("chat_opened", "is", True)]),
        trig("t2", open_chat(), criteria=[crit("chat_shown", "is", True)]),
        trig("t3", chat(), criteria=[crit("page_visit_duration", "gte", 10)]),
        trig("t4", item("i1")),
    )
    return w, cfg


def test_trigger_enabled_by_a_later_trigger_activates_after_its_events():
    out = [r[:4] for r in replayed(causal_chain()) if r[0] < 60]
    assert out == [
        (0, ACT, "t4", None),
        (0, EXE, "t4", None),
        (0, "item_shown", "t4", "i1"),
        (0, "invitation_shown", "t4", "i1"),
        (10, ACT, "t3", None),
        (10, EXE, "t3", None),
        (10, "chat_shown", "t3", None),
        (10, ACT, "t2", None),
        (10, EXE, "t2", None),
        (10, ACT, "t1", None),
        (10, EXE, "t1", None),
        (10, "item_shown", "t1", "b1"),
        (10, "button_shown", "t1", "b1"),
    ]


def causal_passes() -> Case:
    """At 0: t2 and t3 in the first pass (t3 shows the chat), t1 in the second."""
    w = World()
    w.page("p1", 0, 60)
    w.recorded("p1", "chat_engaged", 0)
    cfg = config(
        trig("t1", item("b1"), criteria=[crit("chat_shown", "is", True)]),
        trig("t2", item("b2")),
        trig("t3", chat()),
        trig("t4", item("i1"), criteria=[crit("chat_shown", "is", False)]),
    )
    return w, cfg


def test_triggers_reexamined_in_list_order_until_nothing_changes():
    out = [(r[1], r[2], r[3], r[5]) for r in replayed(causal_passes(), "stage")]
    assert out == [
        (ACT, "t2", None, "configured"),
        (EXE, "t2", None, "configured"),
        ("item_shown", "t2", "b2", "configured"),
        ("button_shown", "t2", "b2", "configured"),
        (ACT, "t3", None, "configured"),
        (EXE, "t3", None, "configured"),
        ("chat_shown", "t3", None, "configured"),
        (ACT, "t1", None, "configured"),
        (EXE, "t1", None, "configured"),
        ("item_shown", "t1", "b1", "configured"),
        ("button_shown", "t1", "b1", "configured"),
        ("chat_engaged", None, None, "engagement"),
    ]


# ------------------------------------------------------------------ 29. also decided


def status_changes() -> Case:
    w = World()
    w.status(-100, "inactive")
    w.status(60, "active")
    w.status(150, "maintenance")
    w.page("p1", 0, 60)  # inactive at its start, active from 60
    w.page("p2", 60, 120)  # active exactly at its start
    w.page("p3", 120, 200)  # active at its start, maintenance from 150
    cfg = config(
        trig("t1", item("b1"), criteria=[crit("page_visit_duration", "gte", 40)]),
    )
    return w, cfg


def test_source_status_read_at_each_page_view_start():
    assert activations(status_changes()) == [(100, "t1"), (160, "t1")]


def two_tabs() -> Case:
    """p2 opens in a second tab while p1 is recorded as open until 100."""
    w = World()
    w.page("p1", 0, 100, path="/a")
    w.page("p2", 50, 150, path="/b")
    w.var("p1", "custom_plan", "pro", 20)
    w.var("p1", "custom_cart", 5, 70)  # recorded on p1, after p2 started
    w.identity("id1", 70)
    on_b = crit("page_path", "is", "/b")

    def previous(criterion: str, operator: str, value=None) -> list[dict]:
        return [on_b, crit(criterion, operator, value, when="previous")]

    cfg = config(
        trig("late-on-p1", criteria=[crit("page_visit_duration", "gte", 60)]),
        trig("cart", item("b1"), criteria=[crit("custom_cart", "is_present")]),
        trig("previous-a", item("b2"), criteria=previous("page_path", "is", "/a")),
        trig("previous-lasted-50", criteria=previous("page_visit_duration", "gte", 50)),
        trig("previous-lasted-51", criteria=previous("page_visit_duration", "gte", 51)),
        trig("previous-plan", criteria=previous("custom_plan", "is_present")),
        trig("previous-cart", criteria=previous("custom_cart", "is_present")),
        trig("previous-identified", criteria=previous("identity", "is", True)),
    )
    return w, cfg


def test_overlapping_page_views_earlier_ends_where_later_starts():
    # p1 stops at 50: neither its 60 s threshold nor its change at 70 is seen on it, and
    # as p2's previous page it is its state at 50 (50 s long, a plan, no cart, no identity)
    assert activations(two_tabs()) == [
        (50, "previous-a"),
        (50, "previous-lasted-50"),
        (50, "previous-plan"),
        (110, "late-on-p1"),
    ]


def engagement_at_threshold() -> Case:
    w = World()
    w.page("p1", 0, 100)
    w.recorded("p1", "chat_engaged", 30)
    cfg = config(
        trig("t0", chat()),
        trig("t1", item("b1"), criteria=[crit("page_visit_duration", "gte", 30)]),
        trig("t2", item("b2"), criteria=[crit("page_visit_duration", "gte", 31)]),
    )
    return w, cfg


def test_engagement_and_threshold_at_one_instant_trigger_still_activates():
    case = engagement_at_threshold()
    assert activations(case) == [(0, "t0"), (30, "t1")]  # t2 (31 s) comes after it
    out = [r[:3] for r in replayed(case) if r[0] == 30]
    assert out == [
        (30, ACT, "t1"),
        (30, EXE, "t1"),
        (30, "item_shown", "t1"),
        (30, "button_shown", "t1"),
        (30, "chat_engaged", None),
    ]


def engagement_with_nothing_shown() -> Case:
    w = World()
    w.page("p1", 0, 100)
    w.recorded("p1", "chat_engaged", 10)  # nothing shown yet: ignored
    w.recorded("p1", "message_sent", 10)
    w.recorded("p1", "chat_engaged", 50)  # b1 shown at 20: honoured
    cfg = config(
        trig("t1", item("b1"), criteria=[crit("page_visit_duration", "gte", 20)]),
        trig("t2", item("b2"), criteria=[crit("page_visit_duration", "gte", 40)]),
        trig("t3", item("i1"), criteria=[crit("page_visit_duration", "gte", 60)]),
    )
    return w, cfg


def test_recorded_engagement_while_nothing_shown_is_ignored():
    out = replayed(engagement_with_nothing_shown())
    assert [(r[0], r[1], r[2]) for r in out if r[1] in (ACT, "chat_engaged")] == [
        (20, ACT, "t1"),
        (40, ACT, "t2"),  # the engagement at 10 did not block it
        (50, "chat_engaged", None),
    ]


def spa_chat_kept() -> Case:
    w = World()
    w.page("p1", 0, 60)
    w.page("p2", 60, 120, page_change=True)
    cfg = config(
        trig("t1", chat(), item("b1")),
        trig("t2", item("b2"), criteria=[crit("chat_shown", "is", True)]),
    )
    return w, cfg


def test_single_page_change_keeps_chat_without_new_chat_shown():
    # on p2 both triggers run again; the chat and the items are already on screen
    out = [r[:4] for r in replayed(spa_chat_kept()) if r[0] == 60]
    assert out == [
        (60, ACT, "t1", None),
        (60, EXE, "t1", None),
        (60, ACT, "t2", None),
        (60, EXE, "t2", None),
    ]


def item_already_shown() -> Case:
    w = World()
    w.page("p1", 0, 60)
    cfg = config(
        trig("t1", item("boff"), item("b1")),
        trig("t2", item("b1"), criteria=[crit("page_visit_duration", "gte", 5)]),
        trig("t3", item("boff"), item("i1"), criteria=[crit("page_visit_duration", "gte", 9)]),
    )
    return w, cfg


def test_item_already_shown_is_not_shown_again():
    shown = [(r[0], r[2], r[3]) for r in replayed(item_already_shown()) if r[1] == "item_shown"]
    executed = [(r[0], r[2]) for r in replayed(item_already_shown()) if r[1] == EXE]
    assert shown == [(0, "t1", "b1"), (0, "t1", "boff"), (9, "t3", "i1")]
    assert executed == [(0, "t1"), (5, "t2"), (9, "t3")]


def timezone_of_config(config_zone: str | None) -> Case:
    w = World()
    w.source[0]["timezone"] = "Asia/Tokyo"  # 17:00 at T0 (08:00 UTC)
    w.page("p1", 0, 60)
    zone = {} if config_zone is None else {"timezone": config_zone}
    cfg = config(
        trig("utc-8", criteria=[crit("hour", "is", 8)]),
        trig("paris-9", criteria=[crit("hour", "is", 9)]),
        trig("tokyo-17", criteria=[crit("hour", "is", 17)]),
        **zone,
    )
    return w, cfg


def test_configuration_timezone_wins_over_history_source():
    assert activations(timezone_of_config("Europe/Paris")) == [(0, "paris-9")]
    assert activations(timezone_of_config(None)) == [(0, "utc-8")]  # the default, UTC


def exact_milliseconds() -> Case:
    w = World()
    w.page("p1", 0, 59.999, path="/a")
    w.page("p2", 60, 120, path="/b")
    on_b = crit("page_path", "is", "/b")
    cfg = config(
        trig("gte-1ms", criteria=[on_b, crit("page_visit_duration", "gte", 0.001)]),
        trig(
            "gt-12.345",
            criteria=[on_b],
            expression={"page.duration": {"$gt": 12.345}},
        ),
        trig("visit-gte-60.5", criteria=[crit("visit_duration", "gte", 60.5)]),
        trig("lte-0", criteria=[crit("page_visit_duration", "lte", 0)]),
        trig(
            "previous-59.999",
            criteria=[on_b, crit("page_visit_duration", "gte", 59.999, when="previous")],
        ),
        trig(
            "previous-60",
            criteria=[on_b, crit("page_visit_duration", "gte", 60, when="previous")],
        ),
    )
    return w, cfg


def test_duration_criteria_compare_exact_milliseconds():
    assert activations(exact_milliseconds()) == [
        (0, "lte-0"),
        (60, "lte-0"),
        (60, "previous-59.999"),
        (60.001, "gte-1ms"),
        (60.5, "visit-gte-60.5"),
        (72.346, "gt-12.345"),
    ]


CASES = {
    f.__name__: f
    for f in (
        var_set_to_null_last,
        var_set_to_blank_last,
        messaging_refused,
        live_chat_modes,
        causal_chain,
        causal_passes,
        status_changes,
        two_tabs,
        engagement_at_threshold,
        engagement_with_nothing_shown,
        spa_chat_kept,
        item_already_shown,
        exact_milliseconds,
    )
}
