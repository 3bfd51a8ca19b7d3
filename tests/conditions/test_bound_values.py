"""No value of a condition is written into SQL: every one is a bound parameter.

The compilers' SQL text holds only their own constants (function names, JSON type names,
day names, normalization tables, regexes of their own); strings, numbers, regexes,
``$in`` lists, saved-group values, attribute paths and versions travel beside it as
parameters. Checked three ways: over every conformance case, the string literals of the
compiled SQL are a subset of the compiler's own (those of a fixed set of conditions that
exercises every part of the compilers); hostile values (quotes, semicolons, comments,
``inf`` / ``nan`` as text, unicode, newlines) round-trip through DuckDB and agree with
the reference evaluator; non-finite numbers are refused.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import duckdb
import pytest
from sqlglot import exp

from engage_lab.conditions import evaluate, parse_expression
from engage_lab.conditions.compiler import DuckDBCompiler, compile_condition
from engage_lab.conditions.evaluator import evaluate_criteria, parse_criteria_for_pages
from engage_lab.conditions.vocabulary import normalize
from engage_lab.errors import CompileError
from tests.conditions.sql_harness import KindColumns, run_criteria, run_expressions

CONFORMANCE = Path(__file__).parent.parent / "conformance"
EVAL = json.loads((CONFORMANCE / "evalCondition.json").read_text(encoding="utf-8"))["cases"]
CRITERIA = json.loads((CONFORMANCE / "criteria-cases.json").read_text(encoding="utf-8"))["cases"]
EXAMPLES = json.loads((CONFORMANCE / "criteria-examples.json").read_text(encoding="utf-8"))

#: Values no compiler constant contains: each would show in the SQL if it were pasted.
HOSTILE = [
    "it's",
    "''",
    '"; DROP TABLE page_views; --',
    "x'); SELECT 1; --",
    "/* comment */",
    "back\\slash",
    "inf",
    "-Infinity",
    "nan",
    "NaN",
    "NULL",
    "$p0",
    "?",
    "%_",
    "Crème brûlée ﬁ Ωμέγα 日本語 🙂",
    "line\nbreak\ttab",
    "\u200b zero width",
]


def _compile(condition: Any, criteria: bool = False, saved_groups: Any = None):
    tree = (
        parse_criteria_for_pages(condition, [{}], None)
        if criteria
        else parse_expression(condition, strict=False)
    )
    return DuckDBCompiler(KindColumns(), saved_groups).compile(tree)


def _literals(expression: exp.Expression) -> tuple[set[str], set[str]]:
    """The string and the number literals of an expression."""
    strings, numbers = set(), set()
    for literal in expression.find_all(exp.Literal):
        (strings if literal.is_string else numbers).add(literal.this)
    return strings, numbers


def _own_literals() -> tuple[set[str], set[str]]:
    """The compiler's own constants: the literals of conditions exercising every part of
    the compilers (every criterion kind and position, every expression operator), with
    values of every type."""
    criteria = [
        {"criterion": "page_title", "when": w, "operator": op, "value": "a, b"}
        for w in ("current", "previous", "any", "any_previous", "first", "any_of_previous_3")
        for op in ("is", "is_not", "contains", "does_not_contain", "starts_with", "ends_with")
    ]
    criteria += [
        {"criterion": "page_title", "operator": op} for op in ("is_present", "is_not_present")
    ]
    criteria += [
        {"criterion": c, "operator": op, "value": v}
        for c, v in (("day_of_week", "Monday"), ("time", "08:00"), ("visit_count", 2))
        for op in ("is", "gte", "lte")
    ]
    criteria += [
        {"criterion": "chat_shown", "operator": op, "value": True}
        for op in ("is", "is_present", "is_not_present")
    ]
    criteria += [{"criterion": "hour", "operator": "lte", "value": 3}]
    expression = {
        "a": {"$eq": "s", "$ne": 1, "$gt": "s", "$lte": 2, "$exists": True, "$type": "string"},
        "b": {"$in": ["s", 1, True, None], "$nin": [2], "$ini": ["S"], "$nini": ["T"]},
        "c": {"$all": ["s", 1], "$alli": ["S"], "$size": 2, "$elemMatch": {"$gt": 1}},
        "d": {"$regex": "x", "$regexi": "y", "$notRegex": "z", "$notRegexi": "w"},
        "e": {"$veq": "1.2.3", "$vne": 1, "$vgt": "1.0.0-rc.1", "$vlt": "2", "$vgte": "1"},
        "f": {"$inGroup": "g", "$notInGroup": "g", "$not": {"$eq": 3}},
        "g.length": 3,
        "h": [1, "s", None, {"k": [True]}],
        "i": {"k": 1, "0": "s"},
        "$or": [{"j": None}, {"$savedGroup": "g"}, {"$savedGroup": "c"}],
        "$nor": [{"k": False}],
    }
    groups = {"g": ["s", 1], "c": {"type": "condition", "condition": {"l": {"$gt": 1}}}}
    strings, numbers = _literals(_compile(criteria, criteria=True).expression)
    more_strings, more_numbers = _literals(_compile(expression, saved_groups=groups).expression)
    return strings | more_strings, numbers | more_numbers


OWN_STRINGS, OWN_NUMBERS = _own_literals()


def _cases() -> list[Any]:
    cases = [
        pytest.param(c[1], False, c[4] if len(c) == 5 else None, id=f"eval:{c[0]}") for c in EVAL
    ]
    cases += [pytest.param(c[1], True, None, id=f"criteria:{c[0]}") for c in CRITERIA]
    cases += [pytest.param(c[1], True, None, id=f"example:{c[0]}") for c in EXAMPLES["cases"]]
    return cases


@pytest.mark.parametrize(("condition", "criteria", "groups"), _cases())
def test_compiled_sql_holds_only_the_compilers_own_constants(condition, criteria, groups):
    try:
        compiled = _compile(condition, criteria, groups)
    except CompileError:
        return  # refused (a regex outside the common subset): nothing reaches SQL
    strings, numbers = _literals(compiled.expression)
    assert strings <= OWN_STRINGS, f"values in the SQL text: {strings - OWN_STRINGS}"
    assert numbers <= OWN_NUMBERS, f"numbers in the SQL text: {numbers - OWN_NUMBERS}"
    # what the SQL reads is exactly what is bound
    used = {p.name for p in compiled.expression.find_all(exp.Placeholder)}
    assert used == set(compiled.params)


def test_the_constant_set_is_not_made_of_values():
    # the check above would be empty if the probe's own values were constants
    assert not {"s", "S", "a", "b", "x", "y", "1.2.3", "/a", "/b"} & OWN_STRINGS
    assert "Monday" not in OWN_STRINGS and "08:00" not in OWN_STRINGS


def _expression_cases(value: str) -> list[dict[str, Any]]:
    return [
        {"a": value},
        {"a": {"$ne": value}},
        {"a": {"$in": ["other", value]}},
        {"a": {"$nin": [value]}},
        {"a": {"$ini": [value.upper()]}},
        {"a": {"$regex": "^" + re.escape(value) + "$"}},
        {"a": {"$regexi": re.escape(value.upper())}},
        {"a": {"$gte": value, "$lte": value}},
        {"a": {"$inGroup": "hostile"}},
        {"$savedGroup": "hostile-condition"},
        {"list": {"$elemMatch": {"$eq": value}}},
        {"list": {"$all": [value]}},
        {value: {"$exists": True}},
        {"a": {"$veq": value}},
    ]


@pytest.mark.parametrize("value", HOSTILE, ids=[repr(v) for v in HOSTILE])
def test_hostile_expression_values_are_bound_and_round_trip(value):
    groups = {
        "hostile": [value, "x"],
        "hostile-condition": {"type": "condition", "condition": {"a": {"$eq": value}}},
    }
    pairs = []
    for condition in _expression_cases(value):
        compiled = _compile(condition, saved_groups=groups)
        strings, _ = _literals(compiled.expression)
        assert strings <= OWN_STRINGS
        if len(value) > 3 and value != "NULL":  # (a keyword of SQL)
            assert value not in compiled.sql  # not even quoted
        for attributes in (
            {"a": value, "list": [value], value: 1},
            {"a": value + "x", "list": ["y"], "b": value},
            {"a": value.upper(), "list": []},
        ):
            pairs.append((condition, attributes))
    got = run_expressions(pairs, groups)
    expected = [evaluate(c, a, groups) for c, a in pairs]
    assert got == expected
    assert any(got) and not all(got)  # the cases hold on some documents only


def test_hostile_criteria_values_are_bound_and_round_trip():
    # criteria strings all take one path (normalized, then bound): a few values suffice,
    # each DuckDB query over the normalization is costly to bind
    values = ["it's", '"; DROP TABLE page_views; --', "back\\slash", "inf", "nan", HOSTILE[14]]
    cases = []
    for value in values:
        for op in ("is", "is_not", "contains", "starts_with"):
            entries = value if op != "is_not" else f"x, {value}"  # a list too
            criteria = [{"criterion": "page_title", "operator": op, "value": entries}]
            for title in (f" {value.upper()} ", f"plain {value}"):
                cases.append((criteria, [{"page_title": title}]))
    for criteria, pages in cases[::2]:
        tree = parse_criteria_for_pages(criteria, pages, None)
        compiled = DuckDBCompiler(KindColumns()).compile(tree)
        strings, _ = _literals(compiled.expression)
        assert strings <= OWN_STRINGS
        bound = [v for p in compiled.params.values() for v in (p if isinstance(p, list) else [p])]
        value = criteria[0]["value"].removeprefix("x, ")
        assert normalize(value) in bound
    got = run_criteria(cases)
    expected = [evaluate_criteria(c, p) for c, p in cases]
    assert got == expected
    assert any(got) and not all(got)


def test_a_long_in_list_is_one_list_parameter():
    values = [f"v{k}'" for k in range(10_000)]
    compiled = compile_condition(parse_expression({"a": {"$in": [*values, 7, 8.5, True]}}))
    lists = [v for v in compiled.params.values() if isinstance(v, list)]
    assert sorted(len(v) for v in lists) == [2, 10_000]  # strings, numbers (true: one test)
    assert len(compiled.sql) < 2_000  # the SQL does not grow with the list
    con = duckdb.connect()
    query = "SELECT " + compiled.sql + " FROM (SELECT CAST($doc AS JSON) AS attributes)"
    for doc, expected in (({"a": "v9999'"}, True), ({"a": 8.5}, True), ({"a": "v"}, False)):
        params = {**compiled.params, "doc": json.dumps(doc)}
        assert con.execute(query, params).fetchone()[0] is expected


@pytest.mark.parametrize("number", [math.inf, -math.inf, math.nan])
@pytest.mark.parametrize(
    "condition",
    [
        lambda x: {"a": x},
        lambda x: {"a": {"$gt": x}},
        lambda x: {"a": {"$in": [1, x]}},
        lambda x: {"a": {"$elemMatch": {"$lte": x}}},
    ],
)
def test_non_finite_numbers_are_refused_not_written(condition, number):
    with pytest.raises(CompileError, match="not a finite number"):
        compile_condition(parse_expression(condition(number), strict=False))


def test_non_finite_numbers_in_criteria_are_refused():
    tree = parse_criteria_for_pages(
        [{"criterion": "visit_count", "operator": "gte", "value": 1}], [{}], None
    )
    compiler = DuckDBCompiler(KindColumns())
    with pytest.raises(CompileError, match="nan is not a finite number"):
        compiler.param(math.nan, tree)
    with pytest.raises(CompileError, match="inf is not a finite number"):
        compiler.bind([1.0, math.inf], "DOUBLE[]")
