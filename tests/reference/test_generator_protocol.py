"""The protocol the world generator uses: sessions stepped in global time order, a live
agent pool as availability, a behaviour model as the engagement source."""

from __future__ import annotations

import pytest

from engage_lab.availability.pool import AgentPool
from engage_lab.errors import EngineError
from engage_lab.events import events_to_frame, sort_events
from engage_lab.reference import (
    Engagement,
    Offer,
    Scheduler,
    StateAvailability,
    VisitorSession,
    config_resolver,
)
from tests.reference.builders import World, at, config, item, rows, trig


class PoolConversation:
    def __init__(self, pool: AgentPool, conversation_id: str) -> None:
        self.pool, self.conversation_id = pool, conversation_id

    def ended_by(self, t: int) -> bool:
        self.pool.advance_to(t)
        record = next(r for r in self.pool.records() if r.conversation_id == self.conversation_id)
        return record.outcome in ("unserved", "closed_by_visitor") and record.ended_at <= t

    def outcome_events(self):
        return ()


class EngageAfter:
    """Engages ``delay_ms`` after each item offer; conversations go to the pool."""

    def __init__(self, pool: AgentPool, delay_ms: int) -> None:
        self.pool, self.delay_ms = pool, delay_ms
        self.offers: list[Offer] = []

    def planned(self, visitor_id):
        return ()

    def offered(self, offer: Offer):
        self.offers.append(offer)
        return offer.shown_at + self.delay_ms if offer.visitor_id == "vA" else None

    def engage(self, engagement: Engagement):
        cid = f"c-{engagement.visitor_id}"
        self.pool.submit(
            cid,
            engagement.engaged_at,
            service_ms=600_000,
            patience_ms=engagement.impossibility_delay_ms,
            visitor_id=engagement.visitor_id,
            page_view_id=engagement.page_view_id,
        )
        return PoolConversation(self.pool, cid)


def run_world(engage: bool):
    w = World()
    w.page("pA", 0, 600, visitor="vA")
    w.page("pB", 10, 600, visitor="vB")
    history = w.history()
    pool = AgentPool({"a1": 1}, presence=[("a1", at(-100), "available")])
    model = EngageAfter(pool, 5_000 if engage else 10**9)
    cfg = config(trig("t1", item("b1"), only_if_agents_available=True))
    scheduler = Scheduler(before_instant=pool.advance_to)
    sessions = [
        VisitorSession(
            history.visitor(v),
            history,
            config_resolver(cfg),
            seed="s",
            availability=StateAvailability(pool.state_at),
            engagements=model,
        )
        for v in ("vA", "vB")
    ]
    for s in sessions:
        scheduler.add(s.steps())
    scheduler.run()
    frame = sort_events(events_to_frame([e for s in sessions for e in s.events]), ["t1"])
    return rows(frame, "visitor_id"), model


def test_engagements_load_the_pool_and_refuse_later_visitors():
    out, model = run_world(engage=True)
    assert (5, "chat_engaged", None, None, None, "vA") in out
    # vB asks at 10 s: the only slot is taken by vA's conversation -> refused
    assert [r for r in out if r[5] == "vB"] == [
        (10, "trigger_activated", "t1", None, "offline", "vB")
    ]
    assert [(o.visitor_id, o.kind, o.item_id) for o in model.offers] == [("vA", "button", "b1")]


def test_without_engagement_later_visitor_is_served():
    out, _ = run_world(engage=False)
    assert [r[1] for r in out if r[5] == "vB"] == [
        "trigger_activated",
        "trigger_executed",
        "item_shown",
        "button_shown",
    ]


def test_engagement_before_offer_is_refused():
    class Bad(EngageAfter):
        def offered(self, offer):
            return offer.shown_at - 1

    w = World()
    w.page("p1", 0, 60)
    history = w.history()
    pool = AgentPool({"a1": 1})
    session = VisitorSession(
        history.visitor("v1"),
        history,
        config_resolver(config(trig("t1", item("b1")))),
        seed="s",
        availability=StateAvailability(pool.state_at),
        engagements=Bad(pool, 0),
    )
    with pytest.raises(EngineError, match="answers an offer"):
        session.run()


def test_scheduler_refuses_time_going_back():
    def bad():
        yield 10
        yield 5

    scheduler = Scheduler()
    scheduler.add(bad())
    with pytest.raises(EngineError, match="time went back"):
        scheduler.run()


def test_scheduler_agent_side_once_per_instant_before_visitors_in_the_order_added():
    order: list[tuple[int, str]] = []

    def visitor(name: str, times: list[int]):
        for t in times:
            yield t
            order.append((t, name))

    scheduler = Scheduler(before_instant=lambda t: order.append((t, "agents")))
    scheduler.add(visitor("a", [3, 3, 8]))  # the same instant twice: one agent turn
    scheduler.add(visitor("b", [1, 8]))
    scheduler.add(visitor("c", [8]))
    scheduler.run()
    assert order == [
        (1, "agents"), (1, "b"),
        (3, "agents"), (3, "a"), (3, "a"),
        (8, "agents"), (8, "a"), (8, "b"), (8, "c"),
    ]  # fmt: skip


def test_session_lists_the_page_views_it_ran_on():
    w = World()
    w.status(-10, "active")
    w.status(50, "maintenance")
    w.page("p1", 0, 10)
    w.page("p2", 60, 70)
    history = w.history()
    session = VisitorSession(
        history.visitor("v1"),
        history,
        config_resolver(config(trig("t1", item("b1")))),
        seed="s",
        availability=StateAvailability(AgentPool({}).state_at),
        engagements=EngageAfter(AgentPool({}), 0),
    )
    session.run()
    assert [p.page_view_id for p in session.active_page_views] == ["p1"]
