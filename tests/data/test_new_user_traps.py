"""Traps a new user hit: numeric timestamps in the wrong unit, malformed JSON, misspelt names."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import engage_lab as el
from engage_lab.data import schema
from engage_lab.data.readers import json_syntax_problem
from engage_lab.data.sqltext import ident, sql
from engage_lab.data.validate import PLAUSIBLE, PLAUSIBLE_MS
from tests.data.conftest import db_digest, write_jsonl

#: 2026-03-02T09:05:00Z in epoch seconds, milliseconds, microseconds, nanoseconds.
SECONDS = 1772442300
MILLIS = SECONDS * 1000

TIMESTAMP_FIELDS = [
    (table.record_type, schema.raw_field(table, column))
    for table in schema.TABLES
    for column in schema.raw_columns(table)
    if column.sql_type == "TIMESTAMP"
]


def examples() -> list[dict]:
    """One record of every type; together they load (the data-format examples)."""
    return [dict(table.example) for table in schema.TABLES]


def refused(lab: el.Lab, *paths) -> list[str]:
    before = db_digest(lab)
    with pytest.raises(el.LoadError) as info:
        lab.load(*paths, progress=False)
    assert db_digest(lab) == before, "a refused load changed the database"
    return info.value.problems


def test_every_table_has_timestamp_fields_to_check():
    # the parametrized test below covers all of these; it must not be empty by accident
    assert len(TIMESTAMP_FIELDS) >= 10
    assert (
        PLAUSIBLE_MS[0]
        == datetime.fromisoformat(PLAUSIBLE[0]).replace(tzinfo=UTC).timestamp() * 1000
    )
    assert (
        PLAUSIBLE_MS[1]
        == datetime.fromisoformat(PLAUSIBLE[1]).replace(tzinfo=UTC).timestamp() * 1000
    )


@pytest.mark.parametrize(("record_type", "field"), TIMESTAMP_FIELDS)
def test_epoch_seconds_are_refused_in_every_timestamp_field(tmp_path, lab, record_type, field):
    records = examples()
    line = next(i for i, r in enumerate(records, start=1) if r["type"] == record_type)
    records[line - 1][field] = SECONDS
    problems = refused(lab, write_jsonl(tmp_path / "history.jsonl", records))
    # one problem only (no "ended_at before started_at" echo), at the file, line and field
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"history.jsonl:{line}: {record_type}.{field}: "), problems
    assert "1970-01-21T12:20:42.300Z" in problems[0]
    assert "looks like epoch seconds" in problems[0]


@pytest.mark.parametrize(("record_type", "field"), TIMESTAMP_FIELDS)
def test_epoch_milliseconds_are_read_in_every_timestamp_field(tmp_path, lab, record_type, field):
    records = examples()
    record = next(r for r in records if r["type"] == record_type)
    given = record.get(field)
    record[field] = MILLIS if given is None else _as_millis(given)
    lab.load(write_jsonl(tmp_path / "history.jsonl", records), progress=False)
    table = schema.RECORD_TYPES[record_type]
    column = next(c.name for c in table.columns if schema.raw_field(table, c) == field)
    query = sql("SELECT epoch_ms({c}) FROM {t}", c=ident(column), t=ident(table.name))
    (stored,) = lab.con.execute(query).fetchone()
    assert stored == record[field]


def _as_millis(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


@pytest.mark.parametrize(
    ("value", "accepted", "fragment"),
    [
        ("1999-12-31T23:59:59.999Z", False, "outside 2000-01-01 .. 2100-01-01"),
        ("2000-01-01T00:00:00Z", True, None),
        ("2000-01-01T01:00:00+01:00", True, None),
        ("2000-01-01T00:59:59+01:00", False, "outside"),
        ("2099-12-31T23:59:59.999Z", True, None),
        ("2100-01-01T00:00:00Z", False, "outside"),
        (PLAUSIBLE_MS[0] - 1, False, "numbers are epoch milliseconds"),
        (PLAUSIBLE_MS[0], True, None),
        (PLAUSIBLE_MS[1] - 1, True, None),
        (PLAUSIBLE_MS[1], False, "numbers are epoch milliseconds"),
        (0, False, "outside"),
        (-1, False, "outside"),
        (MILLIS * 1000, False, "looks like epoch microseconds (divide by 1000)"),
        (MILLIS * 1_000_000, False, "looks like epoch nanoseconds (divide by 1000000)"),
        (SECONDS, False, "looks like epoch seconds (multiply by 1000)"),
    ],
)
def test_plausible_range_bounds(tmp_path, lab, value, accepted, fragment):
    records = examples()
    record = next(r for r in records if r["type"] == "presence")
    record["changed_at"] = value
    path = write_jsonl(tmp_path / "history.jsonl", records)
    if accepted:
        assert lab.load(path, progress=False).rows == len(records)
        return
    problems = refused(lab, path)
    assert len(problems) == 1, problems
    assert problems[0].startswith("history.jsonl:10: presence.changed_at: timestamp outside")
    assert fragment in problems[0]


def test_csv_epoch_seconds_are_refused_with_line_and_field(tmp_path, loaded):
    (tmp_path / "presence.csv").write_text(
        f"id,agent_id,changed_at,status\np8,a1,{MILLIS},away\np9,a1,{SECONDS},available\n"
    )
    problems = refused(loaded, tmp_path / "presence.csv")
    assert len(problems) == 1, problems
    assert problems[0].startswith("presence.csv:3: presence.changed_at: timestamp outside")
    assert "epoch seconds" in problems[0]


def test_parquet_integer_epoch_seconds_are_refused(tmp_path, loaded):
    table = pa.table(
        {
            "id": ["p8", "p9"],
            "agent_id": ["a1", "a1"],
            "changed_at": pa.array([MILLIS, SECONDS], pa.int64()),
            "status": ["away", "available"],
        }
    )
    pq.write_table(table, tmp_path / "presence.parquet")
    problems = refused(loaded, tmp_path / "presence.parquet")
    assert len(problems) == 1, problems
    assert problems[0].startswith("presence.parquet:2: presence.changed_at: timestamp outside")
    assert "epoch seconds" in problems[0]


def test_parquet_timestamp_column_in_1970_is_refused(tmp_path, loaded):
    # a writer that took seconds for milliseconds makes a typed Parquet timestamp in 1970
    stamps = pa.array([MILLIS, SECONDS], pa.timestamp("ms", tz="UTC"))
    table = pa.table(
        {
            "id": ["p8", "p9"],
            "agent_id": ["a1", "a1"],
            "changed_at": stamps,
            "status": ["away", "available"],
        }
    )
    pq.write_table(table, tmp_path / "presence.parquet")
    problems = refused(loaded, tmp_path / "presence.parquet")
    assert len(problems) == 1, problems
    assert problems[0].startswith("presence.parquet:2: presence.changed_at: timestamp outside")
    assert "1970-01-21" in problems[0]


def test_malformed_json_names_line_column_and_reason(tmp_path, loaded):
    lines = [
        json.dumps({"type": "agent", "id": "a8", "soft_limit": 1}),
        '{"type": "agent", "id": "a9", "soft_limit": 2 3}',
        '{"type": "agent", "id": "a7", "soft_limit": 2',
        "{'type': 'agent'}",
    ]
    problems = refused(loaded, write_jsonl(tmp_path / "bad.jsonl", lines))
    assert problems == [
        "bad.jsonl:2: record: malformed JSON at column 47: expecting ',' delimiter (near '3}')",
        "bad.jsonl:3: record: malformed JSON at column 46: expecting ',' delimiter "
        "(at the end of the line)",
        "bad.jsonl:4: record: malformed JSON at column 2: expecting property name enclosed "
        "in double quotes (near \"'type': 'a\")",
    ]


def test_json_syntax_problem_names_a_bare_constant():
    message = json_syntax_problem('{"id": "a", "x": Infinity]')
    assert message.startswith("malformed JSON at column 18: Infinity is not a JSON value")


def test_many_malformed_lines_are_all_counted(tmp_path, loaded, monkeypatch):
    from engage_lab.data import readers

    monkeypatch.setattr(readers, "MAX_EXPLAINED_LINES", 3)
    problems = refused(loaded, write_jsonl(tmp_path / "bad.jsonl", ["{x"] * 5))
    assert len(problems) == 5
    assert sum("at column 2" in p for p in problems) == 3
    assert all(p.startswith(f"bad.jsonl:{i}: record: malformed JSON") for i, p in
               enumerate(problems, start=1))  # fmt: skip


def test_unknown_field_suggests_the_close_name(tmp_path, loaded):
    lines = [
        {"type": "agent", "id": "a8", "soft_limt": 1, "soft_limit": 1},
        {"type": "agent", "id": "a9", "soft_limit": 1, "shift": "night"},
        {"type": "presence", "id": "p9", "agent_id": "a1", "chnged_at": "2026-03-02T08:00:00Z",
         "changed_at": "2026-03-02T08:00:00Z", "status": "away"},
    ]  # fmt: skip
    problems = refused(loaded, write_jsonl(tmp_path / "bad.jsonl", lines))
    assert problems == [
        "bad.jsonl:1: agent.soft_limt: unknown field; did you mean soft_limit?",
        "bad.jsonl:2: agent.shift: unknown field",
        "bad.jsonl:3: presence.chnged_at: unknown field; did you mean changed_at?",
    ]


def test_unknown_csv_column_suggests_the_close_name(tmp_path, loaded):
    (tmp_path / "agent.csv").write_text("id,soft_limit,nmae\na9,2,Bo\n")
    problems = refused(loaded, tmp_path / "agent.csv")
    assert problems == ["agent.csv:1: agent.nmae: unknown CSV column; did you mean name?"]


def test_unknown_record_type_suggests_the_close_name(tmp_path, loaded):
    lines = [{"type": "pageview", "id": "x"}, {"type": "agnet", "id": "y"}, {"type": "zz"}]
    problems = refused(loaded, write_jsonl(tmp_path / "bad.jsonl", lines))
    assert (
        problems[0] == 'bad.jsonl:1: type: unknown record type "pageview"; did you mean page_view?'
    )
    assert problems[1] == 'bad.jsonl:2: type: unknown record type "agnet"; did you mean agent?'
    assert problems[2].startswith('bad.jsonl:3: type: unknown record type "zz" (expected one of')


def test_unknown_parquet_column_suggests_the_close_name(tmp_path, loaded):
    pq.write_table(pa.table({"id": ["a9"], "soft_limits": [2]}), tmp_path / "agents.parquet")
    problems = refused(loaded, tmp_path / "agents.parquet")
    assert (
        "agents.parquet:1: agent.soft_limits: unknown Parquet column; did you mean soft_limit?"
        in problems
    )


def test_csv_file_named_after_no_table_suggests_the_close_name(tmp_path, loaded):
    (tmp_path / "page_veiws.csv").write_text("id\nx\n")
    (tmp_path / "people.csv").write_text("id\nx\n")
    problems = refused(loaded, tmp_path / "page_veiws.csv", tmp_path / "people.csv")
    assert any(p.startswith("page_veiws.csv:1: file:") and "did you mean page_views.csv?" in p
               for p in problems), problems  # fmt: skip
    assert any(p.startswith("people.csv:1: file:") and "e.g. page_views.csv" in p
               for p in problems), problems  # fmt: skip


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_number_field_refuses_what_is_not_a_finite_number(tmp_path, loaded, value):
    line = (
        '{"type": "chat_event", "id": "ce9", "page_view_id": "pv1", "visitor_id": "v1", '
        '"event_at": "2026-03-02T09:03:00Z", "event": "trigger_executed", "trigger_id": "t1", '
        f'"mode": "online", "server_probability": {value}}}'
    )
    problems = refused(loaded, write_jsonl(tmp_path / "bad.jsonl", [line]))
    assert len(problems) == 1, problems
    assert problems[0].startswith("bad.jsonl:1: chat_event.server_probability: "), problems


def test_a_csv_number_cell_refuses_nan(tmp_path, loaded):
    (tmp_path / "chat_events.csv").write_text(
        "id,page_view_id,visitor_id,event_at,event,trigger_id,mode,server_probability\n"
        "ce9,pv1,v1,2026-03-02T09:03:00Z,trigger_executed,t1,online,nan\n"
    )
    problems = refused(loaded, tmp_path / "chat_events.csv")
    assert problems == [
        'chat_events.csv:2: chat_event.server_probability: not a finite number: "nan"'
    ]


@pytest.mark.parametrize("value", ["NaN", "Infinity", "1e400"])
def test_a_custom_variable_value_refuses_what_is_not_a_finite_number(tmp_path, loaded, value):
    line = (
        '{"type": "var_change", "id": "vc9", "page_view_id": "pv1", "name": "custom_x", '
        f'"value": {value}, "changed_at": "2026-03-02T09:02:00Z"}}'
    )
    problems = refused(loaded, write_jsonl(tmp_path / "bad.jsonl", [line]))
    assert problems == [
        f"bad.jsonl:1: var_change.value: not a JSON scalar (or not a finite number): {value}"
    ]


def test_digits_in_a_json_string_are_not_a_timestamp_and_the_message_says_why(tmp_path, loaded):
    record = {"type": "presence", "id": "p9", "agent_id": "a1", "changed_at": str(MILLIS),
              "status": "away"}  # fmt: skip
    problems = refused(loaded, write_jsonl(tmp_path / "bad.jsonl", [record]))
    assert problems == [
        "bad.jsonl:1: presence.changed_at: digits in a string are not a timestamp (write epoch "
        f'milliseconds as a JSON number, or ISO 8601): "{MILLIS}"'
    ]
