"""Agents: soft limits, shifts with breaks (presence), and work on other channels.

Each agent has a soft limit (``soft_limit_weights``), a weekday shift (early or late, in
the source's local time, with a few minutes of jitter), sometimes a Saturday shift (then a
weekday off), and is absent on some days. A working day reads, in presence changes:
``available`` at the start, ``away`` for short breaks and a lunch break, ``offline`` at
the end. Every agent starts ``offline`` at the start of the span.

While available, an agent receives conversations on other channels (email, phone,
social) as Poisson arrivals (``background_rates_per_hour``); one that would exceed the
agent's soft limit goes to a colleague (it is not recorded for this agent). Durations and
queue waits are lognormal by channel. These conversations are the agents' **background
load**: the chat-event step adds web-chat conversations on top, agent by agent
(``AgentTimeline``).

>>> import numpy as np
>>> from engage_lab.world.params import WorldParams
>>> from engage_lab.world.traffic import Span
>>> p = WorldParams()
>>> a = draw_agents(np.random.default_rng(3), p, Span.of(p, 7), 4)
>>> sorted(set(a.presence_status.tolist())) == [0, 1, 2], len(a.timelines())
(True, 4)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from engage_lab.world.params import WorldParams
from engage_lab.world.traffic import Span

__all__ = ["AVAILABLE", "AWAY", "OFFLINE", "STATUSES", "AgentTimeline", "Agents", "draw_agents"]

STATUSES: tuple[str, ...] = ("available", "away", "offline")
AVAILABLE, AWAY, OFFLINE = range(3)
MINUTE_MS = 60_000


@dataclass(frozen=True, slots=True)
class AgentTimeline:
    """One agent's presence changes and background conversations, in time order.

    The chat-event step reads these to know, at any instant, whether the agent is
    available and how many conversations it already carries.
    """

    agent: int
    soft_limit: int
    presence_ms: np.ndarray
    presence_status: np.ndarray  #: codes into ``STATUSES``
    queued_ms: np.ndarray
    started_ms: np.ndarray
    ended_ms: np.ndarray
    channel: np.ndarray  #: codes into ``Agents.channels``


@dataclass(frozen=True, slots=True)
class Agents:
    """All agents; presence sorted by ``(changed, agent)``, conversations by ``(queued, agent)``."""

    soft_limit: np.ndarray
    shift: np.ndarray  #: index into ``params.shifts``
    saturday: np.ndarray
    channels: tuple[str, ...]
    presence_agent: np.ndarray
    presence_ms: np.ndarray
    presence_status: np.ndarray
    conv_agent: np.ndarray
    conv_channel: np.ndarray
    conv_queued_ms: np.ndarray
    conv_started_ms: np.ndarray
    conv_ended_ms: np.ndarray

    @property
    def n(self) -> int:
        return len(self.soft_limit)

    def timelines(self) -> list[AgentTimeline]:
        """Per-agent timelines (presence and background conversations)."""
        out = []
        for a in range(self.n):
            p = self.presence_agent == a
            c = self.conv_agent == a
            out.append(
                AgentTimeline(
                    agent=a,
                    soft_limit=int(self.soft_limit[a]),
                    presence_ms=self.presence_ms[p],
                    presence_status=self.presence_status[p],
                    queued_ms=self.conv_queued_ms[c],
                    started_ms=self.conv_started_ms[c],
                    ended_ms=self.conv_ended_ms[c],
                    channel=self.conv_channel[c],
                )
            )
        return out


def agent_count(params: WorldParams, visits: int, days: int) -> int:
    """How many agents staff a site with ``visits`` visits over ``days`` days.

    >>> agent_count(WorldParams(), 100_000, 28)
    18
    """
    need = int(np.ceil(visits / max(days, 1) / params.visits_per_agent_day))
    return int(min(max(need, params.min_agents), params.max_agents))


def _local_ms(day, hours: float, zone: ZoneInfo) -> int:
    minutes = round(hours * 60)
    local = datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, tzinfo=zone)
    return int(local.timestamp()) * 1000


def _working_day(rng, params: WorldParams, hours, day, zone) -> list[tuple[int, int]]:
    """Presence changes of one working day: ``[(ms, status), ...]``."""
    jitter = params.shift_jitter_minutes * MINUTE_MS
    start = _local_ms(day, hours[0], zone) + int(rng.uniform(-jitter, jitter))
    end = _local_ms(day, hours[1], zone) + int(rng.uniform(-jitter, jitter))
    middle = (start + end) // 2 + int(rng.uniform(-30, 30) * MINUTE_MS)
    lunch = int(rng.uniform(*params.lunch_minutes) * MINUTE_MS)
    breaks = [(middle, middle + lunch)]
    n_short = int(rng.integers(params.short_breaks[0], params.short_breaks[1] + 1))
    windows = [
        (start + 60 * MINUTE_MS, middle - 30 * MINUTE_MS),
        (middle + lunch + 30 * MINUTE_MS, end - 60 * MINUTE_MS),
    ]
    for w in range(n_short):
        lo, hi = windows[w % 2]
        length = int(rng.uniform(*params.short_break_minutes) * MINUTE_MS)
        if hi - lo > length:
            at = lo + int(rng.random() * (hi - lo - length))
            breaks.append((at, at + length))
    changes = [(start, AVAILABLE)]
    for b_start, b_end in sorted(breaks):
        changes += [(b_start, AWAY), (b_end, AVAILABLE)]
    changes.append((end, OFFLINE))
    return changes


def _background(rng, params: WorldParams, soft_limit: int, intervals, channels) -> list[tuple]:
    """Background conversations ``(channel, queued, started, ended)`` of one agent."""
    rates = [r for _, r in params.background_rates_per_hour]
    duration = {c: (m, s) for c, m, s in params.background_duration}
    wait = {c: (m, s) for c, m, s in params.background_wait}
    arrivals: list[tuple[int, int]] = []
    for lo, hi in intervals:
        for ch, rate in enumerate(rates):
            k = int(rng.poisson(rate * (hi - lo) / 3_600_000))
            arrivals += [(lo + int(x), ch) for x in sorted(rng.random(k) * (hi - lo))]
    arrivals.sort()
    out: list[tuple] = []
    in_progress: list[int] = []
    for started, ch in arrivals:
        name = channels[ch]
        length = int(rng.lognormal(math.log(duration[name][0] * 1000), duration[name][1]))
        waited = int(rng.lognormal(math.log(wait[name][0] * 1000), wait[name][1]))
        in_progress = [e for e in in_progress if e > started]
        if len(in_progress) >= soft_limit:
            continue  # a colleague takes it
        ended = started + max(length, 1000)
        in_progress.append(ended)
        out.append((ch, started - waited, started, ended))
    return out


def draw_agents(rng: np.random.Generator, params: WorldParams, span: Span, n: int) -> Agents:
    """Draw ``n`` agents with shifts, presence and background conversations over ``span``."""
    zone = ZoneInfo(params.timezone)
    limits = np.array([lim for lim, _ in params.soft_limit_weights])
    weights = np.array([w for _, w in params.soft_limit_weights])
    soft_limit = limits[rng.choice(len(limits), n, p=weights / weights.sum())]
    shift = rng.integers(0, len(params.shifts), n)
    saturday = rng.random(n) < params.saturday_share
    day_off = rng.integers(0, 5, n)
    channels = tuple(c for c, _ in params.background_rates_per_hour)
    presence: list[tuple[int, int, int]] = []
    conversations: list[tuple[int, int, int, int, int]] = []
    for a in range(n):
        changes = [(span.start_ms, OFFLINE)]
        for d in range(span.days):
            day = span.first_day + timedelta(days=d)
            weekday = day.weekday()
            if weekday == 6 or (weekday == 5 and not saturday[a]):
                continue
            if saturday[a] and weekday == day_off[a]:
                continue
            absent = rng.random() < params.absence_probability
            hours = params.saturday_hours if weekday == 5 else params.shifts[shift[a]][1:]
            if not absent:
                changes += _working_day(rng, params, hours, day, zone)
        presence += [(ms, a, status) for ms, status in changes]
        available = [
            (ms, changes[i + 1][0])
            for i, (ms, status) in enumerate(changes[:-1])
            if status == AVAILABLE
        ]
        conversations += [
            (a, *c) for c in _background(rng, params, int(soft_limit[a]), available, channels)
        ]
    presence.sort()
    conversations.sort(key=lambda c: (c[2], c[0], c[3]))
    conv = np.array(conversations, dtype=np.int64).reshape(-1, 5)
    pres = np.array(presence, dtype=np.int64).reshape(-1, 3)
    return Agents(
        soft_limit=soft_limit.astype(np.int64),
        shift=shift,
        saturday=saturday,
        channels=channels,
        presence_agent=pres[:, 1],
        presence_ms=pres[:, 0],
        presence_status=pres[:, 2].astype(np.int8),
        conv_agent=conv[:, 0],
        conv_channel=conv[:, 1].astype(np.int8),
        conv_queued_ms=conv[:, 2],
        conv_started_ms=conv[:, 3],
        conv_ended_ms=conv[:, 4],
    )
