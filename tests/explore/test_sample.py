"""The shipped sample (data/sample/) is reproducible, internally consistent and complete.

These checks read the JSON Lines directly (not through the loader), so they hold whatever
the loader does; the notebook tests cover the loaded side.
"""

from __future__ import annotations

import collections
import itertools
import json
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from engage_lab.data import schema

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
ISO_MS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)"


def ms(value: str | int) -> int:
    """Epoch ms of a sample timestamp: epoch ms, or ISO 8601 with ms and a zone."""
    if isinstance(value, int):
        return value
    assert re.fullmatch(ISO_MS, value), f"not ISO with milliseconds and a zone: {value}"
    return round(datetime.fromisoformat(value).timestamp() * 1000)


@pytest.fixture(scope="module")
def records() -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = collections.defaultdict(list)
    for path in sorted(SAMPLE.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            out[record["type"]].append(record)
    return out


@pytest.fixture(scope="module")
def by_id(records) -> dict[str, dict[str, dict]]:
    return {kind: {r["id"]: r for r in rows} for kind, rows in records.items()}


def test_regenerating_gives_the_same_bytes(tmp_path):
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "make_sample.py"), "--out", str(tmp_path)],
        check=True,
    )
    made = {p.name: p.read_bytes() for p in tmp_path.glob("*.jsonl")}
    shipped = {p.name: p.read_bytes() for p in SAMPLE.glob("*.jsonl")}
    assert made.keys() == shipped.keys()
    for name in made:
        assert made[name] == shipped[name], f"{name} drifted: run tools/make_sample.py"


def test_sample_is_small_and_only_top_level_jsonl():
    files = [p for p in SAMPLE.rglob("*") if p.is_file()]
    assert files and all(p.parent == SAMPLE and p.suffix == ".jsonl" for p in files)
    assert sum(p.stat().st_size for p in files) < 400_000


def test_every_record_type_and_raw_field_is_exercised(records):
    for table in schema.TABLES:
        rows = records.get(table.record_type, [])
        assert rows, f"no {table.record_type} record"
        keys = set().union(*(r.keys() for r in rows))
        for column in table.columns:
            if not column.raw:
                continue
            field = "id" if column.name == table.id_column else column.name
            assert field in keys, f"{table.record_type}.{field} never used"
            assert any(r.get(field) is not None for r in rows), f"{field} always null"


def test_ids_unique_and_times_have_milliseconds(records):
    for kind, rows in records.items():
        ids = [r["id"] for r in rows]
        assert len(ids) == len(set(ids)), kind
        table = schema.table_for_record_type(kind)
        for column in table.columns:
            if column.sql_type == "TIMESTAMP":
                for r in rows:
                    if r.get(column.name) is not None:
                        ms(r[column.name])


def test_references_exist(records, by_id):
    visitors = by_id["visitor"]
    for kind in ("page_view", "chat_event", "identity", "conversation"):
        for r in records[kind]:
            if r.get("visitor_id") is not None:
                assert r["visitor_id"] in visitors, (kind, r["id"])
    for table in schema.TABLES:
        for column in table.columns:
            if column.references is None:
                continue
            target = next(t for t in schema.TABLES if t.name == column.references)
            for r in records[table.record_type]:
                if r.get(column.name) is not None:
                    assert r[column.name] in by_id[target.record_type], (table.name, r["id"])


def test_page_views_ordered_and_events_inside_their_page(records, by_id):
    pages = by_id["page_view"]
    per_visitor = collections.defaultdict(list)
    for page in pages.values():
        start = ms(page["started_at"])
        if page["ended_at"] is not None:
            assert ms(page["ended_at"]) > start, page["id"]
        per_visitor[page["visitor_id"]].append(page)
    for visits in per_visitor.values():
        visits.sort(key=lambda p: p["started_at"])
        for before, after in itertools.pairwise(visits):
            end = before["ended_at"] or before["started_at"]
            assert ms(end) <= ms(after["started_at"]), (before["id"], after["id"])
    for kind, stamp in (("chat_event", "event_at"), ("var_change", "changed_at")):
        for r in records[kind]:
            page = pages[r["page_view_id"]]
            assert ms(r[stamp]) >= ms(page["started_at"]), r["id"]
            if page["ended_at"] is not None:
                assert ms(r[stamp]) < ms(page["ended_at"]), r["id"]
            if kind == "chat_event":
                assert r["visitor_id"] == page["visitor_id"], r["id"]


def test_source_is_live_chat_with_a_maintenance_window(records):
    (source,) = records["source"]
    assert (source["mode"], source["timezone"]) == ("live_chat", "Europe/Paris")
    statuses = sorted(records["source_status"], key=lambda r: ms(r["changed_at"]))
    windows = [
        (ms(a["changed_at"]), ms(b["changed_at"]))
        for a, b in itertools.pairwise(statuses)
        if a["status"] == "maintenance"
    ]
    assert windows
    for r in records["page_view"] + records["chat_event"]:
        stamp = ms(r.get("started_at") or r["event_at"])
        assert not any(lo <= stamp < hi for lo, hi in windows), r["id"]


def test_visitors_visits_and_pages(records, by_id):
    assert len(records["visitor"]) == 40
    assert any(v.get("clock_offset_ms") for v in records["visitor"])
    pages = records["page_view"]
    assert all(p["embedded"] is False for p in pages)  # live chat: never embedded
    assert any(p["page_change"] for p in pages)
    assert any("btn-fixed-help" in p["placeholders"] for p in pages)
    assert any("path" not in p for p in pages) and any("path" in p for p in pages)
    paths = {p["url"].split("://", 1)[1].split("/", 1)[1].split("?")[0] for p in pages}
    for expected in ("", "cart", "checkout", "checkout/payment", "help", "pricing", "account"):
        assert expected in paths
    assert any(p.startswith("product/") for p in paths)
    starts = collections.defaultdict(list)
    for p in pages:
        starts[p["visitor_id"]].append(ms(p["started_at"]))
    gaps = [max(b - a for a, b in zip(sorted(s), sorted(s)[1:], strict=False)) for s in
            starts.values() if len(s) > 1]  # fmt: skip
    assert max(gaps) > 24 * 3_600_000  # a returning visitor: a new visit
    with_events = {r["page_view_id"] for r in records["chat_event"] + records["var_change"]}
    unended = [p["id"] for p in pages if p["ended_at"] is None]
    assert any(i in with_events for i in unended) and any(i not in with_events for i in unended)


def test_custom_variables_change_mid_page(records):
    values = collections.defaultdict(set)
    kinds = collections.defaultdict(set)
    for r in records["var_change"]:
        values[(r["page_view_id"], r["name"])].add(json.dumps(r["value"]))
        kinds[r["name"]].add(type(r["value"]).__name__)
    assert kinds["custom_cart_amount"] == {"float"}
    assert kinds["custom_logged_in"] == {"bool"}
    assert "str" in kinds["custom_plan"]
    changed = {name for (_, name), seen in values.items() if len(seen) > 1}
    assert {"custom_cart_amount", "custom_logged_in", "custom_plan"} <= changed


def test_identities_and_threads(records):
    identities = records["identity"]
    assert {i["signed"] for i in identities} == {True, False}
    assert any("uuid" not in i for i in identities)
    states = set()
    for t in records["thread"]:
        states.add("closed" if t.get("closed_at") else "locked" if t.get("locked_at") else "open")
    assert states == {"open", "locked", "closed"}


def test_chat_events_use_the_product_vocabulary(records, by_id):
    events = records["chat_event"]
    assert {e["event"] for e in events} == set(schema.CHAT_EVENTS)
    triggers = {"t-fixed-button", "t-cart-invite", "t-funnel-exit", "t-popup", "t-pricing-help"}
    assert {e["trigger_id"] for e in events if e.get("trigger_id")} == triggers
    assert {e["item_id"] for e in events if e.get("item_id")} == {
        "btn-fixed-help",
        "btn-chat",
        "inv-cart",
        "inv-popup",
    }
    assert {e.get("item_type") for e in events} == {None, "button", "invitation"}
    assert {e.get("mode") for e in events} == {None, "online", "offline"}
    continuation = [e for e in events if e.get("trigger_continuation")]
    assert continuation and all(e["event"] == "chat_shown" for e in continuation)
    gated = [e for e in events if "server_probability" in e]
    assert {e["server_probability"] for e in gated} == {0.0, 1.0}
    assert all((e["draw"] < e["server_probability"]) == (e["mode"] == "online") for e in gated)
    # a fixed button on a page without its placeholder: activated, never executed
    per_page = collections.defaultdict(list)
    for e in events:
        if e.get("trigger_id") == "t-fixed-button" and e["event"].startswith("trigger_"):
            per_page[e["page_view_id"]].append(e["event"])
    missing = [
        page
        for page, names in per_page.items()
        if "btn-fixed-help" not in by_id["page_view"][page]["placeholders"]
    ]
    assert missing and all(per_page[p] == ["trigger_activated"] for p in missing)


def test_agents_presence_and_conversations(records, by_id):
    assert 3 <= len(records["agent"]) <= 4
    assert all(a["soft_limit"] > 0 for a in records["agent"])
    assert {p["status"] for p in records["presence"]} == {"available", "away", "offline"}
    timeline = collections.defaultdict(list)
    for p in records["presence"]:
        timeline[p["agent_id"]].append((ms(p["changed_at"]), p["status"]))

    def status(agent: str, at: int) -> str:
        past = [s for t, s in sorted(timeline[agent]) if t <= at]
        return past[-1] if past else "offline"

    conversations = records["conversation"]
    assert {c["channel"] for c in conversations} >= {"web_chat", "email", "phone"}
    web = [c for c in conversations if c["channel"] == "web_chat"]
    assert {c["outcome"] for c in web} == set(schema.CONVERSATION_OUTCOMES)
    for c in conversations:
        stamps = [ms(c[k]) for k in ("queued_at", "started_at", "ended_at") if c.get(k)]
        assert stamps == sorted(stamps), c["id"]
        if c.get("started_at"):
            assert status(c["agent_id"], ms(c["started_at"])) == "available", c["id"]
        if c["channel"] == "web_chat":
            page = by_id["page_view"][c["page_view_id"]]
            assert page["visitor_id"] == c["visitor_id"]
            assert (c["outcome"] == "unserved") == (c.get("agent_id") is None)


def test_timestamps_come_in_every_accepted_form(records):
    forms = set()
    for kind, rows in records.items():
        table = schema.table_for_record_type(kind)
        for column in table.columns:
            if column.sql_type == "TIMESTAMP":
                for r in rows:
                    value = r.get(column.name)
                    if isinstance(value, int):
                        forms.add("epoch ms")
                    elif isinstance(value, str):
                        forms.add("utc" if value.endswith("Z") else "offset")
    assert forms == {"epoch ms", "utc", "offset"}
