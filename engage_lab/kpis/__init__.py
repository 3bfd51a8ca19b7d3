"""KPIs of a replay: counts, the product's funnel per visit, reach, timing, agents, fidelity.

Everything is computed from the replayed events and the replayed page views (the
denominators: a visit without any event still counts), coded as integers
(:mod:`engage_lab.kpis.coded`: the fast engine's arrays as they are, a reference frame
coded once), and, for the agent side, the history's web-chat conversations and the
availability :class:`~engage_lab.availability.Timeline`. Both engines meet here, so a
KPI means the same whatever replayed the events.

Modules: :mod:`~engage_lab.kpis.coded` (codes), :mod:`~engage_lab.kpis.core` (counts,
funnel, reach, timing), :mod:`~engage_lab.kpis.agents` (occupancy, conversations),
:mod:`~engage_lab.kpis.fidelity` (replay versus recording).

Definitions (over the Chat Manager's JavaScript events):

* ``activations`` = ``trigger_activated`` events; ``executions`` = ``trigger_executed``
  (``executions_online`` / ``executions_offline`` by mode);
* ``refused`` = gated activations the draw turned down (``u >= p``): in live chat the
  ``trigger_activated`` events with mode ``offline`` (the look used: non-gated triggers
  always activate online; a gated one activates online iff ``u < p``); in messaging every
  look is online, so refusals are read from the draws. An activation that did not execute
  for a missing fixed-button placeholder is not a refusal: it is counted in
  ``activated_not_executed``;
* ``items_shown`` = ``item_shown`` (``items_shown_buttons`` / ``items_shown_invitations``
  from ``button_shown`` / ``invitation_shown``); ``chats_shown`` = ``chat_shown``;
  ``engagements`` = ``chat_engaged``;
* the funnel looks at all events of each visit; each is a share of visits:
  Q1 ``q1_offered`` a ``trigger_executed`` with a trigger id and mode ``online``;
  Q2 ``q2_tried`` a ``chat_engaged``; Q3 ``q3_refused_offer`` Q1 and no ``chat_engaged``;
  Q4 ``q4_helped`` a ``message_received``; Q5 ``q5_service_failed`` a ``chat_engaged``
  and no ``message_received``. No visit at all gives shares of 0.0;
* ``displays_by_stage`` = stage → ``chat_shown`` plus ``item_shown`` events (every
  page-view stage listed, zeros included);
* ``reach`` = share of visitors offered (Q1 on at least one of their visits);
* ``time_to_first_offer_median_s`` / ``_p90_s``: over offered visits, seconds from the
  visit's first replayed page view start to its first Q1 event (null when none);
* ``refusals_by_hour``: local hour (0–23, the configuration's timezone) → refusals;
* ``agent_occupancy`` = load-time / capacity-time over the replayed span (load and
  capacity from :class:`~engage_lab.availability.Timeline`), ``agent_capacity_mean`` its
  time-average capacity, ``agents_unavailable_share`` the share of the span with no
  capacity; :func:`occupancy_over_time` gives the same per time bin;
* ``web_chat_conversations``, ``unserved_conversations``, ``queue_wait_median_s`` /
  ``_p90_s`` (started conversations, ``started_at - queued_at``): the history's web-chat
  conversations of the replayed page views.

>>> import pandas as pd
>>> from engage_lab.events import EventRecord, events_to_frame
>>> ev = events_to_frame([
...     EventRecord("v", "v1", "p1", 1000, "trigger_activated", "configured", "t", mode="online"),
...     EventRecord("v", "v1", "p1", 1000, "trigger_executed", "configured", "t", mode="online"),
...     EventRecord("v", "v1", "p1", 1000, "chat_shown", "configured", "t")])
>>> pages = pd.DataFrame({"page_view_id": ["p1", "p2"], "visitor_id": ["v", "w"],
...                       "visit_id": ["v1", "w1"], "started_at": [0, 0]})
>>> k = compute_kpis(ev, pages)
>>> k["visits"], k["q1_offered"], k["q3_refused_offer"], k["displays_by_stage"]["configured"]
(2, 0.5, 0.5, 1)
"""

from __future__ import annotations

from engage_lab.kpis.agents import (
    conversation_kpis,
    conversation_stats,
    occupancy_kpis,
    occupancy_over_time,
)
from engage_lab.kpis.coded import EVENTS, CodedEvents, PageTable
from engage_lab.kpis.core import (
    JSON_KPIS,
    PAGE_STAGES,
    compute_kpis,
    funnel_by_visit,
    funnel_frame,
    jsonable,
    kpis_from_codes,
    offers,
)
from engage_lab.kpis.fidelity import (
    Comparison,
    compare_codes,
    compare_recorded,
    fidelity_mismatches,
    recorded_as_events,
)

__all__ = [
    "EVENTS",
    "JSON_KPIS",
    "PAGE_STAGES",
    "CodedEvents",
    "Comparison",
    "PageTable",
    "compare_codes",
    "compare_recorded",
    "compute_kpis",
    "conversation_kpis",
    "conversation_stats",
    "fidelity_mismatches",
    "funnel_by_visit",
    "funnel_frame",
    "jsonable",
    "kpis_from_codes",
    "occupancy_kpis",
    "occupancy_over_time",
    "offers",
    "recorded_as_events",
]
