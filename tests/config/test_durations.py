"""Chronic-duration strings and plain seconds, to exact milliseconds."""

from __future__ import annotations

import pytest

from engage_lab.config import Config, duration_ms
from engage_lab.durations import DurationError


@pytest.mark.parametrize(
    ("value", "ms"),
    [
        ("8m", 480_000),
        ("2m 25s", 145_000),
        ("2m25s", 145_000),
        ("24h", 86_400_000),
        ("1 hour 30 minutes", 5_400_000),
        ("1.5h", 5_400_000),
        ("1d 2h", 93_600_000),
        ("1w", 604_800_000),
        ("250ms", 250),
        ("0", 0),
        ("90", 90_000),
        (0, 0),
        (480, 480_000),
        (0.25, 250),
        ("  8M  ", 480_000),
    ],
)
def test_durations(value, ms):
    assert duration_ms(value) == ms


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("8 fortnights", "unknown unit"),
        ("soon", "cannot read"),
        ("-5m", "cannot read"),
        ("1h30", 'ends with a number without a unit .* write "1h30m" or "1h30s"'),
        ("1 hour 30", 'write "1 hour 30m" or "1 hour 30s"'),
        ("1h 30s 5", 'write "1h 30s 5m" or "1h 30s 5s"'),
        (-1, "negative"),
        (0.0001, "whole number of milliseconds"),
        (True, "number of seconds"),
        (float("nan"), "finite"),
        (None, "number of seconds"),
        (float("inf"), "finite"),
    ],
)
def test_bad_durations(value, words):
    with pytest.raises(DurationError, match=words):
        duration_ms(value)


@pytest.mark.parametrize("value", ["2m 25s", 145, 145.0, "145"])
def test_durations_round_trip_as_written(config_data, value):
    config_data["source"]["impossibility_delay"] = value
    cfg = Config.from_dict(config_data)
    assert cfg.source.impossibility_delay == value
    assert type(cfg.source.impossibility_delay) is type(value)
    assert cfg.source.impossibility_delay_ms == 145_000
    assert Config.from_json(cfg.to_json()).source.impossibility_delay == value


def test_a_bare_number_is_seconds_in_a_configuration(config_data):
    config_data["source"]["visit_idle"] = 1800
    assert Config.from_dict(config_data).source.visit_idle_ms == 1_800_000


def test_an_ambiguous_duration_is_a_problem_at_its_json_path(config_data):
    from engage_lab.errors import ConfigError

    config_data["source"]["visit_idle"] = "1h30"
    with pytest.raises(ConfigError, match=r'source\.visit_idle: .*"1h30" ends with a number'):
        Config.from_dict(config_data)
