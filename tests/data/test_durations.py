"""Durations as people write them."""

from __future__ import annotations

import pytest

import engage_lab as el
from engage_lab.data.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("24h", 86_400_000),
        ("30m", 1_800_000),
        ("90s", 90_000),
        ("1h30m", 5_400_000),
        ("1h 30m", 5_400_000),
        ("2d", 172_800_000),
        ("250ms", 250),
        ("1.5h", 5_400_000),
        (1000, 1000),
    ],
)
def test_parse(text, ms):
    assert parse_duration(text) == ms


@pytest.mark.parametrize("text", ["", "24", "h", "1x", "-5m", "0s", "1h-", 0, -3, "0.0001s"])
def test_refused(text):
    with pytest.raises(el.ConfigError):
        parse_duration(text)


@pytest.mark.parametrize("ms", [1, 999, 60_000, 5_400_000, 86_400_000, 90_061_001])
def test_format_round_trips(ms):
    assert parse_duration(format_duration(ms)) == ms
