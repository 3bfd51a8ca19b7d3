"""The reference Chat Manager: the literal, per-visitor, event-driven spec in code.

Public API
----------
:func:`replay_reference`
    Replay a configuration (or configuration history) over a recorded history; returns
    the events in the :mod:`engage_lab.events` schema, canonical order.
:class:`History`
    The per-visitor view of the history tables (``from_connection`` / ``from_frames``).
:class:`VisitorSession`, :class:`Scheduler`
    The pieces the world generator steps itself.

Protocol for the world generator
--------------------------------
Build one :class:`VisitorSession` per visitor with ``config_at =
config_resolver(config)``, the seed, an **availability provider** and an **engagement
source**, and run them all under a :class:`Scheduler` (global time order)::

    pool = AgentPool(agents, presence, background)
    availability = StateAvailability(pool.state_at)          # p from the live pool
    scheduler = Scheduler(before_instant=pool.advance_to)    # agent side first at each t
    for visitor in history.visitors.values():
        scheduler.add(VisitorSession(visitor, history, config_resolver(cfg), seed=seed,
                                     availability=availability, engagements=model).steps())
    scheduler.run()

The engagement source (``model``) implements :class:`EngagementSource`:

* ``planned(visitor_id)`` → ``()`` (nothing known in advance);
* ``offered(offer)`` is called the moment the chat or an item becomes visible
  (:class:`Offer`: visitor, page view, instant, stage, kind, trigger, item, mode, page);
  return the instant ``e >= offer.shown_at`` of the visitor's first message, or None.
  The Chat Manager honours ``e`` when it falls on a page view of the visitor where the
  chat or an item is still visible and the visitor is not engaged (else it is dropped);
* ``engage(engagement)`` is called when it is honoured (in time order): submit the
  conversation to the pool there (``pool.submit(..., queued_at=e, patience_ms=
  engagement.impossibility_delay_ms, closes_after_ms=...)``) and return a
  :class:`Conversation`: ``ended_by(t)`` (live chat: closed by the visitor or ended
  unserved at or before ``t``; asked at later page-view starts, so advance the pool to
  ``t`` first) and ``outcome_events()`` (asked after the run, for
  ``message_sent`` / ``message_received`` / ``chat_closed``).

The events are in ``session.events`` (decisions and ``chat_engaged``, with the pass of
each in ``session.event_passes``) and ``session.outcome_records()``;
:func:`sorted_events` puts finished sessions' events in the canonical order
(:func:`engage_lab.events.sort_events` with the passes as ``rounds``).
``session.active_page_views`` lists the page views the Chat Manager ran on (source
active): where a recorder writes the product's ``started`` event (replay emits none).
``trigger_continuation`` is ``stage == "continuation"``; labels come from the config.
"""

from __future__ import annotations

from engage_lab.reference.history import History
from engage_lab.reference.manager import VisitorSession
from engage_lab.reference.protocols import (
    AvailabilityProvider,
    Conversation,
    Engagement,
    EngagementSource,
    NoEngagements,
    Offer,
    OutcomeEvent,
    RecordedEngagements,
    StateAvailability,
)
from engage_lab.reference.replay import (
    log_availability,
    replay_reference,
    sorted_events,
    trigger_order,
)
from engage_lab.reference.scheduler import Scheduler
from engage_lab.reference.session_state import ChatState, config_resolver

__all__ = [
    "AvailabilityProvider",
    "ChatState",
    "Conversation",
    "Engagement",
    "EngagementSource",
    "History",
    "NoEngagements",
    "Offer",
    "OutcomeEvent",
    "RecordedEngagements",
    "Scheduler",
    "StateAvailability",
    "VisitorSession",
    "config_resolver",
    "log_availability",
    "replay_reference",
    "sorted_events",
    "trigger_order",
]
