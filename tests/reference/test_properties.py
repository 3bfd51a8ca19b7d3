"""Invariants on random small histories (hypothesis): at most one activation per trigger
and page view, executions follow activations, canonical order, and the same events
whether visitors run one after the other or in global time order."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engage_lab.events import sort_events
from engage_lab.reference import trigger_order
from tests.reference.builders import (
    FixedAvailability,
    World,
    chat,
    config,
    crit,
    item,
    open_chat,
    passes_shown,
    replay,
    trig,
)

PATHS = ["/", "/cart", "/help"]
TRIGGERS = [
    trig(
        "cart",
        item("b1"),
        criteria=[crit("page_path", "is", "/cart"), crit("custom_cart", "gte", 2)],
    ),
    trig(
        "dwell",
        item("ioff"),
        criteria=[crit("page_visit_duration", "gte", 20)],
        only_if_agents_available=True,
    ),
    trig(
        "chat",
        open_chat(),
        criteria=[crit("chat_shown", "is", True), crit("page_path", "is", "/help")],
    ),
    trig("help", chat(), criteria=[crit("page_path", "starts_with", "/help")], once_per_visit=True),
    trig(
        "hide",
        {"type": "hide_other_elements"},
        item("b2"),
        criteria=[crit("custom_cart", "gte", 3)],
        no_other_trigger_after=True,
    ),
]


@st.composite
def worlds(draw):
    w = World()
    for v in range(draw(st.integers(1, 3))):
        t = float(draw(st.integers(0, 100)))
        for k in range(draw(st.integers(1, 4))):
            length = float(draw(st.integers(1, 90)))
            pid = f"v{v}p{k}"
            w.page(
                pid,
                t,
                t + length,
                visitor=f"v{v}",
                path=draw(st.sampled_from(PATHS)),
                page_change=draw(st.booleans()),
            )
            for _ in range(draw(st.integers(0, 2))):
                w.var(
                    pid,
                    "custom_cart",
                    draw(st.integers(0, 4)),
                    t + draw(st.integers(0, int(length))),
                )
            if draw(st.booleans()):
                w.recorded(
                    pid, "chat_engaged", t + draw(st.integers(0, int(length))), visitor=f"v{v}"
                )
            t += length + draw(st.sampled_from([0.0, 5.0, 30 * 3600.0]))
    return w


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(), st.permutations(TRIGGERS), st.sampled_from([0.0, 1.0]))
def test_invariants_on_random_histories(world, triggers, p):
    cfg = config(*triggers)
    out = replay(world, cfg, availability=FixedAvailability(p))
    again = replay(world, cfg, availability=FixedAvailability(p), global_order=True)
    assert out.equals(again)
    order = trigger_order(cfg)
    passes = passes_shown(out, order)
    assert out.equals(sort_events(out, order, rounds=passes))
    # only a trigger that reads the chat state can activate in a later pass
    assert {t for t, k in zip(out["trigger_id"], passes, strict=True) if k > 0} <= {"chat"}
    acts = out[out["event"] == "trigger_activated"]
    assert not acts.duplicated(["page_view_id", "trigger_id"]).any()
    execs = out[out["event"] == "trigger_executed"]
    keys = set(zip(acts["page_view_id"], acts["trigger_id"], acts["event_at"], strict=True))
    assert all(
        k in keys
        for k in zip(execs["page_view_id"], execs["trigger_id"], execs["event_at"], strict=True)
    )
    engaged = out[out["event"] == "chat_engaged"]
    for _, row in engaged.iterrows():
        later = acts[
            (acts["page_view_id"] == row["page_view_id"]) & (acts["event_at"] > row["event_at"])
        ]
        assert later.empty  # no trigger activates after an engagement on its page
