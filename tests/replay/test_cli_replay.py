"""``engage-lab replay`` and ``engage-lab compare`` in-process: output, JSON purity, --out."""

from __future__ import annotations

import json
import shutil

import pyarrow.parquet as pq
import pytest

from engage_lab.cli import main
from engage_lab.events import EVENTS_SCHEMA, read_events
from engage_lab.kpis import JSON_KPIS
from tests.replay.conftest import PRODUCTION, VARIANT

REF = ["--engine", "reference"]
FAST = ["--sample", "0.3"]  # a stable 30 % of visitors keeps these tests quick


def test_replay_json_stdout_is_only_the_object(db_copy, capsys):
    assert main(["replay", str(PRODUCTION), "--db", str(db_copy), "--json", *REF, *FAST]) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)  # the whole of stdout parses
    assert data["engine"] == "reference"
    assert data["config"] == str(PRODUCTION)
    assert list(data["kpis"])[: len(JSON_KPIS)] == list(JSON_KPIS)
    for key in JSON_KPIS:
        value = data["kpis"][key]
        values = value.values() if isinstance(value, dict) else [value]
        assert all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    assert data["kpis"]["fidelity"] == 1.0  # the sample was recorded with this config
    assert data["mismatched_page_views"] == 0 and data["first_mismatches"] == []
    assert "replaying" in err  # progress goes to stderr


def test_replay_prints_a_table_with_fidelity(db_copy, capsys):
    assert main(["replay", str(PRODUCTION), "--db", str(db_copy), *REF, *FAST]) == 0
    out = capsys.readouterr().out
    for word in ("page_views", "q5_service_failed", "displays_by_stage.configured", "reach"):
        assert word in out
    assert "fidelity 1.0000: 0 of" in out
    assert "first mismatching page views" not in out


@pytest.mark.slow
def test_replay_prints_the_first_mismatches(perturbed_db, tmp_path, capsys):
    db, victim = perturbed_db
    copy = tmp_path / "p.duckdb"
    shutil.copy(db, copy)
    assert main(["replay", str(PRODUCTION), "--db", str(copy), *REF, *FAST]) == 0
    out = capsys.readouterr().out
    assert ": 1 of" in out and "page views differ" in out
    assert "first mismatching page views" in out
    assert victim["page_view_id"] in out
    argv = ["replay", str(PRODUCTION), "--db", str(copy), "--json", *REF, *FAST]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["mismatched_page_views"] == 1
    rows = data["first_mismatches"]
    assert {r["page_view_id"] for r in rows} == {victim["page_view_id"]}
    first = rows[0]
    assert set(first) >= {"page_view_id", "side", "event_at", "event", "trigger_id", "differs"}
    assert first["event_at"].endswith("Z") and len(first["event_at"]) == 24
    assert any(r["differs"] and r["event"] == "item_shown" for r in rows)


def test_replay_out_writes_the_fixed_schema(db_copy, tmp_path, capsys):
    target = tmp_path / "events.parquet"
    argv = ["replay", str(PRODUCTION), "--db", str(db_copy), "--out", str(target), "--json"]
    argv += [*REF, *FAST]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert pq.read_schema(target).equals(EVENTS_SCHEMA, check_metadata=False)
    events = read_events(target)
    assert int((events["event"] == "trigger_activated").sum()) == data["kpis"]["activations"]


def test_replay_with_restrictions(db_copy, capsys):
    argv = ["replay", str(PRODUCTION), "--db", str(db_copy), "--json", *REF]
    argv += ["--sample", "0.5", "--segment", '{"page.device": "mobile"}']
    argv += ["--since", "2026-03-01T00:00:00Z", "--until", "2026-03-05T00:00:00Z"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["restrictions"] == {
        "time_range": ["2026-03-01T00:00:00.000Z", "2026-03-05T00:00:00.000Z"],
        "sample": 0.5,
        "segment": {"page.device": "mobile"},
    }
    assert 0 < data["kpis"]["page_views"] < 1739 * 0.5


def test_counterfactual_is_not_built(db_copy, capsys):
    assert main(["replay", str(PRODUCTION), "--db", str(db_copy), "--counterfactual"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not built yet" in err[0]


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--segment", '{"page.nope": 1}'], "segment"),
        (["--segment", '{"page.path": {"$gt": NaN}}'], 'segment["page.path"]["$gt"]: NaN is not'),
        (["--segment", '{"page.url": {"$in": [1e400]}}'], "[0]: 1e400 is not a finite number"),
        (["--sample", "nan"], "sample must be"),
        (["--sample", "2"], "sample must be"),
        (["--since", "2026-03-01"], "--since and --until"),
    ],
)
def test_user_errors_are_one_line(db_copy, capsys, extra, needle):
    code = main(["replay", str(PRODUCTION), "--db", str(db_copy), *REF, *extra])
    assert code == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert needle in lines[-1] and lines[-1].startswith("engage-lab replay:")
    assert "Traceback" not in captured.err


def test_missing_database_and_bad_config(tmp_path, db_copy, capsys):
    assert main(["replay", str(PRODUCTION), "--db", str(tmp_path / "none.duckdb")]) == 1
    assert "no database" in capsys.readouterr().err
    assert not (tmp_path / "none.duckdb").exists()  # not created by a replay
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert main(["replay", str(bad), "--db", str(db_copy), *REF]) == 1
    assert "bad.json" in capsys.readouterr().err


@pytest.mark.slow
def test_compare_json(db_copy, capsys):
    argv = ["compare", str(PRODUCTION), str(VARIANT), "--db", str(db_copy), "--json", *REF, *FAST]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["a"]["config"] == str(PRODUCTION) and data["b"]["config"] == str(VARIANT)
    rows = data["kpis"]
    assert rows["page_views"]["difference"] == 0
    for name in ("activations", "q1_offered", "displays_by_stage.configured"):
        row = rows[name]
        assert row["difference"] == pytest.approx(row["b"] - row["a"])
    # the variant lowers a threshold: it offers at least as often on this sample
    assert rows["executions_online"]["b"] >= rows["executions_online"]["a"]


@pytest.mark.slow
def test_compare_table(db_copy, capsys):
    argv = ["compare", str(PRODUCTION), str(PRODUCTION), "--db", str(db_copy), *REF, *FAST]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "B − A" in out and "q1_offered" in out
    assert "refusals_by_hour" not in out


def test_lab_and_dashboard_stay_unbuilt(capsys):
    assert main(["dashboard"]) == 2
    assert "not built yet" in capsys.readouterr().err


HISTORY = PRODUCTION.parent / "history-live-chat.json"


def test_replay_takes_a_configuration_history(db_copy, capsys):
    argv = ["replay", str(HISTORY), "--db", str(db_copy), "--json", *REF, *FAST]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["config"] == str(HISTORY)
    assert data["kpis"]["page_views"] > 0
    # the sample was recorded with production only, so the edited history decides some
    # page views differently; the fidelity says how many
    assert 0.0 <= data["fidelity"] <= 1.0


def test_both_engines_replay_a_history_with_edits_alike(db_copy, capsys):
    results = []
    for engine in (["--engine", "fast"], REF):
        assert main(["replay", str(HISTORY), "--db", str(db_copy), "--json", *engine, *FAST]) == 0
        results.append(json.loads(capsys.readouterr().out))
    fast, reference = results
    assert fast["engine"] == "fast" and reference["engine"] == "reference"
    assert fast["kpis"] == reference["kpis"]
    # the edit changes decisions: the recording (production only) differs somewhere
    assert fast["fidelity"] == reference["fidelity"] < 1.0
