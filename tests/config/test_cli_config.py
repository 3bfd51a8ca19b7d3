"""``engage-lab validate`` and ``engage-lab schema``, in process."""

from __future__ import annotations

import json

import pytest

from engage_lab.cli import main
from engage_lab.config import config_schema, history_schema
from tests.config.conftest import example_paths, minimal_config


@pytest.mark.parametrize("path", example_paths(), ids=lambda p: p.name)
def test_validate_examples_exit_0_with_one_ok_line(path, capsys):
    assert main(["validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"OK {path}: ")
    expected = "configuration history" if path.name.startswith("history") else "configuration"
    assert lines[0].split(": ", 1)[1].startswith(expected + ", ")


def test_validate_summary_counts(tmp_path, capsys):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(minimal_config()), encoding="utf-8")
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out == (
        f"OK {path}: configuration, live_chat, 3 triggers (3 enabled, 1 gated), 2 items,"
        " 1 messages, 1 custom variables\n"
    )


def test_validate_lists_every_problem_and_exits_1(tmp_path, capsys):
    data = minimal_config()
    data["source"]["mode"] = "chat"
    for n in range(25):  # more problems than an error message shows: the CLI lists all
        data["triggers"].append(
            {"id": f"x{n}", "label": "X", "actions": [{"type": "show_item", "item": "none"}]}
        )
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert main(["validate", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == f"{path}: invalid configuration (26 problems)"
    assert lines[1] == "  source.mode: must be one of live_chat, messaging"
    assert len(lines) == 27
    assert lines[-1].startswith("  triggers[27].actions[0].item: unknown item 'none'")


def test_validate_invalid_history(tmp_path, capsys):
    path = tmp_path / "h.json"
    path.write_text(json.dumps({"schema_version": 1, "history": []}), encoding="utf-8")
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"{path}: invalid configuration history (1 problem)",
        "  history: at least one entry is required",
    ]


def test_validate_malformed_json_and_missing_file(tmp_path, capsys):
    path = tmp_path / "broken.json"
    path.write_text('{"schema_version": 1,\n}', encoding="utf-8")
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"{path}: invalid configuration (1 problem)"
    assert err[1].startswith("  line 2, column 1: ")
    assert main(["validate", str(tmp_path / "missing.json")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "cannot read" in err[0] and "missing.json" in err[0]


def test_schema_prints_the_models_schema(capsys):
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == config_schema()
    assert main(["schema", "--history"]) == 0
    assert json.loads(capsys.readouterr().out) == history_schema()
