"""The shipped samples (data/sample/, data/sample-messaging/) are generated worlds:
reproducible from the command in their README, internally consistent and complete.

These checks read the JSON Lines directly (not through the loader), so they hold whatever
the loader does; the notebook tests cover the loaded side.
"""

from __future__ import annotations

import collections
import itertools
import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from engage_lab.data import schema
from engage_lab.world import generate_world

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = {"live_chat": ROOT / "data" / "sample", "messaging": ROOT / "data" / "sample-messaging"}
ISO_MS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)"
DECISIONS = {
    "trigger_activated",
    "trigger_executed",
    "item_shown",
    "button_shown",
    "invitation_shown",
    "chat_shown",
}


def ms(value: str | int) -> int:
    """Epoch ms of a sample timestamp: epoch ms, or ISO 8601 with ms and a zone."""
    if isinstance(value, int):
        return value
    assert re.fullmatch(ISO_MS, value), f"not ISO with milliseconds and a zone: {value}"
    return round(datetime.fromisoformat(value).timestamp() * 1000)


def read(folder: Path) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = collections.defaultdict(list)
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            out[record["type"]].append(record)
    return out


@pytest.fixture(scope="module", params=sorted(SAMPLES))
def mode(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def records(mode) -> dict[str, list[dict]]:
    return read(SAMPLES[mode])


@pytest.fixture(scope="module")
def by_id(records) -> dict[str, dict[str, dict]]:
    return {kind: {r["id"]: r for r in rows} for kind, rows in records.items()}


def generate_command(folder: Path) -> list[str]:
    """The ``engage-lab generate`` arguments written in the sample's README."""
    text = (folder / "README.md").read_text(encoding="utf-8")
    (line,) = [x for x in text.splitlines() if "engage-lab generate" in x]
    return line.split()[2:]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_regenerating_gives_the_same_bytes(name, tmp_path, monkeypatch):
    folder = SAMPLES[name]
    args = generate_command(folder)
    opts = dict(zip(args[::2], args[1::2], strict=False))
    assert opts["--out"] == str(folder.relative_to(ROOT)) and opts["--mode"] == name
    monkeypatch.chdir(ROOT)  # the README's paths are relative to the project root
    generate_world(
        tmp_path,
        visitors=int(opts["--visitors"]),
        seed=int(opts["--seed"]),
        mode=opts["--mode"],
        days=int(opts["--days"]),
        config=opts["--config"],
        progress=False,
    )
    made = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    shipped = {
        p.relative_to(folder): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and p.name != "README.md"
    }
    assert made.keys() == shipped.keys()
    for path in made:
        assert made[path] == shipped[path], f"{path} drifted: regenerate with the README command"


def test_readme_command_names_the_production_configuration(mode):
    args = generate_command(SAMPLES[mode])
    config = args[args.index("--config") + 1]
    assert config == f"data/configs/production-{mode.replace('_', '-')}.json"
    assert (ROOT / config).is_file()


def test_sample_is_small_with_jsonl_at_the_top_and_truth_beside(mode):
    folder = SAMPLES[mode]
    files = [p for p in folder.rglob("*") if p.is_file()]
    top = [p for p in files if p.parent == folder]
    assert {p.suffix for p in top} == {".jsonl", ".md"}
    assert all(p.parent in (folder, folder / "truth") for p in files)
    assert (folder / "truth" / "params.json").is_file()
    assert sum(p.stat().st_size for p in files) < 6_000_000


def test_every_record_type_is_present(records, mode):
    for table in schema.TABLES:
        if table.name == "threads" and mode == "live_chat":
            assert not records.get(table.record_type)  # threads exist only in messaging
            continue
        assert records.get(table.record_type), f"no {table.record_type} record"


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
            for r in records.get(table.record_type, []):
                if r.get(column.name) is not None:
                    assert r[column.name] in by_id[target.record_type], (table.name, r["id"])


def test_decision_events_fall_inside_their_page(records, by_id):
    pages = by_id["page_view"]
    for r in records["chat_event"]:
        page = pages[r["page_view_id"]]
        assert r["visitor_id"] == page["visitor_id"], r["id"]
        assert ms(r["event_at"]) >= ms(page["started_at"]), r["id"]
        if r["event"] in DECISIONS and page.get("ended_at") is not None:
            assert ms(r["event_at"]) < ms(page["ended_at"]), r["id"]


def test_no_page_runs_during_the_maintenance_window(records):
    statuses = sorted(records["source_status"], key=lambda r: ms(r["changed_at"]))
    windows = [
        (ms(a["changed_at"]), ms(b["changed_at"]))
        for a, b in itertools.pairwise(statuses)
        if a["status"] == "maintenance"
    ]
    assert windows
    offsets = {v["id"]: v.get("clock_offset_ms", 0) for v in records["visitor"]}
    started = {r["page_view_id"] for r in records["chat_event"] if r["event"] == "started"}
    pages = [p for p in records["page_view"] if p["id"] in started]
    assert pages
    for p in pages:  # server time = browser time - clock offset
        at = ms(p["started_at"]) - offsets[p["visitor_id"]]
        assert not any(lo <= at < hi for lo, hi in windows), p["id"]


def test_every_page_that_ran_has_one_started_event_at_its_start(records, by_id):
    started = [r for r in records["chat_event"] if r["event"] == "started"]
    per_page = collections.Counter(r["page_view_id"] for r in started)
    assert per_page and max(per_page.values()) == 1
    for r in started:
        assert r["event_at"] == by_id["page_view"][r["page_view_id"]]["started_at"], r["id"]
    decided = {r["page_view_id"] for r in records["chat_event"] if r["event"] in DECISIONS}
    assert decided <= set(per_page)


def test_chat_events_use_the_product_vocabulary(records, mode):
    events = records["chat_event"]
    kinds = {e["event"] for e in events}
    assert kinds <= set(schema.CHAT_EVENTS)
    assert {"started", "trigger_activated", "trigger_executed", "item_shown", "chat_shown",
            "chat_engaged", "message_sent", "message_received"} <= kinds  # fmt: skip
    if mode == "live_chat":
        assert "chat_closed" in kinds
        assert {e.get("mode") for e in events} == {None, "online", "offline"}
    for e in events:
        if e.get("trigger_id"):
            assert e["trigger_human_id"] == f"{e['trigger_label']} #{e['trigger_id']}"
        if e.get("item_id"):
            assert e["item_human_id"] == f"{e['item_label']} #{e['item_id']}"
    gated = [e for e in events if "server_probability" in e and "mode" in e]
    assert gated
    # the look used: offline only for a refusal in live chat (messaging: always online)
    online = [e["draw"] < e["server_probability"] or mode == "messaging" for e in gated]
    assert online == [e["mode"] == "online" for e in gated]
    assert any(e["draw"] >= e["server_probability"] for e in gated)  # refusals are there
    assert all(e["event"] == "chat_shown" for e in events if "server_probability" in e
               and "mode" not in e)  # fmt: skip


def test_engagements_become_web_chats(records, by_id, mode):
    engaged = [e for e in records["chat_event"] if e["event"] == "chat_engaged"]
    web = [c for c in records["conversation"] if c["channel"] == "web_chat"]
    assert engaged and len(web) == len(engaged)
    for c in web:
        page = by_id["page_view"][c["page_view_id"]]
        assert page["visitor_id"] == c["visitor_id"]
        if c.get("outcome") is not None:
            # unserved or closed while waiting: no agent ever took it
            assert (c["outcome"] == "served") == (c.get("agent_id") is not None)
    outcomes = {c.get("outcome") for c in web}
    if mode == "live_chat":
        assert {"served", "closed_by_visitor"} <= outcomes
    else:
        assert "served" in outcomes


def test_agents_presence_and_background_conversations(records):
    assert all(a["soft_limit"] > 0 for a in records["agent"])
    assert {p["status"] for p in records["presence"]} == {"available", "away", "offline"}
    channels = {c["channel"] for c in records["conversation"]}
    assert channels >= {"web_chat", "email", "phone"}
    for c in records["conversation"]:
        stamps = [ms(c[k]) for k in ("queued_at", "started_at", "ended_at") if c.get(k)]
        assert stamps == sorted(stamps), c["id"]
