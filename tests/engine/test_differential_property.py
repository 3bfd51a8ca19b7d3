"""Fast engine vs reference on hypothesis-generated histories and configurations.

Each example draws a few visitors (pages with paths, SPA changes and placeholders;
variable changes inside, at and after page ends; identities; recorded engagements with
served / unserved conversations and closes; agents; a maintenance window; threads in
messaging mode) and one to three triggers whose criteria come from a small vocabulary
(durations, paths at several positions, variables, counts, chat state, identity, clock),
with gating (product / reserve / curve policies), options and mixed actions. Both engines
replay it on the same database; the frames must be identical.

300 examples a run (``ENGAGE_LAB_ENGINE_EXAMPLES`` lowers it for a quick local run): about
0.5 s each on an idle 2-core machine, several times that under load.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engage_lab.engine import replay_fast
from engage_lab.reference import replay_reference
from tests.engine.support import assert_same, memory_db
from tests.reference.builders import World, config, crit

PATHS = ["/", "/cart", "/product/a", "/Crème brûlée", "/pay"]
PLANS = ["gold", " Silver ", "basic", "", "40"]
POSITIONS = ["current", "previous", "any", "first", "any_previous", "current_or_previous"]
ITEMS = ["b1", "b2", "boff", "bfix", "i1", "ioff"]

seconds = st.integers(min_value=0, max_value=200_000).map(lambda ms: ms / 1000)


@st.composite
def criterion(draw):
    kind = draw(
        st.sampled_from(
            [
                "page_visit_duration",
                "visit_duration",
                "page_path",
                "custom_cart",
                "custom_plan",
                "page_visit_count",
                "visit_count",
                "chat_shown",
                "chat_opened",
                "identity",
                "time",
                "day_of_week",
            ]
        )
    )
    if kind in ("page_visit_duration", "visit_duration"):
        value = draw(st.sampled_from([0, 1, 10, 30, 45.5, 60, 90, 0.0015]))
        return crit(kind, draw(st.sampled_from(["gte", "lte"])), value)
    if kind == "page_path":
        op = draw(st.sampled_from(["is", "is_not", "contains", "starts_with", "ends_with"]))
        value = draw(st.sampled_from(["/cart", "cart, pay", "creme", "/", "/product"]))
        return crit(kind, op, value, when=draw(st.sampled_from(POSITIONS)))
    if kind == "custom_cart":
        op = draw(st.sampled_from(["gte", "lte", "is", "is_present", "is_not_present"]))
        value = None if "present" in op else draw(st.sampled_from([0, 20, 40, 55.5]))
        return crit(kind, op, value, when=draw(st.sampled_from(POSITIONS)))
    if kind == "custom_plan":
        op = draw(st.sampled_from(["is", "is_not", "contains", "is_present", "is_not_present"]))
        value = None if "present" in op else draw(st.sampled_from(["gold", "silver, gold", "b"]))
        return crit(kind, op, value, when=draw(st.sampled_from(["current", "previous", "any"])))
    if kind in ("page_visit_count", "visit_count"):
        return crit(kind, draw(st.sampled_from(["gte", "lte", "is"])), draw(st.integers(1, 3)))
    if kind in ("chat_shown", "chat_opened", "identity"):
        return crit(kind, "is", draw(st.booleans()))
    if kind == "time":
        return crit(
            kind,
            draw(st.sampled_from(["gte", "lte"])),
            draw(st.sampled_from(["08:00", "08:15", "08:30", "08:45"])),
        )
    return crit(kind, "is", draw(st.sampled_from(["Monday", "Tuesday"])))


@st.composite
def trigger(draw, tid: str):
    actions = draw(
        st.lists(
            st.one_of(
                st.sampled_from(ITEMS).map(lambda i: {"type": "show_item", "item": i}),
                st.sampled_from(
                    [
                        {"type": "show_chat_minimized"},
                        {"type": "show_and_open_chat"},
                        {"type": "hide_other_elements"},
                    ]
                ),
            ),
            min_size=1,
            max_size=3,
        )
    )
    if all(a["type"] == "hide_other_elements" for a in actions):
        actions.append({"type": "show_item", "item": "b1"})
    out = {
        "id": tid,
        "label": tid.upper(),
        "criteria": draw(st.lists(criterion(), max_size=2)),
        "actions": actions,
        "once_per_visit": draw(st.booleans()),
        "no_other_trigger_after": draw(st.sampled_from([False, False, True])),
    }
    if draw(st.booleans()):
        out["only_if_agents_available"] = True
        policy = draw(
            st.sampled_from(
                [
                    None,
                    {"policy": "reserve", "k": 1},
                    {"policy": "curve", "over": "occupancy", "points": [[0, 1], [1, 0.2]]},
                ]
            )
        )
        if policy is not None:
            out["server_probability"] = policy
    if draw(st.booleans()):
        out["extensions"] = {"max_executions_per_visitor": draw(st.integers(1, 2))}
    return out


@st.composite
def scenario(draw):
    mode = draw(st.sampled_from(["live_chat", "live_chat", "messaging"]))
    w = World(mode=mode, seed=draw(st.sampled_from(["s1", "s2"])))
    for a in range(draw(st.integers(0, 2))):
        w.agent(f"a{a}", draw(st.integers(0, 2)), available_from=draw(st.sampled_from([-100, 20])))
    if draw(st.booleans()):
        w.status(draw(seconds), "maintenance")
        w.status(draw(seconds), "active")
    n_page = 0
    for v in range(draw(st.integers(1, 3))):
        visitor = f"v{v}"
        t = draw(st.integers(0, 100_000)) / 1000
        pages = []
        for _ in range(draw(st.integers(1, 4))):
            n_page += 1
            pid = f"p{n_page}"
            length = draw(st.integers(1, 150_000)) / 1000
            w.page(
                pid,
                t,
                t + length,
                visitor=visitor,
                path=draw(st.sampled_from(PATHS)),
                page_change=draw(st.sampled_from([False, False, True])),
                placeholders=draw(st.sampled_from([(), ("bfix",)])),
            )
            pages.append((pid, t, t + length))
            for _ in range(draw(st.integers(0, 2))):
                name = draw(st.sampled_from(["custom_cart", "custom_plan"]))
                value = (
                    draw(st.sampled_from([10, 45, 60.5, "30"]))
                    if name == "custom_cart"
                    else (draw(st.sampled_from(PLANS)))
                )
                w.var(pid, name, value, t + draw(st.integers(0, int(length * 1000) + 5000)) / 1000)
            t += length + draw(st.sampled_from([-1.0, 0.0, 5.0, 30.0, 90_000.0]))
        if draw(st.booleans()):
            w.identity(f"id{v}", draw(seconds), visitor=visitor, signed=draw(st.booleans()))
            if mode == "messaging" and draw(st.booleans()):
                w.thread(
                    f"th{v}", f"id{v}", draw(seconds), closed=draw(st.sampled_from([None, 150.0]))
                )
        if draw(st.booleans()):
            pid, start, end = draw(st.sampled_from(pages))
            e = start + draw(st.integers(0, int((end - start) * 1000))) / 1000
            w.recorded(pid, "chat_engaged", e, visitor=visitor)
            w.recorded(pid, "message_sent", e, visitor=visitor)
            served = draw(st.booleans())
            w.web_chat(
                f"c{v}",
                pid,
                e,
                e + 5 if served else None,
                None,
                "served" if served else "unserved",
                visitor=visitor,
            )
            if draw(st.booleans()):
                w.recorded(pid, "message_received", e + 10, visitor=visitor)
            if draw(st.booleans()):
                w.recorded(
                    pid, "chat_closed", e + draw(st.sampled_from([20, 100, 600])), visitor=visitor
                )
    n_trig = draw(st.integers(1, 3))
    triggers = [draw(trigger(f"t{k}")) for k in range(n_trig)]
    source = {}
    if draw(st.booleans()):
        source["queuing_factor"] = 0.5
    cfg = config(*triggers, mode=mode, **source)
    return w, cfg


@pytest.mark.slow
@settings(
    max_examples=int(__import__("os").environ.get("ENGAGE_LAB_ENGINE_EXAMPLES", "300")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenario())
def test_fast_equals_reference_on_generated_histories(case) -> None:
    world, cfg = case
    con = memory_db(world)
    try:
        fast = replay_fast(con, cfg)
        reference = replay_reference(con, cfg)
    finally:
        con.close()
    assert_same(fast, reference)
