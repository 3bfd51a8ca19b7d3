"""Differential tests: compiled DuckDB SQL against the reference evaluator.

Each hypothesis example is a batch of pairs evaluated in one query, so a run covers
well over 2,000 condition/attribute pairs (and as many criteria/pages pairs) quickly.
"""

from __future__ import annotations

import json
import unicodedata

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from engage_lab.conditions import evaluate
from engage_lab.conditions.compiler import DuckDBCompiler, compatibility_folds
from engage_lab.conditions.evaluator import evaluate_criteria
from engage_lab.conditions.vocabulary import normalize
from tests.conditions.sql_harness import run_criteria, run_expressions
from tests.conditions.strategies import ATTRIBUTES, GROUPS, conditions, criteria_cases

BATCH = 50
EXAMPLES = 45  # 45 x 50 = 2,250 pairs per run for each form
COUNTER = {"expressions": 0, "criteria": 0}


@pytest.mark.slow
# no shrinking: a failing batch already lists its mismatching pairs
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(
    pairs=st.lists(st.tuples(conditions(sql_only=True), ATTRIBUTES), min_size=BATCH, max_size=BATCH)
)
def test_expressions_sql_agrees_with_the_evaluator(pairs):
    expected = [evaluate(c, a, GROUPS) for c, a in pairs]
    got = run_expressions(pairs, GROUPS)
    COUNTER["expressions"] += len(pairs)
    mismatches = [json.dumps(p) for p, e, g in zip(pairs, expected, got, strict=True) if e is not g]
    assert not mismatches, mismatches[:3]


@pytest.mark.slow
# no shrinking: a failing batch already lists its mismatching pairs
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(cases=st.lists(criteria_cases(), min_size=BATCH, max_size=BATCH))
def test_criteria_sql_agrees_with_the_evaluator(cases):
    expected = [evaluate_criteria(c, p) for c, p in cases]
    got = run_criteria(cases)
    COUNTER["criteria"] += len(cases)
    mismatches = [
        json.dumps(c, ensure_ascii=False)
        for c, e, g in zip(cases, expected, got, strict=True)
        if e is not g
    ]
    assert not mismatches, mismatches[:3]


@pytest.mark.slow
def test_enough_pairs_were_compared():
    # runs after the two above in file order; guards against a silently shrunken batch
    if COUNTER["expressions"] == 0:
        pytest.skip("the differential tests did not run in this session")
    assert COUNTER["expressions"] >= 2000
    assert COUNTER["criteria"] >= 2000


def test_both_outcomes_are_generated():
    # a differential test that only ever sees False would prove little
    outcomes = {
        evaluate(c, a, GROUPS)
        for c, a in st.lists(
            st.tuples(conditions(True), ATTRIBUTES), min_size=200, max_size=200
        ).example()
    }
    assert outcomes == {True, False}


def test_sql_normalization_matches_python_on_every_decomposable_character():
    singles_from, _, pairs = compatibility_folds()
    chars = [chr(c) for c in range(0x110000) if unicodedata.decomposition(chr(c))]
    samples = [*chars, "  Crème Brûlée  ", "\u00a0ﬁne\u2026 ", "Ｓhop™", "x\u0308\u20dd"]
    query = exp.select(
        exp.column("s"), exp.alias_(DuckDBCompiler().normalize(exp.column("s")), "n")
    ).from_("t")
    con = duckdb.connect()
    con.register("t", pa.table({"s": samples}))
    rows = con.execute(query.sql("duckdb")).fetchall()
    folded_in_sql = set(singles_from) | {c for c, _ in pairs}
    mismatched = [s for s, got in rows if got != normalize(s)]
    # the documented gap: multi-character folds at or above U+3000 (squared CJK, Arabic forms)
    unexpected = [s for s in mismatched if not (ord(s[0]) >= 0x3000 and len(normalize(s)) > 1)]
    assert unexpected == []
    assert len(mismatched) < 1000 and "ﬁ" in folded_in_sql
