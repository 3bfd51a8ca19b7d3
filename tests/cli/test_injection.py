"""No terminal or markup injection: text from the outside is shown, never obeyed.

Ids from a configuration and from recorded data, file names, argument values and error
messages quoting them reach stdout and stderr with their control characters shown as
escapes (``\\x1b``), and rich never reads them as markup; ``--json`` keeps exact values.
"""

from __future__ import annotations

import io
import json
import time

import pytest
from rich.console import Console

from engage_lab.data import progress
from engage_lab.display import literal, visible
from tests.cli.conftest import (
    HOSTILE,
    PRODUCTION,
    RAW,
    SAMPLE,
    assert_no_raw,
    assert_one_error_line,
    cli_process,
    hostile_config,
)


@pytest.mark.parametrize("name", HOSTILE)
def test_visible_shows_every_hostile_id_recognisably(name):
    shown = visible(name)
    assert_no_raw(shown)
    assert "\n" not in shown
    # every printable character is kept, in order: the id stays recognisable
    rest = iter(shown)
    assert all(c in rest for c in name if c.isprintable())


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b", "\\x1b"),
        ("\r", "\\r"),
        ("\n", "\\n"),
        ("\t", "\\t"),
        ("\x00", "\\x00"),
        ("\x7f", "\\x7f"),
        ("\x9b", "\\x9b"),
        ("\u202e", "\\u202e"),
        ("\u2066", "\\u2066"),
        ("\u200f", "\\u200f"),
        ("\u2028", "\\u2028"),
        ("\udcff", "\\xff"),  # a byte that was not UTF-8 (surrogateescape)
    ],
)
def test_visible_escapes_each_kind_of_control(raw, shown):
    assert visible(f"a{raw}b") == f"a{shown}b"


def test_visible_keeps_text_of_every_script_and_only_its_own_line_breaks():
    text = "café – 東京 😀 [bold] \\ 100%"
    assert visible(text) == text
    assert visible("one\ntwo", newlines=True) == "one\ntwo"
    assert visible("one\ntwo\r", newlines=True) == "one\ntwo\\r"


def test_literal_is_never_read_as_markup():
    console = Console(file=io.StringIO(), force_terminal=True, color_system="truecolor")
    console.print(literal("[red]x[/red] [link=http://evil]y[/link] :smile:"))
    out = console.file.getvalue()
    assert "[red]x[/red]" in out and "[link=http://evil]y[/link]" in out and ":smile:" in out
    assert "\x1b]8;" not in out  # no hyperlink was made


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize("command", ["replay", "compare"])
def test_ids_from_a_configuration_are_shown_not_obeyed(cli, db_copy, tmp_path, name, command):
    config = hostile_config(tmp_path / "hostile.json", name)
    configs = [config] if command == "replay" else [PRODUCTION, config]
    run = cli(command, *configs, "--db", db_copy, "--engine", "reference", "--sample", "0.05")
    assert run.code == 0, run.err
    assert_no_raw(run.out, run.err)
    if command == "replay":  # the mismatch table shows the replayed trigger id
        assert visible(name) in run.out


@pytest.mark.parametrize("name", HOSTILE)
def test_json_output_keeps_the_exact_ids(cli, db_copy, tmp_path, name):
    config = hostile_config(tmp_path / "hostile.json", name)
    run = cli(
        "replay", config, "--db", db_copy, "--engine", "reference", "--json", "--sample", "0.05"
    )
    assert run.code == 0, run.err
    assert_no_raw(run.out, run.err)
    rows = json.loads(run.out)["first_mismatches"]
    assert name in {row["trigger_id"] for row in rows}


@pytest.fixture(scope="module")
def hostile_history(tmp_path_factory):
    """The sample whose first recorded chat events carry hostile trigger and item ids,
    loaded with the CLI; returns (database, the load's output)."""
    folder = tmp_path_factory.mktemp("hostile-history")
    for path in SAMPLE.glob("*.jsonl"):
        (folder / path.name).write_bytes(path.read_bytes())
    lines = (folder / "chat_events.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    first_pages = sorted({r["page_view_id"] for r in records if r.get("trigger_id")})[:3]
    changed = 0
    for record in records:
        if record["page_view_id"] in first_pages and record.get("trigger_id"):
            name = HOSTILE[changed % len(HOSTILE)]
            record["trigger_id"] = name
            if record.get("item_id"):
                record["item_id"] = name + "#item"
            changed += 1
    assert changed >= 3
    text = "\n".join(json.dumps(r) for r in records) + "\n"
    (folder / "chat_events.jsonl").write_text(text)
    db = folder / "hostile.duckdb"
    done = cli_process("load", folder, "--db", db)
    assert done.returncode == 0, done.stderr.decode()
    return db, done, {r.get("trigger_id") for r in records if r["page_view_id"] in first_pages}


def test_ids_from_recorded_data_are_shown_not_obeyed(hostile_history):
    db, loaded, names = hostile_history
    assert_no_raw(loaded.stdout.decode(), loaded.stderr.decode())
    done = cli_process("replay", PRODUCTION, "--db", db, "--engine", "reference")
    out, err = done.stdout.decode(), done.stderr.decode()
    assert done.returncode == 0, err
    assert_no_raw(out, err)
    assert "Traceback" not in err
    shown = [visible(n) for n in names if n in HOSTILE]
    assert shown and all(s in out for s in shown), (shown, out[-3000:])


def test_recorded_ids_stay_exact_in_json(hostile_history):
    db, _, names = hostile_history
    done = cli_process("replay", PRODUCTION, "--db", db, "--engine", "reference", "--json")
    assert done.returncode == 0, done.stderr.decode()
    rows = json.loads(done.stdout)["first_mismatches"]
    recorded = {row["trigger_id"] for row in rows if row["side"] == "recorded"}
    assert {n for n in names if n in HOSTILE} <= recorded


def _file_name(name: str) -> str:
    return name.replace("/", "_")  # a file name cannot hold a slash


@pytest.mark.parametrize("name", HOSTILE)
def test_a_refused_load_quotes_hostile_file_names_and_values_visibly(cli, tmp_path, name):
    bad = tmp_path / f"{_file_name(name)}.jsonl"
    record = {"type": "page_view", "id": name, "visitor_id": name, "started_at": "yesterday"}
    bad.write_text(json.dumps(record) + "\n")
    run = cli("load", bad, "--db", tmp_path / "x.duckdb")
    assert run.code == 1
    assert_no_raw(run.out, run.err)
    assert visible(_file_name(name)) in run.err
    assert "Traceback" not in run.err


@pytest.mark.parametrize("name", HOSTILE)
def test_validate_quotes_hostile_keys_file_names_and_values_visibly(cli, tmp_path, name):
    config = json.loads(PRODUCTION.read_text())
    config["source"]["timezone"] = name  # a value the validator quotes
    config[name] = 1  # an unknown key
    path = tmp_path / f"{_file_name(name)}.json"
    path.write_text(json.dumps(config))
    run = cli("validate", path)
    assert run.code == 1
    assert_no_raw(run.out, run.err)
    assert visible(_file_name(name)) in run.err
    good = tmp_path / f"ok {_file_name(name)}.json"
    good.write_text(PRODUCTION.read_text())
    run = cli("validate", good)
    assert run.code == 0 and visible(_file_name(name)) in run.out
    assert_no_raw(run.out, run.err)


@pytest.mark.parametrize("name", HOSTILE)
def test_usage_errors_quote_arguments_visibly_on_one_line(cli, name):
    for args in (["validate", "a.json", name], ["replay", "a.json", "--db", "x", "--engine", name]):
        run = cli(*args)
        assert run.code == 2
        assert_no_raw(run.out, run.err)
        assert_one_error_line(run.err)


@pytest.mark.parametrize("name", HOSTILE)
def test_one_line_errors_quote_arguments_visibly(cli, tmp_path, name):
    for args in (
        ["unload", "L0001", "--db", tmp_path / _file_name(name)],
        ["replay", PRODUCTION, "--db", tmp_path / _file_name(name)],
        ["load", SAMPLE, "--db", tmp_path / "x.duckdb", "--visit-idle", name],
        ["replay", PRODUCTION, "--db", tmp_path / "x.duckdb", "--segment", name],
    ):
        run = cli(*args)
        assert run.code != 0
        assert_no_raw(run.out, run.err)
        assert_one_error_line(run.err)


def test_the_load_progress_bar_shows_file_names_visibly(monkeypatch):
    screen = io.StringIO()
    monkeypatch.setattr(
        progress,
        "Console",
        lambda **_: Console(file=screen, force_terminal=True, width=100),
    )
    with progress.StepProgress(total=2, force=True, delay=0.0) as bar:
        bar.step("reading \x1b[2J[red]evil[/red]\x1b]8;;http://evil\x1b\\.jsonl")
        time.sleep(0.5)  # a few refreshes of the bar
    assert bar.shown
    drawn = screen.getvalue()
    assert "\\x1b[2J[red]evil[/red]" in drawn
    assert "\x1b[2J" not in drawn and "\x1b]8;" not in drawn


def test_a_real_terminal_stream_gets_no_raw_control_bytes(tmp_path):
    # bytes as a terminal would receive them, from another process
    config = hostile_config(tmp_path / "h\x1b[2J.json", HOSTILE[2])
    db = tmp_path / "db.duckdb"
    assert cli_process("load", SAMPLE, "--db", db).returncode == 0
    done = cli_process("compare", PRODUCTION, config, "--db", db, "--sample", "0.05")
    assert done.returncode == 0, done.stderr.decode()
    for stream in (done.stdout, done.stderr):
        for char in RAW:
            assert char.encode() not in stream
    assert b"h\\x1b[2J.json" in done.stdout  # the caption names B recognisably


def test_a_problem_quoting_a_line_break_stays_on_its_line(cli, tmp_path, db_copy):
    config = json.loads(PRODUCTION.read_text())
    config["source"]["timezone"] = "Europe/Paris\nengage-lab replay: all good"
    path = tmp_path / "nl.json"
    path.write_text(json.dumps(config))
    for args in (["validate", path], ["replay", path, "--db", db_copy]):
        run = cli(*args)
        assert run.code == 1
        lines = run.err.strip().splitlines()
        assert not any(line.startswith("engage-lab replay: all good") for line in lines)
        assert any("Europe/Paris\\nengage-lab replay: all good" in line for line in lines)
