"""Small generated worlds for the reference's regression tests, and a deterministic
behaviour model so that generator-style runs (global order, a live agent pool, offers
answered by engagements) are exercised too."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence

import pandas as pd

from engage_lab.availability.pool import AgentPool
from engage_lab.config import Config
from engage_lab.reference import (
    Engagement,
    History,
    Offer,
    OutcomeEvent,
    Scheduler,
    StateAvailability,
    VisitorSession,
    config_resolver,
)
from engage_lab.reference.replay import sorted_events
from engage_lab.world.model import draw_world
from engage_lab.world.output import world_view


@functools.cache
def world_history(mode: str, visitors: int = 150, seed: int = 11, days: int = 3) -> History:
    """A generated world (no recorded chat events) as a History, built from its frames."""
    view = world_view(draw_world(seed, visitors, mode, days), None, None)
    return History.from_frames(view.tables)


def _unit(*parts: object) -> float:
    digest = hashlib.md5("|".join(map(str, parts)).encode()).hexdigest()
    return int(digest[:8], 16) / 2**32


class _Conversation:
    def __init__(self, engaged_at: int, end: int) -> None:
        self.engaged_at, self.end = engaged_at, end

    def ended_by(self, t: int) -> bool:
        return self.end <= t

    def outcome_events(self) -> Sequence[OutcomeEvent]:
        return (
            OutcomeEvent(self.engaged_at + 1000, "message_sent"),
            OutcomeEvent(self.end, "chat_closed"),
        )


class HashedBehaviour:
    """Engages after a fifth of the offers (hash-based), 5 to 120 s later; every
    engagement becomes a conversation of the agent pool."""

    def __init__(self, pool: AgentPool) -> None:
        self.pool = pool
        self.count = 0

    def planned(self, visitor_id: str) -> Sequence[int]:
        return ()

    def offered(self, offer: Offer) -> int | None:
        if _unit("engage", offer.page_view_id, offer.shown_at, offer.kind, offer.item_id) < 0.2:
            return offer.shown_at + 5000 + int(_unit("delay", offer.page_view_id) * 115_000)
        return None

    def engage(self, engagement: Engagement) -> _Conversation:
        self.count += 1
        e = engagement.engaged_at
        length = 60_000 + int(_unit("length", engagement.page_view_id, e) * 600_000)
        self.pool.submit(f"c{self.count}", e, length, patience_ms=engagement.impossibility_delay_ms)
        return _Conversation(e, e + length)


def generator_run(history: History, config: Config) -> pd.DataFrame:
    """Run every visitor in global time order with a live agent pool and the hashed
    behaviour (what the world generator does)."""
    frames = history.frames
    pool = AgentPool(frames["agents"], frames["presence"], frames["conversations"])
    behaviour = HashedBehaviour(pool)
    availability = StateAvailability(pool.state_at)
    scheduler = Scheduler(before_instant=pool.advance_to)
    sessions, cache = [], {}
    for visitor in history.visitors.values():
        session = VisitorSession(
            visitor,
            history,
            config_resolver(config),
            seed=history.seed,
            availability=availability,
            engagements=behaviour,
            cache=cache,
        )
        sessions.append(session)
        scheduler.add(session.steps())
    scheduler.run()
    return sorted_events(sessions, config)
