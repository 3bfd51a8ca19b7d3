"""Every parameter of the world generator in one frozen dataclass, ``WorldParams``.

The generator draws a synthetic but realistic recorded history: a shop on one host
(``site``), visitors arriving with a daily and weekly cycle (``traffic``), their visits
and devices (``visitors``), the pages they view (``pages``), the custom variables,
identities and threads those pages carry (``variables``), agents working shifts and other
channels (``agents``), and the hidden behaviour the chat-event step draws engagements from
(``truth``). The distributions and their default parameters:

* **Visitors** — country from ``countries`` (weights; mostly France, so the source's
  daily cycle shows); device per visitor from ``device_weights``; a share
  ``returning_share`` of visitors returns: they draw ``1 + Poisson(extra_visits_per_28_days
  * days / 28)`` further visits. Visits of one visitor closer than the visit idle duration
  (24 h) to the previous one's end are dropped, so every recorded visit is a visit.
* **Arrivals** — a nonhomogeneous Poisson process: a visit starts in an hour of the span
  with probability proportional to ``hour_weights[local hour] * weekday_weights[local
  weekday]`` in the visitor's own time zone, uniformly within the hour.
* **Pages per visit** — a Markov chain over page states (``STATES`` in ``site``) with
  landing weights ``landing_weights``, transition weights ``transitions`` and an exit
  probability per state ``exit_probability`` multiplied per visit by a lognormal factor
  (median 1, sigma ``exit_factor_sigma``): a mixture of geometric lengths, heavy-tailed.
* **Dwell** — lognormal per state (median ``dwell_median_s``, sigma ``dwell_sigma``),
  times ``mobile_dwell_factor`` on mobile, clipped to [``dwell_min_s``, ``dwell_max_s``];
  page loads between pages take a lognormal gap (median ``navigation_gap_median_ms``), none
  for single-page-application page changes.
* **Unrecorded ends** — the last page of a visit has no recorded end with probability
  ``unrecorded_end_share`` (the visitor closed the tab).
* **Custom variables** — ``custom_cart_amount`` filled at the start of product, cart and
  checkout pages when the cart is not empty, changed mid-page when the visitor adds a
  product (probability ``cart_add_probability``) and emptied mid-page on the order
  confirmation; ``custom_logged_in`` (account holders, share ``account_share``): true
  from the first page when the visit is remembered (``remembered_login_share``), else
  false then true mid-page at a sign-in on the first account page (``sign_in_probability``);
  ``custom_plan`` filled on account pages for signed-in visitors and chosen mid-page on the
  pricing page (``plan_choice_probability``).
* **Identities** — set at the sign-in instant (or the first page of a remembered visit);
  signed (JWT) for a share ``signed_share`` of account holders; one ``uuid`` per person.
* **Threads** (messaging mode) — a share ``thread_share`` of identified visitors has
  1–``max_threads`` threads, open / locked / closed with ``thread_state_weights``.
* **Agents** — ``ceil(visits per day / visits_per_agent_day)`` agents (at least
  ``min_agents``), soft limits from ``soft_limit_weights``, early or late weekday shifts
  (``shifts``), some on Saturdays, absent on a day with ``absence_probability``, a lunch
  break and short breaks (away); background conversations on other channels arrive while
  available at ``background_rates_per_hour`` (Poisson) with lognormal durations.
* **Maintenance** — one window of ``maintenance_minutes`` at ``maintenance_local_hour``
  on a day in the middle of the span; page views starting inside it are not recorded.
* **Clock offsets** — a share ``clock_offset_share`` of visitors has a browser clock off
  by a normal offset (sigma ``clock_offset_sigma_ms``); their browser times are recorded
  with it and the ``visitor`` record carries it.

>>> p = WorldParams()
>>> p.timezone, len(p.hour_weights), len(p.weekday_weights)
('Europe/Paris', 24, 7)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from engage_lab.world.truth import EngagementTruth

__all__ = ["WorldParams"]


@dataclass(frozen=True, slots=True)
class WorldParams:
    """The generator's parameters (see the module docstring for what each one shapes)."""

    host: str = "https://shop.example"
    #: First local day of the span (a Monday), midnight in ``timezone``: fixed, so output
    #: never depends on today's date.
    start_date: str = "2026-03-02"
    timezone: str = "Europe/Paris"
    #: ``(ISO country, IANA zone, weight)``.
    countries: tuple[tuple[str, str, float], ...] = (
        ("FR", "Europe/Paris", 0.72),
        ("BE", "Europe/Brussels", 0.07),
        ("CH", "Europe/Zurich", 0.05),
        ("CA", "America/Toronto", 0.04),
        ("GB", "Europe/London", 0.04),
        ("DE", "Europe/Berlin", 0.03),
        ("US", "America/New_York", 0.03),
        ("MA", "Africa/Casablanca", 0.02),
    )
    #: Relative arrival intensity by local hour 0..23 (low at night, peaks late morning
    #: and evening).
    hour_weights: tuple[float, ...] = (
        0.30, 0.18, 0.11, 0.08, 0.07, 0.09, 0.20, 0.45, 0.75, 1.00, 1.15, 1.20,
        1.10, 1.05, 1.10, 1.10, 1.05, 1.00, 1.05, 1.20, 1.35, 1.30, 1.00, 0.60,
    )  # fmt: skip
    #: Relative arrival intensity Monday..Sunday.
    weekday_weights: tuple[float, ...] = (1.10, 1.05, 1.00, 1.00, 0.95, 0.70, 0.75)
    device_weights: tuple[tuple[str, float], ...] = (
        ("desktop", 0.55),
        ("mobile", 0.38),
        ("tablet", 0.07),
    )
    returning_share: float = 0.35
    extra_visits_per_28_days: float = 2.0
    visit_idle_ms: int = 24 * 3600 * 1000
    #: Landing weights by state (``site.STATES`` order).
    landing_weights: tuple[float, ...] = (0.36, 0.15, 0.24, 0.01, 0.0, 0.0, 0.0, 0.1, 0.07, 0.07)
    #: Transition weights: row = current state, column = next state (``site.STATES``).
    transitions: tuple[tuple[float, ...], ...] = (
        # home cat  prod  cart  chk   pay   conf  help  price acct
        (0.00, 0.38, 0.20, 0.03, 0.00, 0.00, 0.00, 0.11, 0.14, 0.14),  # home
        (0.08, 0.15, 0.60, 0.05, 0.00, 0.00, 0.00, 0.04, 0.03, 0.05),  # category
        (0.07, 0.25, 0.35, 0.20, 0.00, 0.00, 0.00, 0.06, 0.02, 0.05),  # product
        (0.05, 0.12, 0.25, 0.00, 0.45, 0.00, 0.00, 0.08, 0.00, 0.05),  # cart
        (0.00, 0.00, 0.00, 0.15, 0.00, 0.70, 0.00, 0.10, 0.00, 0.05),  # checkout
        (0.00, 0.00, 0.00, 0.05, 0.15, 0.00, 0.65, 0.15, 0.00, 0.00),  # payment
        (0.40, 0.15, 0.00, 0.00, 0.00, 0.00, 0.00, 0.10, 0.00, 0.35),  # confirmation
        (0.15, 0.10, 0.10, 0.00, 0.00, 0.00, 0.00, 0.45, 0.10, 0.10),  # help
        (0.15, 0.20, 0.00, 0.00, 0.00, 0.00, 0.00, 0.20, 0.10, 0.35),  # pricing
        (0.10, 0.15, 0.00, 0.00, 0.00, 0.00, 0.00, 0.15, 0.15, 0.45),  # account
    )  # fmt: skip
    exit_probability: tuple[float, ...] = (
        0.30,
        0.25,
        0.28,
        0.20,
        0.12,
        0.10,
        0.50,
        0.30,
        0.35,
        0.30,
    )
    exit_factor_sigma: float = 0.75
    max_pages_per_visit: int = 250
    dwell_median_s: tuple[float, ...] = (25.0, 35.0, 55.0, 50.0, 70.0, 90.0, 30.0, 80.0, 60.0, 45.0)
    dwell_sigma: float = 1.0
    dwell_min_s: float = 1.0
    dwell_max_s: float = 3 * 3600.0
    mobile_dwell_factor: float = 0.8
    navigation_gap_median_ms: float = 600.0
    navigation_gap_sigma: float = 0.6
    unrecorded_end_share: float = 0.4
    #: Probability that a product page view follows its category (else a popular one).
    stay_in_category: float = 0.8
    cart_add_probability: float = 0.22
    account_share: float = 0.35
    remembered_login_share: float = 0.45
    sign_in_probability: float = 0.7
    plan_choice_probability: float = 0.25
    plans: tuple[tuple[str, float], ...] = (
        ("free", 0.45),
        ("starter", 0.30),
        ("business", 0.18),
        ("enterprise", 0.07),
    )
    signed_share: float = 0.5
    thread_share: float = 0.4
    max_threads: int = 3
    #: Weights of a background thread's state: open, locked, closed.
    thread_state_weights: tuple[float, float, float] = (0.45, 0.25, 0.30)
    clock_offset_share: float = 0.02
    clock_offset_sigma_ms: float = 90_000.0
    visits_per_agent_day: float = 200.0
    min_agents: int = 4
    max_agents: int = 200
    soft_limit_weights: tuple[tuple[int, float], ...] = ((2, 0.3), (3, 0.5), (4, 0.2))
    #: ``(name, local start hour, local end hour)`` of weekday shifts.
    shifts: tuple[tuple[str, float, float], ...] = (("early", 8.0, 16.0), ("late", 12.0, 20.0))
    saturday_share: float = 0.3
    saturday_hours: tuple[float, float] = (9.0, 17.0)
    absence_probability: float = 0.07
    shift_jitter_minutes: float = 10.0
    lunch_minutes: tuple[float, float] = (30.0, 60.0)
    short_breaks: tuple[int, int] = (1, 2)
    short_break_minutes: tuple[float, float] = (8.0, 18.0)
    #: Background conversations per available agent hour, by channel (Poisson): about
    #: 0.7 conversations in progress per available agent on average.
    background_rates_per_hour: tuple[tuple[str, float], ...] = (
        ("email", 3.0),
        ("phone", 1.5),
        ("social", 2.0),
    )
    #: Lognormal duration median (s) and sigma by channel.
    background_duration: tuple[tuple[str, float, float], ...] = (
        ("email", 360.0, 0.6),
        ("phone", 300.0, 0.7),
        ("social", 240.0, 0.8),
    )
    #: Lognormal queue wait median (s) and sigma by channel (``queued_at`` before start).
    background_wait: tuple[tuple[str, float, float], ...] = (
        ("email", 2700.0, 0.8),
        ("phone", 40.0, 0.8),
        ("social", 180.0, 0.9),
    )
    maintenance_local_hour: float = 2.0
    maintenance_minutes: tuple[float, float] = (30.0, 90.0)
    truth: EngagementTruth = field(default_factory=EngagementTruth)

    def to_dict(self) -> dict:
        """Plain JSON-ready dict of every parameter (tuples become lists)."""
        return asdict(self)
