"""Page views of every visit at once: a vectorized Markov chain over page states.

All visits walk the chain in lock step: at step ``k`` every visit still active picks a
page for its current state, then exits with its state's exit probability (times the
visit's lognormal exit factor) or draws its next state from the transition weights. The
per-visit factor mixes geometric lengths, so pages per visit are heavy-tailed (many
one-page visits, a few of dozens of pages). Dwell times are lognormal by state; pages
are separated by a short lognormal page-load gap, except single-page-application page
changes (within the checkout or account section), which start exactly when the previous
page ends. The last page of a visit may have no recorded end.

>>> import numpy as np
>>> from engage_lab.world import libm
from engage_lab.world import libm
from engage_lab.world.params import WorldParams
>>> from engage_lab.world.site import build_site
>>> p = WorldParams()
>>> pages = walk_visits(np.random.default_rng(0), p, build_site(p.host),
...                     np.zeros(100, np.int64), np.zeros(100, np.int8))
>>> int(pages.visit.max()), bool((pages.end_ms > pages.start_ms).all())
(99, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from engage_lab.world import libm
from engage_lab.world.params import WorldParams
from engage_lab.world.site import (
    ACCOUNT,
    CART,
    CATEGORY,
    CHECKOUT,
    CONFIRMATION,
    HELP,
    HOME,
    PAYMENT,
    PRICING,
    PRODUCT,
    Site,
)

__all__ = ["CAMPAIGNS", "EXTERNAL_REFERRERS", "Pages", "walk_visits"]

#: Referrers of a visit's first page (None: direct traffic) and their weights.
EXTERNAL_REFERRERS: tuple[tuple[str | None, float], ...] = (
    (None, 0.35),
    ("https://www.google.com/", 0.38),
    ("https://www.bing.com/", 0.05),
    ("https://www.facebook.com/", 0.08),
    ("https://www.instagram.com/", 0.06),
    ("https://newsletter.shop.example/", 0.08),
)

#: Query strings of campaign landings: a visit arriving from the newsletter or a social
#: network lands on a URL (and path) tagged with UTM parameters; later pages are untagged.
CAMPAIGNS: tuple[str, ...] = (
    "",
    "?utm_source=newsletter&utm_medium=email",
    "?utm_source=facebook&utm_medium=social",
    "?utm_source=instagram&utm_medium=social",
)
#: Campaign of each external referrer (``EXTERNAL_REFERRERS`` order).
_CAMPAIGN_OF_REFERRER = np.array([0, 0, 0, 2, 3, 1], dtype=np.int8)

_MOBILE = 1  # index of "mobile" in WorldParams.device_weights


@dataclass(frozen=True, slots=True)
class Pages:
    """Page rows sorted by ``(visit, seq)``; times in UTC milliseconds (true times)."""

    visit: np.ndarray
    seq: np.ndarray
    state: np.ndarray
    page: np.ndarray
    start_ms: np.ndarray
    end_ms: np.ndarray  #: true end (recorded only where ``end_recorded``)
    end_recorded: np.ndarray
    page_change: np.ndarray
    #: Page id of the referrer (the previous page), -1 on a visit's first page.
    referrer_page: np.ndarray
    #: Index into ``EXTERNAL_REFERRERS`` on a visit's first page, -1 elsewhere.
    external_referrer: np.ndarray

    def __len__(self) -> int:
        return len(self.visit)

    def take(self, index: np.ndarray) -> Pages:
        """The rows at ``index`` (a mask or indices), in that order."""
        return Pages(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def campaign(self) -> np.ndarray:
        """Index into ``CAMPAIGNS`` of each row (non-zero only on campaign landings)."""
        return np.where(
            self.external_referrer >= 0,
            _CAMPAIGN_OF_REFERRER[np.maximum(self.external_referrer, 0)],
            0,
        ).astype(np.int64)

    def first_of_visit(self) -> np.ndarray:
        """Mask of each visit's first remaining row."""
        first = np.ones(len(self.visit), dtype=bool)
        first[1:] = self.visit[1:] != self.visit[:-1]
        return first

    def last_of_visit(self) -> np.ndarray:
        """Mask of each visit's last remaining row."""
        last = np.ones(len(self.visit), dtype=bool)
        last[:-1] = self.visit[1:] != self.visit[:-1]
        return last


def _zipf(n: int, exponent: float = 0.9) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** exponent
    return np.cumsum(w / w.sum())


def _pick(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    return np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1)


def _choose_pages(
    rng: np.random.Generator,
    params: WorldParams,
    site: Site,
    state: np.ndarray,
    prev_state: np.ndarray,
    prev_page: np.ndarray,
) -> np.ndarray:
    """Page id for each visit's current state (vectorized; one draw set per call)."""
    n = len(state)
    u_stick, u_cat, u_item, u_sub = (rng.random(n) for _ in range(4))
    n_categories, n_products = site.products.shape
    prev_shop = np.where(prev_page >= 0, site.shop_category[np.maximum(prev_page, 0)], -1)
    page = np.zeros(n, dtype=np.int64)  # HOME
    # Category and product pages: stay in the category just seen, else a popular one.
    popular_category = _pick(_zipf(n_categories), u_cat)
    stays = (prev_shop >= 0) & (u_stick < params.stay_in_category)
    shop = np.where(stays, prev_shop, popular_category)
    is_cat = state == CATEGORY
    # From a product, a category page is the product's own (a step back) 40% of the time.
    back = (prev_state == PRODUCT) & (u_stick < 0.4)
    page[is_cat] = site.category_pages[np.where(back, prev_shop, popular_category)[is_cat]]
    is_prod = state == PRODUCT
    page[is_prod] = site.products[shop[is_prod], _pick(_zipf(n_products), u_item[is_prod])]
    for single in (CART, CHECKOUT, PAYMENT, CONFIRMATION, PRICING, HOME):
        page[state == single] = site.pages_of_state[single][0]
    # Help: the index or a topic (always a topic when already in help).
    help_pages = site.pages_of_state[HELP]
    is_help = state == HELP
    topic = 1 + _pick(_zipf(len(help_pages) - 1, 0.7), u_item)
    index = (prev_state != HELP) & (u_sub < 0.5)
    page[is_help] = help_pages[np.where(index, 0, topic)[is_help]]
    # Account: the account page first, then its sub-pages (a single-page application).
    account_pages = site.pages_of_state[ACCOUNT]
    is_acct = state == ACCOUNT
    sub = _pick(np.cumsum([0.2, 0.5, 0.3]), u_sub)
    page[is_acct] = account_pages[np.where(prev_state == ACCOUNT, sub, 0)[is_acct]]
    return page


def walk_visits(
    rng: np.random.Generator,
    params: WorldParams,
    site: Site,
    visit_start_ms: np.ndarray,
    visit_device: np.ndarray,
) -> Pages:
    """Pages of every visit (``visit_start_ms`` and ``visit_device`` per visit)."""
    n_visits = len(visit_start_ms)
    n_states = len(params.exit_probability)
    transitions = np.asarray(params.transitions, dtype=np.float64)
    transition_cdf = np.cumsum(transitions / transitions.sum(axis=1, keepdims=True), axis=1)
    landing = np.asarray(params.landing_weights, dtype=np.float64)
    exit_probability = np.asarray(params.exit_probability)
    exit_factor = rng.lognormal(0.0, params.exit_factor_sigma, n_visits)

    active = np.arange(n_visits, dtype=np.int64)
    state = _pick(np.cumsum(landing / landing.sum()), rng.random(n_visits))
    prev_state = np.full(n_visits, -1, dtype=np.int64)
    prev_page = np.full(n_visits, -1, dtype=np.int64)
    chunks: list[tuple[np.ndarray, int, np.ndarray, np.ndarray]] = []
    for step in range(params.max_pages_per_visit):
        page = _choose_pages(rng, params, site, state, prev_state, prev_page)
        chunks.append((active, step, state, page))
        exit_p = np.clip(exit_probability[state] * exit_factor[active], 0.02, 0.97)
        stays = rng.random(len(active)) >= exit_p
        if step == params.max_pages_per_visit - 1 or not stays.any():
            break
        active, prev_state, prev_page = active[stays], state[stays], page[stays]
        u = rng.random(len(active))
        state = np.minimum((u[:, None] >= transition_cdf[prev_state]).sum(axis=1), n_states - 1)

    visit = np.concatenate([c[0] for c in chunks])
    seq = np.concatenate([np.full(len(c[0]), c[1], dtype=np.int32) for c in chunks])
    states = np.concatenate([c[2] for c in chunks]).astype(np.int8)
    pages = np.concatenate([c[3] for c in chunks]).astype(np.int16)
    order = np.lexsort((seq, visit))
    visit, seq, states, pages = visit[order], seq[order], states[order], pages[order]
    n = len(visit)
    first = np.ones(n, dtype=bool)
    first[1:] = visit[1:] != visit[:-1]
    last = np.ones(n, dtype=bool)
    last[:-1] = visit[1:] != visit[:-1]

    prev = np.where(first, -1, np.roll(pages, 1).astype(np.int64))
    section = site.spa_section[pages]
    page_change = ~first & (section >= 0) & (site.spa_section[np.maximum(prev, 0)] == section)

    medians_ms = np.asarray(params.dwell_median_s)[states] * 1000.0
    dwell = rng.lognormal(libm.log(medians_ms), params.dwell_sigma)
    dwell = np.where(visit_device[visit] == _MOBILE, dwell * params.mobile_dwell_factor, dwell)
    dwell = np.clip(dwell, params.dwell_min_s * 1000, params.dwell_max_s * 1000).astype(np.int64)
    gap = rng.lognormal(math.log(params.navigation_gap_median_ms), params.navigation_gap_sigma, n)
    gap = np.where(first | page_change, 0, np.maximum(gap, 1.0)).astype(np.int64)
    # start = visit start + dwell of earlier pages + gaps up to this page (grouped cumsum).
    step_ms = gap + np.where(first, 0, np.roll(dwell, 1))
    total = np.cumsum(step_ms)
    first_index = np.flatnonzero(first)
    group_base = np.repeat(total[first_index], np.diff(np.append(first_index, n)))
    start = visit_start_ms[visit] + (total - group_base)
    end_recorded = ~(last & (rng.random(n) < params.unrecorded_end_share))
    ref_cdf = np.cumsum([w for _, w in EXTERNAL_REFERRERS])
    external = np.where(first, _pick(ref_cdf / ref_cdf[-1], rng.random(n)), -1)
    return Pages(
        visit=visit,
        seq=seq,
        state=states,
        page=pages,
        start_ms=start,
        end_ms=start + dwell,
        end_recorded=end_recorded,
        page_change=page_change,
        referrer_page=prev.astype(np.int16),
        external_referrer=external.astype(np.int8),
    )
