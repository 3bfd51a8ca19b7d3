"""Bad inputs are refused whole, named by file:line: field, and change nothing."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import engage_lab as el
from tests.data.conftest import db_digest, write_jsonl

PV = {
    "type": "page_view",
    "id": "pv9",
    "visitor_id": "v1",
    "started_at": "2026-03-03T10:00:00Z",
    "url": "https://shop.example/a",
}


def rec(base: dict, **changes) -> dict:
    out = dict(base)
    for key, value in changes.items():
        if value is _DROP:
            out.pop(key)
        else:
            out[key] = value
    return out


_DROP = object()
AGENT = {"type": "agent", "id": "a9", "soft_limit": 2}
PRESENCE = {
    "type": "presence",
    "id": "p9",
    "agent_id": "a1",
    "changed_at": "2026-03-03T08:00:00Z",
    "status": "away",
}
EVENT = {
    "type": "chat_event",
    "id": "ce9",
    "page_view_id": "pv1",
    "visitor_id": "v1",
    "event_at": "2026-03-02T09:03:00Z",
    "event": "item_shown",
    "mode": "online",
    "item_id": "btn",
    "item_type": "button",
}
CONV = {
    "type": "conversation",
    "id": "c9",
    "agent_id": "a1",
    "channel": "web_chat",
    "visitor_id": "v1",
    "page_view_id": "pv1",
    "queued_at": "2026-03-02T09:03:00Z",
    "started_at": "2026-03-02T09:03:10Z",
    "ended_at": "2026-03-02T09:10:00Z",
    "outcome": "served",
}
THREAD = {"type": "thread", "id": "th9", "identity_id": "id1", "opened_at": "2026-03-02T10:00:00Z"}
VAR = {
    "type": "var_change",
    "id": "vc9",
    "page_view_id": "pv1",
    "name": "custom_x",
    "value": "a",
    "changed_at": "2026-03-02T09:02:00Z",
}
STATUS = {
    "type": "source_status",
    "id": "st9",
    "changed_at": "2026-03-05T00:00:00Z",
    "status": "active",
}

# (case id, lines of bad.jsonl (line 2 is the bad one), expected "line: field", fragment)
JSONL_CASES = [
    (
        "malformed_json",
        [PV, '{"type": "agent", "id": "a9", "soft_limit": 2'],
        "2: record",
        "malformed JSON",
    ),
    ("not_an_object", [PV, '["agent", "a9"]'], "2: record", "not a JSON object"),
    (
        "unknown_record_type",
        [PV, {"type": "pageview", "id": "x"}],
        "2: type",
        'unknown record type "pageview"',
    ),
    ("missing_type", [PV, {"id": "x", "soft_limit": 1}], "2: type", "missing record type"),
    ("record_without_id", [PV, rec(AGENT, id=_DROP)], "2: agent.id", "missing required"),
    ("empty_id", [PV, rec(AGENT, id=" ")], "2: agent.id", "empty id"),
    (
        "missing_required_field",
        [PV, rec(PRESENCE, status=_DROP)],
        "2: presence.status",
        "missing required",
    ),
    (
        "required_field_null",
        [PV, rec(PRESENCE, changed_at=None)],
        "2: presence.changed_at",
        "missing required",
    ),
    ("unknown_field", [PV, rec(AGENT, soft_limt=3)], "2: agent.soft_limt", "unknown field"),
    (
        "field_twice",
        [PV, '{"type": "agent", "id": "a9", "soft_limit": 1, "soft_limit": 2}'],
        "2: agent.soft_limit",
        "more than once",
    ),
    (
        "wrong_type_string_for_int",
        [PV, rec(AGENT, soft_limit="3")],
        "2: agent.soft_limit",
        'expected an integer, got string "3"',
    ),
    (
        "wrong_type_float_for_int",
        [PV, rec(AGENT, soft_limit=2.5)],
        "2: agent.soft_limit",
        "expected an integer",
    ),
    (
        "wrong_type_string_for_bool",
        [PV, rec(PV, id="pv8", embedded="yes")],
        "2: page_view.embedded",
        "expected a boolean",
    ),
    (
        "wrong_type_number_for_string",
        [PV, rec(PV, id="pv8", title=12)],
        "2: page_view.title",
        "expected a string",
    ),
    (
        "wrong_type_string_for_list",
        [PV, rec(PV, id="pv8", placeholders="btn")],
        "2: page_view.placeholders",
        "expected a list of strings",
    ),
    (
        "wrong_type_list_of_numbers",
        [PV, rec(PV, id="pv8", placeholders=[1, 2])],
        "2: page_view.placeholders",
        "not a list of strings",
    ),
    (
        "wrong_type_string_for_double",
        [PV, rec(EVENT, server_probability="high")],
        "2: chat_event.server_probability",
        "expected a number",
    ),
    (
        "value_not_scalar",
        [PV, rec(VAR, value={"a": 1})],
        "2: var_change.value",
        "expected a string, number, boolean or null",
    ),
    (
        "unparseable_timestamp",
        [PV, rec(PV, id="pv8", started_at="yesterday")],
        "2: page_view.started_at",
        'not a timestamp: "yesterday"',
    ),
    (
        "timestamp_without_zone",
        [PV, rec(PV, id="pv8", started_at="2026-03-03T10:00:00")],
        "2: page_view.started_at",
        "without a time zone",
    ),
    (
        "impossible_date",
        [PV, rec(PV, id="pv8", started_at="2026-02-30T10:00:00Z")],
        "2: page_view.started_at",
        "not a timestamp",
    ),
    (
        "timestamp_as_bool",
        [PV, rec(PV, id="pv8", started_at=True)],
        "2: page_view.started_at",
        "expected a timestamp",
    ),
    (
        "page_view_ends_before_start",
        [PV, rec(PV, id="pv8", ended_at="2026-03-03T09:59:59.999Z")],
        "2: page_view.ended_at",
        "ended_at before started_at",
    ),
    (
        "conversation_started_before_queued",
        [PV, rec(CONV, started_at="2026-03-02T09:02:00Z")],
        "2: conversation.started_at",
        "started_at before queued_at",
    ),
    (
        "conversation_ended_before_started",
        [PV, rec(CONV, ended_at="2026-03-02T09:03:05Z")],
        "2: conversation.ended_at",
        "ended_at before started_at",
    ),
    (
        "thread_closed_before_opened",
        [PV, rec(THREAD, closed_at="2026-03-02T09:00:00Z")],
        "2: thread.closed_at",
        "closed_at before opened_at",
    ),
    (
        "reference_to_unknown_page_view",
        [PV, rec(VAR, page_view_id="pv404")],
        "2: var_change.page_view_id",
        'unknown page_view "pv404"',
    ),
    (
        "chat_event_unknown_page_view",
        [PV, rec(EVENT, page_view_id="nope")],
        "2: chat_event.page_view_id",
        'unknown page_view "nope"',
    ),
    (
        "conversation_unknown_page_view",
        [PV, rec(CONV, page_view_id="nope")],
        "2: conversation.page_view_id",
        "unknown page_view",
    ),
    (
        "unknown_identity",
        [PV, rec(THREAD, identity_id="id404")],
        "2: thread.identity_id",
        'unknown identity "id404"',
    ),
    (
        "unknown_agent_presence",
        [PV, rec(PRESENCE, agent_id="a404")],
        "2: presence.agent_id",
        'unknown agent "a404"',
    ),
    (
        "unknown_agent_conversation",
        [PV, rec(CONV, agent_id="a404")],
        "2: conversation.agent_id",
        "unknown agent",
    ),
    (
        "negative_soft_limit",
        [PV, rec(AGENT, soft_limit=-1)],
        "2: agent.soft_limit",
        "must be >= 0, got -1",
    ),
    (
        "unknown_presence_status",
        [PV, rec(PRESENCE, status="busy")],
        "2: presence.status",
        'unknown status "busy"',
    ),
    (
        "unknown_chat_event_name",
        [PV, rec(EVENT, event="item_clicked")],
        "2: chat_event.event",
        'unknown event "item_clicked"',
    ),
    ("unknown_mode", [PV, rec(EVENT, mode="auto")], "2: chat_event.mode", "unknown mode"),
    (
        "unknown_item_type",
        [PV, rec(EVENT, item_type="banner")],
        "2: chat_event.item_type",
        "unknown item_type",
    ),
    (
        "unknown_source_status",
        [PV, rec(STATUS, status="closed")],
        "2: source_status.status",
        "unknown status",
    ),
    (
        "unknown_outcome",
        [PV, rec(CONV, outcome="happy")],
        "2: conversation.outcome",
        "unknown outcome",
    ),
    (
        "unknown_source_mode",
        [PV, {"type": "source", "id": "src1", "mode": "chat"}],
        "2: source.mode",
        "unknown mode",
    ),
    (
        "var_name_without_prefix",
        [PV, rec(VAR, name="cart")],
        "2: var_change.name",
        "must start with 'custom_'",
    ),
    (
        "chat_event_other_visitor",
        [PV, rec(EVENT, visitor_id="v2")],
        "2: chat_event.visitor_id",
        "is not the visitor of page view",
    ),
    (
        "second_source",
        [PV, {"type": "source", "id": "src2", "mode": "messaging"}],
        "2: source.id",
        "one chat source",
    ),
    ("type_not_a_string", [PV, {"type": 3, "id": "x"}], "2: type", "expected a string"),
]


def _refused(lab: el.Lab, *paths) -> list[str]:
    before = db_digest(lab)
    with pytest.raises(el.LoadError) as info:
        lab.load(*paths)
    assert db_digest(lab) == before, "a refused load changed the database"
    return info.value.problems


@pytest.mark.parametrize(
    ("lines", "where", "fragment"), [c[1:] for c in JSONL_CASES], ids=[c[0] for c in JSONL_CASES]
)
def test_bad_jsonl_record_is_named_and_changes_nothing(tmp_path, loaded, lines, where, fragment):
    path = write_jsonl(tmp_path / "bad.jsonl", lines)
    problems = _refused(loaded, path)
    hits = [p for p in problems if p.startswith(f"bad.jsonl:{where}:") and fragment in p]
    assert hits, problems


def test_duplicate_id_with_other_content_within_a_load_names_both_places(tmp_path, loaded):
    write_jsonl(tmp_path / "one.jsonl", [PV])
    write_jsonl(tmp_path / "two.jsonl", [AGENT, rec(PV, url="https://shop.example/b")])
    problems = _refused(loaded, tmp_path / "one.jsonl", tmp_path / "two.jsonl")
    assert any(
        p.startswith("two.jsonl:2: page_view.id:") and "one.jsonl:1" in p and "url" in p
        for p in problems
    ), problems


def test_duplicate_id_with_other_content_vs_database_names_the_load(tmp_path, loaded):
    path = write_jsonl(tmp_path / "later.jsonl", [rec(AGENT, id="a1", soft_limit=5)])
    problems = _refused(loaded, path)
    assert any(
        p.startswith("later.jsonl:1: agent.id:")
        and "base.jsonl:10" in p
        and "L0001" in p
        and "soft_limit" in p
        for p in problems
    ), problems


def test_empty_file(tmp_path, loaded):
    (tmp_path / "empty.jsonl").write_bytes(b"")
    problems = _refused(loaded, tmp_path / "empty.jsonl")
    assert any(p.startswith("empty.jsonl:1: file:") and "empty" in p for p in problems)


def test_blank_lines_only_is_empty(tmp_path, loaded):
    (tmp_path / "blank.jsonl").write_text("\n  \n\n")
    problems = _refused(loaded, tmp_path / "blank.jsonl")
    assert any(p.startswith("blank.jsonl:1: file:") for p in problems), problems


def test_non_utf8_bytes_name_every_bad_line(tmp_path, loaded):
    good = write_jsonl(tmp_path / "x.jsonl", [PV]).read_bytes()
    (tmp_path / "latin.jsonl").write_bytes(
        good
        + b'{"type": "agent", "id": "caf\xe9", "soft_limit": 1}\n'
        + good
        + b'{"type": "agent", "id": "\xff", "soft_limit": 1}\n'
    )
    problems = _refused(loaded, tmp_path / "latin.jsonl")
    assert [p.split(": ")[0] for p in problems if "UTF-8" in p] == [
        "latin.jsonl:2",
        "latin.jsonl:4",
    ]


def test_csv_missing_required_column(tmp_path, loaded):
    (tmp_path / "agents.csv").write_text("id,name\na9,Zed\n")
    problems = _refused(loaded, tmp_path / "agents.csv")
    assert any(
        p.startswith("agents.csv:1: agent.soft_limit:") and "missing required" in p
        for p in problems
    ), problems


def test_csv_bad_cell_names_its_line(tmp_path, loaded):
    (tmp_path / "presence.csv").write_text(
        "id,agent_id,changed_at,status\n"
        "p7,a1,2026-03-03T08:00:00Z,away\n"
        "p8,a1,soon,away\n"
        "p9,a1,1772528400000,lunch\n"
    )
    problems = _refused(loaded, tmp_path / "presence.csv")
    assert any(
        p.startswith("presence.csv:3: presence.changed_at: not a timestamp") for p in problems
    ), problems
    assert any(p.startswith("presence.csv:4: presence.status: unknown status") for p in problems), (
        problems
    )


def test_csv_unknown_column(tmp_path, loaded):
    (tmp_path / "agent.csv").write_text("id,soft_limit,shift\na9,2,night\n")
    problems = _refused(loaded, tmp_path / "agent.csv")
    assert any(p.startswith("agent.csv:1: agent.shift: unknown CSV column") for p in problems)


def test_csv_with_unknown_table_name(tmp_path, loaded):
    (tmp_path / "people.csv").write_text("id\nx\n")
    problems = _refused(loaded, tmp_path / "people.csv")
    assert any(p.startswith("people.csv:1: file:") and "record type" in p for p in problems)


def test_parquet_column_of_wrong_type(tmp_path, loaded):
    pq.write_table(pa.table({"id": ["a9"], "soft_limit": ["three"]}), tmp_path / "agents.parquet")
    problems = _refused(loaded, tmp_path / "agents.parquet")
    assert any(
        p.startswith("agents.parquet:1: agent.soft_limit:") and "Parquet column" in p
        for p in problems
    ), problems


def test_parquet_bad_value_names_its_row(tmp_path, loaded):
    pq.write_table(
        pa.table({"id": ["a8", "a9"], "soft_limit": [1, -4]}), tmp_path / "agent.parquet"
    )
    problems = _refused(loaded, tmp_path / "agent.parquet")
    assert problems == ["agent.parquet:2: agent.soft_limit: must be >= 0, got -4"]


def test_every_bad_line_is_listed_and_the_message_counts_the_rest(tmp_path, loaded):
    lines = [rec(AGENT, id=f"n{i}", soft_limit=-i - 1) for i in range(30)]
    path = write_jsonl(tmp_path / "many.jsonl", lines)
    before = db_digest(loaded)
    with pytest.raises(el.LoadError) as info:
        loaded.load(path)
    assert db_digest(loaded) == before
    problems = info.value.problems
    assert [p.split(":")[1] for p in problems] == [str(i) for i in range(1, 31)]
    message = str(info.value)
    assert "many.jsonl:20:" in message and "many.jsonl:21:" not in message
    assert "10 more problems" in message


def test_one_bad_file_refuses_the_whole_call(tmp_path, loaded):
    good = write_jsonl(tmp_path / "good.jsonl", [AGENT])
    bad = write_jsonl(tmp_path / "bad.jsonl", [rec(PRESENCE, status="busy")])
    problems = _refused(loaded, good, bad)
    assert all(p.startswith("bad.jsonl:") for p in problems)
    assert loaded.sql("select count(*) as n from agents where agent_id = 'a9'")["n"][0] == 0


def test_several_problems_in_several_files_are_all_listed(tmp_path, loaded):
    a = write_jsonl(tmp_path / "a.jsonl", ["{oops", rec(AGENT, soft_limit="x")])
    b = write_jsonl(tmp_path / "b.jsonl", [PV, rec(VAR, page_view_id="zz")])
    problems = _refused(loaded, a, b)
    prefixes = [p.split(": ")[0] + ": " + p.split(": ")[1] for p in problems]
    assert prefixes == [
        "a.jsonl:1: record",
        "a.jsonl:2: agent.soft_limit",
        "b.jsonl:2: var_change.page_view_id",
    ]


def test_missing_path(tmp_path, loaded):
    problems = _refused(loaded, tmp_path / "nope")
    assert any("no such file" in p for p in problems)


def test_clock_offset_after_the_visitors_records_is_refused(tmp_path, loaded):
    records = write_jsonl(
        tmp_path / "records.jsonl",
        [{"type": "identity", "id": "id5", "visitor_id": "v5", "set_at": "2026-03-03T10:00:00Z"}],
    )
    loaded.load(records)
    offset = write_jsonl(
        tmp_path / "v5.jsonl", [{"type": "visitor", "id": "v5", "clock_offset_ms": 1000}]
    )
    problems = _refused(loaded, offset)
    assert any(
        p.startswith("v5.jsonl:1: visitor.clock_offset_ms:")
        and "records.jsonl:1" in p
        and "L0002" in p
        for p in problems
    ), problems
    # a zero offset changes no time: accepted
    loaded.load(
        write_jsonl(
            tmp_path / "zero.jsonl", [{"type": "visitor", "id": "v5", "clock_offset_ms": 0}]
        )
    )


def test_csv_rows_that_do_not_parse_are_all_named(tmp_path, loaded):
    (tmp_path / "agents.csv").write_text('id,soft_limit\na7,1\na8,2,extra\na9,"3\n')
    problems = _refused(loaded, tmp_path / "agents.csv")
    assert problems[0].startswith("agents.csv:3: record: CSV error:") and "Columns" in problems[0]
    assert problems[1].startswith("agents.csv:4: agent.soft_limit: CSV error:")


def test_csv_repeated_column(tmp_path, loaded):
    (tmp_path / "agents.csv").write_text("id,soft_limit,soft_limit\na7,1,2\n")
    problems = _refused(loaded, tmp_path / "agents.csv")
    assert problems == ["agents.csv:1: file: CSV column given more than once: soft_limit"]


def test_csv_with_a_header_only_is_empty(tmp_path, loaded):
    (tmp_path / "agents.csv").write_text("id,soft_limit\n")
    problems = _refused(loaded, tmp_path / "agents.csv")
    assert problems == ["agents.csv:1: file: empty file (no records)"]


def test_a_file_that_is_not_a_data_file(tmp_path, loaded):
    (tmp_path / "notes.txt").write_text("hello")
    problems = _refused(loaded, tmp_path / "notes.txt", write_jsonl(tmp_path / "a.jsonl", [PV]))
    assert problems == ["notes.txt: not a data file (expected .jsonl, .csv, .parquet)"]


def test_not_a_parquet_file(tmp_path, loaded):
    (tmp_path / "agents.parquet").write_bytes(b"PAR1 this is not parquet")
    problems = _refused(loaded, tmp_path / "agents.parquet")
    assert len(problems) == 1 and problems[0].startswith("agents.parquet:1: file: not a readable")
