"""Loading: idempotency, overlap, formats, folders, timestamps, bookkeeping."""

from __future__ import annotations

import datetime as dt
import json
import time

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import engage_lab as el
from engage_lab.data import schema
from engage_lab.data.sqltext import ident, join, sql
from tests.data.conftest import base_records, db_digest, write_jsonl


def test_every_table_has_the_documented_columns(lab):
    for table in schema.TABLES:
        got = list(lab.sql(sql("select * from {t} limit 0", t=ident(table.name))).columns)
        assert got == [c.name for c in table.columns] + ["load_id", "load_file", "load_line"]
    assert list(lab.loads().columns) == [c.name for c in schema.LOADS_COLUMNS]


def test_load_reports_rows_per_table(tmp_path, lab):
    report = lab.load(write_jsonl(tmp_path / "h.jsonl", base_records()))
    assert report.load_id == "L0001"
    assert report.rows == 12
    assert report.rows_by_table["page_views"] == 2
    assert report.rows_by_table["agents"] == 1
    assert report.skipped == 0
    assert lab.sql("select count(*) as n from page_views")["n"][0] == 2


def test_same_file_twice_adds_nothing_but_its_loads_row(tmp_path, loaded, base_db):
    before = db_digest(loaded)
    report = loaded.load(base_db.parent / "base.jsonl")
    assert report.rows == 0 and report.skipped == 12
    after = db_digest(loaded)
    assert {k for k in before if before[k] != after[k]} == {"loads"}
    loads = loaded.loads()
    assert list(loads["load_id"]) == ["L0001", "L0002"]
    assert list(loads["rows"]) == [12, 0]
    assert loads["digests"][0] == loads["digests"][1]


def test_overlapping_files_are_deduplicated(tmp_path, lab):
    records = base_records()
    write_jsonl(tmp_path / "a.jsonl", records[:8])
    write_jsonl(tmp_path / "b.jsonl", records[4:])
    report = lab.load(tmp_path / "a.jsonl", tmp_path / "b.jsonl")
    assert report.rows == len(records)
    assert lab.sql("select count(*) as n from var_changes")["n"][0] == 1


def test_whitespace_and_key_order_do_not_make_a_conflict(tmp_path, loaded):
    agent = {"soft_limit": 3, "name": "Ana", "id": "a1", "type": "agent"}
    path = tmp_path / "again.jsonl"
    path.write_text(json.dumps(agent, indent=None, separators=(" , ", " : ")) + "\n")
    assert loaded.load(path).rows == 0


def test_folder_reads_top_level_data_files_only(tmp_path, lab):
    folder = tmp_path / "world"
    (folder / "truth").mkdir(parents=True)
    write_jsonl(folder / "history.jsonl", base_records())
    write_jsonl(folder / "truth" / "hidden.jsonl", ["this is not read"])
    (folder / "README.md").write_text("not data")
    report = lab.load(folder)
    assert report.rows == 12
    assert [p.rsplit("/", 1)[1] for p in report.files] == ["history.jsonl"]


def test_timestamps_zones_epoch_ms_and_sub_ms_truncation(tmp_path, lab):
    base = base_records()
    base[3]["started_at"] = "2026-03-02T10:00:00.2509+01:00"  # 09:00:00.250 UTC
    base[3]["ended_at"] = 1772442300000  # 2026-03-02T09:05:00Z
    base[4]["started_at"] = "2026-03-02 09:06:00-0000"
    lab.load(write_jsonl(tmp_path / "t.jsonl", base))
    got = lab.sql("select page_view_id, started_at, ended_at from page_views order by 1")
    assert got["started_at"][0] == pd.Timestamp("2026-03-02 09:00:00.250")
    assert got["ended_at"][0] == pd.Timestamp("2026-03-02 09:05:00")
    assert got["started_at"][1] == pd.Timestamp("2026-03-02 09:06:00")
    (type_name,) = lab.con.execute("select typeof(started_at) from page_views limit 1").fetchone()
    assert type_name == "TIMESTAMP"


def test_path_derived_from_url_when_absent(tmp_path, lab):
    records = base_records()
    records[4]["url"] = "https://shop.example?q=1#frag"
    records[4]["id"] = "pv2"
    records.append(
        {
            "type": "page_view",
            "id": "pv3",
            "visitor_id": "v2",
            "url": "x",
            "path": "/given",
            "started_at": "2026-03-02T09:00:00Z",
        }
    )
    lab.load(write_jsonl(tmp_path / "p.jsonl", records))
    paths = dict(lab.con.execute("select page_view_id, path from page_views").fetchall())
    assert paths == {"pv1": "/cart?step=1", "pv2": "/?q=1", "pv3": "/given"}


def test_bookkeeping_columns_name_the_place(tmp_path, loaded):
    row = loaded.sql("select load_id, load_file, load_line from agents where agent_id = 'a1'")
    assert row.iloc[0].tolist() == ["L0001", "base.jsonl", 10]


def test_value_types(tmp_path, lab):
    records = base_records()[:5] + [
        {
            "type": "var_change",
            "id": f"vc{i}",
            "page_view_id": "pv1",
            "name": "custom_x",
            "value": value,
            "changed_at": "2026-03-02T09:01:00Z",
        }
        for i, value in enumerate(["gold", 3, 2.5, True, None])
    ]
    records[4]["started_at"] = "2026-03-02T09:06:00Z"
    lab.load(write_jsonl(tmp_path / "v.jsonl", records))
    got = lab.con.execute(
        "select var_change_id, value_type, value from var_changes order by 1"
    ).fetchall()
    assert [(g[1], g[2]) for g in got] == [
        ("string", '"gold"'),
        ("number", "3"),
        ("number", "2.5"),
        ("boolean", "true"),
        ("null", None),
    ]


def _frame_of(lab: el.Lab, table: str) -> pd.DataFrame:
    cols = [c.name for c in schema.TABLES_BY_NAME[table].columns]
    query = sql("select {c} from {t} order by 1", c=join(ident(c) for c in cols), t=ident(table))
    return lab.sql(query).reset_index(drop=True)


def test_csv_and_parquet_load_the_same_rows_as_jsonl(tmp_path):
    records = base_records()
    with el.open(tmp_path / "j.duckdb") as lab:
        lab.load(write_jsonl(tmp_path / "all.jsonl", records))
        expected = {
            t: _frame_of(lab, t) for t in ("page_views", "agents", "presence", "var_changes")
        }
    folder = tmp_path / "mixed"
    folder.mkdir()
    write_jsonl(
        folder / "rest.jsonl",
        [r for r in records if r["type"] not in ("page_view", "agent", "presence", "var_change")],
    )
    (folder / "page_views.csv").write_text(
        "id,visitor_id,started_at,ended_at,url,embedded,page_change,placeholders\n"
        "pv1,v1,2026-03-02T09:00:00Z,2026-03-02T09:05:00Z,https://shop.example/cart?step=1#top,"
        'false,false,"[""btn-fixed""]"\n'
        "pv2,v1,1772442360000,,https://shop.example/,,,\n"
    )
    (folder / "var_change.csv").write_text(
        "id,page_view_id,name,value,changed_at\nvc1,pv1,custom_cart,129.5,2026-03-02T09:01:00Z\n"
    )
    pq.write_table(
        pa.table({"id": ["a1"], "name": ["Ana"], "soft_limit": [3]}), folder / "agents.parquet"
    )
    pq.write_table(
        pa.table(
            {
                "id": ["p1"],
                "agent_id": ["a1"],
                "changed_at": pa.array(
                    [dt.datetime(2026, 3, 2, 8, 0)], pa.timestamp("ms", tz="UTC")
                ),
                "status": ["available"],
            }
        ),
        folder / "presence.parquet",
    )
    with el.open(tmp_path / "m.duckdb") as lab:
        report = lab.load(folder)
        assert report.rows == len(records)
        for table, frame in expected.items():
            pd.testing.assert_frame_equal(_frame_of(lab, table), frame, check_dtype=False)


def test_crlf_line_endings(tmp_path, lab):
    path = tmp_path / "crlf.jsonl"
    path.write_bytes("".join(json.dumps(r) + "\r\n" for r in base_records()).encode())
    assert lab.load(path).rows == 12


def test_progress_bar_appears_only_after_its_delay():
    from engage_lab.data.progress import StepProgress

    with StepProgress(total=2, enabled=True, delay=0.05) as slow:
        time.sleep(0.5)
        slow.step("one")
        slow.step("two")
    assert slow.shown and slow.done == 2
    with StepProgress(total=2, enabled=True, delay=5.0) as fast:
        fast.step("one")
    assert not fast.shown


def test_the_same_file_named_twice_in_one_call_is_read_once(tmp_path, lab):
    path = write_jsonl(tmp_path / "h.jsonl", base_records())
    report = lab.load(path, tmp_path / "." / "h.jsonl", tmp_path)
    assert report.rows == 12 and len(report.files) == 1
