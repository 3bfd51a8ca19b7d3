"""Generated records follow the schema: ids, references, enums, types, time order."""

from __future__ import annotations

import itertools
import re
from datetime import datetime

import pytest

from engage_lab.data import schema

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


@pytest.fixture(params=["live_world", "messaging_world"])
def world(request):
    return request.getfixturevalue(request.param)


def test_every_file_is_a_schema_table_with_valid_records(world):
    assert set(world.tables) <= set(schema.TABLES_BY_NAME)
    checked = 0
    for name, records in world.tables.items():
        table = schema.TABLES_BY_NAME[name]
        fields = {schema.raw_field(table, c): c for c in schema.raw_columns(table)}
        for rec in records:
            assert rec["type"] == table.record_type
            assert set(rec) - {"type"} <= set(fields), (name, set(rec) - set(fields))
            for field, col in fields.items():
                if col.required:
                    assert rec.get(field) is not None, (name, field)
                if field not in rec:
                    continue
                value = rec[field]
                assert value is not None, (name, field)  # absent fields are omitted
                if col.sql_type == "TIMESTAMP":
                    assert TS.match(value), (name, field, value)
                elif col.sql_type == "BOOLEAN":
                    assert isinstance(value, bool)
                elif col.sql_type in ("INTEGER", "BIGINT"):
                    assert isinstance(value, int) and not isinstance(value, bool)
                elif col.sql_type == "VARCHAR":
                    assert isinstance(value, str)
                elif col.sql_type == "VARCHAR[]":
                    assert isinstance(value, list) and all(isinstance(v, str) for v in value)
                allowed = schema.ENUMS.get((name, col.name))
                if allowed is not None:
                    assert value in allowed, (name, field, value)
            checked += 1
    assert checked > 1000


def test_ids_are_unique_within_type_and_prefixed_by_the_seed(world):
    seed = world.summary.seed
    for name, records in world.tables.items():
        ids = [r["id"] for r in records]
        assert len(ids) == len(set(ids)), name
        assert all(i.startswith(f"s{seed}-") for i in ids), name


def test_every_reference_resolves(world):
    ids = {name: {r["id"] for r in recs} for name, recs in world.tables.items()}
    refs = [
        ("page_views", "visitor_id", "visitors"),
        ("var_changes", "page_view_id", "page_views"),
        ("identities", "visitor_id", "visitors"),
        ("threads", "identity_id", "identities"),
        ("presence", "agent_id", "agents"),
        ("conversations", "agent_id", "agents"),
    ]
    for table, field, target in refs:
        for rec in world[table]:
            if table == "conversations" and field not in rec:
                # a web chat no agent ever took (ended unserved, or closed while waiting)
                assert rec["channel"] == "web_chat" and "started_at" not in rec
                continue
            assert rec[field] in ids[target], (table, field, rec[field])
    # And the references the schema declares are among those checked.
    for table in schema.TABLES:
        for col in table.columns:
            if col.references and table.name in world.tables and col.name != "page_view_id":
                assert (table.name, col.name, col.references) in refs


def test_page_views_end_after_they_start_and_var_changes_fall_inside(world):
    pages = {r["id"]: r for r in world["page_views"]}
    assert all(ms(p["ended_at"]) > ms(p["started_at"]) for p in pages.values() if "ended_at" in p)
    inside = 0
    for change in world["var_changes"]:
        page = pages[change["page_view_id"]]
        at = ms(change["changed_at"])
        assert at >= ms(page["started_at"])
        if "ended_at" in page:
            assert at < ms(page["ended_at"])
            inside += 1
    assert inside > 100


def test_a_visitors_page_views_do_not_overlap(world):
    by_visitor: dict[str, list[dict]] = {}
    for p in world["page_views"]:
        by_visitor.setdefault(p["visitor_id"], []).append(p)
    for pages in by_visitor.values():
        pages.sort(key=lambda p: p["started_at"])
        for before, after in itertools.pairwise(pages):
            if "ended_at" in before:
                assert ms(after["started_at"]) >= ms(before["ended_at"])


def test_conversations_and_threads_are_in_time_order(world):
    for c in world["conversations"]:
        if "started_at" in c:
            assert ms(c["queued_at"]) <= ms(c["started_at"]) < ms(c["ended_at"])
        elif "ended_at" in c:  # a web chat that ended while waiting
            assert c["channel"] == "web_chat" and ms(c["queued_at"]) <= ms(c["ended_at"])
    for t in world["threads"]:
        for later in ("locked_at", "closed_at"):
            if later in t:
                assert ms(t[later]) > ms(t["opened_at"])


def test_pages_whose_end_was_not_recorded_are_last_pages_of_a_visit(live_world):
    pages = sorted(live_world["page_views"], key=lambda p: (p["visitor_id"], p["started_at"]))
    unrecorded = 0
    for page, nxt in zip(pages, [*pages[1:], None], strict=True):
        if "ended_at" in page:
            continue
        unrecorded += 1
        if nxt is not None and nxt["visitor_id"] == page["visitor_id"]:
            assert ms(nxt["started_at"]) - ms(page["started_at"]) > 24 * 3600 * 1000
    assert unrecorded > 20


def test_source_and_maintenance_window(live_world):
    (source,) = live_world["source"]
    seed = live_world.summary.seed
    assert source == {"type": "source", "id": f"s{seed}-src-1", "mode": "live_chat",
                      "timezone": "Europe/Paris", "seed": str(seed)}  # fmt: skip
    statuses = [(r["status"], ms(r["changed_at"])) for r in live_world["source_status"]]
    assert [s for s, _ in statuses] == ["active", "maintenance", "active"]
    begin, end = statuses[1][1], statuses[2][1]
    assert 29 * 60_000 < end - begin < 91 * 60_000
    offset = {v["id"]: v["clock_offset_ms"] for v in live_world["visitors"]}
    server_starts = [
        ms(p["started_at"]) - offset[p["visitor_id"]] for p in live_world["page_views"]
    ]
    assert not [t for t in server_starts if begin <= t < end]
    assert [t for t in server_starts if t < begin] and [t for t in server_starts if t >= end]
