"""Fast engine vs reference Chat Manager on hand-built histories: identical event frames.

Each scenario builds a small history (tests/reference/builders.py) and a configuration;
the test loads it through the real loader and asserts that both engines give the same
frame (every column, to the millisecond) and that the scenario exercised what it names.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engage_lab.config import Config
from tests.engine.support import check_world
from tests.reference.builders import World, at, chat, config, crit, item, open_chat, trig

GATED = {"only_if_agents_available": True}
HIDE = {"type": "hide_other_elements"}
MSG = {"type": "automatic_message", "message": "m1"}
Scenario = tuple[World, Config, Callable[[list[tuple]], bool]]


def _events(frame) -> list[tuple]:
    cols = ["event", "trigger_id", "item_id", "mode", "stage"]
    plain = frame[cols].astype(object)
    plain = plain.where(plain.notna(), None)
    return [tuple(r) for r in plain.itertuples(index=False)]


def mid_page_threshold() -> Scenario:
    w = World()
    w.page("p1", 0, 120)
    w.page("p2", 130, 140)  # ends before the threshold
    cfg = config(trig("t1", item("b1"), criteria=[crit("page_visit_duration", "gte", 45.5)]))
    return w, cfg, lambda ev: sum(e[0] == "trigger_activated" for e in ev) == 1


def visit_duration_threshold() -> Scenario:
    w = World()
    w.page("p1", 0, 50)
    w.page("p2", 50, 200)
    cfg = config(trig("t1", criteria=[crit("visit_duration", "gte", 100)]))
    return w, cfg, lambda ev: ("trigger_activated", "t1", None, "online", "configured") in ev


def variable_changes() -> Scenario:
    w = World()
    w.page("p1", 0, 100)
    w.var("p1", "custom_cart", 10, 5)
    w.var("p1", "custom_cart", 60, 20)
    w.var("p1", "custom_plan", " Gold ", 30)
    w.var("p1", "custom_cart", 70, 100)  # at the end: belongs to the next page view
    w.page("p2", 100, 200)
    cfg = config(
        trig("t1", item("b1"), criteria=[crit("custom_cart", "gte", 50)]),
        trig("t2", item("b2"), criteria=[crit("custom_plan", "is", "gold, silver")]),
        trig("t3", criteria=[crit("custom_cart", "gte", 65)]),
    )
    return w, cfg, lambda ev: {e[1] for e in ev} == {"t1", "t2", "t3"}


def several_triggers_one_page() -> Scenario:
    w = World()
    w.page("p1", 0, 100, path="/cart")
    cfg = config(
        trig("t1", item("b1"), criteria=[crit("page_path", "contains", "cart")]),
        trig("t2", item("i1"), criteria=[crit("page_visit_duration", "gte", 10)]),
        trig("t3", chat(), criteria=[crit("page_path", "starts_with", "/ca")]),
    )
    return w, cfg, lambda ev: len({e[1] for e in ev}) == 3


def chat_state_fixed_point() -> Scenario:
    w = World()
    w.page("p1", 0, 100)
    w.page("p2", 100, 200)
    cfg = config(
        trig("t1", item("b1"), criteria=[crit("chat_shown", "is", True)]),
        trig("t2", open_chat(), criteria=[crit("page_visit_duration", "gte", 20)]),
        trig("t3", item("b2"), criteria=[crit("chat_opened", "is_not_present")]),
    )
    return w, cfg, lambda ev: ("trigger_activated", "t1", None, "online", "configured") in ev


def historical_positions() -> Scenario:
    w = World()
    for k, path in enumerate(["/home", "/product", "/cart", "/pay"]):
        w.page(f"p{k}", 100 * k, 100 * k + 90, path=path)
        w.var(f"p{k}", "custom_cart", 10 * k, 100 * k + 5)
    cfg = config(
        trig("t1", item("b1"), criteria=[crit("page_path", "is", "/product", when="previous")]),
        trig("t2", item("b2"), criteria=[crit("page_path", "is", "/home", when="first")]),
        trig("t3", item("i1"), criteria=[crit("custom_cart", "gte", 10, when="any_previous")]),
        trig(
            "t4",
            item("ioff"),
            criteria=[crit("page_path", "contains", "cart", when="current_or_any_of_previous_2")],
        ),
        trig("t5", chat(), criteria=[crit("page_visit_count", "gte", 4)]),
    )
    return w, cfg, lambda ev: len({e[1] for e in ev}) == 5


def post_activation_options() -> Scenario:
    w = World()
    for k in range(4):
        w.page(f"p{k}", 100 * k, 100 * k + 90)
    cfg = config(
        trig("t1", item("b1"), once_per_visit=True),
        trig(
            "t2",
            item("b2"),
            criteria=[crit("page_visit_count", "gte", 3)],
            no_other_trigger_after=True,
        ),
        trig("t3", item("i1"), extensions={"max_executions_per_visitor": 2}),
    )
    return w, cfg, lambda ev: sum(e[1] == "t3" and e[0] == "trigger_executed" for e in ev) == 2


def gating_product() -> Scenario:
    w = World()
    w.agent("a1", 1, available_from=-100)
    w.agent("a2", 1, available_from=30)
    for k in range(6):
        w.page(f"p{k}", 20 * k, 20 * k + 15)
    w.tables["conversations"].append(
        {
            "conversation_id": "c1",
            "agent_id": "a1",
            "channel": "email",
            "visitor_id": None,
            "page_view_id": None,
            "queued_at": at(-50),
            "started_at": at(-40),
            "ended_at": None,
            "outcome": None,
        }
    )
    cfg = config(trig("t1", item("boff"), item("b1"), **GATED), queuing_factor=0.5)
    return (
        w,
        cfg,
        lambda ev: (
            {e[3] for e in ev if e[0] == "trigger_activated"}
            == {
                "online",
                "offline",
            }
        ),
    )


def gating_reserve_and_curve() -> Scenario:
    w = World()
    w.agent("a1", 3, available_from=-100)
    w.tables["conversations"].append(
        {
            "conversation_id": "c1",
            "agent_id": "a1",
            "channel": "email",
            "visitor_id": None,
            "page_view_id": None,
            "queued_at": at(-50),
            "started_at": at(-40),
            "ended_at": None,
            "outcome": None,
        }
    )
    for k in range(12):
        w.page(f"p{k}", 20 * k, 20 * k + 15)
    cfg = config(
        trig("t1", item("ioff"), **GATED, server_probability={"policy": "reserve", "k": 1}),
        trig(
            "t2",
            item("b1"),
            **GATED,
            server_probability={
                "policy": "curve",
                "over": "occupancy",
                "points": [[0, 1], [0.5, 0.5], [1, 0]],
            },
        ),
    )
    return w, cfg, lambda ev: any(e[1] == "t2" for e in ev)


def fixed_button_placeholder() -> Scenario:
    w = World()
    w.page("p1", 0, 50, placeholders=("bfix",))
    w.page("p2", 50, 100)
    cfg = config(trig("t1", item("bfix")), trig("t2", item("b1"), item("bfix")))
    return w, cfg, lambda ev: sum(e[0] == "trigger_executed" for e in ev) == 2


def spa_page_change_and_hide() -> Scenario:
    w = World()
    w.page("p1", 0, 50)
    w.page("p2", 50, 100, page_change=True)
    w.page("p3", 100, 150)
    cfg = config(
        trig("t1", item("b1"), item("i1")),
        trig("t2", HIDE, item("b2"), criteria=[crit("page_visit_duration", "gte", 10)]),
        trig("t3", chat(), MSG, criteria=[crit("page_visit_duration", "gte", 30)]),
    )
    return w, cfg, lambda ev: sum(e[0] == "item_shown" for e in ev) >= 5


def engagement_and_continuation() -> Scenario:
    w = World()
    for k in range(4):
        w.page(f"p{k + 1}", 60 * k, 60 * k + 60)
    w.recorded("p1", "chat_engaged", 30)
    w.recorded("p1", "message_sent", 30)
    w.web_chat("c1", "p1", 30, 35, None, "served")
    w.recorded("p1", "message_received", 40)
    w.recorded("p3", "chat_closed", 130)
    cfg = config(trig("t1", item("b1")))
    return (
        w,
        cfg,
        lambda ev: (
            any(e[4] == "continuation" for e in ev) and any(e[0] == "chat_closed" for e in ev)
        ),
    )


def engagement_unserved() -> Scenario:
    w = World()
    for k in range(3):
        w.page(f"p{k + 1}", 300 * k, 300 * k + (600 if k == 2 else 300))
    w.recorded("p1", "chat_engaged", 30)
    w.recorded("p1", "message_sent", 30)
    w.web_chat("c1", "p1", 30, None, 30 + 480, "unserved")
    w.recorded("p2", "message_received", 520)
    w.recorded("p3", "chat_engaged", 600 + 100)  # p3: triggers active again, honoured
    cfg = config(trig("t1", item("b1")))
    return w, cfg, lambda ev: sum(e[0] == "chat_engaged" for e in ev) == 2


def engagement_not_visible_dropped() -> Scenario:
    w = World()
    w.page("p1", 0, 100, path="/a")
    w.recorded("p1", "chat_engaged", 30)
    w.recorded("p1", "message_sent", 31)
    cfg = config(trig("t1", item("b1"), criteria=[crit("page_path", "is", "/b")]))
    return w, cfg, lambda ev: ev == []


def messaging_stage() -> Scenario:
    w = World(mode="messaging")
    w.page("p1", 0, 50)
    w.identity("id1", 10, uuid="u1")
    w.identity("id2", 5, visitor="v2", uuid="u1")
    w.thread("th1", "id2", 5)
    w.page("p2", 50, 100)
    w.page("p3", 0, 100, visitor="v2")
    w.thread("th2", "id1", 0, locked=60)
    cfg = config(trig("t1", item("b1")), mode="messaging")
    return w, cfg, lambda ev: any(e[4] == "messaging" for e in ev)


def messaging_engagement() -> Scenario:
    w = World(mode="messaging")
    for k in range(3):
        w.page(f"p{k + 1}", 60 * k, 60 * k + 60)
    w.recorded("p1", "chat_engaged", 30)
    w.recorded("p2", "message_received", 70)
    cfg = config(trig("t1", item("b1"), **GATED), mode="messaging")
    w.agent("a1", 2)
    return w, cfg, lambda ev: any(e[4] == "continuation" for e in ev)


def embedded_display() -> Scenario:
    w = World(mode="messaging")
    w.page("p1", 0, 50, embedded=True)
    w.page("p2", 50, 100)
    w.page("p3", 100, 150, page_change=True, embedded=False)
    cfg = config(trig("t1", item("b1")), mode="messaging", display="embedded")
    return w, cfg, lambda ev: any(e[4] == "embedded" for e in ev)


def status_windows() -> Scenario:
    w = World()
    w.status(-10, "active")
    w.status(40, "maintenance")
    w.status(80, "active")
    for k in range(4):
        w.page(f"p{k}", 30 * k, 30 * k + 25)
    cfg = config(trig("t1", item("b1")))
    return w, cfg, lambda ev: sum(e[0] == "trigger_activated" for e in ev) == 3


def identity_and_clock() -> Scenario:
    w = World()
    w.source[0]["timezone"] = "Europe/Paris"
    w.page("p1", 0, 2000)
    w.identity("id1", 600, signed=True)
    w.page("p2", 2000, 4000)
    cfg = config(
        trig("t1", item("b1"), criteria=[crit("signed_identity", "is", True)]),
        trig("t2", item("b2"), criteria=[crit("time", "gte", "09:15")]),
        trig(
            "t3", item("i1"), criteria=[crit("day_of_week", "is", "Monday"), crit("hour", "gte", 9)]
        ),
        timezone="Europe/Paris",
    )
    return w, cfg, lambda ev: len({e[1] for e in ev}) == 3


def visit_idle_rederived() -> Scenario:
    w = World()
    w.page("p1", 0, 10)
    w.page("p2", 3600, 3610)
    cfg = config(trig("t1", item("b1"), criteria=[crit("visit_count", "gte", 2)]), visit_idle="30m")
    return w, cfg, lambda ev: len(ev) > 0


def two_visitors_overlapping_pages() -> Scenario:
    w = World()
    w.page("a1", 0, 100, visitor="va")
    w.page("a2", 50, 150, visitor="va")  # starts before a1 ends: a1 stops at 50
    w.page("b1", 0, 100, visitor="vb", path="/x")
    w.var("a1", "custom_cart", 99, 70)  # after a1's limit: still a1's change, never seen
    cfg = config(
        trig("t1", item("b1"), criteria=[crit("page_visit_duration", "gte", 60)]),
        trig("t2", item("b2"), criteria=[crit("custom_cart", "is_present")]),
    )
    return w, cfg, lambda ev: len(ev) > 0


SCENARIOS = {
    f.__name__: f
    for f in (
        mid_page_threshold,
        visit_duration_threshold,
        variable_changes,
        several_triggers_one_page,
        chat_state_fixed_point,
        historical_positions,
        post_activation_options,
        gating_product,
        gating_reserve_and_curve,
        fixed_button_placeholder,
        spa_page_change_and_hide,
        engagement_and_continuation,
        engagement_unserved,
        engagement_not_visible_dropped,
        messaging_stage,
        messaging_engagement,
        embedded_display,
        status_windows,
        identity_and_clock,
        visit_idle_rederived,
        two_visitors_overlapping_pages,
    )
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_fast_equals_reference(name: str) -> None:
    world, cfg, exercised = SCENARIOS[name]()
    frame = check_world(world, cfg)
    assert exercised(_events(frame)), f"{name}: the scenario did not exercise what it names"
