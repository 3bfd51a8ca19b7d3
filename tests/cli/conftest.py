"""Fixtures of the command-line tests: the sample database, hostile text, a runner.

The commands run in-process through ``engage_lab.cli.main`` (as the other CLI tests do),
except where a test needs real bytes on a real stream, another process or another user.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import engage_lab as el
from engage_lab.cli import main

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
PRODUCTION = ROOT / "data" / "configs" / "production-live-chat.json"

#: Ids an attacker would write: rich markup, an OSC 8 hidden link, a screen clear, a
#: carriage return that overwrites the line, a bidi override, a bell, a C1 CSI.
HOSTILE = (
    "[red]x[/red]",
    "[link=http://evil]x[/link]",
    "\x1b]8;;http://evil\x1b\\x",
    "\x1b[2J",
    "a\rb",
    "\u202eabc",
    "bell\x07",
    "c1\x9b2J",
    "\x1b[31mred[/]",
)
#: What must never reach a stream raw: every control character but the line break, and
#: the bidi controls.
RAW = ("\x1b", "\r", "\x07", "\x9b", "\u202e")


def assert_no_raw(*texts: str) -> None:
    for text in texts:
        for char in RAW:
            assert char not in text, f"raw {char!r} reached the output"


#: How the CLI's progress lines on stderr begin (they are logs, not errors).
LOG_LINES = ("replaying ", "replayed ", "compiling ", "events written ")


def error_lines(err: str) -> list[str]:
    """The lines of stderr that are not progress logs."""
    return [line for line in err.strip().splitlines() if not line.startswith(LOG_LINES)]


def assert_one_error_line(err: str) -> None:
    lines = error_lines(err)
    assert len(lines) == 1 and lines[0].startswith("engage-lab"), err
    assert "Traceback" not in err


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys):
    """Run ``engage-lab ARGS`` in-process; usage errors (SystemExit) give their code."""

    def run(*args: object) -> Run:
        try:
            code = main([str(a) for a in args])
        except SystemExit as stop:
            code = stop.code
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def cli_process(*args: object, prefix: tuple[str, ...] = (), env: dict | None = None):
    """``python -m engage_lab.cli ARGS`` in another process; bytes out."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    command = [*prefix, sys.executable, "-m", "engage_lab.cli", *map(str, args)]
    return subprocess.run(command, capture_output=True, env=environment, cwd=ROOT, timeout=900)


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory) -> Path:
    """The sample loaded into a database file (closed; copy it to change it)."""
    db = tmp_path_factory.mktemp("cli-sample") / "sample.duckdb"
    with el.open(db) as lab:
        lab.load(SAMPLE, progress=False)
    return db


@pytest.fixture
def db_copy(sample_db, tmp_path) -> Path:
    target = tmp_path / "copy.duckdb"
    shutil.copy(sample_db, target)
    return target


def hostile_config(path: Path, name: str) -> Path:
    """The production configuration whose first trigger (it fires on every page) is
    called ``name`` and shows an item called ``name + "#item"``."""
    config = json.loads(PRODUCTION.read_text())
    config["triggers"][0]["id"] = name
    text = json.dumps(config).replace('"btn-help-footer"', json.dumps(name + "#item"))
    path.write_text(text)
    return path
