"""The Lab object: opening, querying, closing."""

from __future__ import annotations

import pytest

import engage_lab as el


def test_open_creates_the_file_and_parent_folders(tmp_path):
    path = tmp_path / "new" / "folder" / "x.duckdb"
    with el.open(path) as lab:
        assert lab.sql("select count(*) as n from page_views")["n"][0] == 0
        assert lab.loads().empty
    assert path.exists()


def test_sql_with_parameters_and_errors(tmp_path, loaded):
    frame = loaded.sql(
        "select page_view_id from page_views where visitor_id = ? order by 1", ["v1"]
    )
    assert frame["page_view_id"].tolist() == ["pv1", "pv2"]
    with pytest.raises(el.EngageLabError, match="query failed"):
        loaded.sql("select nope from page_views")


def test_closed_lab_says_so(tmp_path):
    lab = el.open(tmp_path / "c.duckdb")
    lab.close()
    lab.close()  # a second close does nothing
    assert "closed" in repr(lab)
    with pytest.raises(el.DatabaseError, match="closed"):
        lab.sql("select 1")


def test_a_file_that_is_not_a_database(tmp_path):
    path = tmp_path / "notes.duckdb"
    path.write_text("hello, this is not a database\n" * 100)
    with pytest.raises(el.DatabaseError, match="cannot open"):
        el.open(path)


def test_close_releases_the_file_for_another_connection(tmp_path):
    path = tmp_path / "r.duckdb"
    el.open(path).close()
    with el.open(path) as lab:
        assert lab.con is not None
