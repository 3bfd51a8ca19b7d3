"""The simulated agent side: an event-driven pool of agents serving web-chat conversations.

Used by the world generator (recording histories) and by counterfactual replay, where
engagements become conversations that load the agents. A SimPy-style heap ordered by
``(time, priority, seq)`` makes ties deterministic, never random; the pool itself draws
nothing — durations and patience come from the caller.

Rules:

* an agent takes a new web chat only while **available** and with a free slot
  (conversations in progress on them, all channels, ``< soft_limit``); among those the
  **least loaded** first, ties by ``agent_id``;
* otherwise the conversation waits in one FIFO queue; when a slot frees or an agent
  becomes available, the head of the queue is served first;
* an agent going away (or offline) **keeps** their conversations until they end but
  takes no new ones; while away neither their capacity nor their conversations count in
  the availability state (same definition as :mod:`~engage_lab.availability.state`);
* background conversations (other channels, from the logs) occupy their agent's slots
  on ``[started_at, ended_at)`` as given, even beyond the soft limit;
* a conversation still waiting when its patience expires (live chat: the impossibility
  delay) ends **unserved**; a visitor who closes the chat while waiting ends it
  **closed_by_visitor**; a served conversation lasts its service time.

Order of what happens at one instant ``t`` (all at ``t``): conversations end (slots
free), presence changes apply, background conversations start, new conversations join
the queue; then the queue is served; then patience and closing timers at ``t`` fire. So
a slot freed at the very instant a patience expires still serves that conversation, and
a patience of 0 makes a loss system (served at once or unserved).

>>> pool = AgentPool({"a1": 1}, presence=[("a1", 0, "available")])
>>> pool.submit("c1", queued_at=10, service_ms=100)
>>> pool.submit("c2", queued_at=20, service_ms=50, patience_ms=30)
>>> pool.state_at(25)
AvailabilityState(capacity=1, in_progress=1, waiting=1)
>>> [(r.conversation_id, r.started_at, r.ended_at, r.outcome) for r in pool.finish()]
[('c1', 10, 110, 'served'), ('c2', None, 50, 'unserved')]
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from engage_lab.availability.policies import AvailabilityState
from engage_lab.availability.state import (
    NEVER,
    WEB_CHAT,
    TimeLike,
    presence_changes,
    to_ms,
    to_ms_array,
)
from engage_lab.errors import EngineError

__all__ = ["AgentPool", "ConversationRecord", "simulate_conversations"]

# Priorities of events at one instant (lower first); the queue is served between
# ARRIVAL and TIMER.
END, PRESENCE, BACKGROUND, ARRIVAL, TIMER = 0, 1, 2, 3, 4

OUTCOMES = ("served", "unserved", "closed_by_visitor")


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    """One conversation as the ``conversations`` table stores it (times in ms, UTC).

    ``outcome`` is None for background conversations and for web chats still waiting
    when the simulation stopped (then ``started_at`` and ``ended_at`` are None too).
    """

    conversation_id: str
    channel: str
    queued_at: int
    started_at: int | None
    ended_at: int | None
    agent_id: str | None
    outcome: str | None
    visitor_id: str | None = None
    page_view_id: str | None = None


@dataclass(slots=True)
class _Chat:
    conversation_id: str
    queued_at: int
    service_ms: int
    visitor_id: str | None
    page_view_id: str | None
    started_at: int | None = None
    ended_at: int | None = None
    agent_id: str | None = None
    outcome: str | None = None


def _agents_mapping(agents: Mapping[str, int] | pd.DataFrame) -> dict[str, int]:
    if isinstance(agents, pd.DataFrame):
        limits = agents["soft_limit"].tolist()
        ids = agents["agent_id"].tolist()
        return {str(a): 0 if pd.isna(x) else int(x) for a, x in zip(ids, limits, strict=True)}
    return {str(a): int(x) for a, x in agents.items()}


class AgentPool:
    """Agents, their presence and conversations, simulated in time order.

    Parameters
    ----------
    agents
        ``{agent_id: soft_limit}`` or the ``agents`` table.
    presence
        The ``presence`` table (``agent_id, changed_at, status`` and optionally
        ``presence_id``: at one instant the greatest id wins) or ``(agent_id,
        changed_at, status)`` tuples (at one instant the last one given wins). An agent
        with no change yet is not available.
    background
        Conversations that occupy slots as logged: a frame with ``conversation_id,
        agent_id, channel, queued_at, started_at, ended_at`` (rows without agent or
        start are ignored).

    Time only moves forward: :meth:`advance_to`, :meth:`state_at` and :meth:`submit`
    refuse an instant before :attr:`now`.
    """

    def __init__(
        self,
        agents: Mapping[str, int] | pd.DataFrame,
        presence: pd.DataFrame | Iterable[tuple[str, TimeLike, str]] = (),
        background: pd.DataFrame | None = None,
    ) -> None:
        self.soft_limit = _agents_mapping(agents)
        self.available: dict[str, bool] = dict.fromkeys(self.soft_limit, False)
        self.load: dict[str, int] = dict.fromkeys(self.soft_limit, 0)
        self.now: int = -(2**62)
        self._heap: list[tuple[int, int, int, Any]] = []
        self._seq = 0
        self._queue: deque[_Chat] = deque()
        self._chats: dict[str, _Chat] = {}
        self._background: list[ConversationRecord] = []
        self._dirty = False
        self._load_presence(presence)
        if background is not None:
            self._load_background(background)

    # ------------------------------------------------------------------ inputs

    def _push(self, t: int, priority: int, payload: Any) -> None:
        heapq.heappush(self._heap, (t, priority, self._seq, payload))
        self._seq += 1

    def _load_presence(self, presence: pd.DataFrame | Iterable[tuple[str, TimeLike, str]]) -> None:
        for changed_at, _, agent_id, status in presence_changes(presence):
            if agent_id in self.soft_limit and changed_at != NEVER:
                self._push(changed_at, PRESENCE, ("presence", agent_id, status))

    def _load_background(self, frame: pd.DataFrame) -> None:
        started = to_ms_array(frame["started_at"])
        ended = to_ms_array(frame["ended_at"])
        queued = to_ms_array(frame["queued_at"])
        for i, (cid, agent_id, channel) in enumerate(
            zip(frame["conversation_id"], frame["agent_id"], frame["channel"], strict=True)
        ):
            if pd.isna(agent_id) or started[i] == NEVER or agent_id not in self.soft_limit:
                continue
            s, e = int(started[i]), int(ended[i])
            self._push(s, BACKGROUND, ("background", agent_id, e))
            self._background.append(
                ConversationRecord(
                    str(cid),
                    str(channel),
                    int(queued[i]) if queued[i] != NEVER else s,
                    s,
                    None if e == NEVER else e,
                    str(agent_id),
                    None,
                )
            )

    # ------------------------------------------------------------------ time

    def _dispatch(self) -> None:
        """Serve the head of the queue while an available agent has a free slot."""
        self._dirty = False
        while self._queue:
            candidates = [
                (self.load[a], a)
                for a, limit in self.soft_limit.items()
                if self.available[a] and self.load[a] < limit
            ]
            if not candidates:
                return
            _, agent_id = min(candidates)
            chat = self._queue.popleft()
            chat.started_at, chat.agent_id = self.now, agent_id
            chat.ended_at, chat.outcome = self.now + chat.service_ms, "served"
            self.load[agent_id] += 1
            self._push(chat.ended_at, END, ("end", agent_id))

    def _handle(self, payload: Any) -> None:
        kind = payload[0]
        if kind == "end":
            self.load[payload[1]] -= 1
            self._dirty = True
        elif kind == "presence":
            self.available[payload[1]] = payload[2] == "available"
            self._dirty = True
        elif kind == "background":
            _, agent_id, ended = payload
            self.load[agent_id] += 1
            if ended != NEVER:
                # An end before its start would free a slot never taken: clamp to the start.
                self._push(max(ended, self.now), END, ("end", agent_id))
        elif kind == "arrival":
            self._queue.append(payload[1])
            self._dirty = True
        elif kind == "timer":
            _, chat, outcome = payload
            if chat.started_at is None and chat.ended_at is None:
                self._queue.remove(chat)
                chat.ended_at, chat.outcome = self.now, outcome

    def _run(self, until: int) -> None:
        while True:
            if self._heap and self._heap[0][0] <= until:
                t, priority = self._heap[0][0], self._heap[0][1]
                if self._dirty and (t > self.now or priority >= TIMER):
                    self._dispatch()  # everything before the timers at this instant is done
                    continue
                payload = heapq.heappop(self._heap)[3]
                self.now = t
                self._handle(payload)
            elif self._dirty:
                self._dispatch()  # may schedule ends, hence the loop
            else:
                break
        self.now = max(self.now, until)

    def advance_to(self, t: TimeLike) -> None:
        """Apply everything that happens at or before ``t``."""
        ms = to_ms(t)
        if ms < self.now:
            raise EngineError(f"agent pool: time went back from {self.now} to {ms}")
        self._run(ms)

    def state(self) -> AvailabilityState:
        """The availability state at :attr:`now` (same definition as the timeline)."""
        capacity = sum(self.soft_limit[a] for a, up in self.available.items() if up)
        in_progress = sum(self.load[a] for a, up in self.available.items() if up)
        return AvailabilityState(capacity, in_progress, len(self._queue))

    def state_at(self, t: TimeLike) -> AvailabilityState:
        """Advance to ``t`` and return the state there.

        >>> AgentPool({"a": 2}, [("a", 5, "available")]).state_at(5)
        AvailabilityState(capacity=2, in_progress=0, waiting=0)
        """
        self.advance_to(t)
        return self.state()

    def submit(
        self,
        conversation_id: str,
        queued_at: TimeLike,
        service_ms: int,
        *,
        patience_ms: int | None = None,
        closes_after_ms: int | None = None,
        visitor_id: str | None = None,
        page_view_id: str | None = None,
    ) -> None:
        """A web chat engaged at ``queued_at``: served at once if a slot is free, else queued.

        ``patience_ms`` (the impossibility delay; None waits forever) ends it unserved,
        ``closes_after_ms`` ends it closed_by_visitor, whichever comes first while waiting.
        """
        t = to_ms(queued_at)
        if conversation_id in self._chats:
            raise EngineError(f"agent pool: conversation {conversation_id!r} submitted twice")
        for name, value in (
            ("service_ms", service_ms),
            ("patience_ms", patience_ms),
            ("closes_after_ms", closes_after_ms),
        ):
            if value is not None and int(value) < 0:
                raise EngineError(f"agent pool: {name} = {value} is negative")
        self.advance_to(t)
        chat = _Chat(str(conversation_id), t, int(service_ms), visitor_id, page_view_id)
        self._chats[chat.conversation_id] = chat
        self._push(t, ARRIVAL, ("arrival", chat))
        timers = [(patience_ms, "unserved"), (closes_after_ms, "closed_by_visitor")]
        # Patience before closing at an equal instant: the impossibility message wins.
        for delay, outcome in sorted(
            ((d, o) for d, o in timers if d is not None), key=lambda x: x[0]
        ):
            self._push(t + int(delay), TIMER, ("timer", chat, outcome))
        self._run(t)

    def finish(self) -> list[ConversationRecord]:
        """Run every remaining event and return the web-chat records, in submission order."""
        self._run(NEVER - 1)
        return self.records()

    def records(self, include_background: bool = False) -> list[ConversationRecord]:
        """Web-chat records as they stand (optionally followed by the background ones)."""
        out = [
            ConversationRecord(
                c.conversation_id,
                WEB_CHAT,
                c.queued_at,
                c.started_at,
                c.ended_at,
                c.agent_id,
                c.outcome,
                c.visitor_id,
                c.page_view_id,
            )
            for c in self._chats.values()
        ]
        return out + self._background if include_background else out

    def to_frame(self, include_background: bool = True) -> pd.DataFrame:
        """Records as a ``conversations`` table (timestamps datetime64[ms], naive UTC)."""
        records = self.records(include_background)
        columns = list(ConversationRecord.__dataclass_fields__)
        frame = pd.DataFrame([[getattr(r, c) for c in columns] for r in records], columns=columns)
        for col in ("queued_at", "started_at", "ended_at"):
            ms = pd.array(frame[col].tolist(), dtype="Int64")
            frame[col] = pd.to_datetime(ms, unit="ms").astype("datetime64[ms]")
        return frame


def simulate_conversations(
    agents: Mapping[str, int] | pd.DataFrame,
    presence: pd.DataFrame | Iterable[tuple[str, TimeLike, str]],
    arrivals: pd.DataFrame,
    service_ms: Callable[[str], int] | Sequence[int] | np.ndarray,
    *,
    patience_ms: int | None = None,
    background: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Run a whole batch of web chats through an :class:`AgentPool`.

    ``arrivals`` has ``conversation_id, queued_at`` (any order; sorted stably by time) and
    optionally ``patience_ms`` / ``closes_after_ms`` per row (overriding ``patience_ms``),
    ``visitor_id``, ``page_view_id``. ``service_ms`` is a function of the conversation id
    or an array aligned with ``arrivals``. Returns the web-chat rows of the pool.

    >>> arrivals = pd.DataFrame({"conversation_id": ["c1", "c2"], "queued_at": [0, 0]})
    >>> out = simulate_conversations({"a": 1}, [("a", 0, "available")], arrivals, [10, 10],
    ...                              patience_ms=0)
    >>> out["outcome"].tolist()
    ['served', 'unserved']
    """
    pool = AgentPool(agents, presence, background)
    order = np.argsort(to_ms_array(arrivals["queued_at"]), kind="stable")
    rows = arrivals.iloc[order].reset_index(drop=True)
    if callable(service_ms):
        durations = [int(service_ms(str(c))) for c in rows["conversation_id"]]
    else:
        values = np.asarray(service_ms)
        if len(values) != len(arrivals):
            raise EngineError("simulate_conversations: service_ms and arrivals differ in length")
        durations = values[order].astype(np.int64).tolist()

    def optional(name: str, i: int, default: Any = None) -> Any:
        if name not in rows:
            return default
        value = rows.at[i, name]
        return default if pd.isna(value) else value

    for i, cid in enumerate(rows["conversation_id"].tolist()):
        pool.submit(
            str(cid),
            rows.at[i, "queued_at"],
            durations[i],
            patience_ms=optional("patience_ms", i, patience_ms),
            closes_after_ms=optional("closes_after_ms", i),
            visitor_id=optional("visitor_id", i),
            page_view_id=optional("page_view_id", i),
        )
    pool.finish()
    return pool.to_frame(include_background=False)
