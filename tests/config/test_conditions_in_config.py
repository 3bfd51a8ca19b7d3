"""Conditions are checked through the configuration, with paths inside the file.

The messages come from engage_lab.conditions; here we check that the configuration
passes the declared custom variables and saved groups, and places the paths.
"""

from __future__ import annotations

import pytest

from engage_lab.config import Config


def _with_criteria(config_data, criteria, index=1):
    config_data["triggers"][index]["criteria"] = criteria
    return Config.check(config_data)


def test_operator_not_allowed_for_a_number_criterion(config_data):
    found = _with_criteria(
        config_data, [{"criterion": "custom_cart_amount", "operator": "contains", "value": "1"}]
    )
    assert len(found) == 1
    assert found[0].startswith(
        "triggers[1].criteria[0]: contains is not allowed on a number criterion; use is"
    )
    assert "gte" in found[0] and "lte" in found[0]


@pytest.mark.parametrize(
    ("criterion", "path", "words"),
    [
        (
            {"criterion": "browser", "operator": "is", "value": "x"},
            "triggers[1].criteria[0].criterion",
            ["unknown criterion 'browser'", "custom_<name>"],
        ),
        (
            {"criterion": "page_path", "when": "previous_9", "operator": "is", "value": "/"},
            "triggers[1].criteria[0].when",
            ["unknown position 'previous_9'", "any_previous"],
        ),
        (
            {"criterion": "page_path", "operator": "matches", "value": "/"},
            "triggers[1].criteria[0].operator",
            ["unknown operator 'matches'", "starts_with"],
        ),
        (
            {"criterion": "custom_basket", "operator": "is", "value": "x"},
            "triggers[1].criteria[0].criterion",
            ["'basket' is not declared", "custom_variables"],
        ),
        (
            {"criterion": "custom_cart_amount", "operator": "is", "value": "many"},
            "triggers[1].criteria[0].value",
            ["not a number"],
        ),
        (
            {"criterion": "time", "operator": "gte", "value": "19:50"},
            "triggers[1].criteria[0].value",
            ["not on a 15-minute slot", "19:45", "20:00"],
        ),
        (
            {"criterion": "page_visit_duration", "operator": "is", "value": 30},
            "triggers[1].criteria[0]",
            ["page_visit_duration", "gte or lte"],
        ),
        (
            {"criterion": "visit_duration", "operator": "is_present"},
            "triggers[1].criteria[0]",
            ["visit_duration", "gte or lte"],
        ),
    ],
)
def test_criteria_problems_carry_their_path(config_data, criterion, path, words):
    found = _with_criteria(
        config_data, [{"criterion": "page_path", "operator": "is", "value": "/"}, criterion]
    )
    path = path.replace("criteria[0]", "criteria[1]")
    assert len(found) == 1, found
    assert found[0].startswith(path + ": "), found[0]
    for word in words:
        assert word in found[0]


def test_declared_custom_variables_are_passed_with_their_types(config_data):
    config_data["custom_variables"]["custom_logged_in"] = {"type": "boolean"}
    ok = [{"criterion": "custom_logged_in", "operator": "is", "value": True}]
    assert _with_criteria(config_data, ok) == []
    bad = [{"criterion": "custom_logged_in", "operator": "gte", "value": 1}]
    found = _with_criteria(config_data, bad)
    assert len(found) == 1 and found[0].startswith("triggers[1].criteria[0]")


def _with_expression(config_data, expression):
    config_data["triggers"][2]["expression"] = expression
    return Config.check(config_data)


def test_invalid_regex(config_data):
    found = _with_expression(config_data, {"page.path": {"$regex": "(unclosed"}})
    assert len(found) == 1
    assert found[0].startswith('triggers[2].expression["page.path"].$regex: (unclosed')
    assert "does not compile" in found[0]


def test_regex_outside_the_common_python_re2_syntax(config_data):
    found = _with_expression(config_data, {"page.url": {"$regex": "(?=checkout)check"}})
    assert len(found) == 1
    assert found[0].startswith('triggers[2].expression["page.url"].$regex:')
    assert "RE2" in found[0] and "look-around" in found[0]


def test_time_growing_attribute_in_an_expression(config_data):
    found = _with_expression(config_data, {"visit.duration": {"$eq": 30}})
    assert len(found) == 1
    assert found[0].startswith('triggers[2].expression["visit.duration"]:')
    assert "$gt, $gte, $lt or $lte" in found[0]


def test_unknown_expression_operator(config_data):
    found = _with_expression(config_data, {"page.title": {"$matches": "x"}})
    assert len(found) == 1
    assert found[0].startswith('triggers[2].expression["page.title"].$matches: unknown operator')


def test_saved_groups_are_passed_to_the_expression_check(config_data):
    assert _with_expression(config_data, {"vars.custom_plan": {"$inGroup": "vip"}}) == []
    found = _with_expression(config_data, {"vars.custom_plan": {"$inGroup": "gold_members"}})
    assert len(found) == 1
    assert "unknown saved group 'gold_members'" in found[0]


def test_condition_problems_come_with_the_others_in_document_order(config_data):
    config_data["triggers"][2]["expression"] = {"visit.duration": {"$eq": 30}}
    config_data["triggers"][1]["criteria"] = [
        {"criterion": "time", "operator": "gte", "value": "19:50"}
    ]
    config_data["triggers"][0]["actions"][0]["item"] = "nope"
    found = Config.check(config_data)
    assert [line.split(":")[0] for line in found] == [
        "triggers[0].actions[0].item",
        "triggers[1].criteria[0].value",
        'triggers[2].expression["visit.duration"]',
    ]
