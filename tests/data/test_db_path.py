"""What ``--db`` / ``el.open`` may name: a DuckDB database, a new path, never a data file.

DuckDB opens an existing JSON or CSV file as a throwaway in-memory database; a create
cut short by a full disk leaves a file DuckDB refuses forever. Each case is refused with
one line (the file untouched) or, for a 0-byte file, taken as a database never written.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import engage_lab as el
from engage_lab.cli import main
from engage_lab.data import dbfile
from tests.data.conftest import base_records, write_jsonl

ROOT = Path(__file__).resolve().parents[2]


def _parquet_bytes(tmp_path: Path) -> bytes:
    pq.write_table(pa.table({"id": ["a1"]}), tmp_path / "x.parquet")
    return (tmp_path / "x.parquet").read_bytes()


NOT_DATABASES = {
    "events.json": lambda _: b'{"type": "agent", "id": "a1", "soft_limit": 2}\n',
    "events.jsonl": lambda _: b'{"type": "agent", "id": "a1", "soft_limit": 2}\n' * 50,
    "agents.csv": lambda _: b"id,soft_limit\na1,2\n",
    "notes.txt": lambda _: b"hello\n" * 1000,
    "list.json": lambda _: b"[1, 2, 3]",
    "short.duckdb": lambda _: b"DUCK",  # shorter than a header
    "junk.duckdb": lambda _: bytes(range(256)) * 40,
    "agents.parquet": _parquet_bytes,
}


def _one_line_refusal(capsys, argv: list[str]) -> str:
    assert main(argv) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    return lines[0]


@pytest.mark.parametrize("name", sorted(NOT_DATABASES))
def test_a_file_that_is_not_a_database_is_refused_and_untouched(tmp_path, capsys, name):
    db = tmp_path / name
    content = NOT_DATABASES[name](tmp_path)
    db.write_bytes(content)
    (tmp_path / "data").mkdir()
    data = write_jsonl(tmp_path / "data" / "h.jsonl", base_records())
    before = sorted(p.name for p in tmp_path.iterdir())
    line = _one_line_refusal(capsys, ["load", str(data.parent), "--db", str(db)])
    assert line.startswith(f"engage-lab load: {db}: cannot open: not a DuckDB database")
    assert db.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no log, no temporary file
    with pytest.raises(el.DatabaseError, match="not a DuckDB database"):
        el.open(db)
    assert db.read_bytes() == content


def test_a_folder_is_refused(tmp_path, capsys):
    folder = tmp_path / "store"
    folder.mkdir()
    data = write_jsonl(tmp_path / "h.jsonl", base_records())
    line = _one_line_refusal(capsys, ["load", str(data), "--db", str(folder)])
    assert line == f"engage-lab load: {folder}: cannot open: a folder, not a database file " + (
        f"(e.g. {folder}/engage.duckdb)"
    )
    assert list(folder.iterdir()) == []


def test_a_path_ending_with_a_slash_names_a_folder(tmp_path):
    with pytest.raises(el.DatabaseError, match="a folder, not a database file"):
        el.open(f"{tmp_path}/new-folder/")
    assert not (tmp_path / "new-folder").exists()


def test_a_folder_that_cannot_be_created_is_refused(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    data = write_jsonl(tmp_path / "h.jsonl", base_records())
    db = tmp_path / "afile" / "sub" / "engage.duckdb"
    line = _one_line_refusal(capsys, ["load", str(data), "--db", str(db)])
    assert line.startswith(f"engage-lab load: {db}: cannot create its folder {db.parent}: ")
    with pytest.raises(el.DatabaseError, match="cannot create its folder"):
        el.open(tmp_path / "afile" / "engage.duckdb")
    assert (tmp_path / "afile").read_text() == "x"


def test_a_device_is_refused(capsys, tmp_path):
    data = write_jsonl(tmp_path / "h.jsonl", base_records())
    line = _one_line_refusal(capsys, ["load", str(data), "--db", os.devnull])
    assert line == f"engage-lab load: {os.devnull}: cannot open: not a regular file"


def test_a_link_to_nothing_is_refused(tmp_path):
    (tmp_path / "dangling.duckdb").symlink_to(tmp_path / "missing" / "x.duckdb")
    with pytest.raises(el.DatabaseError, match="symbolic link to nothing"):
        el.open(tmp_path / "dangling.duckdb")
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize("name", ["crashed.duckdb", "engage.db", "noext"])
def test_a_zero_byte_file_is_a_database_never_written(tmp_path, name):
    db = tmp_path / name
    db.write_bytes(b"")  # what a create cut short leaves behind
    with el.open(db) as lab:
        report = lab.load(write_jsonl(tmp_path / "h.jsonl", base_records()))
    assert report.rows == len(base_records())
    assert dbfile.looks_like_duckdb(db.read_bytes()[:16])
    with el.open(db) as lab:
        assert lab.sql("select count(*) as n from agents")["n"][0] == 1


def test_a_zero_byte_file_beside_a_log_is_refused(tmp_path):
    db = tmp_path / "odd.duckdb"
    db.write_bytes(b"")
    (tmp_path / "odd.duckdb.wal").write_bytes(b"x" * 100)
    with pytest.raises(el.DatabaseError, match="write-ahead log"):
        el.open(db)
    assert db.read_bytes() == b""


@pytest.mark.parametrize("name", [":memory:", "md:shared", ":memory:extra"])
def test_duckdb_special_names_are_files(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    with el.open(name) as lab:
        lab.load(write_jsonl(tmp_path / "h.jsonl", base_records()))
    assert dbfile.looks_like_duckdb((tmp_path / name).read_bytes()[:16])
    with el.open(tmp_path / name) as lab:  # kept: not an in-memory throwaway
        assert lab.sql("select count(*) as n from page_views")["n"][0] == 2


def test_an_in_memory_connection_is_never_taken_for_the_file(tmp_path):
    con = duckdb.connect()
    try:
        with pytest.raises(el.DatabaseError, match="did not open it as a database file"):
            dbfile.check_opened(con, "x.duckdb", tmp_path / "x.duckdb")
    finally:
        con.close()


def test_a_new_database_is_linked_whole_and_never_replaces_one(tmp_path):
    existing = tmp_path / "theirs.duckdb"
    el.open(existing).close()
    before = existing.read_bytes()
    temp = tmp_path / "mine.creating"
    el.open(tmp_path / "mine.duckdb").close()
    os.replace(tmp_path / "mine.duckdb", temp)
    dbfile._link_new(temp, existing)  # another process created it meanwhile: theirs stays
    assert existing.read_bytes() == before


FULL_DISK = textwrap.dedent(
    """
    import resource, signal, sys
    from engage_lab.cli import main
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
    limit = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    sys.exit(main(["load", sys.argv[2], "--db", sys.argv[3]]))
    """
)


@pytest.mark.parametrize("limit", [0, 100, 5_000, 100_000])
def test_a_full_disk_while_creating_leaves_no_file(tmp_path, limit):
    data = write_jsonl(tmp_path / "h.jsonl", base_records())
    folder = tmp_path / "dbs"
    folder.mkdir()
    db = folder / "new.duckdb"
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(limit), str(data), str(db)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith(f"engage-lab load: {db}: cannot create the database: ")
    assert "creating" not in lines[0]  # the temporary name is not shown
    assert list(folder.iterdir()) == []  # neither the database nor a temporary file
    # A later load (the disk freed) creates the database as if nothing happened.
    assert main(["load", str(data), "--db", str(db)]) == 0
    with el.open(db) as lab:
        assert lab.sql("select count(*) as n from loads")["n"][0] == 1


HOLD_LOCK = textwrap.dedent(
    """
    import fcntl, os, sys
    fd = os.open(sys.argv[1], os.O_RDWR)
    fcntl.lockf(fd, fcntl.LOCK_EX)  # as DuckDB locks a file it is creating
    print("ready", flush=True)
    sys.stdin.readline()
    """
)


def test_a_zero_byte_file_held_by_another_process_is_left_alone(tmp_path):
    db = tmp_path / "being-created.duckdb"
    db.write_bytes(b"")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(el.DatabaseError, match="in use by another process"):
            el.open(db)
        assert db.read_bytes() == b""
    finally:
        holder.communicate("\n", timeout=30)


@pytest.mark.parametrize("command", ["load", "unload", "replay", "compare"])
def test_every_command_refuses_a_data_file_as_its_database(tmp_path, capsys, command):
    db = tmp_path / "history.jsonl"
    content = b'{"type": "agent", "id": "a1", "soft_limit": 2}\n'
    db.write_bytes(content)
    config = str(ROOT / "data" / "configs" / "production-live-chat.json")
    argv = {
        "load": ["load", str(write_jsonl(tmp_path / "h.jsonl", base_records()))],
        "unload": ["unload", "L0001"],
        "replay": ["replay", config, "--seed", "1"],
        "compare": ["compare", config, config, "--seed", "1"],
    }[command]
    line = _one_line_refusal(capsys, [*argv, "--db", str(db)])
    assert line == (
        f"engage-lab {command}: {db}: cannot open: not a DuckDB database (it holds JSON text; "
        "data files are loaded into a database: engage-lab load FILE --db engage.duckdb)"
    )
    assert db.read_bytes() == content
