"""The visit idle duration of a load: the configuration's parser, the same bare number.

Before one parser served both, ``Lab.load(visit_idle=1800)`` meant 1.8 s (a bare number
was milliseconds there) while ``"visit_idle": 1800`` in a configuration meant 30 min.
"""

from __future__ import annotations

import json

import pytest

import engage_lab as el
from engage_lab.cli import main
from engage_lab.config import Config, production
from engage_lab.durations import duration_ms
from tests.data.conftest import base_records, write_jsonl


@pytest.mark.parametrize(
    ("idle", "ms"),
    [
        ("24h", 86_400_000),
        ("30m", 1_800_000),
        ("90s", 90_000),
        ("1h30m", 5_400_000),
        ("1 hour 30 minutes", 5_400_000),
        ("250ms", 250),
        (1800, 1_800_000),
        (1.5, 1_500),
        ("1800", 1_800_000),
    ],
)
def test_load_reads_visit_idle_as_a_configuration_does(tmp_path, lab, idle, ms):
    report = lab.load(write_jsonl(tmp_path / "h.jsonl", base_records()), visit_idle=idle)
    assert report.visit_idle_ms == ms
    assert lab.loads()["visit_idle_ms"].tolist() == [ms]


def test_a_bare_number_means_seconds_on_every_path(tmp_path, lab):
    """The old inconsistency: 1800 was 1.8 s for ``Lab.load`` and 30 min in a config."""
    data = json.loads(production("live_chat").to_json())
    data["source"]["visit_idle"] = 1800
    from_config = Config.from_dict(data).source.visit_idle_ms
    report = lab.load(write_jsonl(tmp_path / "h.jsonl", base_records()), visit_idle=1800)
    assert report.visit_idle_ms == from_config == duration_ms(1800) == 30 * 60_000


def test_cli_visit_idle_bare_number_is_seconds(tmp_path, capsys):
    path = write_jsonl(tmp_path / "h.jsonl", base_records())
    db = tmp_path / "c.duckdb"
    assert main(["load", str(path), "--db", str(db), "--visit-idle", "1800"]) == 0
    capsys.readouterr()
    with el.open(db) as lab:
        assert lab.loads()["visit_idle_ms"].tolist() == [1_800_000]


@pytest.mark.parametrize(
    ("idle", "words"),
    [
        ("soon", "cannot read duration"),
        ("1h30", 'write "1h30m" or "1h30s"'),
        ("8 fortnights", "unknown unit"),
        (0, "must be longer than 0"),
        ("0s", "must be longer than 0"),
        (-3, "must not be negative"),
        ("0.0001s", "whole number of milliseconds"),
        (True, "number of seconds"),
    ],
)
def test_bad_visit_idle_is_refused_and_nothing_loaded(tmp_path, lab, idle, words):
    with pytest.raises(el.ConfigError, match=words) as caught:
        lab.load(write_jsonl(tmp_path / "h.jsonl", base_records()), visit_idle=idle)
    assert str(caught.value).startswith("visit_idle: ")
    assert len(lab.loads()) == 0


def test_cli_refuses_an_ambiguous_visit_idle_in_one_line(tmp_path, capsys):
    path = write_jsonl(tmp_path / "h.jsonl", base_records())
    code = main(["load", str(path), "--db", str(tmp_path / "c.duckdb"), "--visit-idle", "1h30"])
    err = capsys.readouterr().err
    assert code == 1
    assert 'visit_idle: "1h30" ends with a number without a unit' in err
    assert "Traceback" not in err
