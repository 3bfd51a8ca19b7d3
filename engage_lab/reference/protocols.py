"""What the Chat Manager asks the outside world: availability and engagements.

Availability
    An object with ``probability(t, trigger, config) -> p``: the server's answer for a
    gated trigger at instant ``t`` (ms). :class:`StateAvailability` wraps anything that
    gives an :class:`~engage_lab.availability.AvailabilityState` at an instant (the
    log-based :class:`~engage_lab.availability.state.Timeline`'s ``at``, or a live
    :class:`~engage_lab.availability.pool.AgentPool`'s ``state_at``) and applies the
    trigger's policy (``config.policy(trigger)``, queuing factor included).

Engagements
    An object with three methods:

    * ``planned(visitor_id) -> instants``: engagement instants known in advance (replay
      of a recorded history: its ``chat_engaged`` events);
    * ``offered(offer) -> instant | None``: called each time the chat or an item becomes
      visible (:class:`Offer`); a behaviour model answers with the instant the visitor
      sends a first message, or ``None``;
    * ``engage(engagement) -> Conversation``: called when an engagement is honoured (the
      visitor is not engaged and the chat or an item is visible at that instant).

    A :class:`Conversation` answers ``ended_by(t)`` (live chat: the visitor closed the
    chat, or it ended unserved when the impossibility delay expired, at or before ``t``;
    asked in time order, at page-view starts) and, once the run is over,
    ``outcome_events()`` (``message_sent``, ``message_received``, ``chat_closed``).

:class:`RecordedEngagements` replays the engagements of a recorded history;
:class:`NoEngagements` has none.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from engage_lab.availability import AvailabilityState, Policy
from engage_lab.config import Config, Trigger
from engage_lab.reference.history import History, PageView, WebChat

__all__ = [
    "AvailabilityProvider",
    "Conversation",
    "Engagement",
    "EngagementSource",
    "NoEngagements",
    "Offer",
    "OutcomeEvent",
    "RecordedEngagements",
    "StateAvailability",
]


class AvailabilityProvider(Protocol):
    """The server's answer for a gated trigger at an instant."""

    def probability(self, t: int, trigger: Trigger, config: Config) -> float: ...


class StateAvailability:
    """Availability from a state function: ``p = config.policy(trigger)(state_at(t))``.

    >>> from engage_lab.availability import AvailabilityState
    >>> from engage_lab.config import Config
    >>> cfg = Config.from_dict({"schema_version": 1, "source": {"mode": "live_chat",
    ...     "queuing_factor": 0.25}, "triggers": [{"id": "t", "label": "T",
    ...     "only_if_agents_available": True, "actions": [{"type": "show_chat_minimized"}]}]})
    >>> busy = StateAvailability(lambda t: AvailabilityState(8, 9, 0))
    >>> busy.probability(0, cfg.trigger("t"), cfg)   # 9 < 8 + floor(8 * 0.25)
    1.0
    >>> StateAvailability(lambda t: AvailabilityState(8, 10, 0)).probability(0, cfg.trigger("t"), cfg)
    0.0
    """

    def __init__(self, state_at: Callable[[int], AvailabilityState]) -> None:
        self.state_at = state_at
        # (id of the configuration, trigger id) -> (configuration, its policy): built once;
        # the configuration is kept so that its id is never reused while cached.
        self._policies: dict[tuple[int, str], tuple[Config, Policy]] = {}

    def probability(self, t: int, trigger: Trigger, config: Config) -> float:
        key = (id(config), trigger.id)
        if key not in self._policies:
            self._policies[key] = (config, config.policy(trigger))
        return float(self._policies[key][1].probability(self.state_at(t)))


@dataclass(frozen=True, slots=True)
class Offer:
    """The chat or an item became visible to a visitor (``kind``: ``chat``, ``button``,
    ``invitation``; ``item_id`` None for the chat)."""

    visitor_id: str
    page_view_id: str
    visit_id: str
    shown_at: int
    stage: str
    kind: str
    trigger_id: str | None
    item_id: str | None
    mode: str | None
    page: PageView


@dataclass(frozen=True, slots=True)
class Engagement:
    """An honoured engagement: the visitor's first message at ``engaged_at``."""

    visitor_id: str
    page_view_id: str
    visit_id: str
    engaged_at: int
    mode: str
    impossibility_delay_ms: int | None


@dataclass(frozen=True, slots=True)
class OutcomeEvent:
    """``message_sent``, ``message_received`` or ``chat_closed`` of a conversation
    (``page_view_id`` None: the page view of the visitor at that instant)."""

    event_at: int
    event: str
    page_view_id: str | None = None


class Conversation(Protocol):
    """The conversation an honoured engagement started."""

    def ended_by(self, t: int) -> bool: ...

    def outcome_events(self) -> Sequence[OutcomeEvent]: ...


class EngagementSource(Protocol):
    """Where engagements come from (recorded history or a behaviour model)."""

    def planned(self, visitor_id: str) -> Sequence[int]: ...

    def offered(self, offer: Offer) -> int | None: ...

    def engage(self, engagement: Engagement) -> Conversation: ...


class _Silent:
    def ended_by(self, t: int) -> bool:
        return False

    def outcome_events(self) -> Sequence[OutcomeEvent]:
        return ()


class NoEngagements:
    """No visitor ever engages."""

    def planned(self, visitor_id: str) -> Sequence[int]:
        return ()

    def offered(self, offer: Offer) -> int | None:
        return None

    def engage(self, engagement: Engagement) -> Conversation:
        return _Silent()


_OUTCOMES = ("message_sent", "message_received", "chat_closed")


@dataclass(frozen=True)
class RecordedConversation:
    """A recorded conversation: ends when the visitor closes it (``chat_closed``) or, in
    live chat, unserved at ``engaged_at + delay`` when no agent took it by then."""

    end: int | None
    events: tuple[OutcomeEvent, ...]

    def ended_by(self, t: int) -> bool:
        return self.end is not None and self.end <= t

    def outcome_events(self) -> Sequence[OutcomeEvent]:
        return self.events


class RecordedEngagements:
    """The engagements of a recorded history (its ``chat_engaged`` events).

    The conversation of an engagement at ``e`` spans the visitor's recorded events from
    ``e`` up to the next ``chat_engaged``. In live chat it is served when its web-chat
    conversation (the first of the visitor queued in that span) started within the
    impossibility delay — or, with no such record, when a ``message_received`` came
    within it; otherwise it ends unserved at ``e + delay``. The visitor's first
    ``chat_closed`` in the span ends it too. Outcome events after the end are dropped.
    """

    def __init__(self, history: History) -> None:
        self.history = history

    def planned(self, visitor_id: str) -> Sequence[int]:
        visitor = self.history.visitors.get(visitor_id)
        if visitor is None:
            return ()
        return sorted({e.event_at for e in visitor.recorded_events if e.event == "chat_engaged"})

    def offered(self, offer: Offer) -> int | None:
        return None

    def engage(self, engagement: Engagement) -> Conversation:
        visitor = self.history.visitor(engagement.visitor_id)
        e = engagement.engaged_at
        engaged = sorted(x.event_at for x in visitor.recorded_events if x.event == "chat_engaged")
        i = bisect.bisect_right(engaged, e)
        span_end = engaged[i] if i < len(engaged) else None
        in_span = [
            x
            for x in visitor.recorded_events
            if x.event in _OUTCOMES
            and x.event_at >= e
            and (span_end is None or x.event_at < span_end)
        ]
        closed = next((x.event_at for x in in_span if x.event == "chat_closed"), None)
        # live chat: closing the chat ends the conversation; a messaging thread goes on
        end = closed if engagement.mode == "live_chat" else None
        unserved = False
        delay = engagement.impossibility_delay_ms
        if engagement.mode == "live_chat" and delay is not None:
            chat = _first_chat(visitor.web_chats, e, span_end)
            if chat is not None:
                served = chat.started_at is not None and chat.started_at <= e + delay
            else:
                served = any(
                    x.event == "message_received" and x.event_at <= e + delay for x in in_span
                )
            if not served and (closed is None or e + delay < closed):
                end, unserved = e + delay, True
        kept = tuple(
            OutcomeEvent(x.event_at, x.event, x.page_view_id)
            for x in in_span
            if (end is None or x.event_at <= end)
            and not (unserved and x.event in ("message_received", "chat_closed"))
        )
        return RecordedConversation(end, kept)


def _first_chat(chats: Sequence[WebChat], start: int, end: int | None) -> WebChat | None:
    for chat in chats:
        if chat.queued_at >= start and (end is None or chat.queued_at < end):
            return chat
    return None
