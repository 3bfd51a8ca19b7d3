"""A tiny hand-written history in DuckDB, built from the schema's columns.

The numbers the exploration tests assert are computed by hand from these rows (see the
comments next to each assertion), not read back from the implementation.
"""

from __future__ import annotations

import duckdb
import pytest

from engage_lab.explore import create_tables

ROWS = {
    "source": [("src", "live_chat", "Europe/Paris", "7")],
    "agents": [("a1", "Ana", 2), ("a2", "Bruno", 3)],
    "presence": [
        ("p1", "a1", "2026-03-02 10:00:00", "available"),
        ("p2", "a1", "2026-03-02 10:30:00", "away"),
        ("p3", "a1", "2026-03-02 10:45:00", "available"),
        ("p4", "a1", "2026-03-02 11:00:00", "offline"),
        ("p5", "a2", "2026-03-02 10:15:00", "available"),
        ("p6", "a2", "2026-03-02 11:30:00", "offline"),
    ],
}
PAGE_VIEWS = [
    # id, visitor, visit, started_at, ended_at (UTC; Paris is UTC+1 in March 2026)
    ("pv1", "v1", "A", "2026-03-02 08:10:00", "2026-03-02 08:11:00"),  # Mon 09:10 local, 60 s
    ("pv2", "v1", "A", "2026-03-02 08:11:00", "2026-03-02 08:13:30"),  # 150 s
    ("pv3", "v1", "A", "2026-03-02 08:14:00", None),  # end inferred: last event 08:14:45
    ("pv4", "v2", "B", "2026-03-02 23:30:00", "2026-03-02 23:30:10"),  # Tue 00:30 local, 10 s
    ("pv5", "v3", "C", "2026-03-08 12:00:00", None),  # Sun 13:00 local, no event: 1800 s
]
VAR_CHANGES = [
    ("vc1", "pv2", "custom_cart", "10", "2026-03-02 08:11:10"),
    ("vc2", "pv2", "custom_cart", "25.5", "2026-03-02 08:12:00"),
    ("vc3", "pv3", "custom_cart", "25.5", "2026-03-02 08:14:45"),
    ("vc4", "pv1", "custom_logged_in", "false", "2026-03-02 08:10:01"),
    ("vc5", "pv1", "custom_logged_in", "true", "2026-03-02 08:10:30"),
    ("vc6", "pv4", "custom_plan", '"basic"', "2026-03-02 23:30:01"),
    ("vc7", "pv4", "custom_plan", "null", "2026-03-02 23:30:05"),
]
CONVERSATIONS = [
    # id, agent, channel, queued, started, ended, outcome
    ("c1", "a1", "phone", "2026-03-02 10:00:00", "2026-03-02 10:00:00", "2026-03-02 10:20:00",
     None),
    ("c2", "a2", "web_chat", "2026-03-02 10:19:00", "2026-03-02 10:20:00", "2026-03-02 10:40:00",
     "served"),
    ("c3", "a1", "email", "2026-03-02 10:35:00", "2026-03-02 10:35:00", "2026-03-02 10:50:00",
     None),
    ("c4", None, "web_chat", "2026-03-02 10:41:00", None, "2026-03-02 10:49:00", "unserved"),
]  # fmt: skip
CHAT_EVENTS = [
    # id, page view, visitor, event_at, event, trigger, mode
    ("ce1", "pv3", "v1", "2026-03-02 08:14:20", "started", None, None),
    ("ce2", "pv1", "v1", "2026-03-02 08:10:05", "trigger_activated", "t1", "online"),
    ("ce3", "pv1", "v1", "2026-03-02 08:10:05.005", "trigger_executed", "t1", "online"),
    ("ce4", "pv4", "v2", "2026-03-02 23:30:02", "trigger_activated", "t2", "offline"),
]


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    create_tables(con)
    con.executemany("insert into source values (?, ?, ?, ?)", ROWS["source"])
    con.executemany("insert into agents values (?, ?, ?)", ROWS["agents"])
    con.executemany("insert into presence values (?, ?, ?, ?)", ROWS["presence"])
    con.executemany(
        "insert into page_views (page_view_id, visitor_id, visit_id, started_at, ended_at, url)"
        " values (?, ?, ?, ?, ?, 'https://shop.example/')",
        PAGE_VIEWS,
    )
    con.executemany(
        "insert into var_changes (var_change_id, page_view_id, name, value, changed_at)"
        " values (?, ?, ?, ?, ?)",
        VAR_CHANGES,
    )
    con.executemany(
        "insert into chat_events (chat_event_id, page_view_id, visitor_id, event_at, event,"
        " trigger_id, mode) values (?, ?, ?, ?, ?, ?, ?)",
        CHAT_EVENTS,
    )
    con.executemany(
        "insert into conversations (conversation_id, agent_id, channel, queued_at, started_at,"
        " ended_at, outcome) values (?, ?, ?, ?, ?, ?, ?)",
        CONVERSATIONS,
    )
    yield con
    con.close()
