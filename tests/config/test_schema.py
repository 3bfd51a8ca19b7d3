"""The JSON Schema is generated from the models and accepts every example."""

from __future__ import annotations

import copy
import json

import pytest

from engage_lab.config import Config, ConfigHistory, config_schema, history_schema
from engage_lab.config.schema import CRITERION_IDS, OPERATORS, POSITIONS
from tests.config.conftest import example_paths, minimal_config
from tests.config.schema_check import errors, unsupported_keywords


def test_schema_is_the_models_schema():
    schema = config_schema()
    generated = Config.model_json_schema(mode="validation")
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"] == generated["properties"]
    for name, definition in generated["$defs"].items():
        if name != "Trigger":  # Trigger's criteria items are described in more detail
            assert schema["$defs"][name] == definition, name
    trigger = dict(schema["$defs"]["Trigger"]["properties"])
    assert trigger.keys() == generated["$defs"]["Trigger"]["properties"].keys()
    assert trigger["criteria"]["items"] == {"$ref": "#/$defs/Criterion"}


def test_schema_keys_follow_the_model_fields():
    schema = config_schema()
    assert list(schema["properties"]) == list(Config.model_fields)
    assert schema["additionalProperties"] is False
    assert schema["$defs"]["Source"]["properties"]["mode"]["enum"] == ["live_chat", "messaging"]


def test_the_checker_covers_every_keyword_used():
    assert unsupported_keywords(config_schema()) == set()
    assert unsupported_keywords(history_schema()) == set()


@pytest.mark.parametrize("path", example_paths(), ids=lambda p: p.name)
def test_every_example_validates_against_the_schema(path):
    data = json.loads(path.read_text(encoding="utf-8"))
    schema = history_schema() if "history" in data else config_schema()
    assert errors(schema, data) == []


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["source"].update(timezon="UTC"), "$.source.timezon: additionalProperties"),
        (lambda d: d["source"].update(mode="chat"), "$.source.mode: enum"),
        (lambda d: d["triggers"].clear(), "$.triggers: minItems"),
        (lambda d: d["triggers"][0].pop("actions"), "$.triggers[0].actions: required"),
        (
            lambda d: d["triggers"][0]["actions"].append({"type": "fly"}),
            "$.triggers[0].actions[1]: oneOf (0 match)",
        ),
        (
            lambda d: d["triggers"][1]["criteria"][0].update(when="yesterday"),
            "$.triggers[1].criteria[0].when: enum",
        ),
        (
            lambda d: d["triggers"][1]["criteria"][0].update(operator="matches"),
            "$.triggers[1].criteria[0].operator: enum",
        ),
        (lambda d: d["source"].update(queuing_factor=-1), "$.source.queuing_factor: minimum"),
    ],
)
def test_the_schema_check_catches_bad_configurations(mutate, expected):
    data = copy.deepcopy(minimal_config())
    assert errors(config_schema(), data) == []
    mutate(data)
    assert expected in errors(config_schema(), data)
    assert Config.check(data)  # the validator refuses them too


def test_criterion_vocabulary_matches_the_condition_package():
    from engage_lab.conditions import vocabulary

    assert set(CRITERION_IDS) == set(vocabulary.BUILTIN_CRITERIA)
    assert set(POSITIONS) == set(vocabulary.POSITIONS)
    from engage_lab.conditions.nodes import CRITERIA_OPERATORS

    assert set(OPERATORS) == set(CRITERIA_OPERATORS)


def test_history_schema_embeds_the_configuration():
    schema = history_schema()
    assert list(schema["properties"]) == list(ConfigHistory.model_fields)
    entry = schema["$defs"]["HistoryEntry"]["properties"]
    assert entry["config"]["$ref"] == "#/$defs/Config"
    assert schema["$defs"]["Config"]["properties"] == config_schema()["properties"]
