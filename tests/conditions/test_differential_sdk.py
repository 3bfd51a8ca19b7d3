"""Differential test: our evaluator against the growthbook SDK (test-only) on generated conditions."""

from __future__ import annotations

import json

import pytest
from growthbook.core import evalCondition
from hypothesis import HealthCheck, given, settings

from engage_lab.conditions import evaluate
from tests.conditions.strategies import ATTRIBUTES, GROUPS, conditions


@pytest.mark.slow
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(condition=conditions(), attributes=ATTRIBUTES)
def test_evaluate_agrees_with_the_sdk(condition, attributes):
    snapshot = json.dumps([condition, attributes])
    expected = evalCondition(attributes, condition, GROUPS)
    assert evaluate(condition, attributes, GROUPS) is expected, snapshot
    assert json.dumps([condition, attributes]) == snapshot  # neither side mutated the inputs
