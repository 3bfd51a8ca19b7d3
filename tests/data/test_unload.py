"""Unload: removes exactly one load's records, atomically, or refuses."""

from __future__ import annotations

import pytest

import engage_lab as el
from engage_lab.data.loading import UnloadError
from tests.data.conftest import db_digest, write_jsonl

AGENT = {"type": "agent", "id": "a2", "soft_limit": 1}
PV = {
    "type": "page_view",
    "id": "pv5",
    "visitor_id": "v5",
    "started_at": "2026-03-03T10:00:00Z",
    "url": "https://x/",
}


def test_unload_restores_the_data_tables(tmp_path, loaded):
    before = db_digest(loaded)
    loaded.load(write_jsonl(tmp_path / "more.jsonl", [AGENT, PV]))
    removed = loaded.unload("L0002")
    assert removed["agents"] == 1 and removed["page_views"] == 1
    assert sum(removed.values()) == 2
    after = db_digest(loaded)
    assert {k for k in before if before[k] != after[k]} == {"loads"}
    loads = loaded.loads()
    assert loads["undone_at"].isna().tolist() == [True, False]


def test_unload_keeps_records_that_another_load_also_had(tmp_path, loaded, base_db):
    # a record present before is not "added" by a later load, so unloading it keeps it
    loaded.load(
        write_jsonl(
            tmp_path / "more.jsonl",
            [AGENT, {"type": "agent", "id": "a1", "name": "Ana", "soft_limit": 3}],
        )
    )
    loaded.unload("L0002")
    ids = loaded.sql("select agent_id from agents order by 1")["agent_id"].tolist()
    assert ids == ["a1"]


def test_unload_refuses_dangling_references(tmp_path, loaded):
    loaded.load(write_jsonl(tmp_path / "pages.jsonl", [PV]))
    loaded.load(
        write_jsonl(
            tmp_path / "vars.jsonl",
            [
                {
                    "type": "var_change",
                    "id": "vc5",
                    "page_view_id": "pv5",
                    "name": "custom_a",
                    "value": 1,
                    "changed_at": "2026-03-03T10:00:01Z",
                }
            ],
        )
    )
    before = db_digest(loaded)
    with pytest.raises(UnloadError) as info:
        loaded.unload("L0002")
    assert db_digest(loaded) == before
    assert any(
        p.startswith("vars.jsonl:1: var_change.page_view_id:") and "L0003" in p and "pv5" in p
        for p in info.value.problems
    ), info.value.problems
    loaded.unload("L0003")
    loaded.unload("L0002")
    assert (
        loaded.sql("select count(*) as n from page_views where page_view_id = 'pv5'")["n"][0] == 0
    )


def test_unload_of_the_base_is_refused_while_later_loads_use_it(tmp_path, loaded):
    loaded.load(
        write_jsonl(
            tmp_path / "p.jsonl",
            [
                {
                    "type": "presence",
                    "id": "p7",
                    "agent_id": "a1",
                    "changed_at": "2026-03-03T08:00:00Z",
                    "status": "away",
                }
            ],
        )
    )
    with pytest.raises(el.LoadError, match=r"presence\.agent_id"):
        loaded.unload("L0001")


def test_unknown_and_repeated_unload(tmp_path, loaded):
    with pytest.raises(UnloadError, match="no load 'L0099'"):
        loaded.unload("L0099")
    loaded.load(write_jsonl(tmp_path / "a.jsonl", [AGENT]))
    loaded.unload("L0002")
    with pytest.raises(UnloadError, match="already undone"):
        loaded.unload("L0002")


def test_reload_after_unload_adds_again(tmp_path, loaded):
    path = write_jsonl(tmp_path / "a.jsonl", [AGENT, PV])
    loaded.load(path)
    loaded.unload("L0002")
    report = loaded.load(path)
    assert report.load_id == "L0003" and report.rows == 2
