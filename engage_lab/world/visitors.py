"""Visitors (browsers) and their visits: countries, devices, accounts, returning visits.

Each visitor draws a country (with its zone), a device, whether it belongs to an account
holder (with a plan and a signed or unsigned identity), a browser clock offset (most have
none), and a hidden engagement effect (the truth model's per-visitor term). A share of
visitors returns: they draw several visit starts over the span; visits closer than the
visit idle duration to the previous visit's end are then dropped (``separated_visits``), so
the recorded visits are exactly the visits the loader derives.

>>> import numpy as np
>>> from engage_lab.world.params import WorldParams
>>> v = draw_visitors(np.random.default_rng(1), np.random.default_rng(2), WorldParams(), 50)
>>> v.n, len(v.country), bool((v.visits_drawn >= 1).all())
(50, 50, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engage_lab.world.params import WorldParams

__all__ = ["Visitors", "draw_visitors", "separated_visits"]


def _weights(pairs) -> np.ndarray:
    w = np.array([p[-1] for p in pairs], dtype=np.float64)
    return w / w.sum()


@dataclass(frozen=True, slots=True)
class Visitors:
    """Per-visitor arrays (index = visitor number)."""

    n: int
    country: np.ndarray  #: index into ``params.countries``
    device: np.ndarray  #: index into ``params.device_weights``
    has_account: np.ndarray
    signed: np.ndarray  #: identity set with a signed JWT
    plan: np.ndarray  #: index into ``params.plans``
    uuid: np.ndarray  #: company-managed person number (account holders)
    clock_offset_ms: np.ndarray
    engagement_effect: np.ndarray  #: hidden (truth)
    visits_drawn: np.ndarray  #: visit starts drawn before idle separation


def draw_visitors(
    rng: np.random.Generator, truth_rng: np.random.Generator, params: WorldParams, n: int, days=28
) -> Visitors:
    """Draw ``n`` visitors; ``truth_rng`` draws the hidden per-visitor engagement effect."""
    country = rng.choice(len(params.countries), n, p=_weights(params.countries))
    device = rng.choice(len(params.device_weights), n, p=_weights(params.device_weights))
    has_account = rng.random(n) < params.account_share
    signed = has_account & (rng.random(n) < params.signed_share)
    plan = rng.choice(len(params.plans), n, p=_weights(params.plans))
    uuid = rng.integers(16**11, 16**12, n, dtype=np.int64)
    offset = np.where(
        rng.random(n) < params.clock_offset_share,
        np.round(rng.normal(0.0, params.clock_offset_sigma_ms, n)),
        0.0,
    ).astype(np.int64)
    returning = rng.random(n) < params.returning_share
    extra = 1 + rng.poisson(params.extra_visits_per_28_days * days / 28.0, n)
    visits_drawn = 1 + np.where(returning, extra, 0)
    effect = truth_rng.normal(0.0, params.truth.visitor_effect_sigma, n)
    return Visitors(
        n=n,
        country=country.astype(np.int16),
        device=device.astype(np.int8),
        has_account=has_account,
        signed=signed,
        plan=plan.astype(np.int8),
        uuid=uuid,
        clock_offset_ms=offset,
        engagement_effect=effect,
        visits_drawn=visits_drawn.astype(np.int64),
    )


def separated_visits(
    visitor: np.ndarray, start_ms: np.ndarray, end_ms: np.ndarray, idle_ms: int
) -> np.ndarray:
    """Mask of visits to keep so that each kept visit starts more than ``idle_ms`` after
    the end of the visitor's previous kept visit.

    Visits must be sorted by ``(visitor, start)``. Works on whole arrays: each round drops
    the visits too close to their previous remaining one, until none is (a visit is never
    brought back, so the result is deterministic and valid, if slightly thinner than a
    greedy pass).

    >>> import numpy as np
    >>> day = 24 * 3600 * 1000
    >>> separated_visits(np.array([0, 0, 0, 1]), np.array([0, day, 3 * day, 0]),
    ...                  np.array([1000, day + 1000, 3 * day + 1000, 1000]), day).tolist()
    [True, False, True, True]
    """
    keep = np.ones(len(visitor), dtype=bool)
    while True:
        idx = np.flatnonzero(keep)
        if len(idx) < 2:
            return keep
        same = visitor[idx[1:]] == visitor[idx[:-1]]
        too_close = same & (start_ms[idx[1:]] - end_ms[idx[:-1]] <= idle_ms)
        if not too_close.any():
            return keep
        keep[idx[1:][too_close]] = False
