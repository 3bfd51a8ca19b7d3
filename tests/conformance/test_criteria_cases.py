"""The criteria conformance cases (criteria-cases.json, which includes criteria-examples.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engage_lab.conditions import evaluate_criteria

HERE = Path(__file__).parent
SUITE = json.loads((HERE / "criteria-cases.json").read_text(encoding="utf-8"))
EXAMPLES = json.loads((HERE / "criteria-examples.json").read_text(encoding="utf-8"))
CASES = [pytest.param(*case, id=case[0]) for case in SUITE["cases"]]


def test_the_suite_extends_the_examples():
    names = [case[0] for case in SUITE["cases"]]
    assert len(names) == len(set(names)) >= 100
    assert [c for c in SUITE["cases"] if c[0] in {e[0] for e in EXAMPLES["cases"]}] == EXAMPLES[
        "cases"
    ]


@pytest.mark.parametrize(("name", "criteria", "pages", "expected"), CASES)
def test_evaluate_criteria(name, criteria, pages, expected):
    assert evaluate_criteria(criteria, pages) is expected
