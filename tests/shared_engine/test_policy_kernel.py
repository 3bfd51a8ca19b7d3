"""The compiled policy function gives the doubles of Policy.probability, state by state."""

from __future__ import annotations

import doctest

from hypothesis import given, settings
from hypothesis import strategies as st

from engage_lab.availability import policy_kernel
from engage_lab.availability.policies import AvailabilityState, policy_from_dict
from engage_lab.availability.policy_kernel import policy_p, policy_spec

states = st.builds(
    AvailabilityState,
    capacity=st.integers(0, 40),
    in_progress=st.integers(0, 50),
    waiting=st.integers(0, 20),
)
points = st.lists(
    st.tuples(
        st.floats(-10, 10, allow_nan=False, allow_infinity=False),
        st.floats(0, 1, allow_nan=False),
    ),
    min_size=1,
    max_size=5,
    unique_by=lambda xp: xp[0],
)
policies = st.one_of(
    st.builds(
        lambda f: {"policy": "product", "queuing_factor": f},
        st.sampled_from([0, 0.25, 0.29, 0.5, 1, 1.5, 2.75]),
    ),
    st.builds(lambda k: {"policy": "reserve", "k": k}, st.integers(0, 5)),
    st.builds(
        lambda over, pts: {"policy": "curve", "over": over, "points": [list(p) for p in pts]},
        st.sampled_from(["occupancy", "free_slots"]),
        points,
    ),
)


@settings(max_examples=500, derandomize=True, deadline=None)  # the first call compiles
@given(policies, states)
def test_compiled_policy_equals_probability(data, state) -> None:
    policy = policy_from_dict(data)
    expected = policy.probability(state)
    got = policy_p(*policy_spec(policy), state.capacity, state.in_progress, state.waiting)
    assert got == expected, (data, state, got, expected)


def test_curve_end_points_and_no_capacity() -> None:
    spec = policy_spec(policy_from_dict({"policy": "curve", "points": [[0, 1], [1, 0.2]]}))
    assert policy_p(*spec, 0, 0, 0) == 0.2  # no capacity: occupancy is infinite
    assert policy_p(*spec, 4, 0, 0) == 1.0
    assert policy_p(*spec, 4, 2, 0) == 1 + (0.5 - 0) * (0.2 - 1) / (1 - 0)


def test_doctests() -> None:
    assert doctest.testmod(policy_kernel).failed == 0
