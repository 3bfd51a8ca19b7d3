"""The data-quality summary, on a fixture whose numbers are counted by hand."""

from __future__ import annotations

import datetime as dt

from tests.data.conftest import write_jsonl


def t(hhmm: str) -> str:
    return f"2026-03-02T{hhmm}:00Z"


def _fixture() -> list[dict]:
    def pv(pid, visitor, start, end=None):
        r = {
            "type": "page_view",
            "id": pid,
            "visitor_id": visitor,
            "started_at": t(start),
            "url": "https://x/",
        }
        if end:
            r["ended_at"] = t(end)
        return r

    def ev(eid, page, visitor, when):
        return {
            "type": "chat_event",
            "id": eid,
            "page_view_id": page,
            "visitor_id": visitor,
            "event_at": t(when),
            "event": "started",
        }

    def conv(cid, agent, started, channel="web_chat"):
        r = {"type": "conversation", "id": cid, "channel": channel, "queued_at": t("06:00")}
        if agent:
            r["agent_id"] = agent
        if started:
            r["started_at"] = t(started)
        return r

    return [
        {"type": "agent", "id": "a1", "soft_limit": 2},
        {"type": "agent", "id": "a2", "soft_limit": 2},
        {
            "type": "presence",
            "id": "s1",
            "agent_id": "a1",
            "changed_at": t("08:00"),
            "status": "available",
        },
        {
            "type": "presence",
            "id": "s2",
            "agent_id": "a1",
            "changed_at": t("09:00"),
            "status": "away",
        },
        conv("c1", "a1", "08:30"),  # available: fine
        conv("c2", "a1", "09:30"),  # away
        conv("c3", "a2", "08:30"),  # a2 has no presence at all
        conv("c4", None, None),  # never started: not counted
        conv("c5", "a1", "07:00", "email"),  # before a1's first presence
        conv("c6", "a1", "08:00"),  # exactly when a1 became available: fine
        pv("p1", "v1", "10:00", "10:10"),
        ev("e1", "p1", "v1", "09:59"),  # before its page view: clock gap
        pv("p2", "v2", "10:00", "10:10"),
        ev("e2", "p2", "v2", "10:11"),  # after the recorded end: clock gap
        pv("p3", "v3", "10:00"),
        ev("e3", "p3", "v3", "10:20"),  # end inferred from it: no gap
        pv("p4", "v3", "11:00"),  # no end: ends at its event
        ev("e4", "p4", "v3", "11:00"),  # at the start: inside
        pv("p5", "v4", "12:00"),  # no end, no event: +30 min
    ]


def test_quality_numbers(tmp_path, lab):
    lab.load(write_jsonl(tmp_path / "q.jsonl", _fixture()))
    q = lab.quality()
    assert q.pages_without_end == 3
    assert q.conversations_agent_unavailable == 3
    assert sorted(q.unavailable_conversations["conversation_id"]) == ["c2", "c3", "c5"]
    assert q.visitors_with_clock_gaps == 2
    assert q.clock_gaps["visitor_id"].tolist() == ["v1", "v2"]
    assert q.counts["page_views"] == 5 and q.counts["conversations"] == 6
    assert q.visits == 4
    assert q.span_start == dt.datetime(2026, 3, 2, 6, 0)
    assert q.span_end == dt.datetime(2026, 3, 2, 12, 30)  # p5's inferred end
    d = q.to_dict()
    assert d["span_start"] == "2026-03-02T06:00:00.000Z"
    assert d["conversations_agent_unavailable"] == 3
    text = str(q)
    assert "pages whose end was not recorded: 3 of 5" in text
    assert "not available: 3 of 6" in text
    assert "clock gaps (events outside their page view): 2" in text
    assert q.counts_frame.set_index("table")["rows"]["agents"] == 2


def test_quality_of_an_empty_database(lab):
    q = lab.quality()
    assert q.span_start is None and q.visits == 0 and q.pages_without_end == 0
    assert "time span: - to -" in str(q)
