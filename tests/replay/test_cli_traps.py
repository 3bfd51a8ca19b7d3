"""Command-line traps: a replay without a seed names the option; a closed pipe is quiet."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import engage_lab as el
from engage_lab.cli import EXIT_BROKEN_PIPE, EXIT_INVALID, main
from engage_lab.errors import MissingSeedError
from tests.replay.conftest import PRODUCTION, ROOT, SAMPLE


@pytest.fixture
def seedless_db(db_copy):
    """The sample with its recorded seed removed (its configuration has gated triggers)."""
    with el.open(db_copy) as lab:
        lab.con.execute("UPDATE source SET seed = NULL")
    return db_copy


@pytest.mark.parametrize("engine", ["reference", "fast"])
def test_replay_without_a_seed_says_the_option(seedless_db, capsys, engine):
    argv = ["replay", str(PRODUCTION), "--db", str(seedless_db), "--engine", engine]
    assert main(argv) == EXIT_INVALID
    err = capsys.readouterr().err
    assert "needs a seed" in err
    assert "--seed" in err
    assert "seed=" not in err  # the Python spelling is not an option of the command


@pytest.mark.parametrize("engine", ["reference", "fast"])
def test_python_api_without_a_seed_says_the_argument(seedless_db, engine):
    with el.open(seedless_db) as lab, pytest.raises(MissingSeedError, match=r"pass seed=$"):
        lab.replay(PRODUCTION, engine=engine)


def test_replay_with_the_seed_option_runs(seedless_db, capsys):
    argv = ["replay", str(PRODUCTION), "--db", str(seedless_db), "--seed", "2026", "--json"]
    assert main(argv) == 0
    assert '"fidelity": 1.0' in capsys.readouterr().out  # the sample's own seed


def _cli(*args: str, stdout) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "engage_lab.cli", *args]
    return subprocess.Popen(command, stdout=stdout, stderr=subprocess.PIPE, env=env, cwd=ROOT)


def test_load_into_a_pipe_closed_early_is_quiet(tmp_path):
    # `engage-lab load ... | head -0`: the reader is gone before the first line is written
    process = _cli("load", str(SAMPLE), "--db", str(tmp_path / "t.duckdb"), stdout=subprocess.PIPE)
    process.stdout.close()
    _, err = process.communicate(timeout=600)
    text = err.decode()
    assert "Traceback" not in text and "BrokenPipe" not in text, text
    assert process.returncode == EXIT_BROKEN_PIPE
    with el.open(tmp_path / "t.duckdb") as lab:  # the load itself was done
        assert lab.sql("select count(*) as n from page_views")["n"][0] > 0


def test_load_into_head_shows_the_first_line_only(tmp_path):
    head = subprocess.Popen(["head", "-n", "1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    process = _cli("load", str(SAMPLE), "--db", str(tmp_path / "t.duckdb"), stdout=head.stdin)
    head.stdin.close()
    _, err = process.communicate(timeout=600)
    first = head.stdout.read().decode()
    head.wait(timeout=60)
    assert first.startswith("load L0001:") and first.count("\n") == 1
    assert "Traceback" not in err.decode()
    assert process.returncode in (0, EXIT_BROKEN_PIPE)


def test_replay_into_a_closed_pipe_is_quiet_and_exits_like_load(tmp_path, db_copy):
    # the replay table is printed by rich, which would exit 1 on its own
    argv = ["replay", str(PRODUCTION), "--db", str(db_copy), "--engine", "reference"]
    process = _cli(*argv, "--sample", "0.05", stdout=subprocess.PIPE)
    process.stdout.close()
    _, err = process.communicate(timeout=600)
    text = err.decode()
    assert "Traceback" not in text and "BrokenPipe" not in text, text
    assert "replayed" in text  # the replay ran; only its output had no reader
    assert process.returncode == EXIT_BROKEN_PIPE
