"""Custom variables, identities and threads carried by the generated pages.

Three custom variables (the names the example configurations declare):

* ``custom_cart_amount`` (number, euros): the cart is a running sum over the visit,
  emptied after an order confirmation. The site fills it at the start of product, cart
  and checkout pages when the cart is not empty; adding a product to the cart changes it
  mid-page; the confirmation page empties it mid-page.
* ``custom_logged_in`` (boolean): true from the first page of a remembered visit, or
  false at the start of the first account page and true at a sign-in mid-page; once
  signed in, filled true at the start of every page; filled false on account and checkout
  pages while not signed in.
* ``custom_plan`` (string): the account holder's plan, filled on account pages once
  signed in; chosen mid-page on the pricing page by some visitors.

A visitor's identity is set once, at its first sign-in (or at the first page of its first
remembered visit): one ``identity`` record per identified visitor, with the person's
``uuid``; it stays set for the visitor's later visits. In messaging mode some identified
visitors hold threads (opened before or during the span; open, locked or closed).

Values set at a page's ``started_at`` are part of the page's initial state; mid-page
changes fall strictly inside ``(started_at, true end)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engage_lab.world.pages import Pages
from engage_lab.world.params import WorldParams
from engage_lab.world.site import (
    ACCOUNT,
    CART,
    CHECKOUT,
    CONFIRMATION,
    PAYMENT,
    PRICING,
    PRODUCT,
    Site,
)
from engage_lab.world.visitors import Visitors

__all__ = [
    "VAR_NAMES",
    "Identities",
    "Threads",
    "VarChanges",
    "draw_threads",
    "draw_variables",
]

#: Variable names by code (``VarChanges.name``).
VAR_NAMES: tuple[str, ...] = ("custom_cart_amount", "custom_logged_in", "custom_plan")
CART_AMOUNT, LOGGED_IN, PLAN = range(3)
DAY_MS = 24 * 3_600_000


@dataclass(frozen=True, slots=True)
class VarChanges:
    """Variable changes sorted by ``(changed_at, row, name)``.

    ``row`` indexes the page rows; ``value`` is cents for the cart amount, 0/1 for logged
    in, the index into ``params.plans`` for the plan.
    """

    row: np.ndarray
    name: np.ndarray
    value: np.ndarray
    changed_ms: np.ndarray

    def __len__(self) -> int:
        return len(self.row)


@dataclass(frozen=True, slots=True)
class Identities:
    """One identity per identified visitor, sorted by ``set_ms``."""

    visitor: np.ndarray
    row: np.ndarray  #: page row on which it was set
    set_ms: np.ndarray

    def __len__(self) -> int:
        return len(self.visitor)


@dataclass(frozen=True, slots=True)
class Threads:
    """Messaging threads; ``identity`` indexes ``Identities``; -1 marks an absent instant."""

    identity: np.ndarray
    opened_ms: np.ndarray
    locked_ms: np.ndarray
    closed_ms: np.ndarray
    identity_initiated: np.ndarray

    def __len__(self) -> int:
        return len(self.identity)


def _inside(rng: np.random.Generator, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """A uniform instant strictly inside ``(start, end)`` (pages last at least 1 s)."""
    return start + 1 + np.floor(rng.random(len(start)) * (end - start - 1)).astype(np.int64)


def _group_cumsum(values: np.ndarray, group_start: np.ndarray) -> np.ndarray:
    total = np.cumsum(values)
    starts = np.flatnonzero(group_start)
    base = np.repeat(total[starts] - values[starts], np.diff(np.append(starts, len(values))))
    return total - base


def draw_variables(
    rng: np.random.Generator,
    params: WorldParams,
    site: Site,
    pages: Pages,
    visitor_of_visit: np.ndarray,
    visitors: Visitors,
) -> tuple[VarChanges, Identities]:
    """Variable changes and identities of the (final, recorded) page rows."""
    n = len(pages)
    state, start, end = pages.state, pages.start_ms, pages.end_ms
    first = pages.first_of_visit()
    visitor = visitor_of_visit[pages.visit]
    parts: list[tuple[np.ndarray, int, np.ndarray, np.ndarray]] = []

    # Cart: a running sum per visit, reset after a confirmation page.
    qty = 1 + np.searchsorted([0.8, 0.95], rng.random(n), side="right")
    adds = (state == PRODUCT) & (rng.random(n) < params.cart_add_probability)
    amount = np.where(adds, site.price_cents[pages.page] * qty, 0)
    reset = first | (np.roll(state, 1) == CONFIRMATION)
    after = _group_cumsum(amount, reset)
    before = after - amount
    cart_page = np.isin(state, (PRODUCT, CART, CHECKOUT, PAYMENT, CONFIRMATION))
    filled = cart_page & (before > 0)
    parts.append((np.flatnonzero(filled), CART_AMOUNT, before[filled], start[filled]))
    added = np.flatnonzero(adds)
    parts.append((added, CART_AMOUNT, after[added], _inside(rng, start[added], end[added])))
    emptied = np.flatnonzero((state == CONFIRMATION) & (before > 0))
    at = np.minimum(start[emptied] + 1500 + rng.integers(0, 3000, len(emptied)), end[emptied] - 1)
    parts.append((emptied, CART_AMOUNT, np.zeros(len(emptied), np.int64), at))

    # Logged in: remembered visits, or a sign-in on the visit's first account page.
    n_visits = int(pages.visit.max()) + 1 if n else 0
    holder = visitors.has_account[visitor_of_visit] if n_visits else np.zeros(0, bool)
    remembered = holder & (rng.random(n_visits) < params.remembered_login_share)
    signs_in = holder & ~remembered & (rng.random(n_visits) < params.sign_in_probability)
    account_rows = np.flatnonzero(state == ACCOUNT)
    first_account_visit, first_idx = np.unique(pages.visit[account_rows], return_index=True)
    sign_in_row = np.full(n_visits, -1, dtype=np.int64)
    chosen = signs_in[first_account_visit]
    sign_in_row[first_account_visit[chosen]] = account_rows[first_idx[chosen]]
    row_index = np.arange(n)
    sign_row_of_page = sign_in_row[pages.visit]
    logged_at_start = remembered[pages.visit] | (
        (sign_row_of_page >= 0) & (row_index > sign_row_of_page)
    )
    signed_in_here = sign_row_of_page == row_index
    sign_rows = np.flatnonzero(signed_in_here)
    sign_at = _inside(rng, start[sign_rows], end[sign_rows])
    true_rows = np.flatnonzero(logged_at_start)
    parts.append((true_rows, LOGGED_IN, np.ones(len(true_rows), np.int64), start[true_rows]))
    false_rows = np.flatnonzero(~logged_at_start & np.isin(state, (ACCOUNT, CHECKOUT, PAYMENT)))
    parts.append((false_rows, LOGGED_IN, np.zeros(len(false_rows), np.int64), start[false_rows]))
    parts.append((sign_rows, LOGGED_IN, np.ones(len(sign_rows), np.int64), sign_at))

    # Plan: filled on account pages once signed in; chosen mid-page on the pricing page.
    plan_of_row = visitors.plan[visitor].astype(np.int64)
    account_logged = np.flatnonzero(logged_at_start & (state == ACCOUNT))
    parts.append((account_logged, PLAN, plan_of_row[account_logged], start[account_logged]))
    parts.append((sign_rows, PLAN, plan_of_row[sign_rows], sign_at))
    picks = np.flatnonzero((state == PRICING) & (rng.random(n) < params.plan_choice_probability))
    weights = np.array([w for _, w in params.plans])
    chosen_plan = np.searchsorted(np.cumsum(weights / weights.sum()), rng.random(len(picks)))
    chosen_plan = np.minimum(chosen_plan, len(weights) - 1)
    parts.append((picks, PLAN, chosen_plan, _inside(rng, start[picks], end[picks])))

    row = np.concatenate([p[0] for p in parts]).astype(np.int64)
    name = np.concatenate([np.full(len(p[0]), p[1], dtype=np.int8) for p in parts])
    value = np.concatenate([np.asarray(p[2], dtype=np.int64) for p in parts])
    changed = np.concatenate([np.asarray(p[3], dtype=np.int64) for p in parts])
    order = np.lexsort((name, row, changed))
    changes = VarChanges(row[order], name[order], value[order], changed[order])

    # Identities: the visitor's first sign-in or first remembered page.
    remembered_rows = np.flatnonzero(first & remembered[pages.visit])
    id_rows = np.concatenate([sign_rows, remembered_rows])
    id_at = np.concatenate([sign_at, start[remembered_rows]])
    id_visitor = visitor[id_rows]
    order = np.lexsort((id_rows, id_at, id_visitor))
    id_rows, id_at, id_visitor = id_rows[order], id_at[order], id_visitor[order]
    keep = np.ones(len(id_rows), dtype=bool)
    keep[1:] = id_visitor[1:] != id_visitor[:-1]
    id_rows, id_at, id_visitor = id_rows[keep], id_at[keep], id_visitor[keep]
    order = np.lexsort((id_visitor, id_at))
    identities = Identities(id_visitor[order], id_rows[order], id_at[order])
    return changes, identities


def draw_threads(
    rng: np.random.Generator, params: WorldParams, identities: Identities, span_end_ms: int
) -> Threads:
    """Threads of identified visitors (messaging mode), sorted by ``opened_ms``.

    A thread opens up to 20 days before the identity was first set or later within the
    span; it is open, locked (1 h to 5 days after opening) or closed (at least 4 days
    after opening, the product's automatic closing).
    """
    n = len(identities)
    holds = rng.random(n) < params.thread_share
    count = np.where(holds, rng.integers(1, params.max_threads + 1, n), 0)
    owner = np.repeat(np.arange(n), count)
    m = len(owner)
    base = identities.set_ms[owner]
    later = np.maximum(span_end_ms - base, 0)
    opened = base + np.floor(rng.uniform(-20.0, 0.5, m) * DAY_MS).astype(np.int64)
    opened = np.where(
        opened > base, base + np.floor(rng.random(m) * later).astype(np.int64), opened
    )
    kind = np.searchsorted(
        np.cumsum(params.thread_state_weights),
        rng.random(m) * sum(params.thread_state_weights),
        side="right",
    )
    locked = np.where(kind == 1, opened + rng.integers(3_600_000, 5 * DAY_MS, m), -1)
    closed = np.where(kind >= 2, opened + rng.integers(4 * DAY_MS, 10 * DAY_MS, m), -1)
    initiated = rng.random(m) < 0.6
    # The export cannot know the future: instants after the span are not recorded yet.
    locked = np.where(locked > span_end_ms, -1, locked)
    closed = np.where(closed > span_end_ms, -1, closed)
    order = np.lexsort((owner, opened))
    return Threads(owner[order], opened[order], locked[order], closed[order], initiated[order])
