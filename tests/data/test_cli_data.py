"""``engage-lab load`` and ``engage-lab unload``, in-process."""

from __future__ import annotations

from engage_lab.cli import main
from tests.data.conftest import base_records, write_jsonl


def test_load_prints_load_id_rows_and_quality(tmp_path, capsys):
    path = write_jsonl(tmp_path / "h.jsonl", base_records())
    db = tmp_path / "c.duckdb"
    assert main(["load", str(path), "--db", str(db), "--visit-idle", "1h30m"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("load L0001: 12 records added from 1 file(s)")
    assert "page_views" in out and "data quality" in out
    assert "pages whose end was not recorded: 1 of 2" in out


def test_bad_load_prints_problem_lines_without_traceback(tmp_path, capsys):
    bad = write_jsonl(
        tmp_path / "sessions.jsonl",
        [
            {
                "type": "page_view",
                "id": "p1",
                "visitor_id": "v",
                "started_at": "yesterday",
                "url": "https://x/",
            },
            "{broken",
        ],
    )
    assert main(["load", str(bad), "--db", str(tmp_path / "c.duckdb")]) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert "Traceback" not in captured.err
    assert lines[1] == 'sessions.jsonl:1: page_view.started_at: not a timestamp: "yesterday"'
    assert lines[2].startswith("sessions.jsonl:2: record: malformed JSON")


def test_unload_command(tmp_path, capsys):
    path = write_jsonl(tmp_path / "h.jsonl", base_records())
    db = str(tmp_path / "c.duckdb")
    assert main(["load", str(path), "--db", db]) == 0
    capsys.readouterr()
    assert main(["unload", "L0001", "--db", db]) == 0
    assert capsys.readouterr().out.startswith("unloaded L0001: 12 records removed")
    assert main(["unload", "L0001", "--db", db]) == 1
    err = capsys.readouterr().err
    assert "already undone" in err and "Traceback" not in err


def test_bad_visit_idle_is_one_line(tmp_path, capsys):
    path = write_jsonl(tmp_path / "h.jsonl", base_records())
    assert (
        main(["load", str(path), "--db", str(tmp_path / "c.duckdb"), "--visit-idle", "tomorrow"])
        == 1
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "visit_idle: cannot read duration" in err[0]
