"""The simulated agent side: rules, determinism, consistency with the timeline, queueing
theory closed forms (Erlang B, M/M/c/K, M/M/c/K with exponential patience)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from engage_lab.availability import AvailabilityState, ProductPolicy
from engage_lab.availability.pool import AgentPool, simulate_conversations
from engage_lab.availability.state import Timeline
from engage_lab.errors import EngineError


def _outcomes(pool: AgentPool) -> dict[str, tuple]:
    return {
        r.conversation_id: (r.agent_id, r.started_at, r.ended_at, r.outcome) for r in pool.finish()
    }


# ------------------------------------------------------------------ rules


def test_least_loaded_first_ties_by_agent_id() -> None:
    pool = AgentPool({"b": 3, "a": 3, "c": 3}, [(x, 0, "available") for x in "bac"])
    for i in range(4):
        pool.submit(f"c{i}", 10, 100)
    got = _outcomes(pool)
    assert [got[f"c{i}"][0] for i in range(4)] == ["a", "b", "c", "a"]


def test_background_load_counts_for_least_loaded() -> None:
    background = pd.DataFrame(
        {
            "conversation_id": ["e1"],
            "agent_id": ["a"],
            "channel": ["email"],
            "queued_at": [0],
            "started_at": [0],
            "ended_at": [1000],
        }
    )
    pool = AgentPool({"a": 2, "b": 2}, [("a", 0, "available"), ("b", 0, "available")], background)
    pool.submit("c1", 10, 5)
    assert _outcomes(pool)["c1"][0] == "b"


def test_queue_is_first_in_first_out_and_served_when_a_slot_frees() -> None:
    pool = AgentPool({"a": 1}, [("a", 0, "available")])
    pool.submit("c1", 0, 100)
    pool.submit("c2", 10, 50)
    pool.submit("c3", 20, 50)
    assert pool.state_at(30) == AvailabilityState(1, 1, 2)
    got = _outcomes(pool)
    assert got["c2"][1:] == (100, 150, "served")
    assert got["c3"][1:] == (150, 200, "served")


def test_agent_becoming_available_serves_the_queue() -> None:
    pool = AgentPool({"a": 1}, [("a", 50, "available")])
    pool.submit("c1", 10, 5)
    assert _outcomes(pool)["c1"] == ("a", 50, 55, "served")


def test_going_away_keeps_conversations_but_takes_no_new_ones() -> None:
    pool = AgentPool({"a": 2}, [("a", 0, "available"), ("a", 20, "away"), ("a", 200, "available")])
    pool.submit("c1", 10, 100)
    assert pool.state_at(25) == AvailabilityState(0, 0, 0)  # away: neither capacity nor load
    pool.submit("c2", 30, 10)
    got = _outcomes(pool)
    assert got["c1"] == ("a", 10, 110, "served")  # kept until it ended
    assert got["c2"] == ("a", 200, 210, "served")  # waited for the agent's return


def test_patience_expires_unserved_unless_a_slot_frees_at_that_instant() -> None:
    pool = AgentPool({"a": 1}, [("a", 0, "available")])
    pool.submit("c1", 0, 100)
    pool.submit("c2", 40, 10, patience_ms=60)  # expires at 100, when c1 ends
    pool.submit("c3", 41, 10, patience_ms=30)  # expires at 71
    got = _outcomes(pool)
    assert got["c2"] == ("a", 100, 110, "served")
    assert got["c3"] == (None, None, 71, "unserved")


def test_visitor_closing_while_waiting() -> None:
    pool = AgentPool({"a": 1}, [("a", 0, "available")])
    pool.submit("c1", 0, 100)
    pool.submit("c2", 10, 5, patience_ms=50, closes_after_ms=20)
    pool.submit("c3", 10, 5, patience_ms=20, closes_after_ms=20)
    got = _outcomes(pool)
    assert got["c2"] == (None, None, 30, "closed_by_visitor")
    assert got["c3"] == (None, None, 30, "unserved")  # equal instants: the delay wins


def test_zero_patience_is_a_loss_system() -> None:
    pool = AgentPool({"a": 1}, [("a", 0, "available")])
    pool.submit("c1", 0, 10, patience_ms=0)
    pool.submit("c2", 5, 10, patience_ms=0)
    pool.submit("c3", 10, 10, patience_ms=0)  # c1 ends at 10: slot free again
    got = _outcomes(pool)
    assert [got[c][3] for c in ("c1", "c2", "c3")] == ["served", "unserved", "served"]


def test_still_waiting_at_the_end_has_no_outcome() -> None:
    pool = AgentPool({"a": 1}, [])
    pool.submit("c1", 0, 10)
    (record,) = pool.finish()
    assert (record.started_at, record.ended_at, record.outcome) == (None, None, None)


def test_bad_inputs_are_refused() -> None:
    pool = AgentPool({"a": 1}, [("a", 0, "available")])
    pool.submit("c1", 100, 10)
    with pytest.raises(EngineError, match="time went back"):
        pool.submit("c2", 50, 10)
    with pytest.raises(EngineError, match="twice"):
        pool.submit("c1", 200, 10)
    with pytest.raises(EngineError, match="negative"):
        pool.submit("c3", 200, -1)
    with pytest.raises(EngineError, match="length"):
        simulate_conversations(
            {"a": 1}, [], pd.DataFrame({"conversation_id": ["x"], "queued_at": [0]}), []
        )


def test_presence_ties_take_the_greatest_presence_id() -> None:
    presence = pd.DataFrame(
        {
            "presence_id": ["p2", "p1"],
            "agent_id": ["a", "a"],
            "changed_at": [0, 0],
            "status": ["available", "away"],
        }
    )
    assert AgentPool({"a": 1}, presence).state_at(0).capacity == 1


# ------------------------------------------------------------------ consistency


def _random_world(seed: int):
    rng = np.random.default_rng(seed)
    agents = pd.DataFrame({"agent_id": ["a1", "a2", "a3", "a4"], "soft_limit": [1, 2, 2, 3]})
    changes = []
    for agent in agents["agent_id"]:
        t = 0
        for k in range(6):
            t += int(rng.integers(1, 4000))
            changes.append(
                (
                    f"{agent}-{k}",
                    agent,
                    t,
                    "available" if k % 2 == 0 else rng.choice(["away", "offline"]),
                )
            )
    presence = pd.DataFrame(changes, columns=["presence_id", "agent_id", "changed_at", "status"])
    n_bg = 15
    starts = np.sort(rng.integers(0, 20000, n_bg))
    background = pd.DataFrame(
        {
            "conversation_id": [f"e{i}" for i in range(n_bg)],
            "agent_id": rng.choice(agents["agent_id"], n_bg),
            "channel": "email",
            "queued_at": starts,
            "started_at": starts,
            "ended_at": starts + rng.integers(0, 3000, n_bg),
        }
    )
    n = 120
    arrivals = pd.DataFrame(
        {
            "conversation_id": [f"c{i:03d}" for i in range(n)],
            "queued_at": np.sort(rng.integers(0, 22000, n)),
            "patience_ms": rng.choice([0, 300, 1000, 10**7], n),
        }
    )
    service = rng.integers(0, 2500, n)
    return agents, presence, background, arrivals, service


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pool_state_equals_timeline_of_its_own_output(seed: int) -> None:
    agents, presence, background, arrivals, service = _random_world(seed)
    pool = AgentPool(agents, presence, background)
    seen = []
    rows = list(arrivals.itertuples(index=False))
    for i, row in enumerate(rows):
        t = int(row.queued_at)
        pool.submit(row.conversation_id, t, int(service[i]), patience_ms=int(row.patience_ms))
        if i + 1 == len(rows) or int(rows[i + 1].queued_at) != t:
            seen.append((t, pool.state()))  # after the last submission at this instant
    pool.finish()
    timeline = Timeline.from_frames(agents, presence, pool.to_frame(include_background=True))
    assert len(seen) > 50
    for t, state in seen:
        assert timeline.at(t) == state
    # Without web chats: the pool walking through time equals the timeline of the logs.
    idle = AgentPool(agents, presence, background)
    logs_only = Timeline.from_frames(agents, presence, background)
    for t in range(0, 30000, 97):
        assert idle.state_at(t) == logs_only.at(t)
    frame = pool.to_frame()
    served = frame[frame["outcome"] == "served"]
    assert len(served) > 0 and (frame["outcome"] == "unserved").any()
    assert (frame["queued_at"] <= frame["ended_at"].fillna(frame["queued_at"])).all()
    # A web chat starts only on an available agent with a free slot (background included).
    for row in served.itertuples(index=False):
        t = (
            int(row.started_at.value // 10**6)
            if hasattr(row.started_at, "value")
            else row.started_at
        )
        before = Timeline.from_frames(
            agents[agents.agent_id == row.agent_id],
            presence,
            pool.to_frame()[lambda f, r=row: f.conversation_id != r.conversation_id],
        ).at(t)
        assert before.capacity > 0
        assert before.in_progress < before.capacity


def test_same_inputs_same_output() -> None:
    agents, presence, background, arrivals, service = _random_world(7)
    a = simulate_conversations(agents, presence, arrivals, service, background=background)
    b = simulate_conversations(agents, presence, arrivals, service, background=background)
    pd.testing.assert_frame_equal(a, b)
    by_function = simulate_conversations(
        agents, presence, arrivals, lambda cid: int(service[int(cid[1:])]), background=background
    )
    pd.testing.assert_frame_equal(a, by_function)


# ------------------------------------------------------------------ closed forms


def erlang_b(c: int, a: float) -> float:
    terms = [a**k / math.factorial(k) for k in range(c + 1)]
    return terms[-1] / sum(terms)


def birth_death(lam: float, death: list[float]) -> np.ndarray:
    """Stationary distribution of a finite birth-death chain (birth lam in states < K)."""
    weights = [1.0]
    for n in range(1, len(death)):
        weights.append(weights[-1] * lam / death[n])
    w = np.array(weights)
    return w / w.sum()


def _poisson_times(rng: np.random.Generator, n: int, mean_gap_ms: float) -> np.ndarray:
    return np.cumsum(np.round(rng.exponential(mean_gap_ms, n)).astype(np.int64))


def test_erlang_b_blocking_with_zero_patience() -> None:
    c, a, mean_service, n = 5, 4.0, 100_000.0, 30_000
    rng = np.random.default_rng(20260301)
    times = _poisson_times(rng, n, mean_service / a)
    service = np.round(rng.exponential(mean_service, n)).astype(np.int64)
    pool = AgentPool({f"a{i}": 1 for i in range(c)}, [(f"a{i}", 0, "available") for i in range(c)])
    for i in range(n):
        pool.submit(f"c{i}", int(times[i]), int(service[i]), patience_ms=0)
    records = pool.finish()[1000:]  # drop the warm-up
    blocked = sum(r.outcome == "unserved" for r in records) / len(records)
    assert erlang_b(5, 4.0) == pytest.approx(0.1991, abs=1e-4)
    assert blocked == pytest.approx(erlang_b(c, a), abs=0.02)


def test_mmck_loss_through_the_product_policy() -> None:
    # c = 4 agents (soft limit 1), queuing factor 0.5 -> 2 extra places: K = 6 in the system.
    c, a, mean_service, n = 4, 3.5, 100_000.0, 30_000
    policy = ProductPolicy(queuing_factor=0.5)
    rng = np.random.default_rng(11)
    times = _poisson_times(rng, n, mean_service / a)
    service = np.round(rng.exponential(mean_service, n)).astype(np.int64)
    pool = AgentPool({f"a{i}": 1 for i in range(c)}, [(f"a{i}", 0, "available") for i in range(c)])
    refused = 0
    for i in range(n):
        if policy.probability(pool.state_at(int(times[i]))) == 1.0:
            pool.submit(f"c{i}", int(times[i]), int(service[i]))
        elif i >= 1000:
            refused += 1
    mu = 1.0
    p = birth_death(a * mu, [min(k, c) * mu for k in range(7)])
    assert refused / (n - 1000) == pytest.approx(p[6], abs=0.02)
    waits = [r.started_at - r.queued_at for r in pool.finish()]
    assert max(waits) > 0  # the extra places did make conversations wait


def test_mmck_with_exponential_patience() -> None:
    # Birth-death: death(k) = min(k, c) mu + max(k - c, 0) theta; blocked share p_K (PASTA),
    # abandoning share theta E[(N - c)+] / lambda.
    c, a, mean_service, mean_patience, n = 3, 3.0, 100_000.0, 50_000.0, 30_000
    policy = ProductPolicy(queuing_factor=1)  # K = 6
    rng = np.random.default_rng(3)
    times = _poisson_times(rng, n, mean_service / a)
    service = np.round(rng.exponential(mean_service, n)).astype(np.int64)
    patience = np.round(rng.exponential(mean_patience, n)).astype(np.int64)
    pool = AgentPool({f"a{i}": 1 for i in range(c)}, [(f"a{i}", 0, "available") for i in range(c)])
    refused = 0
    for i in range(n):
        if policy.probability(pool.state_at(int(times[i]))) == 1.0:
            pool.submit(f"c{i:05d}", int(times[i]), int(service[i]), patience_ms=int(patience[i]))
        elif i >= 1000:
            refused += 1
    records = [r for r in pool.finish() if int(r.conversation_id[1:]) >= 1000]
    lam, mu, theta = a, 1.0, mean_service / mean_patience
    death = [min(k, c) * mu + max(k - c, 0) * theta for k in range(7)]
    p = birth_death(lam, death)
    expected_abandon = theta * sum(max(k - c, 0) * p[k] for k in range(7)) / lam
    abandoned = sum(r.outcome == "unserved" for r in records) / (n - 1000)
    assert p[6] == pytest.approx(0.0224, abs=1e-4)  # closed form, independent of the pool
    assert refused / (n - 1000) == pytest.approx(p[6], abs=0.008)
    assert abandoned == pytest.approx(expected_abandon, abs=0.02)
    assert abandoned > 0.03  # the check is not vacuous
