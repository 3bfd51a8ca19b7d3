"""Configuration histories: shape, order, one mode, and the configuration at an instant."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

import engage_lab as el
from engage_lab.config import ConfigHistory, NoConfigurationInEffectError
from tests.config.conftest import DATA_CONFIGS, minimal_config


def history_data(*instants: str, mode: str = "live_chat") -> dict:
    entries = []
    for n, instant in enumerate(instants):
        config = minimal_config(mode)
        config["triggers"][0]["label"] = f"Button v{n}"
        entries.append({"effective_at": instant, "config": config})
    return {"schema_version": 1, "history": entries}


def test_valid_history_and_lookup():
    h = ConfigHistory.from_dict(history_data("2026-03-01T00:00:00Z", "2026-03-15T09:30:00Z"))
    assert h.mode == "live_chat"
    assert h.at("2026-03-01T00:00:00Z").trigger("t-button").label == "Button v0"
    assert h.at("2026-03-15T09:29:59.999Z").trigger("t-button").label == "Button v0"
    assert h.at("2026-03-15T09:30:00Z").trigger("t-button").label == "Button v1"
    assert h.at(datetime(2027, 1, 1, tzinfo=UTC)).trigger("t-button").label == "Button v1"
    paris = timezone(timedelta(hours=1))
    assert (
        h.at(datetime(2026, 3, 15, 10, 30, tzinfo=paris)).trigger("t-button").label == "Button v1"
    )
    start_ms = h.history[1].effective_at_ms
    assert h.at(start_ms - 1).trigger("t-button").label == "Button v0"
    assert h.at(start_ms).trigger("t-button").label == "Button v1"


def test_before_the_first_entry_is_an_error():
    h = ConfigHistory.from_dict(history_data("2026-03-01T00:00:00Z"))
    with pytest.raises(NoConfigurationInEffectError, match="history starts at 2026-03-01"):
        h.at("2026-02-28T23:59:59.999Z")
    assert isinstance(NoConfigurationInEffectError([]), el.ConfigError)


def test_segments_are_half_open():
    h = ConfigHistory.from_dict(history_data("2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"))
    (s0, e0, c0), (s1, e1, c1) = h.segments()
    assert e0 == s1 and e1 is None
    assert s1 - s0 == 86_400_000
    assert c0.trigger("t-button").label == "Button v0"
    assert c1.trigger("t-button").label == "Button v1"


def test_history_example_has_one_edit():
    h = ConfigHistory.load(DATA_CONFIGS / "history-live-chat.json")
    assert len(h.history) == 2
    first, second = (entry.config for entry in h.history)
    assert first == el.Config.load(DATA_CONFIGS / "production-live-chat.json")
    assert first != second


def test_empty_history():
    assert ConfigHistory.check({"schema_version": 1, "history": []}) == [
        "history: at least one entry is required"
    ]


def test_not_sorted_and_duplicate_instants():
    data = history_data("2026-03-02T00:00:00Z", "2026-03-01T00:00:00Z", "2026-03-01T00:00:00Z")
    found = ConfigHistory.check(data)
    assert found == [
        "history[1].effective_at: must be later than history[0].effective_at; sort the entries"
        " by effective_at, one entry per instant",
        "history[2].effective_at: must be later than history[1].effective_at; sort the entries"
        " by effective_at, one entry per instant",
    ]


@pytest.mark.parametrize(
    "instant", ["2026-03-01T00:00:00", "2026-03-01T01:00:00+01:00", "yesterday", 1700000000000]
)
def test_effective_at_must_be_a_utc_instant(instant):
    found = ConfigHistory.check(history_data(instant))
    assert len(found) == 1
    assert found[0].startswith("history[0].effective_at: must be an ISO 8601 instant in UTC")


def test_sub_millisecond_instants_are_refused():
    found = ConfigHistory.check(history_data("2026-03-01T00:00:00.0005Z"))
    assert found == ["history[0].effective_at: must not be finer than a millisecond"]


def test_every_configuration_is_checked_with_its_path():
    data = history_data("2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z")
    data["history"][1]["config"]["triggers"][0]["actions"][0]["item"] = "nope"
    data["history"][1]["config"]["source"]["timezon"] = "UTC"
    data["history"][0]["config"]["triggers"][1]["criteria"][0]["operator"] = "contains"
    found = ConfigHistory.check(data)
    assert len(found) == 3
    assert found[0].startswith("history[0].config.triggers[1].criteria[0]: contains is not allowed")
    assert found[1] == "history[1].config.source.timezon: unknown key; did you mean timezone?"
    assert found[2] == (
        "history[1].config.triggers[0].actions[0].item: unknown item 'nope';"
        " declare it in catalog.buttons or catalog.invitations"
    )


def test_one_mode_throughout():
    data = history_data("2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z")
    data["history"][1]["config"]["source"]["mode"] = "messaging"
    assert ConfigHistory.check(data) == [
        "history[1].config.source.mode: messaging differs from live_chat in history[0];"
        " a history covers one source, whose mode does not change"
    ]


def test_other_settings_may_change():
    data = history_data("2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z")
    data["history"][1]["config"]["source"]["timezone"] = "Europe/Paris"
    data["history"][1]["config"]["source"]["queuing_factor"] = 0.5
    assert ConfigHistory.check(data) == []


def test_unknown_keys_in_the_envelope():
    data = history_data("2026-03-01T00:00:00Z")
    data["history"][0]["efective_at"] = data["history"][0].pop("effective_at")
    found = ConfigHistory.check(data)
    assert "history[0].efective_at: unknown key; did you mean effective_at?" in found
    assert "history[0].effective_at: is required; add this key" in found


def test_a_configuration_given_as_a_history_says_so():
    assert ConfigHistory.check(minimal_config()) == [
        "this is a configuration, not a history; load it with Config.load"
    ]


def test_round_trip_and_errors_from_text(tmp_path):
    data = history_data("2026-03-01T00:00:00Z", "2026-03-02T00:00:00.250Z")
    text = ConfigHistory.from_dict(data).to_json()
    assert ConfigHistory.from_json(text).to_json() == text
    assert json.loads(text) == data
    bad = copy.deepcopy(data)
    bad["history"] = []
    path = tmp_path / "h.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(el.ConfigError) as caught:
        ConfigHistory.load(path)
    assert caught.value.problems == ["history: at least one entry is required"]
    assert str(caught.value).startswith(f"{path}: invalid configuration history (1 problem)")
    with pytest.raises(el.ConfigError, match="line 1, column"):
        ConfigHistory.from_json("{")


def test_a_one_entry_history_of_a_configuration():
    cfg = el.Config.from_dict(minimal_config())
    h = ConfigHistory.of(cfg)
    assert h.at(0) == cfg and h.at("2030-01-01T00:00:00Z") == cfg
    later = ConfigHistory.of(cfg, effective_at="2026-03-01T00:00:00Z")
    with pytest.raises(NoConfigurationInEffectError):
        later.at("2026-02-01T00:00:00Z")
    with pytest.raises(el.ConfigError, match="effective_at"):
        ConfigHistory.of(cfg, effective_at="March")
