"""Fixtures for the loader tests: small histories written into tmp_path."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest

import engage_lab as el
from engage_lab.data.sqltext import ident, sql


def base_records() -> list[dict]:
    """A small valid history: every record type, consistent references."""
    return copy.deepcopy(
        [
            {"type": "source", "id": "src1", "mode": "live_chat", "timezone": "UTC", "seed": "7"},
            {
                "type": "source_status",
                "id": "st1",
                "changed_at": "2026-03-04T02:00:00Z",
                "status": "maintenance",
            },
            {"type": "visitor", "id": "v1", "clock_offset_ms": 0, "country": "FR"},
            {
                "type": "page_view",
                "id": "pv1",
                "visitor_id": "v1",
                "started_at": "2026-03-02T09:00:00Z",
                "ended_at": "2026-03-02T09:05:00Z",
                "url": "https://shop.example/cart?step=1#top",
                "embedded": False,
                "page_change": False,
                "placeholders": ["btn-fixed"],
            },
            {
                "type": "page_view",
                "id": "pv2",
                "visitor_id": "v1",
                "started_at": "2026-03-02T09:06:00Z",
                "url": "https://shop.example/",
            },
            {
                "type": "var_change",
                "id": "vc1",
                "page_view_id": "pv1",
                "name": "custom_cart",
                "value": 129.5,
                "changed_at": "2026-03-02T09:01:00Z",
            },
            {
                "type": "identity",
                "id": "id1",
                "visitor_id": "v1",
                "uuid": "cust-7",
                "signed": True,
                "set_at": "2026-03-02T09:02:00Z",
            },
            {
                "type": "thread",
                "id": "th1",
                "identity_id": "id1",
                "opened_at": "2026-03-01T10:00:00Z",
                "identity_initiated_thread": True,
            },
            {
                "type": "chat_event",
                "id": "ce1",
                "page_view_id": "pv2",
                "visitor_id": "v1",
                "event_at": "2026-03-02T09:07:30Z",
                "event": "trigger_executed",
                "trigger_id": "t1",
                "mode": "online",
                "server_probability": 1.0,
            },
            {"type": "agent", "id": "a1", "name": "Ana", "soft_limit": 3},
            {
                "type": "presence",
                "id": "p1",
                "agent_id": "a1",
                "changed_at": "2026-03-02T08:00:00Z",
                "status": "available",
            },
            {
                "type": "conversation",
                "id": "c1",
                "agent_id": "a1",
                "channel": "web_chat",
                "visitor_id": "v1",
                "page_view_id": "pv2",
                "queued_at": "2026-03-02T09:07:40Z",
                "started_at": "2026-03-02T09:08:00Z",
                "ended_at": "2026-03-02T09:20:00Z",
                "outcome": "served",
            },
        ]
    )


def write_jsonl(path: Path, records: list) -> Path:
    """Write records (dicts, or raw line strings) one per line."""
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def db_digest(lab: el.Lab) -> dict[str, str]:
    """md5 of every row of every table (sorted), per table; catches any change."""
    names = [
        r[0]
        for r in lab.con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT temporary ORDER BY 1"
        ).fetchall()
    ]
    out = {}
    for name in names:
        query = sql(
            "SELECT md5(coalesce(string_agg(CAST(r_ AS VARCHAR), chr(10) "
            "ORDER BY CAST(r_ AS VARCHAR)), '')) FROM {t} r_",
            t=ident(name),
        )
        (out[name],) = lab.con.execute(query).fetchone()
    return out


@pytest.fixture
def lab(tmp_path):
    """An empty lab in tmp_path."""
    with el.open(tmp_path / "t.duckdb") as opened:
        yield opened


@pytest.fixture(scope="session")
def base_db(tmp_path_factory) -> Path:
    """A database file holding ``base_records`` (load L0001 from base.jsonl), built once."""
    folder = tmp_path_factory.mktemp("base")
    path = folder / "base.duckdb"
    with el.open(path) as lab:
        lab.load(write_jsonl(folder / "base.jsonl", base_records()))
    return path


@pytest.fixture
def loaded(tmp_path, base_db):
    """A lab holding ``base_records`` (a copy of ``base_db``)."""
    shutil.copyfile(base_db, tmp_path / "t.duckdb")
    with el.open(tmp_path / "t.duckdb") as opened:
        yield opened
