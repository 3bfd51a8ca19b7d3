"""The exploration functions on the shipped samples (generated worlds, live chat and
messaging), loaded by ``el.open(...).load``.

Each expected number is recomputed here from the raw JSON Lines in plain Python
(zoneinfo, sorting, counting), independently of the SQL under test.
"""

from __future__ import annotations

import collections
import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import engage_lab as el
from engage_lab import explore
from engage_lab.data import schema

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = {"live_chat": ROOT / "data" / "sample", "messaging": ROOT / "data" / "sample-messaging"}
PARIS = ZoneInfo("Europe/Paris")


def stamp(value: str | int) -> datetime:
    """A sample timestamp (ISO 8601 with a zone, or epoch milliseconds) as aware UTC."""
    if isinstance(value, int):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    return datetime.fromisoformat(value).astimezone(UTC)


@pytest.fixture(scope="module", params=sorted(SAMPLES))
def sample(request) -> Path:
    return SAMPLES[request.param]


@pytest.fixture(scope="module")
def raw(sample) -> dict[str, list[dict]]:
    out = collections.defaultdict(list)
    for path in sorted(sample.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            out[record["type"]].append(record)
    return out


@pytest.fixture(scope="module")
def lab(sample, tmp_path_factory):
    lab = el.open(tmp_path_factory.mktemp("sample") / "sample.duckdb")
    lab.load(sample, progress=False)
    yield lab
    lab.close()


@pytest.fixture(scope="module")
def pages(raw) -> list[dict]:
    """Page views with server-time starts (the browser clock offset removed)."""
    offsets = {v["id"]: v.get("clock_offset_ms") or 0 for v in raw["visitor"]}
    out = []
    for page in raw["page_view"]:
        shift = timedelta(milliseconds=offsets[page["visitor_id"]])
        end = stamp(page["ended_at"]) - shift if page.get("ended_at") else None
        out.append({**page, "start": stamp(page["started_at"]) - shift, "end": end})
    return out


def test_summary_counts_match_the_files(lab, raw):
    summary = explore.loaded_summary(lab).set_index("table")
    for record_type, rows in raw.items():
        table = schema.table_for_record_type(record_type).name
        assert summary.loc[table, "rows"] == len(rows), table


def test_traffic_by_local_hour_and_weekday(lab, pages):
    hours = collections.Counter(p["start"].astimezone(PARIS).hour for p in pages)
    days = collections.Counter(p["start"].astimezone(PARIS).isoweekday() for p in pages)
    by_hour = explore.traffic_by_hour(lab).set_index("hour")["page_views"]
    by_day = explore.traffic_by_weekday(lab).set_index("weekday")["page_views"]
    assert {h: n for h, n in by_hour.items() if n} == dict(hours)
    assert {d: n for d, n in by_day.items() if n} == dict(days)


def test_pages_per_visit_with_a_24_hour_idle_gap(lab, pages):
    per_visitor = collections.defaultdict(list)
    for page in pages:
        per_visitor[page["visitor_id"]].append(page)
    sizes = []
    for visits in per_visitor.values():
        visits.sort(key=lambda p: p["start"])
        size, last = 0, None
        for page in visits:
            if last is not None and page["start"] - last > timedelta(hours=24):
                sizes.append(size)
                size = 0
            size += 1
            last = max(page["start"], page["end"] or page["start"])
        sizes.append(size)
    expected = sorted(collections.Counter(sizes).items())
    frame = explore.pages_per_visit(lab)
    assert list(zip(frame["pages"], frame["visits"], strict=True)) == expected
    assert len(sizes) < len(pages)  # some visits have several pages


def test_inferred_ends(lab, pages, raw):
    durations = explore.page_durations(lab)
    unended = {p["id"] for p in pages if p["end"] is None}
    with_events = {r["page_view_id"] for r in raw["chat_event"] + raw["var_change"]}
    kinds = dict(zip(durations["page_view_id"], durations["end_kind"], strict=True))
    assert {i for i, k in kinds.items() if k != "recorded"} == unended
    assert {i for i in unended if kinds[i] == "default length"} == unended - with_events
    lengths = dict(zip(durations["page_view_id"], durations["seconds"], strict=True))
    assert all(lengths[i] == 1800.0 for i in unended - with_events)


def test_custom_variable_counts(lab, raw):
    changes = collections.Counter(r["name"] for r in raw["var_change"])
    frame = explore.custom_variables(lab).set_index("name")
    assert frame["changes"].to_dict() == dict(changes)


def test_available_agent_hours_add_up(lab, raw):
    timeline = collections.defaultdict(list)
    for p in raw["presence"]:
        timeline[p["agent_id"]].append((stamp(p["changed_at"]), p["status"]))
    available = timedelta()
    for changes in timeline.values():
        changes.sort()
        for (since, status), (until, _) in itertools.pairwise(changes):
            if status == "available":
                available += until - since
        assert changes[-1][1] == "offline"  # every shift ends: nothing open-ended
    for bucket, hours in (("15 minutes", 0.25), ("1 hour", 1.0)):
        load = explore.agent_load(lab, bucket)
        total = (load["agents_available"] * hours).sum()
        assert total == pytest.approx(available.total_seconds() / 3600)
    # background conversations may exceed a soft limit: occupancy can pass 1, never 0
    assert (load["occupancy"].dropna() >= 0).all()


def test_a_closed_lab_is_refused_with_a_database_error(tmp_path):
    lab = el.open(tmp_path / "closed.duckdb")
    lab.close()
    with pytest.raises(el.DatabaseError, match="closed"):
        explore.pages_per_visit(lab)


def test_chat_event_and_conversation_counts(lab, raw):
    events = collections.Counter(r["event"] for r in raw["chat_event"])
    counts = explore.chat_event_counts(lab).set_index("event")["events"]
    assert {e: n for e, n in counts.items() if n} == dict(events)
    assert set(events) >= {"started", "trigger_activated", "chat_engaged", "message_received"}
    channels = collections.Counter(
        (r["channel"], r.get("outcome") or "-") for r in raw["conversation"]
    )
    summary = explore.conversation_summary(lab)
    found = dict(zip(zip(summary.channel, summary.outcome, strict=True), summary.conversations,
                     strict=True))  # fmt: skip
    assert found == dict(channels)
