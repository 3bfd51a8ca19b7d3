"""The hidden ground truth: how visitors respond to chat offers, and how chats last.

The recorded history never shows these directly; the chat-event step draws from them
(engagements become conversations), and analysts' estimates are checked against them.

* **Engagement** — after an item or the chat is shown, the visitor engages (sends a
  first message) with probability ``sigmoid(logit)``::

      logit = base_logit
              + item_kind_effect[kind]            (button, invitation, chat)
              + page_category_effect[category]    (home ... account)
              + time_on_page_slope * log1p(seconds_on_page / 30)
              + returning_effect * returning      (visit number > 1)
              + visitor_effect                    (per visitor, Normal(0, visitor_effect_sigma))

  and, when engaging, does so after a lognormal delay (median ``engage_delay_median_s``,
  sigma ``engage_delay_sigma``) counted from the show.
* **Conversation duration** — lognormal, median ``live_chat_duration_median_s`` (live
  chat) or ``messaging_duration_median_s`` (messaging), sigma ``duration_sigma``.
* **Visitors closing the chat** — an engaged visitor still waiting gives up after a
  lognormal patience (median ``patience_median_s``, sigma ``patience_sigma``): the
  conversation ends ``closed_by_visitor``; after a served conversation the visitor closes
  the chat with probability ``close_after_served`` after a lognormal delay (median
  ``close_delay_median_s``).

>>> t = EngagementTruth()
>>> p = engagement_probability(t, ["invitation", "button"], ["help", "home"], [60.0, 5.0],
...                            [True, False], [0.0, 0.0])
>>> bool(p[0] > p[1]), bool(((p > 0) & (p < 1)).all())
(True, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engage_lab.world import libm

__all__ = [
    "ITEM_KINDS",
    "EngagementTruth",
    "conversation_durations_s",
    "engagement_probability",
    "patience_s",
]

#: What was shown: a button, an invitation, or the chat window itself.
ITEM_KINDS: tuple[str, ...] = ("button", "invitation", "chat")


@dataclass(frozen=True, slots=True)
class EngagementTruth:
    """Parameters of the hidden engagement and conversation model."""

    base_logit: float = -3.3
    item_kind_effect: tuple[tuple[str, float], ...] = (
        ("button", 0.0),
        ("invitation", 0.9),
        ("chat", 1.4),
    )
    page_category_effect: tuple[tuple[str, float], ...] = (
        ("home", -0.6),
        ("category", -0.3),
        ("product", 0.0),
        ("cart", 0.5),
        ("checkout", 0.8),
        ("help", 1.1),
        ("pricing", 0.6),
        ("account", 0.2),
    )
    time_on_page_slope: float = 0.35
    returning_effect: float = 0.4
    visitor_effect_sigma: float = 0.8
    engage_delay_median_s: float = 20.0
    engage_delay_sigma: float = 1.0
    live_chat_duration_median_s: float = 420.0
    messaging_duration_median_s: float = 1800.0
    duration_sigma: float = 0.7
    patience_median_s: float = 150.0
    patience_sigma: float = 0.8
    close_after_served: float = 0.6
    close_delay_median_s: float = 30.0


def _lookup(pairs: tuple[tuple[str, float], ...], keys: Sequence[str] | np.ndarray) -> np.ndarray:
    table = dict(pairs)
    try:
        return np.array([table[str(k)] for k in keys], dtype=np.float64)
    except KeyError as exc:
        raise ValueError(f"unknown key {exc.args[0]!r}; expected one of {sorted(table)}") from exc


def engagement_probability(
    truth: EngagementTruth,
    item_kind: Sequence[str] | np.ndarray,
    page_category: Sequence[str] | np.ndarray,
    seconds_on_page: Sequence[float] | np.ndarray,
    returning: Sequence[bool] | np.ndarray,
    visitor_effect: Sequence[float] | np.ndarray,
) -> np.ndarray:
    """Probability of engaging after a show, vectorized over shows.

    ``item_kind`` in ``ITEM_KINDS``, ``page_category`` in ``site.PAGE_CATEGORIES``,
    ``seconds_on_page`` the time on the page at the show, ``returning`` whether the visit
    is not the visitor's first, ``visitor_effect`` the visitor's hidden effect (from
    ``truth/visitors.jsonl``).

    >>> float(engagement_probability(EngagementTruth(), ["chat"], ["help"], [0.0], [False],
    ...                               [0.0])[0]) > 0.2
    True
    """
    logit = (
        truth.base_logit
        + _lookup(truth.item_kind_effect, item_kind)
        + _lookup(truth.page_category_effect, page_category)
        + truth.time_on_page_slope * libm.log1p(np.asarray(seconds_on_page, np.float64) / 30.0)
        + truth.returning_effect * np.asarray(returning, dtype=np.float64)
        + np.asarray(visitor_effect, dtype=np.float64)
    )
    return 1.0 / (1.0 + libm.exp(-logit))


def conversation_durations_s(
    truth: EngagementTruth, rng: np.random.Generator, n: int, mode: str
) -> np.ndarray:
    """Draw ``n`` conversation durations in seconds for ``mode`` (live_chat / messaging).

    >>> d = conversation_durations_s(EngagementTruth(), np.random.default_rng(0), 1000,
    ...                              "live_chat")
    >>> 300 < float(np.median(d)) < 600
    True
    """
    median = (
        truth.live_chat_duration_median_s
        if mode == "live_chat"
        else truth.messaging_duration_median_s
    )
    return rng.lognormal(math.log(median), truth.duration_sigma, n)


def patience_s(truth: EngagementTruth, rng: np.random.Generator, n: int) -> np.ndarray:
    """Draw how long ``n`` engaged visitors wait for an agent before closing the chat."""
    return rng.lognormal(math.log(truth.patience_median_s), truth.patience_sigma, n)
