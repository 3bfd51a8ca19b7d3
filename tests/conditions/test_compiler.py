"""The SQL compiler: parameters, unsupported nodes, the support matrix, regex limits."""

from __future__ import annotations

import itertools
from typing import Any

import duckdb
import pytest
from sqlglot import exp

from engage_lab.conditions import evaluate, parse_criteria, parse_expression
from engage_lab.conditions import nodes as n
from engage_lab.conditions.checks import MAX_ELEM_MATCH_NESTING
from engage_lab.conditions.compiler import (
    BaseCompiler,
    DuckDBCompiler,
    RowResolver,
    compile_condition,
    format_support_matrix,
    support_matrix,
)
from engage_lab.errors import CompileError, UnsupportedOperatorError


def _run(compiled, params=None, attributes="{}", **lists):
    con = duckdb.connect()
    con.execute("CREATE TABLE t (attributes JSON, visit_duration DOUBLE[], page_title VARCHAR[])")
    con.execute(
        "INSERT INTO t VALUES ($a, $d, $p)",
        {"a": attributes, "d": lists.get("visit_duration"), "p": lists.get("page_title")},
    )
    query = exp.select(compiled.expression).from_("t").sql("duckdb")
    return con.execute(query, params if params is not None else compiled.params).fetchone()[0]


def test_thresholds_are_named_parameters_rebound_without_recompiling():
    compiled = compile_condition(
        parse_criteria([{"criterion": "visit_duration", "operator": "gte", "value": 30}])
    )
    assert compiled.params == {"p0": 30}
    assert isinstance(compiled.param_nodes["p0"], n.Gte)
    assert "30" not in compiled.sql and "$p0" in compiled.sql
    assert _run(compiled, visit_duration=[10.0, 40.0]) is True
    assert _run(compiled, {"p0": 50}, visit_duration=[10.0, 40.0]) is False


def test_expression_thresholds_are_parameters_too():
    compiled = DuckDBCompiler(param_prefix="t").compile(
        parse_expression({"page.duration": {"$gt": 5, "$lte": 9}})
    )
    # t0: the attribute's JSON pointer (bound too); each threshold has its own parameter
    assert compiled.params == {"t0": "/page/duration", "t1": 5, "t2": 9}
    assert isinstance(compiled.param_nodes["t1"], n.OpGt)
    assert _run(compiled, attributes='{"page": {"duration": 7}}') is True
    rebound = {**compiled.params, "t1": 7}
    assert _run(compiled, rebound, attributes='{"page": {"duration": 7}}') is False


def test_unknown_operator_compiles_to_null_and_the_top_level_to_false():
    compiled = compile_condition(parse_expression({"a": {"$nope": 1}}, strict=False))
    assert _run(compiled, attributes='{"a": 1}') is False
    either = compile_condition(
        parse_expression({"$or": [{"a": {"$nope": 1}}, {"a": 1}]}, strict=False)
    )
    assert _run(either, attributes='{"a": 1}') is True


def test_a_node_without_handler_raises_unsupported_operator():
    with pytest.raises(UnsupportedOperatorError) as info:
        compile_condition(parse_expression({"$or": 5}, strict=False))
    assert info.value.dialect == "duckdb" and info.value.op == "Malformed"

    class Partial(DuckDBCompiler):
        visit_OpRegex = None  # type: ignore[assignment]

    with pytest.raises(UnsupportedOperatorError):
        Partial().compile(parse_expression({"a": {"$regex": "x"}}))


def test_support_matrix_lists_every_operator():
    matrix = support_matrix()
    assert all(matrix[op]["duckdb"] for op in n.EXPRESSION_OPERATORS)
    assert all(matrix[op]["duckdb"] for op in n.CRITERIA_OPERATORS)
    assert matrix["Malformed"]["duckdb"] is False
    text = format_support_matrix()
    assert "$elemMatch" in text and "duckdb" in text.splitlines()[0]
    assert not hasattr(BaseCompiler, "dialect") or BaseCompiler.dialect == ""


def test_a_pattern_re2_refuses_is_constant_like_a_broken_one():
    # the validator refuses look-around; unvalidated, it reads as the reference evaluates
    # it (engage_lab.conditions.regex): no match, so $regex false and $notRegex true
    for pattern in ["a(?=b)", "(", "(a)\\1", "(?<n>a)"]:
        found = compile_condition(parse_expression({"a": {"$regex": pattern}}))
        not_found = compile_condition(parse_expression({"a": {"$notRegex": pattern}}))
        assert "REGEXP" not in found.sql + not_found.sql, pattern
        assert _run(found, attributes='{"a": "ab"}') is False
        assert _run(not_found, attributes='{"a": "ab"}') is True
        assert evaluate({"a": {"$regex": pattern}}, {"a": "ab"}) is False
        assert evaluate({"a": {"$notRegex": pattern}}, {"a": "ab"}) is True


def test_case_insensitive_regex_uses_an_inline_flag_not_a_dialect_function():
    compiled = compile_condition(parse_expression({"a": {"$regexi": "^AB"}}))
    assert "(?i)^AB" in compiled.params.values() and "REGEXP_MATCHES" in compiled.sql
    assert "^AB" not in compiled.sql
    assert _run(compiled, attributes='{"a": "abc"}') is True


def test_unknown_dialect_is_a_compile_error():
    with pytest.raises(CompileError, match="no compiler for dialect 'oracle'"):
        compile_condition(n.Const(True), dialect="oracle")


def test_resolver_is_pluggable():
    resolver = RowResolver(table="r", attributes_column="attrs")
    compiled = compile_condition(parse_expression({"a": 1}), resolver=resolver)
    assert '"r"."attrs"' in compiled.sql


def test_criteria_read_list_columns_with_positions():
    compiled = compile_condition(
        parse_criteria(
            [
                {
                    "criterion": "page_title",
                    "when": "previous",
                    "operator": "contains",
                    "value": "cart",
                }
            ]
        )
    )
    assert _run(compiled, page_title=["My Cart", "Home"]) is True
    assert _run(compiled, page_title=["Home", "My Cart"]) is False
    assert _run(compiled, page_title=None) is False


def _elem_chain(levels: int, test: Any) -> dict[str, Any]:
    for _ in range(levels):
        test = {"$elemMatch": test}
    return {"visit.urls": test}


def test_nested_elem_match_plans_in_size_linear_in_its_depth():
    # DuckDB expands macros (NULLIF is one) before planning: an argument used twice by a
    # macro doubles with each nested $elemMatch. The planned expression must grow by a
    # constant per level, as the SQL text does.
    con = duckdb.connect()
    con.execute("""CREATE TABLE t AS SELECT '{"visit": {"urls": [["a"]]}}'::JSON AS attributes""")

    def planned_size(levels: int) -> int:
        compiled = compile_condition(parse_expression(_elem_chain(levels, {"$eq": "a"})))
        plan = con.execute(f"EXPLAIN SELECT {compiled.sql} FROM t", compiled.params).fetchall()
        return sum(len(str(row)) for row in plan)

    sizes = [planned_size(levels) for levels in range(1, MAX_ELEM_MATCH_NESTING + 1)]
    steps = [b - a for a, b in itertools.pairwise(sizes)]
    assert max(steps) < 2 * min(steps), sizes
    two_levels = compile_condition(parse_expression(_elem_chain(2, {"$eq": "a"})))
    assert con.execute(f"SELECT {two_levels.sql} FROM t", two_levels.params).fetchone() == (True,)


def test_the_compiler_refuses_elem_match_past_the_validators_limit():
    at_limit = _elem_chain(MAX_ELEM_MATCH_NESTING, {"$eq": "a"})
    assert compile_condition(parse_expression(at_limit)).sql.count("LAMBDA") == 6
    with pytest.raises(CompileError, match=f"nest more than {MAX_ELEM_MATCH_NESTING} levels"):
        compile_condition(parse_expression({"visit.urls": {"$all": [at_limit["visit.urls"]]}}))
