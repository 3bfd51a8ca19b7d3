"""The compiled agent pool against :class:`AgentPool`, its specification: generated
scenarios (every record field and every state compared after every call), the rules'
named cases, and a large run."""

from __future__ import annotations

import doctest
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_lab.availability import AvailabilityState
from engage_lab.availability import pool_kernel as pk
from engage_lab.availability.pool import AgentPool
from engage_lab.availability.state import NEVER
from engage_lab.errors import EngineError

Record = tuple[int, int | None, int | None, str | None, str | None]


def _reference_records(pool: AgentPool) -> list[Record]:
    return [(r.queued_at, r.started_at, r.ended_at, r.agent_id, r.outcome) for r in pool.records()]


def _kernel_records(arrays: tuple[np.ndarray, ...], agent_ids: list[str]) -> list[Record]:
    out = []
    for queued, started, ended, agent, outcome in zip(*(a.tolist() for a in arrays), strict=True):
        out.append(
            (
                queued,
                None if started == NEVER else started,
                None if ended == NEVER else ended,
                None if agent < 0 else agent_ids[agent],
                None if outcome < 0 else pk.OUTCOME_NAMES[outcome],
            )
        )
    return out


class KernelPool:
    """The kernel behind AgentPool's calls (string ids in, AgentPool's records out)."""

    def __init__(
        self, agents: Any, presence: Any = (), background: Any = None, max_chats: int = 64
    ) -> None:
        self.agent_ids, self.state = pk.build_pool_from_tables(
            agents, presence, background, max_chats
        )
        self.names: list[str] = []

    def submit(
        self,
        conversation_id: str,
        queued_at: int,
        service_ms: int,
        *,
        patience_ms: int | None = None,
        closes_after_ms: int | None = None,
    ) -> None:
        k = pk.pool_submit(
            self.state,
            queued_at,
            service_ms,
            -1 if patience_ms is None else patience_ms,
            -1 if closes_after_ms is None else closes_after_ms,
        )
        assert k == len(self.names)
        self.names.append(conversation_id)

    def state_at(self, t: int) -> AvailabilityState:
        return AvailabilityState(*pk.pool_state(self.state, t))

    def state_now(self) -> AvailabilityState:
        return AvailabilityState(*pk.pool_current_state(self.state))

    def records(self) -> list[Record]:
        return _kernel_records(pk.pool_records(self.state), self.agent_ids)

    def finish(self) -> list[Record]:
        return _kernel_records(pk.pool_finish(self.state), self.agent_ids)

    def outcomes(self) -> dict[str, tuple]:
        return {c: (r[3], r[1], r[2], r[4]) for c, r in zip(self.names, self.finish(), strict=True)}


# ------------------------------------------------------------------ generated scenarios

AGENT_NAMES = ["b", "a", "B", "c10", "c9", "a2"]  # insertion order is not string order
STATUSES = ["available", "available", "away", "offline"]
maybe_delay = st.one_of(st.none(), st.integers(0, 20))
instant = st.one_of(st.integers(0, 6), st.just("next"))  # a gap, or the next pending event


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.permutations(AGENT_NAMES))[: draw(st.integers(0, 4))]
    agents = {name: draw(st.integers(0, 3)) for name in names}
    known = [*names, "zz"]  # "zz" is not an agent: ignored
    n_changes = draw(st.integers(0, 12))  # sizes drawn first: hypothesis favours short lists
    change = st.tuples(st.sampled_from(known), st.integers(0, 60), st.sampled_from(STATUSES))
    changes = draw(st.lists(change, min_size=n_changes, max_size=n_changes))
    if draw(st.booleans()):
        ids = draw(st.lists(st.integers(0, 20), min_size=len(changes), max_size=len(changes)))
        presence: Any = pd.DataFrame(
            {
                "presence_id": [f"p{i}" for i in ids],  # string order: "p10" < "p9"
                "agent_id": [c[0] for c in changes],
                "changed_at": [c[1] for c in changes],
                "status": [c[2] for c in changes],
            }
        )
    else:
        presence = changes
    background = None
    if draw(st.booleans()):
        rows = draw(
            st.lists(
                st.tuples(
                    st.sampled_from([*known, None]),
                    st.one_of(st.none(), st.integers(0, 60)),
                    st.one_of(st.none(), st.integers(-3, 30)),  # None: open-ended
                ),
                max_size=8,
            )
        )
        background = pd.DataFrame(
            {
                "conversation_id": [f"e{i}" for i in range(len(rows))],
                "agent_id": pd.Series([r[0] for r in rows], dtype=object),
                "channel": "email",
                # float columns: None is NaN, read as a missing instant
                "queued_at": pd.Series([r[1] for r in rows], dtype="float64"),
                "started_at": pd.Series([r[1] for r in rows], dtype="float64"),
                "ended_at": pd.Series(
                    [None if r[1] is None or r[2] is None else r[1] + r[2] for r in rows],
                    dtype="float64",
                ),
            }
        )
    submit = st.tuples(st.just("submit"), instant, st.integers(0, 30), maybe_delay, maybe_delay)
    query = st.tuples(st.just("state"), instant)
    n_ops = draw(st.integers(0, 45))
    ops = draw(st.lists(st.one_of(submit, submit, query), min_size=n_ops, max_size=n_ops))
    late = [i for i, op in enumerate(ops) if op[0] == "submit"][30:]  # at most 30 chats
    ops = [op for i, op in enumerate(ops) if i not in late]
    return {"agents": agents, "presence": presence, "background": background, "ops": ops}


def _presence_arrays(changes: list[tuple], agent_ids: list[str]) -> tuple[list, list, list]:
    """Raw build_pool inputs from presence tuples, in the given (unsorted) order."""
    index = {a: i for i, a in enumerate(agent_ids)}
    return (
        [index.get(a, -1) for a, _, _ in changes],
        [t for _, t, _ in changes],
        [s == "available" for _, _, s in changes],
    )


@given(scenarios())
@settings(max_examples=300, deadline=None, derandomize=True)
def test_kernel_equals_agent_pool_on_generated_scenarios(scenario: dict[str, Any]) -> None:
    agents, presence, background = scenario["agents"], scenario["presence"], scenario["background"]
    ops = scenario["ops"]
    n_submits = sum(op[0] == "submit" for op in ops)
    ref = AgentPool(agents, presence, background)
    kernels = [KernelPool(agents, presence, background, max_chats=n_submits)]
    if isinstance(presence, list) and background is None:
        # The raw builder: presence unsorted, at one instant the last given wins.
        ids = sorted(agents)
        raw = pk.build_pool(
            [agents[a] for a in ids], *_presence_arrays(presence, ids), [], [], [], n_submits
        )
        twin = KernelPool({}, max_chats=0)
        twin.agent_ids, twin.state = ids, raw
        kernels.append(twin)
    t = 0
    for op in ops:
        if op[1] == "next":
            pending = [e[0] for e in ref._heap if e[0] >= t]
            t = min(pending, default=t)
        else:
            t += op[1]
        if op[0] == "submit":
            _, _, service, patience, closes = op
            name = f"c{len(kernels[0].names)}"
            ref.submit(name, t, service, patience_ms=patience, closes_after_ms=closes)
            for kernel in kernels:
                kernel.submit(name, t, service, patience_ms=patience, closes_after_ms=closes)
            expected_state = ref.state()
        else:
            expected_state = ref.state_at(t)
            for kernel in kernels:
                assert kernel.state_at(t) == expected_state
        expected = _reference_records(ref)
        for kernel in kernels:
            assert pk.pool_now(kernel.state) == ref.now
            assert kernel.state_now() == expected_state
            assert kernel.records() == expected
            for i, record in enumerate(expected):  # the per-chat accessor
                assert _kernel_records(
                    tuple(np.array([x]) for x in pk.pool_record(kernel.state, i)),
                    kernel.agent_ids,
                ) == [record]
    expected = [
        (r.queued_at, r.started_at, r.ended_at, r.agent_id, r.outcome) for r in ref.finish()
    ]
    for kernel in kernels:
        assert kernel.finish() == expected
        assert kernel.state_now() == ref.state()
        assert pk.pool_now(kernel.state) == ref.now


# ------------------------------------------------------------------ named cases


def test_module_examples_run() -> None:
    result = doctest.testmod(pk, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


def test_agent_pool_docstring_example() -> None:
    pool = KernelPool({"a1": 1}, presence=[("a1", 0, "available")])
    pool.submit("c1", 10, 100)
    pool.submit("c2", 20, 50, patience_ms=30)
    assert pool.state_at(25) == AvailabilityState(capacity=1, in_progress=1, waiting=1)
    assert [(r[1], r[2], r[4]) for r in pool.finish()] == [
        (10, 110, "served"),
        (None, 50, "unserved"),
    ]
    assert KernelPool({"a": 2}, [("a", 5, "available")]).state_at(5) == AvailabilityState(2, 0, 0)


def test_least_loaded_first_ties_by_agent_id_not_insertion_order() -> None:
    pool = KernelPool({"b": 3, "a": 3, "c": 3}, [(x, 0, "available") for x in "bac"])
    for i in range(4):
        pool.submit(f"c{i}", 10, 100)
    got = pool.outcomes()
    assert [got[f"c{i}"][0] for i in range(4)] == ["a", "b", "c", "a"]
    assert pool.agent_ids == ["a", "b", "c"]
    # String order, as AgentPool's min over (load, agent_id): "B" < "a" and "c10" < "c9".
    assert KernelPool({"c9": 1, "a": 1, "c10": 1, "B": 1}).agent_ids == ["B", "a", "c10", "c9"]


def _background(agent: str, start: int, end: int | None, n: int = 1) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "conversation_id": [f"e{i}" for i in range(n)],
            "agent_id": [agent] * n,
            "channel": ["email"] * n,
            "queued_at": [start] * n,
            "started_at": [start] * n,
            "ended_at": pd.Series([end] * n, dtype="float64"),
        }
    )


def test_background_load_counts_for_least_loaded() -> None:
    presence = [("a", 0, "available"), ("b", 0, "available")]
    pool = KernelPool({"a": 2, "b": 2}, presence, _background("a", 0, 1000))
    pool.submit("c1", 10, 5)
    assert pool.outcomes()["c1"][0] == "b"


def test_background_beyond_the_soft_limit_and_open_ended() -> None:
    presence = [("a", 0, "available")]
    pool = KernelPool({"a": 1}, presence, _background("a", 0, None, n=3))
    assert pool.state_at(5) == AvailabilityState(1, 3, 0)
    pool.submit("c1", 10, 5, patience_ms=100)
    assert pool.outcomes()["c1"] == (None, None, 110, "unserved")


def test_queue_is_first_in_first_out_and_served_when_a_slot_frees() -> None:
    pool = KernelPool({"a": 1}, [("a", 0, "available")])
    pool.submit("c1", 0, 100)
    pool.submit("c2", 10, 50)
    pool.submit("c3", 20, 50)
    assert pool.state_at(30) == AvailabilityState(1, 1, 2)
    got = pool.outcomes()
    assert got["c2"][1:] == (100, 150, "served")
    assert got["c3"][1:] == (150, 200, "served")


def test_agent_becoming_available_serves_the_queue() -> None:
    pool = KernelPool({"a": 1}, [("a", 50, "available")])
    pool.submit("c1", 10, 5)
    assert pool.outcomes()["c1"] == ("a", 50, 55, "served")


def test_going_away_keeps_conversations_but_takes_no_new_ones() -> None:
    presence = [("a", 0, "available"), ("a", 20, "away"), ("a", 200, "available")]
    pool = KernelPool({"a": 2}, presence)
    pool.submit("c1", 10, 100)
    assert pool.state_at(25) == AvailabilityState(0, 0, 0)
    pool.submit("c2", 30, 10)
    got = pool.outcomes()
    assert got["c1"] == ("a", 10, 110, "served")
    assert got["c2"] == ("a", 200, 210, "served")


def test_patience_expires_unserved_unless_a_slot_frees_at_that_instant() -> None:
    pool = KernelPool({"a": 1}, [("a", 0, "available")])
    pool.submit("c1", 0, 100)
    pool.submit("c2", 40, 10, patience_ms=60)  # expires at 100, when c1 ends
    pool.submit("c3", 41, 10, patience_ms=30)  # expires at 71
    got = pool.outcomes()
    assert got["c2"] == ("a", 100, 110, "served")
    assert got["c3"] == (None, None, 71, "unserved")


def test_visitor_closing_while_waiting() -> None:
    pool = KernelPool({"a": 1}, [("a", 0, "available")])
    pool.submit("c1", 0, 100)
    pool.submit("c2", 10, 5, patience_ms=50, closes_after_ms=20)
    pool.submit("c3", 10, 5, patience_ms=20, closes_after_ms=20)
    got = pool.outcomes()
    assert got["c2"] == (None, None, 30, "closed_by_visitor")
    assert got["c3"] == (None, None, 30, "unserved")  # equal instants: the delay wins


def test_zero_patience_is_a_loss_system() -> None:
    pool = KernelPool({"a": 1}, [("a", 0, "available")])
    pool.submit("c1", 0, 10, patience_ms=0)
    pool.submit("c2", 5, 10, patience_ms=0)
    pool.submit("c3", 10, 10, patience_ms=0)  # c1 ends at 10: slot free again
    got = pool.outcomes()
    assert [got[c][3] for c in ("c1", "c2", "c3")] == ["served", "unserved", "served"]


def test_zero_service_frees_the_slot_before_the_timers_of_its_instant() -> None:
    pool = KernelPool({"a": 1}, [("a", 0, "available")])
    pool.submit("c1", 5, 0)
    pool.submit("c2", 5, 7, patience_ms=0)
    assert pool.outcomes() == {"c1": ("a", 5, 5, "served"), "c2": ("a", 5, 12, "served")}


def test_still_waiting_at_the_end_has_no_outcome() -> None:
    pool = KernelPool({"a": 1}, [])
    pool.submit("c1", 0, 10)
    assert pool.finish() == [(0, None, None, None, None)]
    _, started, ended, agent, outcome = pk.pool_records(pool.state)
    assert (started[0], ended[0], agent[0], outcome[0]) == (NEVER, NEVER, -1, pk.NO_OUTCOME)


def test_presence_ties_take_the_greatest_presence_id() -> None:
    presence = pd.DataFrame(
        {
            "presence_id": ["p2", "p1", "p10"],  # greatest as strings: "p2"
            "agent_id": ["a", "a", "a"],
            "changed_at": [0, 0, 0],
            "status": ["available", "away", "away"],
        }
    )
    assert KernelPool({"a": 1}, presence).state_at(0).capacity == 1
    assert AgentPool({"a": 1}, presence).state_at(0).capacity == 1


def test_raw_builder_last_change_of_an_instant_wins() -> None:
    # agent 0: away then available at 10 (given order), agent 1: available at 10 then away.
    state = pk.build_pool(
        [1, 1], [0, 1, 0, 1, 5], [10, 10, 10, 10, 10], [0, 1, 1, 0, 1], [], [], [], 0
    )
    assert pk.pool_state(state, 9) == (0, 0, 0)
    assert pk.pool_state(state, 10) == (1, 0, 0)


def test_bad_inputs_are_refused() -> None:
    pool = KernelPool({"a": 1}, [("a", 0, "available")], max_chats=2)
    pool.submit("c1", 100, 10)
    with pytest.raises(EngineError, match="time went back"):
        pool.submit("c2", 50, 10)
    with pytest.raises(EngineError, match="time went back"):
        pool.state_at(99)
    with pytest.raises(EngineError, match="negative"):
        pool.submit("c3", 200, -1)
    with pytest.raises(EngineError, match="negative"):
        pool.submit("c3", 200, 1, patience_ms=-2)
    pool.submit("c2", 100, 10)
    with pytest.raises(EngineError, match="full"):
        pool.submit("c3", 200, 10)
    with pytest.raises(EngineError, match="no such chat"):
        pk.pool_record(pool.state, 2)
    with pytest.raises(EngineError, match="length"):
        pk.build_pool([1], [0], [0, 1], [1], [], [], [], 1)


def test_grown_pool_continues_the_same_simulation() -> None:
    presence = [("a", 0, "available"), ("b", 30, "available")]
    whole = KernelPool({"a": 1, "b": 2}, presence, _background("b", 35, 80), max_chats=6)
    small = KernelPool({"a": 1, "b": 2}, presence, _background("b", 35, 80), max_chats=2)
    plan = [(0, 50, 20), (10, 30, None), (20, 5, 0), (40, 40, 10), (40, 1, None), (41, 9, 3)]
    for i, (t, service, patience) in enumerate(plan):
        if pk.pool_room(small.state) == 0:
            small.state = pk.pool_grow(small.state, 2 * pk.pool_n_chats(small.state))
        for pool in (whole, small):
            pool.submit(f"c{i}", t, service, patience_ms=patience)
        assert small.state_now() == whole.state_now()
    assert small.finish() == whole.finish()


def _random_world(seed: int, n: int) -> tuple[dict, pd.DataFrame, pd.DataFrame, list[tuple]]:
    """Agents going away and back, background conversations, Poisson-ish arrivals."""
    rng = np.random.default_rng(seed)
    n_agents = 12
    agents = {f"a{i}": int(rng.integers(0, 4)) for i in range(n_agents)}
    horizon = n * 400
    changes = []
    for agent in agents:
        t = 0
        for k in range(max(6, n // 500)):
            t += int(rng.integers(1, 4000 * max(1, n // 2000)))
            status = "available" if k % 2 == 0 else str(rng.choice(["away", "offline"]))
            changes.append((f"{agent}-{k:05d}", agent, t, status))
    presence = pd.DataFrame(changes, columns=["presence_id", "agent_id", "changed_at", "status"])
    n_bg = max(15, n // 20)
    starts = np.sort(rng.integers(0, horizon, n_bg))
    ends = (starts + rng.integers(-10, 3000, n_bg)).astype("float64")
    ends[rng.random(n_bg) < 0.05] = np.nan  # open-ended
    background = pd.DataFrame(
        {
            "conversation_id": [f"e{i}" for i in range(n_bg)],
            "agent_id": rng.choice(list(agents), n_bg),
            "channel": "email",
            "queued_at": starts,
            "started_at": starts,
            "ended_at": ends,
        }
    )
    times = np.sort(rng.integers(0, horizon, n))
    chats = []
    for i in range(n):
        patience = rng.choice([0, 300, 1000, 10**7, -1])
        closes = rng.choice([-1, -1, 200, 2000])
        chats.append((int(times[i]), int(rng.integers(0, 2500)), int(patience), int(closes)))
    return agents, presence, background, chats


def _drive(pool: Any, chats: list[tuple], kernel: bool) -> list:
    """Submit every chat, asking the state at each arrival first (what the world asks)."""
    states = []
    for i, (t, service, patience, closes) in enumerate(chats):
        if kernel:
            states.append(AvailabilityState(*pk.pool_state(pool, t)))
            pk.pool_submit(pool, t, service, patience, closes)
        else:
            states.append(pool.state_at(t))
            pool.submit(
                f"c{i:06d}",
                t,
                service,
                patience_ms=None if patience < 0 else patience,
                closes_after_ms=None if closes < 0 else closes,
            )
    return states


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_world_like_test_pool(seed: int) -> None:
    agents, presence, background, chats = _random_world(seed, 300)
    ref = AgentPool(agents, presence, background)
    agent_ids, state = pk.build_pool_from_tables(agents, presence, background, len(chats))
    assert _drive(state, chats, kernel=True) == _drive(ref, chats, kernel=False)
    expected = [
        (r.queued_at, r.started_at, r.ended_at, r.agent_id, r.outcome) for r in ref.finish()
    ]
    got = _kernel_records(pk.pool_finish(state), agent_ids)
    assert got == expected
    assert {r[4] for r in got} >= {"served", "unserved", "closed_by_visitor"}


@pytest.mark.slow
def test_fifty_thousand_chats_run() -> None:
    agents, presence, background, chats = _random_world(20260301, 50_000)
    _, state = pk.build_pool_from_tables(agents, presence, background, 1024)
    for t, service, patience, closes in chats:
        pk.pool_state(state, t)
        if pk.pool_room(state) == 0:
            state = pk.pool_grow(state, 2 * pk.pool_n_chats(state))
        pk.pool_submit(state, t, service, patience, closes)
    queued, started, ended, agent, outcome = pk.pool_finish(state)
    assert len(queued) == 50_000
    served = outcome == pk.SERVED
    assert served.any() and (outcome == pk.UNSERVED).any()
    assert (agent[served] >= 0).all() and (started[served] >= queued[served]).all()
    assert (ended[served] >= started[served]).all()
    assert (agent[~served] == -1).all() and (started[~served] == NEVER).all()
