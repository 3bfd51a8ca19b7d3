"""GrowthBook's evalCondition suite: our evaluator and the SDK (test-only peer) agree with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from growthbook.core import evalCondition

from engage_lab.conditions import evaluate

SUITE = json.loads((Path(__file__).parent / "evalCondition.json").read_text(encoding="utf-8"))
CASES = [
    pytest.param(*case, *([None] if len(case) == 4 else []), id=case[0]) for case in SUITE["cases"]
]


def test_suite_keeps_its_attribution():
    assert "MIT License, Copyright (c) 2021, GrowthBook" in SUITE["source"]
    assert len(SUITE["cases"]) >= 140


@pytest.mark.parametrize(("name", "condition", "attributes", "expected", "saved_groups"), CASES)
def test_evaluate(name, condition, attributes, expected, saved_groups):
    assert evaluate(condition, attributes, saved_groups) is expected


@pytest.mark.parametrize(("name", "condition", "attributes", "expected", "saved_groups"), CASES)
def test_sdk_agrees(name, condition, attributes, expected, saved_groups):
    assert evalCondition(attributes, condition, saved_groups) is expected
