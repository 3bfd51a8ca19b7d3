"""The availability policies as one compiled scalar function, for numba loops.

The world generator's compiled recorder asks the server's probability at each gated
activation from a live agent pool (:mod:`engage_lab.availability.pool_kernel`), so the
policies of :mod:`engage_lab.availability.policies` are given here as plain numbers
(:func:`policy_spec`) read by :func:`policy_p`, which computes the same doubles as
:meth:`Policy.probability` (the same operations in the same order).

>>> from engage_lab.availability.policies import CurvePolicy, ProductPolicy
>>> spec = policy_spec(ProductPolicy(queuing_factor=0.25))
>>> policy_p(*spec, 8, 9, 0), policy_p(*spec, 8, 10, 0)
(1.0, 0.0)
>>> policy_p(*policy_spec(CurvePolicy(over="free_slots", points=((0, 0), (4, 1)))), 5, 4, 0)
0.25
"""

from __future__ import annotations

import math

import numba
import numpy as np

from engage_lab.availability.policies import CurvePolicy, Policy, ProductPolicy, ReservePolicy

__all__ = ["CURVE", "PRODUCT", "RESERVE", "policy_p", "policy_spec"]

PRODUCT, RESERVE, CURVE = 0, 1, 2


def policy_spec(policy: Policy) -> tuple[int, int, bool, np.ndarray, np.ndarray]:
    """``(kind, integer parameter, over occupancy, xs, ps)`` of a policy: the queuing
    factor in hundredths (product), ``k`` (reserve) or the curve's sorted points."""
    none = np.zeros(1, np.float64)
    if isinstance(policy, ProductPolicy):
        return PRODUCT, int(policy.queuing_factor_pct), False, none, none
    if isinstance(policy, ReservePolicy):
        return RESERVE, int(policy.k), False, none, none
    if isinstance(policy, CurvePolicy):
        xs = np.array([x for x, _ in policy.points], np.float64)
        ps = np.array([p for _, p in policy.points], np.float64)
        return CURVE, 0, policy.over == "occupancy", xs, ps
    raise TypeError(f"no compiled form for {type(policy).__name__}")


@numba.njit(cache=True)
def policy_p(kind, param, over_occupancy, xs, ps, capacity, in_progress, waiting):
    """``p`` of the policy ``(kind, param, over_occupancy, xs, ps)`` in one state."""
    load = in_progress + waiting
    if kind == PRODUCT:
        return 1.0 if load < capacity + capacity * param // 100 else 0.0
    if kind == RESERVE:
        return 1.0 if capacity - load > param else 0.0
    if over_occupancy:
        x = math.inf if capacity == 0 else load / capacity
    else:
        x = float(capacity - load)
    if x <= xs[0]:
        return ps[0]
    for i in range(xs.shape[0] - 1):
        if xs[i] <= x < xs[i + 1]:
            return ps[i] + (x - xs[i]) * (ps[i + 1] - ps[i]) / (xs[i + 1] - xs[i])
    return ps[xs.shape[0] - 1]
