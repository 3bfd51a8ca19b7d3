"""The reference evaluator beyond the conformance suites: three-valued logic, errors, inference."""

from __future__ import annotations

from engage_lab.conditions import evaluate, evaluate_criteria


def test_unknown_operator_is_neither_true_nor_false():
    unknown = {"a": {"$nope": 1}}
    assert evaluate(unknown, {"a": 1}) is False
    assert evaluate({"$not": unknown}, {"a": 1}) is False  # not unknown is still unknown
    assert evaluate({"$or": [unknown, {"a": 1}]}, {"a": 1}) is True  # an $or can still pass


def test_malformed_parts_fail_the_whole_expression_once_reached():
    assert evaluate({"$or": [{"a": 1}, {"$or": 5}]}, {"a": 1}) is True  # not reached
    assert evaluate({"$or": [{"$or": 5}, {"a": 1}]}, {"a": 1}) is False
    assert evaluate({"$not": {"$and": [{"$not": 3}]}}, {}) is False
    assert evaluate([1], {}) is False


def test_type_strict_comparisons_and_nulls():
    assert evaluate({"vars.n": {"$gt": 30}}, {"vars": {"n": "40"}}) is False
    assert evaluate({"vars.n": {"$lt": 30}}, {}) is False
    assert evaluate({"vars.n": {"$eq": None}}, {}) is True
    assert evaluate({"vars.n": {"$in": [1]}}, {"vars": {"n": True}}) is False
    assert evaluate({"visit.urls.length": 2}, {"visit": {"urls": ["a", "b"]}}) is True


def test_saved_group_cycles_are_false():
    groups = {"g": {"type": "condition", "condition": {"$savedGroup": {"id": "g"}}}}
    assert evaluate({"$savedGroup": {"id": "g"}}, {}, groups) is False


def test_criteria_inference_never_errors():
    assert (
        evaluate_criteria(
            [{"criterion": "custom_v", "operator": "gte", "value": 1}], [{"custom_v": "abc"}]
        )
        is False
    )
    assert (
        evaluate_criteria(
            [{"criterion": "custom_v", "operator": "is", "value": "on"}], [{"custom_v": 1}]
        )
        is False
    )
    assert (
        evaluate_criteria(
            [{"criterion": "custom_v", "operator": "contains", "value": "1"}], [{"custom_v": 12}]
        )
        is True
    )


def test_declared_custom_variables_win_over_inference():
    criteria = [{"criterion": "custom_code", "operator": "is", "value": "7"}]
    assert evaluate_criteria(criteria, [{"custom_code": "07"}], {"code": "number"}) is True
    assert evaluate_criteria(criteria, [{"custom_code": "07"}]) is False  # inferred string


def test_no_pages_reads_every_position_as_not_found():
    assert (
        evaluate_criteria(
            [{"criterion": "page_url", "when": "any", "operator": "is_not", "value": "x"}], []
        )
        is True
    )
    assert evaluate_criteria([{"criterion": "page_url", "operator": "is_present"}], []) is False
