"""The tree: parsing both forms, structural equality, registries, walking, the public surface."""

from __future__ import annotations

import doctest
import importlib

import pytest

import engage_lab.conditions as conditions
from engage_lab.conditions import (
    TimeThreshold,
    criteria_nodes,
    parse_criteria,
    parse_expression,
    time_thresholds,
)
from engage_lab.conditions import nodes as n
from engage_lab.errors import ConditionError

MODULES = [
    "engage_lab.conditions",
    "engage_lab.conditions.nodes",
    "engage_lab.conditions.vocabulary",
    "engage_lab.conditions.criteria",
    "engage_lab.conditions.expressions",
    "engage_lab.conditions.evaluator",
    "engage_lab.conditions.checks",
    "engage_lab.conditions.walking",
    "engage_lab.conditions.regex",
    "engage_lab.conditions.registry",
    "engage_lab.conditions.parsed",
    "engage_lab.conditions.compiler",
    "engage_lab.conditions.sql_common",
    "engage_lab.conditions.sql_criteria",
    "engage_lab.conditions.sql_expressions",
]


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_public_surface_is_what_we_mean_to_export():
    assert conditions.__all__ == sorted(conditions.__all__)
    assert set(conditions.__all__) == {
        "CRITERIA", "CriterionFacts", "Node", "TimeThreshold", "TriggerConditions",
        "check_criteria", "check_expression", "check_regex", "criteria_nodes", "evaluate",
        "evaluate_criteria", "nodes", "parse_criteria", "parse_expression",
        "parse_trigger_conditions", "time_thresholds",
    }  # fmt: skip


def test_nodes_are_frozen_slotted_and_structurally_equal():
    a = parse_expression({"page.url": {"$regex": "x", "$ne": 1}})
    b = parse_expression({"page.url": {"$regex": "x", "$ne": 1}})
    assert a == b and hash(a) == hash(b)
    assert a != parse_expression({"page.url": {"$regex": "x", "$ne": 1.0}})  # 1 and 1.0 stay apart
    assert parse_expression({"a": True}) != parse_expression({"a": 1})
    with pytest.raises(AttributeError):
        a.path = "other"  # type: ignore[misc]
    assert not hasattr(a, "__dict__")


def test_registries_are_built_from_the_classes():
    assert all(cls.op == op for op, cls in n.EXPRESSION_OPERATORS.items())
    assert all(cls.op == op for op, cls in n.CRITERIA_OPERATORS.items())
    assert len(n.CRITERIA_OPERATORS) == 10
    assert {"$regex", "$elemMatch", "$inGroup", "$vgte", "$alli", "$nini"} <= set(
        n.EXPRESSION_OPERATORS
    )


@pytest.mark.parametrize(
    ("expr", "path"),
    [
        ({"page.url": {"$regx": 1}}, 'expression["page.url"]'),
        ({"$or": [{"a": 1}, {"b": {"$foo": 1}}]}, "expression.$or[1].b"),
        ({"$xor": []}, "expression.$xor"),
        ({"$or": 5}, "expression.$or"),
        ({"$not": 5}, "expression.$not"),
        ({"a": {"$in": "x"}}, "expression.a.$in"),
        ({"a": {"$all": 3}}, "expression.a.$all"),
        ({"a": {"$or": []}}, "expression.a.$or"),
        ({"$savedGroup": {"id": 3}}, "expression.$savedGroup"),
        ([1], "expression"),
    ],
)
def test_expression_parse_errors_carry_the_json_path(expr, path):
    with pytest.raises(ConditionError) as info:
        parse_expression(expr)
    assert info.value.path == path


def test_lenient_parse_keeps_what_the_sdk_tolerates():
    assert parse_expression({"a": {"$regx": 1}}, strict=False) == n.Field(
        "a", n.Operators((n.Unknown("$regx"),))
    )
    assert parse_expression({"$or": 5}, strict=False) == n.Malformed("takes a list of conditions")
    assert parse_expression({"$savedGroups": 1}, strict=False) == n.Const(False)


def test_criteria_parse_normalizes_values_once():
    tree = parse_criteria(
        [
            {"criterion": "page_title", "operator": "is", "value": " Crème, , BRÛLÉE "},
            {"criterion": "day_of_week", "when": "any", "operator": "gte", "value": "saturday"},
            {"criterion": "time", "operator": "lte", "value": "19:45"},
            {"criterion": "custom_cart", "operator": "gte", "value": "3"},
        ],
        {"cart": "number"},
    )
    tests = [c.test for c in criteria_nodes(tree)]
    assert tests == [n.Is(("creme", "brulee")), n.Gte(5), n.Lte(19 * 60 + 45), n.Gte(3)]
    assert [c.kind for c in criteria_nodes(tree)] == ["string", "day", "time", "number"]


@pytest.mark.parametrize(
    ("item", "path", "message"),
    [
        (
            {"criterion": "nope", "operator": "is", "value": 1},
            "criteria[0].criterion",
            "unknown criterion",
        ),
        (
            {"criterion": "page_url", "when": "later", "operator": "is", "value": "x"},
            "criteria[0].when",
            "unknown position",
        ),
        (
            {"criterion": "page_url", "operator": "like", "value": "x"},
            "criteria[0].operator",
            "unknown operator",
        ),
        (
            {"criterion": "visit_count", "operator": "contains", "value": 1},
            "criteria[0].operator",
            "contains is not allowed on a number",
        ),
        (
            {"criterion": "day_of_week", "operator": "is", "value": "Someday"},
            "criteria[0].value",
            "is not a day value",
        ),
        ({"criterion": "page_url", "operator": "is"}, "criteria[0]", "is needs a value"),
        (
            {"criterion": "custom_x", "operator": "is", "value": 1},
            "criteria[0].criterion",
            "undeclared custom variable",
        ),
    ],
)
def test_criteria_parse_errors_carry_the_json_path(item, path, message):
    with pytest.raises(ConditionError) as info:
        parse_criteria([item], {"other": "string"})
    assert info.value.path == path
    assert message in info.value.detail


def test_undeclared_custom_variables_are_inferred_from_the_value_without_declarations():
    tree = parse_criteria([{"criterion": "custom_flag", "operator": "is", "value": True}])
    assert criteria_nodes(tree)[0].kind == "boolean"


def test_time_thresholds_for_engines():
    tree = parse_criteria(
        [
            {"criterion": "page_visit_duration", "operator": "gte", "value": 30},
            {"criterion": "visit_duration", "when": "any", "operator": "lte", "value": 600},
            {"criterion": "visit_count", "operator": "gte", "value": 2},
        ]
    )
    assert time_thresholds(tree) == [
        TimeThreshold("page_visit_duration", "gte", 30, "current"),
        TimeThreshold("visit_duration", "lte", 600, "any"),
    ]
    expr = parse_expression(
        {"$or": [{"page.duration": {"$gt": 10, "$lte": 20}}, {"page.count": {"$gt": 1}}]}
    )
    assert time_thresholds(expr) == [
        TimeThreshold("page.duration", "$gt", 10),
        TimeThreshold("page.duration", "$lte", 20),
    ]
    assert [type(x).__name__ for x in n.walk(n.Not(n.Const(True)))] == ["Not", "Const"]
