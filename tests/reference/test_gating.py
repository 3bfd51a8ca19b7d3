"""The gating draw and the server's answer (policies over the availability state)."""

from __future__ import annotations

import hashlib
import math

import pytest

from engage_lab.errors import EngineError
from tests.reference.builders import (
    FixedAvailability,
    World,
    at,
    config,
    constant_state,
    item,
    run,
    trig,
)

GATED = {"only_if_agents_available": True}


def one_page(visitor="v1", pid="p1", seed="test-seed"):
    w = World(seed=seed)
    w.page(pid, 0, 60, visitor=visitor)
    return w


def md5_u(key: str) -> float:
    return int(hashlib.md5(key.encode()).hexdigest()[:13], 16) / 2**52


def test_draw_is_md5_keyed_on_seed_visitor_page_trigger():
    u = md5_u("test-seed|v1|p1|t1")
    cfg = config(trig("t1", item("b1"), **GATED))
    # p = u: refused (u < p is false); p just above u: executed
    refused = run(one_page(), cfg, "draw", availability=FixedAvailability(u))
    assert refused == [(0, "trigger_activated", "t1", None, "offline", u)]
    above = math.nextafter(u, 1.0)
    executed = run(one_page(), cfg, "draw", availability=FixedAvailability(above))
    assert [r[1] for r in executed] == [
        "trigger_activated",
        "trigger_executed",
        "item_shown",
        "button_shown",
    ]
    assert {r[5] for r in executed} == {u}


def test_draw_uses_history_seed_unless_replay_names_one():
    cfg = config(trig("t1", item("b1"), **GATED))
    recorded = run(one_page(seed="s1"), cfg, "draw")
    named = run(one_page(seed="s1"), cfg, "draw", seed="other")
    assert recorded[0][5] == md5_u("s1|v1|p1|t1")
    assert named[0][5] == md5_u("other|v1|p1|t1")


def test_gated_without_seed_raises():
    w = World(seed=None)
    w.page("p1", 0, 60)
    with pytest.raises(EngineError, match="seed"):
        run(w, config(trig("t1", item("b1"), **GATED)))


def test_queuing_factor_integer_arithmetic():
    # 4 agents x soft limit 2 = 8, factor 0.25: 2 extra places, 10 in all
    cfg = config(trig("t1", item("b1"), **GATED), queuing_factor=0.25)
    p_at_9 = run(one_page(), cfg, "server_probability", availability=constant_state(8, 8, 1))
    p_at_10 = run(one_page(), cfg, "server_probability", availability=constant_state(8, 8, 2))
    assert p_at_9[0][5] == 1.0 and p_at_9[0][4] == "online"
    assert p_at_10 == [(0, "trigger_activated", "t1", None, "offline", 0.0)]


def test_queuing_factor_rounds_extra_places_down():
    # 8 x 0.3 = 2.4: 2 extra places (floor, in integers)
    cfg = config(trig("t1", item("b1"), **GATED), queuing_factor=0.3)
    out = run(one_page(), cfg, "server_probability", availability=constant_state(8, 10, 0))
    assert out[0][5] == 0.0


def test_trigger_queuing_factor_overrides_source():
    cfg = config(trig("t1", item("b1"), queuing_factor=0.5, **GATED), queuing_factor=0)
    out = run(one_page(), cfg, "server_probability", availability=constant_state(4, 5, 0))
    assert out[0][5] == 1.0  # 5 < 4 + 2


def test_reserve_policy():
    policy = {"server_probability": {"policy": "reserve", "k": 2}}
    cfg = config(trig("t1", item("b1"), **GATED, **policy))
    free_3 = run(one_page(), cfg, "server_probability", availability=constant_state(5, 2, 0))
    free_2 = run(one_page(), cfg, "server_probability", availability=constant_state(5, 3, 0))
    assert (free_3[0][5], free_2[0][5]) == (1.0, 0.0)


def test_curve_policy_interpolation():
    curve = {"policy": "curve", "over": "occupancy", "points": [[0.5, 1], [1.0, 0.2]]}
    cfg = config(trig("t1", item("b1"), server_probability=curve, **GATED))
    # occupancy 0.75: 1 + (0.75 - 0.5) * (0.2 - 1) / (1.0 - 0.5) = 0.6 (doubles)
    out = run(one_page(), cfg, "server_probability", availability=constant_state(4, 3, 0))
    assert out[0][5] == 1 + (0.75 - 0.5) * (0.2 - 1) / (1.0 - 0.5)
    clamped = run(one_page(), cfg, "server_probability", availability=constant_state(4, 8, 0))
    assert clamped[0][5] == 0.2


def test_availability_from_agent_logs():
    # default provider: available agents' soft limits and conversations in the history
    w = one_page()
    w.agent("a1", 1, available_from=-100)
    w.agent("a2", 1, available_from=30)  # not yet available at 0
    cfg = config(trig("t1", item("b1"), **GATED))
    assert run(w, cfg, "server_probability", availability=None)[0][5] == 1.0
    w.web_chat("c1", "p1", -50, -40, None, "served", visitor="v9", agent="a1")
    assert run(w, cfg, "server_probability", availability=None)[0][5] == 0.0


def test_load_counts_other_channels_and_waiting_chats():
    w = one_page()
    w.agent("a1", 2, available_from=-100)
    w.tables["conversations"].append(
        {
            "conversation_id": "phone1",
            "agent_id": "a1",
            "channel": "phone",
            "visitor_id": None,
            "page_view_id": None,
            "queued_at": at(-20),
            "started_at": at(-20),
            "ended_at": None,
            "outcome": None,
        }
    )
    cfg = config(trig("t1", item("b1"), **GATED))
    assert run(w, cfg, "server_probability", availability=None)[0][5] == 1.0  # load 1 < 2
    w.web_chat("c1", "p1", -10, None, None, "unserved", visitor="v9")  # waiting
    assert run(w, cfg, "server_probability", availability=None)[0][5] == 0.0  # load 2
