"""Derived columns: visits, inferred page ends, clock offsets."""

from __future__ import annotations

import pandas as pd

from tests.data.conftest import write_jsonl


def pv(pid: str, start: str, end: str | None = None, visitor: str = "v1") -> dict:
    record = {
        "type": "page_view",
        "id": pid,
        "visitor_id": visitor,
        "started_at": f"2026-03-02T{start}Z",
        "url": f"https://x.example/{pid}",
    }
    if end is not None:
        record["ended_at"] = f"2026-03-02T{end}Z"
    return record


def event(eid: str, page: str, instant: str, visitor: str = "v1") -> dict:
    return {
        "type": "chat_event",
        "id": eid,
        "page_view_id": page,
        "visitor_id": visitor,
        "event_at": f"2026-03-02T{instant}Z",
        "event": "started",
    }


def visits(lab) -> dict[str, str]:
    return dict(lab.con.execute("select page_view_id, visit_id from page_views").fetchall())


def ends(lab) -> dict[str, tuple]:
    rows = lab.con.execute("select page_view_id, ended_at, end_recorded from page_views")
    return {r[0]: (pd.Timestamp(r[1]).strftime("%H:%M:%S"), r[2]) for r in rows.fetchall()}


def test_visit_split_by_the_idle_gap(tmp_path, lab):
    lab.load(
        write_jsonl(
            tmp_path / "a.jsonl",
            [
                pv("p1", "08:00:00", "08:10:00"),
                pv("p2", "08:40:00", "08:50:00"),  # 30 min after p1 ended: same visit at 30m
                pv("p3", "09:20:01", "09:30:00"),  # 30 min 1 s after p2 ended: new visit
                pv("q1", "08:00:00", "08:01:00", visitor="v2"),
            ],
        ),
        visit_idle="30m",
    )
    assert visits(lab) == {"p1": "p1", "p2": "p1", "p3": "p3", "q1": "q1"}


def test_default_idle_is_24h(tmp_path, lab):
    lab.load(
        write_jsonl(
            tmp_path / "a.jsonl",
            [pv("p1", "00:00:00", "00:10:00"), pv("p2", "23:00:00", "23:10:00")],
        )
    )
    assert visits(lab) == {"p1": "p1", "p2": "p1"}
    assert lab.loads()["visit_idle_ms"][0] == 86_400_000


def test_visits_rederived_when_a_later_load_fills_a_gap(tmp_path, lab):
    lab.load(
        write_jsonl(
            tmp_path / "a.jsonl",
            [pv("p1", "08:00:00", "08:10:00"), pv("p3", "09:00:00", "09:10:00")],
        ),
        visit_idle="30m",
    )
    assert visits(lab) == {"p1": "p1", "p3": "p3"}
    lab.load(write_jsonl(tmp_path / "b.jsonl", [pv("p2", "08:30:00", "08:40:00")]))
    assert visits(lab) == {"p1": "p1", "p2": "p1", "p3": "p1"}
    lab.unload("L0002")
    assert visits(lab) == {"p1": "p1", "p3": "p3"}


def test_a_later_page_view_starting_earlier_moves_the_visit_id(tmp_path, lab):
    lab.load(write_jsonl(tmp_path / "a.jsonl", [pv("p2", "08:30:00", "08:40:00")]))
    lab.load(write_jsonl(tmp_path / "b.jsonl", [pv("p1", "08:00:00", "08:10:00")]))
    assert visits(lab) == {"p1": "p1", "p2": "p1"}


def test_another_idle_rederives_every_visit(tmp_path, lab):
    lab.load(
        write_jsonl(
            tmp_path / "a.jsonl",
            [pv("p1", "08:00:00", "08:10:00"), pv("p2", "09:00:00", "09:10:00")],
        )
    )
    assert visits(lab) == {"p1": "p1", "p2": "p1"}
    lab.load(
        write_jsonl(tmp_path / "b.jsonl", [pv("z", "12:00:00", "12:01:00", "v9")]), visit_idle="30m"
    )
    assert visits(lab) == {"p1": "p1", "p2": "p2", "z": "z"}
    # a load that does not name an idle keeps the database's
    lab.load(write_jsonl(tmp_path / "c.jsonl", [pv("y", "12:00:00", "12:01:00", "v8")]))
    assert visits(lab)["p2"] == "p2"
    assert list(lab.loads()["visit_idle_ms"]) == [86_400_000, 1_800_000, 1_800_000]


def test_inferred_end_is_the_last_event_or_30_minutes(tmp_path, lab):
    lab.load(
        write_jsonl(
            tmp_path / "a.jsonl",
            [
                pv("p1", "08:00:00"),
                pv("p2", "10:00:00"),
                pv("p3", "11:00:00", "11:00:05"),
                event("e1", "p1", "08:03:00"),
                event("e2", "p1", "08:07:30"),
                event("e3", "p3", "11:20:00"),
                {
                    "type": "var_change",
                    "id": "x1",
                    "page_view_id": "p1",
                    "name": "custom_a",
                    "value": 1,
                    "changed_at": "2026-03-02T08:05:00Z",
                },
            ],
        )
    )
    assert ends(lab) == {
        "p1": ("08:07:30", False),
        "p2": ("10:30:00", False),
        "p3": ("11:00:05", True),
    }


def test_inferred_end_recomputed_when_a_later_load_adds_events(tmp_path, lab):
    lab.load(
        write_jsonl(tmp_path / "a.jsonl", [pv("p1", "08:00:00"), event("e1", "p1", "08:03:00")])
    )
    assert ends(lab)["p1"] == ("08:03:00", False)
    lab.load(write_jsonl(tmp_path / "b.jsonl", [event("e2", "p1", "08:12:00")]))
    assert ends(lab)["p1"] == ("08:12:00", False)
    lab.unload("L0002")
    assert ends(lab)["p1"] == ("08:03:00", False)


def test_inferred_end_moves_visits(tmp_path, lab):
    # p1's end is inferred: +30 min = 08:30, so p2 (09:05) is 35 min later: new visit at 30m;
    # an event at 08:40 moves p1's end and joins the visits.
    lab.load(
        write_jsonl(tmp_path / "a.jsonl", [pv("p1", "08:00:00"), pv("p2", "09:05:00", "09:06:00")]),
        visit_idle="30m",
    )
    assert visits(lab) == {"p1": "p1", "p2": "p2"}
    lab.load(write_jsonl(tmp_path / "b.jsonl", [event("e1", "p1", "08:40:00")]))
    assert visits(lab) == {"p1": "p1", "p2": "p1"}


def test_clock_offset_is_subtracted_from_browser_times(tmp_path, lab):
    lab.load(
        write_jsonl(
            tmp_path / "a.jsonl",
            [
                {"type": "visitor", "id": "v1", "clock_offset_ms": 60_000},
                pv("p1", "08:01:00", "08:11:00"),
                event("e1", "p1", "08:02:00"),
                {
                    "type": "var_change",
                    "id": "x1",
                    "page_view_id": "p1",
                    "name": "custom_a",
                    "value": 1,
                    "changed_at": "2026-03-02T08:03:00Z",
                },
                {
                    "type": "identity",
                    "id": "i1",
                    "visitor_id": "v1",
                    "set_at": "2026-03-02T08:04:00Z",
                },
                pv("q1", "08:01:00", "08:11:00", visitor="v2"),
                {"type": "agent", "id": "a1", "soft_limit": 1},
                {
                    "type": "conversation",
                    "id": "c1",
                    "agent_id": "a1",
                    "channel": "web_chat",
                    "visitor_id": "v1",
                    "page_view_id": "p1",
                    "queued_at": "2026-03-02T08:05:00Z",
                },
            ],
        )
    )
    one = lab.con.execute(
        "select strftime(started_at, '%H:%M:%S'), strftime(ended_at, '%H:%M:%S') "
        "from page_views order by page_view_id"
    ).fetchall()
    assert one == [("08:00:00", "08:10:00"), ("08:01:00", "08:11:00")]
    times = lab.con.execute(
        "select (select strftime(event_at, '%H:%M:%S') from chat_events),"
        " (select strftime(changed_at, '%H:%M:%S') from var_changes),"
        " (select strftime(set_at, '%H:%M:%S') from identities),"
        " (select strftime(queued_at, '%H:%M:%S') from conversations)"
    ).fetchone()
    # browser times shift; the server's conversation time does not
    assert times == ("08:01:00", "08:02:00", "08:03:00", "08:05:00")
    # a later load of the same visitor's records uses the stored offset
    lab.load(write_jsonl(tmp_path / "b.jsonl", [pv("p2", "09:01:00", "09:02:00")]))
    (start,) = lab.con.execute(
        "select strftime(started_at, '%H:%M:%S') from page_views where page_view_id = 'p2'"
    ).fetchone()
    assert start == "09:00:00"
    # and reloading the first file (raw times) is recognised as identical
    assert lab.load(tmp_path / "a.jsonl").rows == 0
