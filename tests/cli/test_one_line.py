"""One clear line, never a traceback, for every user error of the command line.

Timezones DuckDB or zoneinfo does not know, arguments that are not UTF-8, visit idle
durations beyond what the engines hold, databases that cannot be written, and a sweep of
every command with bad arguments (missing, empty, malformed files, folders for files).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zoneinfo
from pathlib import Path

import duckdb
import pytest

import engage_lab as el
from engage_lab.cli import EXIT_INVALID, EXIT_USAGE
from engage_lab.config import Config
from engage_lab.errors import ConfigError, DatabaseError
from engage_lab.timezones import is_known_timezone, known_timezones
from tests.cli.conftest import PRODUCTION, SAMPLE, assert_one_error_line, cli_process

#: Names zoneinfo loads but DuckDB does not know (or the reverse), and a folder.
UNKNOWN_ZONES = ["posix/Europe/Paris", "right/UTC", "Europe", "America", "PST", "localtime"]


def _loads_count(db) -> int:
    with el.open(db, read_only=True) as lab:
        return int(lab.sql("select count(*) as n from loads")["n"][0])


# -- timezones -------------------------------------------------------------------------


def test_every_accepted_zone_is_known_to_both_engines():
    con = duckdb.connect()
    duckdb_names = {r[0] for r in con.execute("SELECT name FROM pg_timezone_names()").fetchall()}
    accepted = known_timezones()
    assert "Europe/Paris" in accepted and "UTC" in accepted
    assert accepted <= duckdb_names
    for name in accepted:
        zoneinfo.ZoneInfo(name)  # loads
    for name in UNKNOWN_ZONES:
        assert not is_known_timezone(name)


@pytest.mark.parametrize("zone", UNKNOWN_ZONES)
def test_a_configuration_with_an_unknown_zone_is_refused_on_one_line(cli, tmp_path, zone):
    config = json.loads(PRODUCTION.read_text())
    config["source"]["timezone"] = zone
    path = tmp_path / "zone.json"
    path.write_text(json.dumps(config))
    with pytest.raises(ConfigError, match=r"source\.timezone: unknown timezone"):
        Config.load(path)
    run = cli("validate", path)
    assert run.code == EXIT_INVALID
    assert "Traceback" not in run.err
    problems = run.err.strip().splitlines()[1:]
    assert len(problems) == 1 and "source.timezone" in problems[0] and zone in problems[0]


@pytest.mark.parametrize("zone", ["posix/Europe/Paris", "right/UTC", "Europe"])
def test_a_replay_of_such_a_configuration_says_so_without_a_traceback(cli, tmp_path, db_copy, zone):
    config = json.loads(PRODUCTION.read_text())
    config["source"]["timezone"] = zone
    path = tmp_path / "zone.json"
    path.write_text(json.dumps(config))
    for engine in ("reference", "fast"):
        run = cli("replay", path, "--db", db_copy, "--engine", engine)
        assert run.code == EXIT_INVALID
        assert "unknown timezone" in run.err and "Traceback" not in run.err


@pytest.mark.parametrize("zone", ["posix/Europe/Paris", "right/UTC", "Europe"])
def test_a_source_record_with_an_unknown_zone_is_refused_with_file_and_line(cli, tmp_path, zone):
    folder = tmp_path / "data"
    shutil.copytree(SAMPLE, folder, ignore=shutil.ignore_patterns("truth", "*.md"))
    record = json.loads((folder / "source.jsonl").read_text())
    record["timezone"] = zone
    (folder / "source.jsonl").write_text(json.dumps(record) + "\n")
    db = tmp_path / "x.duckdb"
    run = cli("load", folder, "--db", db)
    assert run.code == EXIT_INVALID
    assert f'source.jsonl:1: source.timezone: unknown timezone "{zone}"' in run.err
    assert "Traceback" not in run.err
    assert _loads_count(db) == 0


def test_exploration_refuses_an_unknown_zone_with_its_own_error(db_copy):
    from engage_lab import explore

    with el.open(db_copy, read_only=True) as lab:
        for zone in ("posix/Europe/Paris", "Europe"):
            with pytest.raises(explore.ExploreArgumentError, match="unknown timezone"):
                explore.traffic_by_hour(lab, timezone=zone)


# -- arguments that are not UTF-8 ------------------------------------------------------

NOT_UTF8 = b"\xff\xfe".decode("utf-8", "surrogateescape")


@pytest.mark.parametrize(
    "option", ["--seed", "--since", "--until", "--segment", "--out"], ids=str.lstrip
)
def test_an_option_that_is_not_utf8_is_a_usage_error(cli, db_copy, option):
    run = cli("replay", PRODUCTION, "--db", db_copy, option, NOT_UTF8)
    assert run.code == EXIT_USAGE
    assert_one_error_line(run.err)
    assert f"argument {option}: not UTF-8 text: \\xff\\xfe" in run.err


def test_a_seed_that_is_not_utf8_from_a_real_command_line(db_copy):
    done = cli_process("replay", PRODUCTION, "--db", db_copy, "--seed", NOT_UTF8)
    err = done.stderr.decode()
    assert done.returncode == EXIT_USAGE
    assert_one_error_line(err)
    assert "--seed" in err and "\\xff\\xfe" in err


def test_names_that_are_not_utf8_are_refused_naming_the_file(cli, tmp_path):
    folder = tmp_path / f"data{NOT_UTF8}"
    folder.mkdir()
    shutil.copy(SAMPLE / "source.jsonl", folder / "source.jsonl")
    run = cli("load", folder, "--db", tmp_path / f"db{NOT_UTF8}.duckdb")
    assert run.code == EXIT_INVALID
    assert_one_error_line(run.err)
    assert "db\\xff\\xfe.duckdb: the file name is not UTF-8" in run.err
    db = tmp_path / "db.duckdb"
    run = cli("load", folder, "--db", db)
    assert run.code == EXIT_INVALID and "Traceback" not in run.err
    assert "data\\xff\\xfe/source.jsonl: the file name is not UTF-8" in run.err
    assert _loads_count(db) == 0
    run = cli("unload", f"L{NOT_UTF8}", "--db", db)
    assert run.code == EXIT_USAGE
    assert_one_error_line(run.err)


# -- visit idle ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "9999999999999999999",  # beyond int64 milliseconds
        "9223372036854775808ms",
        "9007199254740993ms",  # 2**53 + 1 ms: beyond what instants plus it can hold
        "1e30",
        "-5",
        "-1h",
        "nan",
        "inf",
        "0",
        "",
    ],
)
def test_a_visit_idle_the_engines_cannot_hold_is_one_line_and_changes_nothing(cli, db_copy, value):
    before = _loads_count(db_copy)
    run = cli("load", SAMPLE, "--db", db_copy, f"--visit-idle={value}")
    assert run.code == EXIT_INVALID
    assert_one_error_line(run.err)
    assert "visit_idle" in run.err
    assert _loads_count(db_copy) == before


def test_the_longest_visit_idle_loads_and_replays(cli, tmp_path):
    db = tmp_path / "x.duckdb"
    run = cli("load", SAMPLE, "--db", db, "--visit-idle", f"{2**53}ms")
    assert run.code == 0, run.err
    run = cli("replay", PRODUCTION, "--db", db, "--engine", "reference", "--json")
    assert run.code == 0, run.err
    assert json.loads(run.out)["kpis"]["page_views"] > 0


# -- read-only databases ---------------------------------------------------------------


def test_replay_and_compare_only_read_the_database(db_copy, tmp_path):
    # A process holding the file read-only lets other readers in and keeps writers out:
    # replay and compare run beside it, load is refused with one line.
    import subprocess
    import sys

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
            "print('held', flush=True); sys.stdin.read()",
            str(db_copy),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline().strip() == b"held"
        before = db_copy.read_bytes()
        replay = cli_process(
            "replay",
            PRODUCTION,
            "--db",
            db_copy,
            "--engine",
            "reference",
            "--sample",
            "0.05",
            "--json",
        )
        assert replay.returncode == 0, replay.stderr.decode()
        assert json.loads(replay.stdout)["fidelity"] == 1.0
        compare = cli_process(
            "compare",
            PRODUCTION,
            PRODUCTION,
            "--db",
            db_copy,
            "--engine",
            "reference",
            "--sample",
            "0.05",
        )
        assert compare.returncode == 0, compare.stderr.decode()
        load = cli_process("load", SAMPLE, "--db", db_copy)
        assert load.returncode == EXIT_INVALID
        assert_one_error_line(load.stderr.decode())
        assert "in use by another process" in load.stderr.decode()
        assert db_copy.read_bytes() == before
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)


def _permission_denied_unless_read_only(real_connect):
    def connect(database, *args, read_only=False, **kwargs):
        if not read_only and str(database) != ":memory:" and database:
            raise duckdb.IOException(f'IO Error: Cannot open file "{database}": Permission denied')
        return real_connect(database, *args, read_only=read_only, **kwargs)

    return connect


def test_a_file_this_user_cannot_write_replays_and_refuses_writes_on_one_line(
    cli, db_copy, monkeypatch
):
    # DuckDB's own words for a read-write open of a file without write permission
    monkeypatch.setattr(duckdb, "connect", _permission_denied_unless_read_only(duckdb.connect))
    run = cli("replay", PRODUCTION, "--db", db_copy, "--engine", "reference", "--sample", "0.05")
    assert run.code == 0, run.err
    for args in (["load", SAMPLE], ["unload", "L0001"]):
        run = cli(*args, "--db", db_copy)
        assert run.code == EXIT_INVALID
        assert_one_error_line(run.err)
        assert "cannot write the database (permission denied)" in run.err


def test_a_lab_opened_read_only_refuses_to_load(db_copy):
    with el.open(db_copy, read_only=True) as lab:
        assert lab.sql("select count(*) as n from page_views")["n"][0] > 0
        with pytest.raises(DatabaseError, match="open read-only: cannot load"):
            lab.load(SAMPLE)
        with pytest.raises(DatabaseError, match="open read-only: cannot unload"):
            lab.unload("L0001")


def test_a_read_only_open_of_a_duckdb_file_without_our_tables_says_so(tmp_path):
    db = tmp_path / "other.duckdb"
    duckdb.connect(str(db)).close()
    with pytest.raises(DatabaseError, match="holds no engage_lab tables"):
        el.open(db, read_only=True)


# -- a sweep of every command with bad arguments ---------------------------------------


def _bad_files(tmp_path):
    (tmp_path / "empty.json").write_text("")
    (tmp_path / "bad.json").write_text("{bad")
    (tmp_path / "list.json").write_text("[]")
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe{}")
    (tmp_path / "folder.json").mkdir()
    (tmp_path / "empty.duckdb").write_text("")
    (tmp_path / "text.duckdb").write_text("not a database\n")
    (tmp_path / "empty-folder").mkdir()
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "bad.jsonl").write_text("{bad\n")


BAD_CONFIGS = ["empty.json", "bad.json", "list.json", "binary.json", "folder.json", "missing.json"]
BAD_DBS = ["empty.duckdb", "text.duckdb", "empty-folder", "missing.duckdb"]


def _sweep_cases():
    for name in BAD_CONFIGS:
        yield ["validate", name]
        yield ["replay", name, "--db", "{db}", "--engine", "reference"]
        yield ["compare", str(PRODUCTION), name, "--db", "{db}"]
        yield ["generate", "--out", "world", "--visitors", "5", "--seed", "1", "--config", name]
    for db in BAD_DBS:
        yield ["replay", str(PRODUCTION), "--db", db]
        yield ["unload", "L0001", "--db", db]
        if db not in ("missing.duckdb", "empty.duckdb"):  # a 0-byte file: a create cut
            yield ["load", str(SAMPLE), "--db", db]  # short, replaced (tests/data/test_db_path)
    for data in ["missing", "empty-folder", "empty.jsonl", "bad.jsonl", "folder.json"]:
        yield ["load", data, "--db", "new.duckdb"]
    yield ["unload", "L9999", "--db", "{db}"]
    yield ["replay", str(PRODUCTION), "--db", "{db}", "--since", "2026-03-01"]
    yield ["replay", str(PRODUCTION), "--db", "{db}", "--since", "x", "--until", "y"]
    yield ["replay", str(PRODUCTION), "--db", "{db}", "--since", "0001-01-01"]
    yield ["replay", str(PRODUCTION), "--db", "{db}", "--until", "2200-01-01"]
    yield ["replay", str(PRODUCTION), "--db", "{db}", "--sample", "2"]
    yield ["replay", str(PRODUCTION), "--db", "{db}", "--sample", "nan"]
    yield ["replay", str(PRODUCTION), "--db", "{db}", "--segment", "{bad"]
    yield ["replay", str(PRODUCTION), "--db", "{db}", "--segment", "[]"]
    yield ["replay", str(PRODUCTION), "--db", "{db}", "--engine", "reference", "--sample",
           "0.05", "--out", "empty-folder"]  # fmt: skip
    yield ["generate", "--out", "bad.json", "--visitors", "5", "--seed", "1"]
    yield ["generate", "--out", "world", "--visitors", "-1", "--seed", "1"]
    yield ["generate", "--out", "world", "--visitors", "5", "--seed", "1", "--days", "0"]
    yield ["generate", "--out", "world", "--visitors", "5", "--seed", "-1"]
    yield ["generate", "--out", "world", "--visitors", "1", "--seed", "1", "--days", "100000000"]
    yield ["generate", "--out", "world", "--visitors", "5", "--seed", "1",
           "--config-history", str(PRODUCTION)]  # fmt: skip


@pytest.mark.parametrize("case", list(_sweep_cases()), ids=" ".join)
def test_bad_arguments_give_one_clear_error_never_a_traceback(
    cli, tmp_path, db_copy, monkeypatch, case
):
    _bad_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    run = cli(*(str(db_copy) if a == "{db}" else a for a in case))
    assert run.code in (EXIT_INVALID, EXIT_USAGE), (run.code, run.err)
    assert "Traceback" not in run.err
    lines = [line for line in run.err.strip().splitlines()]
    assert lines, "no message"
    # one line, or the headline of a listing and its problems (indented or file:line)
    errors = [line for line in lines if line.startswith("engage-lab")]
    assert len(errors) == 1 or (case[0] == "validate" and "invalid configuration" in lines[0])
    assert not (tmp_path / "missing.duckdb").exists()  # nothing created for a reader


def _as_a_user_who_cannot_write() -> tuple[str, ...]:
    """A command prefix that runs as a user without root's power to write any file."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    assert setpriv, "as root, this test needs setpriv (util-linux) to drop to nobody"
    return (setpriv, "--reuid=65534", "--regid=65534", "--clear-groups")


def test_a_chmod_444_database_replays_and_a_load_into_it_is_one_line(sample_db):
    folder = Path(tempfile.mkdtemp(prefix="engage-lab-ro-"))
    try:
        home = folder / "home"
        home.mkdir()
        folder.chmod(0o755)
        home.chmod(0o777)
        db = folder / "read-only.duckdb"
        shutil.copy(sample_db, db)
        db.chmod(0o444)
        prefix = _as_a_user_who_cannot_write()
        # the premise: this user cannot write the file
        probe = cli_process_raw(prefix, "-c", f"open({str(db)!r}, 'ab')")
        assert b"PermissionError" in probe.stderr, probe.stderr.decode()
        # the compiled-kernel cache under the tree is not this user's: a cache in home,
        # and the kernels interpreted (the small replay needs no compilation)
        env = {
            "HOME": str(home),
            "NUMBA_CACHE_DIR": str(home / "numba"),
            "ENGAGE_LAB_KERNELS": "interpreted",
        }
        replay = cli_process(
            "replay", PRODUCTION, "--db", db, "--engine", "reference", "--sample", "0.05",
            "--json", prefix=prefix, env=env,
        )  # fmt: skip
        assert replay.returncode == 0, replay.stderr.decode()
        assert json.loads(replay.stdout)["kpis"]["page_views"] > 0
        for args in (["load", SAMPLE], ["unload", "L0001"]):
            done = cli_process(*args, "--db", db, prefix=prefix, env=env)
            err = done.stderr.decode()
            assert done.returncode == EXIT_INVALID, err
            assert_one_error_line(err)
            assert "cannot write the database (permission denied)" in err
    finally:
        shutil.rmtree(folder)


def cli_process_raw(prefix, *args):
    return subprocess.run([*prefix, sys.executable, *args], capture_output=True, timeout=120)


def test_the_python_api_refuses_a_seed_that_is_not_utf8_by_name(db_copy):
    from engage_lab.errors import EngineError

    with el.open(db_copy, read_only=True) as lab:
        for engine in ("reference", "fast"):
            with pytest.raises(EngineError, match="the seed is not UTF-8 text"):
                lab.replay(PRODUCTION, engine=engine, seed=NOT_UTF8)
