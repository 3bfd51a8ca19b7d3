"""The loader's bounds on instants: plausible range, real UTC offsets, clock offsets.

Every refusal names file, line and field, and leaves the database as it was.
"""

from __future__ import annotations

from datetime import datetime

import pytest

import engage_lab as el
from engage_lab.data import schema
from engage_lab.data.validate import PLAUSIBLE
from tests.data.conftest import base_records, db_digest, write_jsonl

#: Every timestamp column of every table, as (record type, raw field).
TIMESTAMP_FIELDS = [
    (table.record_type, column.name)
    for table in schema.TABLES
    for column in schema.raw_columns(table)
    if column.sql_type == "TIMESTAMP"
]


def record_with(record_type: str, field: str, value) -> dict:
    """A record of ``record_type`` that fits ``loaded`` but for ``field`` = ``value``."""
    base = next(r for r in base_records() if r["type"] == record_type)
    out = dict(base, id=f"{base['id']}-new")
    out[field] = value
    return out


def refused(lab: el.Lab, *paths) -> el.LoadError:
    before = db_digest(lab)
    with pytest.raises(el.LoadError) as info:
        lab.load(*paths, progress=False)
    assert db_digest(lab) == before, "a refused load changed the database"
    return info.value


def test_every_timestamp_field_is_covered():
    assert len(TIMESTAMP_FIELDS) >= 12  # a schema change that drops one shows here
    assert ("page_view", "started_at") in TIMESTAMP_FIELDS


#: Instants just or far outside ``PLAUSIBLE``, as ISO text (any zone) or epoch ms.
OUTSIDE = ["0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1999-12-31T23:59:59.999Z",
           "2100-01-01T00:00:00Z", "2099-12-31T23:30:00-12:00", "2000-01-01T00:30:00+01:00",
           946_684_799_999, 4_102_444_800_000]  # fmt: skip


@pytest.mark.parametrize(("record_type", "field"), TIMESTAMP_FIELDS)
def test_instant_outside_the_plausible_range_is_refused(tmp_path, loaded, record_type, field):
    records = [
        dict(record_with(record_type, field, value), id=f"late-{n}")
        for n, value in enumerate(OUTSIDE)
    ]
    error = refused(loaded, write_jsonl(tmp_path / "late.jsonl", records))
    outside = f"timestamp outside {PLAUSIBLE[0]} .. {PLAUSIBLE[1]}: "
    assert [p.split(": ")[:2] for p in error.problems] == [
        [f"late.jsonl:{n}", f"{record_type}.{field}"] for n in range(1, len(OUTSIDE) + 1)
    ]
    assert all(outside in p for p in error.problems), error.problems


@pytest.mark.parametrize(
    "value", ["2000-01-01T00:00:00Z", "2099-12-31T23:59:59.999Z", "2000-01-01T05:00:00+05:00"]
)
def test_instants_at_the_bounds_load(tmp_path, lab, value):
    records = [r for r in base_records() if r["type"] in ("agent", "presence")]
    records[1]["changed_at"] = value
    lab.load(write_jsonl(tmp_path / "edge.jsonl", records), progress=False)
    (stored,) = lab.con.execute("SELECT changed_at FROM presence").fetchone()
    assert datetime.fromisoformat(PLAUSIBLE[0]) <= stored < datetime.fromisoformat(PLAUSIBLE[1])


@pytest.mark.parametrize(
    "offset", ["+99:99", "+15:00", "-13:00", "+14:30", "-12:01", "+12:60", "+0575", "+24"]
)
def test_utc_offset_that_does_not_exist_is_refused(tmp_path, loaded, offset):
    value = f"2026-03-03T10:00:00{offset}"
    path = write_jsonl(tmp_path / "zone.jsonl", [record_with("presence", "changed_at", value)])
    error = refused(loaded, path)
    assert error.problems == [
        "zone.jsonl:1: presence.changed_at: not a real UTC offset (offsets lie from -12:00 to "
        f'+14:00, minutes below 60): "{value}"'
    ]


@pytest.mark.parametrize(
    ("offset", "utc"),
    [("+14:00", "2026-03-02T20:00:00"), ("-12:00", "2026-03-03T22:00:00"),
     ("+05:45", "2026-03-03T04:15:00"), ("-0930", "2026-03-03T19:30:00"),
     ("+05", "2026-03-03T05:00:00"), ("-00:00", "2026-03-03T10:00:00")],
)  # fmt: skip
def test_real_utc_offsets_are_applied(tmp_path, lab, offset, utc):
    records = [r for r in base_records() if r["type"] in ("agent", "presence")]
    records[1]["changed_at"] = f"2026-03-03T10:00:00{offset}"
    lab.load(write_jsonl(tmp_path / "zone.jsonl", records), progress=False)
    (stored,) = lab.con.execute("SELECT changed_at FROM presence").fetchone()
    assert stored == datetime.fromisoformat(utc)


@pytest.mark.parametrize(
    "offset",
    [-(10**15), 9 * 10**18, -(2**63), 2**63 - 1, schema.MAX_CLOCK_OFFSET_MS + 1,
     -schema.MAX_CLOCK_OFFSET_MS - 1],
)  # fmt: skip
def test_clock_offset_beyond_a_day_is_refused_with_its_line(tmp_path, lab, offset):
    records = base_records()
    records[2]["clock_offset_ms"] = offset  # the visitor v1, line 3
    error = refused(lab, write_jsonl(tmp_path / "clock.jsonl", records))
    limit = schema.MAX_CLOCK_OFFSET_MS
    assert error.problems == [
        f"clock.jsonl:3: visitor.clock_offset_ms: must lie from {-limit} to {limit}, got {offset}"
    ]


@pytest.mark.parametrize("offset", ["-1e15", "9e18", "1e400", "18446744073709551616"])
def test_clock_offset_that_is_no_integer_is_refused_with_its_line(tmp_path, lab, offset):
    line = f'{{"type": "visitor", "id": "v9", "clock_offset_ms": {offset}}}'
    error = refused(lab, write_jsonl(tmp_path / "clock.jsonl", [line]))
    assert len(error.problems) == 1
    assert error.problems[0].startswith("clock.jsonl:1: visitor.clock_offset_ms: ")


@pytest.mark.parametrize("offset", [schema.MAX_CLOCK_OFFSET_MS, -schema.MAX_CLOCK_OFFSET_MS])
def test_clock_offset_of_a_day_is_applied(tmp_path, lab, offset):
    records = base_records()
    records[2]["clock_offset_ms"] = offset
    lab.load(write_jsonl(tmp_path / "clock.jsonl", records), progress=False)
    (started,) = lab.con.execute(
        "SELECT started_at FROM page_views WHERE page_view_id = 'pv1'"
    ).fetchone()
    assert (datetime(2026, 3, 2, 9) - started).total_seconds() * 1000 == offset


@pytest.mark.parametrize(
    ("offset", "field", "value"),
    [(schema.MAX_CLOCK_OFFSET_MS, "started_at", "2000-01-01T05:00:00Z"),
     (-schema.MAX_CLOCK_OFFSET_MS, "started_at", "2099-12-31T05:00:00Z"),
     (1, "started_at", "2000-01-01T00:00:00Z")],
)  # fmt: skip
def test_browser_time_the_clock_offset_moves_out_of_range_is_refused(
    tmp_path, lab, offset, field, value
):
    visitor = {"type": "visitor", "id": "v7", "clock_offset_ms": offset}
    page = dict(record_with("page_view", field, value), visitor_id="v7", ended_at=None)
    event = {
        "type": "var_change",
        "id": "vc7",
        "page_view_id": page["id"],
        "name": "custom_x",
        "value": 1,
        "changed_at": value,
    }
    error = refused(lab, write_jsonl(tmp_path / "shift.jsonl", [visitor, page, event]))
    assert [p.split(": ")[:2] for p in error.problems] == [
        ["shift.jsonl:2", f"page_view.{field}"],
        ["shift.jsonl:3", "var_change.changed_at"],
    ]
    assert all(f"clock offset of {offset} ms" in p for p in error.problems)


def test_offset_loaded_first_bounds_the_later_loads(tmp_path, lab):
    day = schema.MAX_CLOCK_OFFSET_MS
    lab.load(
        write_jsonl(
            tmp_path / "v.jsonl", [{"type": "visitor", "id": "v7", "clock_offset_ms": day}]
        ),
        progress=False,
    )
    page = dict(record_with("page_view", "started_at", "2000-01-01T10:00:00Z"), visitor_id="v7")
    page["ended_at"] = "2000-01-01T10:05:00Z"
    error = refused(lab, write_jsonl(tmp_path / "later.jsonl", [page]))
    assert [p.split(": ")[:2] for p in error.problems] == [
        ["later.jsonl:1", "page_view.ended_at"],
        ["later.jsonl:1", "page_view.started_at"],
    ]


def test_parquet_and_csv_instants_and_offsets_are_bounded_too(tmp_path, loaded):
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    stamps = [dt.datetime(1, 1, 1), dt.datetime(2026, 3, 3), dt.datetime(9999, 12, 31)]
    presence = pa.table(
        {
            "id": ["p7", "p8", "p9"],
            "agent_id": ["a1"] * 3,
            "status": ["away"] * 3,
            "changed_at": pa.array(stamps, pa.timestamp("ms")),
        }
    )
    pq.write_table(presence, tmp_path / "presence.parquet")
    offsets = pa.table({"id": ["v8", "v9"], "clock_offset_ms": pa.array([9 * 10**18, 5])})
    pq.write_table(offsets, tmp_path / "visitors.parquet")
    (tmp_path / "agents.csv").write_text(
        "id,soft_limit\na8,1\n"
    )  # a file of each format in one load
    (tmp_path / "source_status.csv").write_text(
        "id,changed_at,status\nst8,2026-03-03T10:00:00+99:99,active\nst9,9999-01-01T00:00Z,active\n"
    )
    error = refused(loaded, tmp_path)
    assert where_fields(error.problems) == [
        "presence.parquet:1: presence.changed_at",
        "presence.parquet:3: presence.changed_at",
        "source_status.csv:2: source_status.changed_at",
        "source_status.csv:3: source_status.changed_at",
        "visitors.parquet:1: visitor.clock_offset_ms",
    ]
    assert "not a real UTC offset" in error.problems[2]


def where_fields(problems: list[str]) -> list[str]:
    return [": ".join(p.split(": ")[:2]) for p in problems]
