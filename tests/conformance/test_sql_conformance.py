"""Every conformance case, compiled to SQL and run in DuckDB (one query per suite)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conditions.sql_harness import run_criteria, run_expressions

HERE = Path(__file__).parent
EVAL = json.loads((HERE / "evalCondition.json").read_text(encoding="utf-8"))["cases"]
CRITERIA = json.loads((HERE / "criteria-cases.json").read_text(encoding="utf-8"))["cases"]


@pytest.fixture(scope="module")
def eval_results():
    plain = [c for c in EVAL if len(c) == 4]
    results = dict(
        zip([c[0] for c in plain], run_expressions([(c[1], c[2]) for c in plain]), strict=True)
    )
    for case in EVAL:
        if len(case) == 5:  # saved groups differ per case: one query each
            results[case[0]] = run_expressions([(case[1], case[2])], case[4])[0]
    return results


@pytest.fixture(scope="module")
def criteria_results():
    return dict(
        zip([c[0] for c in CRITERIA], run_criteria([(c[1], c[2]) for c in CRITERIA]), strict=True)
    )


@pytest.mark.parametrize(("name", "expected"), [pytest.param(c[0], c[3], id=c[0]) for c in EVAL])
def test_eval_condition_in_duckdb(eval_results, name, expected):
    assert eval_results[name] is expected


@pytest.mark.slow  # one query carries every case; binding it takes ~20 s
@pytest.mark.parametrize(
    ("name", "expected"), [pytest.param(c[0], c[3], id=c[0]) for c in CRITERIA]
)
def test_criteria_in_duckdb(criteria_results, name, expected):
    assert criteria_results[name] is expected
