"""Availability policies: the product rule, reserve_k, curves; Python, numpy and SQL agree."""

from __future__ import annotations

import struct
from decimal import Decimal

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

from engage_lab.availability import (
    AvailabilityState,
    CurvePolicy,
    ProductPolicy,
    ReservePolicy,
    extra_places,
    policy_from_dict,
    queuing_factor_percent,
)
from engage_lab.errors import ConfigError


def _bits(x: float) -> int:
    return struct.unpack("<q", struct.pack("<d", x))[0]


# ------------------------------------------------------------------ product


def test_worked_example_of_the_documentation() -> None:
    # 4 agents x soft limit 2 = 8, factor 0.25 -> 2 extra places, 10 places in total.
    assert extra_places(8, queuing_factor_percent(0.25)) == 2
    policy = ProductPolicy(queuing_factor=0.25)
    assert policy.probability(AvailabilityState(8, 8, 1)) == 1.0  # load 9 < 10
    assert policy.probability(AvailabilityState(8, 8, 2)) == 0.0  # load 10


def test_fractional_extra_places_are_floored() -> None:
    assert extra_places(8, queuing_factor_percent(0.3)) == 2  # 2.4 -> 2
    assert extra_places(3, queuing_factor_percent(0.99)) == 2  # 2.97 -> 2
    assert extra_places(7, queuing_factor_percent(0.29)) == 2  # 2.03 -> 2, 0.29 is not 28.99..


def test_factor_zero_means_no_queue() -> None:
    policy = ProductPolicy()
    assert policy.probability(AvailabilityState(3, 2, 0)) == 1.0
    assert policy.probability(AvailabilityState(3, 2, 1)) == 0.0
    assert policy.probability(AvailabilityState(0, 0, 0)) == 0.0  # no agent, no chat


def test_extra_places_exist_even_when_no_slot_is_free() -> None:
    policy = ProductPolicy(queuing_factor=1)
    assert policy.probability(AvailabilityState(2, 3, 0)) == 1.0


@pytest.mark.parametrize("factor", [0.255, "0.001", -0.5, "abc", float("nan"), float("inf"), True])
def test_bad_queuing_factors_are_refused(factor: object) -> None:
    with pytest.raises(ConfigError):
        queuing_factor_percent(factor)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("factor", "pct"),
    [(0, 0), (1, 100), ("2.5", 250), (Decimal("0.07"), 7), (0.57, 57), (1.15, 115)],
)
def test_queuing_factor_in_hundredths(factor: object, pct: int) -> None:
    assert queuing_factor_percent(factor) == pct  # type: ignore[arg-type]


# ------------------------------------------------------------------ reserve


def test_reserve_keeps_k_slots_free() -> None:
    policy = ReservePolicy(k=2)
    # capacity 6: executes while free slots (6 - load) > 2, i.e. load <= 3
    assert [policy.probability(AvailabilityState(6, n, 0)) for n in range(6)] == [1, 1, 1, 1, 0, 0]
    # waiting conversations are load too
    assert policy.probability(AvailabilityState(6, 2, 2)) == 0.0


def test_reserve_zero_equals_product_with_factor_zero() -> None:
    r, p = ReservePolicy(k=0), ProductPolicy(queuing_factor=0)
    for cap in range(5):
        for load in range(7):
            s = AvailabilityState(cap, load, 0)
            assert r.probability(s) == p.probability(s)


@pytest.mark.parametrize("k", [-1, 1.5, "2", True])
def test_bad_k_is_refused(k: object) -> None:
    with pytest.raises(ConfigError):
        ReservePolicy(k=k)  # type: ignore[arg-type]


# ------------------------------------------------------------------ curve


def test_curve_interpolates_and_clamps() -> None:
    c = CurvePolicy(over="occupancy", points=((0.5, 1.0), (1.0, 0.0)))
    assert c.value_at(0.0) == 1.0
    assert c.value_at(0.75) == 0.5
    assert c.value_at(1.0) == 0.0
    assert c.value_at(7.0) == 0.0


def test_curve_hits_its_points_exactly() -> None:
    c = CurvePolicy(over="occupancy", points=((0.0, 0.3), (0.1, 0.7), (0.3, 0.1), (0.7, 0.9)))
    for x, p in c.points:
        assert c.value_at(x) == p


def test_curve_over_free_slots_uses_negative_free_slots() -> None:
    c = CurvePolicy(over="free_slots", points=((-2, 0.0), (2, 1.0)))
    assert c.probability(AvailabilityState(2, 2, 1)) == 0.25  # free = -1
    assert c.probability(AvailabilityState(0, 0, 0)) == 0.5  # free = 0


def test_curve_with_no_capacity_reads_its_right_end() -> None:
    c = CurvePolicy(over="occupancy", points=((0, 1), (1, 0.2)))
    assert c.probability(AvailabilityState(0, 0, 0)) == 0.2
    assert c.probability(AvailabilityState(0, 0, 3)) == 0.2


@pytest.mark.parametrize(
    "points",
    [[], [[0, 1], [0, 0]], [[0, 1.5]], [[0]], [["a", 1]], [[float("nan"), 1]], "00", [[0, True]]],
)
def test_bad_curves_are_refused(points: object) -> None:
    with pytest.raises(ConfigError):
        CurvePolicy(over="occupancy", points=points)  # type: ignore[arg-type]


def test_bad_axis_is_refused() -> None:
    with pytest.raises(ConfigError, match="over"):
        CurvePolicy(over="load", points=((0, 1),))


# ------------------------------------------------------------------ from dict


def test_policy_from_dict_round_trips() -> None:
    for data in (
        {"policy": "product", "queuing_factor": 0.25},
        {"policy": "reserve", "k": 3},
        {"policy": "curve", "over": "free_slots", "points": [[0.0, 0.0], [3.0, 1.0]]},
    ):
        assert policy_from_dict(data).to_dict() == data


def test_policy_from_dict_defaults_and_override() -> None:
    assert policy_from_dict({}, queuing_factor=0.5) == ProductPolicy(queuing_factor=0.5)
    own = policy_from_dict({"policy": "product", "queuing_factor": 1}, queuing_factor=0.5)
    assert own.queuing_factor_pct == 100
    assert policy_from_dict({"policy": "curve", "points": [[0, 1]]}).over == "occupancy"


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"policy": "magic"}, "policy.policy"),
        ({"policy": "reserve"}, "policy.k"),
        ({"policy": "reserve", "k": 1, "kk": 2}, "policy.kk"),
        ({"policy": "curve"}, "policy.points"),
        ({"policy": "product", "queuing_factor": 0.125}, "two decimals"),
        (["product"], "expected an object"),
    ],
)
def test_policy_from_dict_problems_name_the_path(data: object, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")):
        policy_from_dict(data)  # type: ignore[arg-type]


# ------------------------------------------------------------------ numpy and SQL agree

POLICIES = [
    ProductPolicy(queuing_factor=0),
    ProductPolicy(queuing_factor=0.25),
    ProductPolicy(queuing_factor=1.33),
    ReservePolicy(k=0),
    ReservePolicy(k=2),
    CurvePolicy(over="occupancy", points=((0, 1), (0.8, 1), (1, 0))),
    CurvePolicy(over="occupancy", points=((0.1, 0.9), (0.37, 0.31), (1.3, 0.05))),
    CurvePolicy(over="free_slots", points=((-3, 0), (0, 0.1), (2, 0.7), (5, 1))),
    CurvePolicy(over="free_slots", points=((1, 0.4),)),
]


@pytest.fixture(scope="module")
def states() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    grid = [(c, i, w) for c in range(0, 13) for i in range(0, 15) for w in range(0, 4)]
    extra = rng.integers(0, 60, size=(300, 3))
    rows = np.vstack([np.array(grid), extra])
    return pd.DataFrame(rows, columns=["capacity", "in_progress", "waiting"])


def _python(policy, states: pd.DataFrame) -> list[float]:
    return [policy.probability(AvailabilityState(*map(int, r))) for r in states.to_numpy()]


@pytest.mark.parametrize("policy", POLICIES, ids=repr)
def test_numpy_form_matches_python_bit_for_bit(policy, states: pd.DataFrame) -> None:
    vec = policy.probabilities(states["capacity"], states["in_progress"], states["waiting"])
    assert [_bits(v) for v in vec] == [_bits(v) for v in _python(policy, states)]


@pytest.mark.parametrize("inline", [False, True])
@pytest.mark.parametrize("policy", POLICIES, ids=repr)
def test_duckdb_form_matches_python_bit_for_bit(policy, inline: bool, states: pd.DataFrame) -> None:
    con = duckdb.connect()
    con.register("states", states)
    load = exp.Add(this=exp.column("in_progress"), expression=exp.column("waiting"))
    expr, params = policy.sql(exp.column("capacity"), exp.paren(load), prefix="t1_", inline=inline)
    assert (params == {}) == inline
    assert all(k.startswith("t1_") for k in params)
    query = exp.select(expr.as_("p")).from_("states")
    got = con.execute(query.sql("duckdb"), params or None).fetchnumpy()["p"]
    assert [_bits(v) for v in got] == [_bits(v) for v in _python(policy, states)]


def test_placeholders_rebind_without_recompiling() -> None:
    con = duckdb.connect()
    expr, params = ReservePolicy(k=1).sql(exp.Literal.number(5), exp.Literal.number(3))
    sql = "select " + expr.sql("duckdb")
    assert con.execute(sql, params).fetchone()[0] == 1.0
    assert con.execute(sql, {"k": 2}).fetchone()[0] == 0.0


@pytest.mark.parametrize("policy", POLICIES, ids=repr)
def test_spark_rendering_is_generated(policy) -> None:
    expr, _ = policy.sql("capacity", "load", inline=True)
    text = expr.sql("spark")
    assert text.startswith("CASE") and "AS DOUBLE" in text
    if isinstance(policy, ProductPolicy):
        assert " DIV " in text


_SHARED_CON = duckdb.connect()


@settings(max_examples=150, deadline=None)
@given(
    xs=st.lists(st.floats(-5, 5, allow_nan=False), min_size=1, max_size=5, unique=True),
    ps=st.lists(st.floats(0, 1), min_size=5, max_size=5),
    cap=st.integers(0, 30),
    busy=st.integers(0, 40),
    wait=st.integers(0, 5),
    over=st.sampled_from(["occupancy", "free_slots"]),
)
def test_random_curves_agree_in_python_and_duckdb(xs, ps, cap, busy, wait, over) -> None:
    policy = CurvePolicy(over=over, points=tuple(zip(xs, ps, strict=False)))
    expr, params = policy.sql(exp.Literal.number(cap), exp.Literal.number(busy + wait))
    got = _SHARED_CON.execute("select " + expr.sql("duckdb"), params).fetchone()[0]
    want = policy.probability(AvailabilityState(cap, busy, wait))
    assert _bits(got) == _bits(want)
    assert 0.0 <= want <= 1.0


def test_product_policies_compare_on_exact_hundredths() -> None:
    assert ProductPolicy(queuing_factor=0.25) == ProductPolicy(queuing_factor=Decimal("0.25"))
    assert ProductPolicy(queuing_factor=0.25) != ProductPolicy(queuing_factor=0.26)
    assert len({ProductPolicy(queuing_factor=1), ProductPolicy(queuing_factor="1.00")}) == 1
