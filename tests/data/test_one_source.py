"""One chat source per database, whatever the ids' order; an id given again with other
content is refused for every record type; replays read the source deterministically."""

from __future__ import annotations

import pytest

import engage_lab as el
from engage_lab.data import schema
from engage_lab.engine.pages import source_record
from engage_lab.errors import DatabaseError, EngineError
from engage_lab.explore import source_timezone
from engage_lab.reference.history import History
from tests.data.conftest import base_records, db_digest, write_jsonl


def _source(source_id: str, mode: str = "live_chat") -> dict:
    return {"type": "source", "id": source_id, "mode": mode, "timezone": "UTC", "seed": "9"}


def _refused(lab: el.Lab, *paths) -> list[str]:
    before = db_digest(lab)
    with pytest.raises(el.LoadError) as info:
        lab.load(*paths)
    assert db_digest(lab) == before, "a refused load changed the database"
    return info.value.problems


@pytest.mark.parametrize("other", ["src0", "src2", "a", "zzz", "SRC1"])
def test_a_second_source_is_refused_whatever_its_id(tmp_path, loaded, other):
    path = write_jsonl(tmp_path / "more.jsonl", [_source(other, "messaging")])
    problems = _refused(loaded, path)
    assert problems == [
        f'more.jsonl:1: source.id: a database holds one chat source; "{other}" would be '
        'another besides "src1" (already loaded by load L0001)'
    ]


@pytest.mark.parametrize(("first", "second"), [("b", "a"), ("a", "b")])
def test_two_sources_in_one_load_refuse_the_later_one(tmp_path, lab, first, second):
    path = write_jsonl(tmp_path / "two.jsonl", [_source(first), _source(second)])
    problems = _refused(lab, path)
    assert problems == [
        f'two.jsonl:2: source.id: a database holds one chat source; "{second}" would be '
        f'another besides "{first}" (two.jsonl:1)'
    ]


def test_two_sources_in_two_files_refuse_the_later_file(tmp_path, lab):
    write_jsonl(tmp_path / "a.jsonl", [_source("z-first")])
    write_jsonl(tmp_path / "b.jsonl", [_source("a-second")])
    problems = _refused(lab, tmp_path)
    assert [p.split(": ")[0:2] for p in problems] == [["b.jsonl:1", "source.id"]]


def test_the_same_source_again_adds_nothing(tmp_path, loaded):
    path = write_jsonl(tmp_path / "again.jsonl", [base_records()[0], base_records()[0]])
    report = loaded.load(path)
    assert report.rows == 0 and report.skipped == 2


#: One valid change of content per record type (the id kept).
CHANGES = {
    "source": {"timezone": "Europe/Paris"},
    "source_status": {"status": "active"},
    "visitor": {"country": "DE"},
    "page_view": {"url": "https://shop.example/other"},
    "var_change": {"value": 1},
    "identity": {"uuid": "cust-8"},
    "thread": {"identity_initiated_thread": False},
    "chat_event": {"server_probability": 0.5},
    "agent": {"soft_limit": 4},
    "presence": {"status": "away"},
    "conversation": {"outcome": "unserved"},
}


def test_every_record_type_has_a_change():
    assert set(CHANGES) == set(schema.RECORD_TYPES)
    assert {r["type"] for r in base_records()} == set(schema.RECORD_TYPES)


def _changed(record_type: str) -> dict:
    original = next(r for r in base_records() if r["type"] == record_type)
    return {**original, **CHANGES[record_type]}


@pytest.mark.parametrize("record_type", sorted(CHANGES))
def test_an_id_already_loaded_with_other_content_is_refused(tmp_path, loaded, record_type):
    path = write_jsonl(tmp_path / "other.jsonl", [_changed(record_type)])
    problems = _refused(loaded, path)
    assert any(
        p.startswith(f"other.jsonl:1: {record_type}.id: ")
        and "already loaded with other content" in p
        for p in problems
    ), problems


@pytest.mark.parametrize("changed_first", [True, False], ids=["changed-first", "original-first"])
@pytest.mark.parametrize("record_type", sorted(CHANGES))
def test_an_id_given_twice_with_other_content_is_refused_in_any_order(
    tmp_path, lab, record_type, changed_first
):
    records = base_records()
    at = next(i for i, r in enumerate(records) if r["type"] == record_type)
    records.insert(at if changed_first else at + 1, _changed(record_type))
    path = write_jsonl(tmp_path / "twice.jsonl", records)
    problems = _refused(lab, path)
    line = at + 2  # the later of the two lines
    assert any(
        p.startswith(f"twice.jsonl:{line}: {record_type}.id: ")
        and f"given again with other content ({next(iter(CHANGES[record_type]))}" in p
        and p.endswith(f"first at twice.jsonl:{at + 1}")
        for p in problems
    ), problems


def _second_source_behind_the_loader(lab: el.Lab) -> None:
    """A database loaded before the one-source rule: two source rows."""
    lab.con.execute(
        "INSERT INTO source (source_id, mode, timezone, seed) "
        "VALUES ('src0', 'messaging', 'Asia/Tokyo', '1')"
    )


def test_the_source_is_read_as_the_one_record(loaded):
    assert source_record(loaded.con)["source_id"] == "src1"
    history = History.from_connection(loaded.con)
    assert (history.mode, history.timezone, history.seed) == ("live_chat", "UTC", "7")


def test_a_history_with_two_sources_is_refused_not_picked(loaded):
    _second_source_behind_the_loader(loaded)
    expected = (
        "the database holds 2 source records ('src0', 'src1'); "
        "a history has one (its seed and zone)"
    )
    with pytest.raises(EngineError) as fast:
        source_record(loaded.con)
    assert str(fast.value) == expected
    with pytest.raises(EngineError) as reference:
        History.from_connection(loaded.con)
    assert str(reference.value) == expected
    with pytest.raises(DatabaseError) as explored:
        source_timezone(loaded)
    assert str(explored.value) == expected
