"""Big conditions stay cheap and exact: a 10,000-value ``$in`` is one set lookup in the
evaluator and one bound list in SQL, and ANDed criteria that read the same value merge
into fewer with the same result."""

from __future__ import annotations

from growthbook.core import evalCondition
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engage_lab.conditions import evaluate, nodes, parse_criteria, parse_expression
from engage_lab.conditions.compiler import DuckDBCompiler
from engage_lab.conditions.evaluator import evaluate_on_pages, parse_criteria_for_pages
from engage_lab.conditions.walking import merged_criteria
from tests.conditions.sql_harness import run_expressions
from tests.conditions.strategies import CRITERIA_SPACE, POSITION_NAMES

#: values GrowthBook's strict equality tells apart: 1 == 1.0 but not true, "1", [1] …
TRICKY = [1, 1.0, True, False, None, "1", "A", "a", "é", "", 0, -0.0, 2.5, [1], {"a": 1}]


def big_list(extra: list, size: int = 10_000) -> list:
    return [f"/p{i}" for i in range(size)] + [i * 0.5 for i in range(size // 10)] + extra


def test_big_in_agrees_with_the_sdk_and_sql_on_tricky_values():
    pairs = []
    for op in ("$in", "$nin", "$ini", "$nini"):
        for listed in ([1, "A", None], [True, "é", 2.5], [[1], {"a": 1}, float("nan")]):
            condition = {"v": {op: big_list(listed)}}
            for value in [*TRICKY, [True, "x"], ["a", 7], [], "/p9999", 4.5, "/P3"]:
                attributes = {"v": value}
                expected = evalCondition(attributes, condition, {})
                assert evaluate(condition, attributes) is expected, (op, listed, value)
                if listed[-1] == listed[-1]:  # no NaN: SQL takes finite numbers only
                    pairs.append((condition, attributes, expected))
    sql = run_expressions([(c, a) for c, a, _ in pairs])
    mismatches = [(c["v"], a) for (c, a, e), got in zip(pairs, sql, strict=True) if got != e]
    assert not mismatches, [(next(iter(c)), a) for c, a in mismatches]
    assert any(e for *_, e in pairs) and not all(e for *_, e in pairs)


def test_big_in_inside_elem_match_agrees_with_the_sdk():
    condition = {"v": {"$elemMatch": {"$in": big_list(["x", 3])}}}
    pairs = [(condition, {"v": value}) for value in (["y", 3], ["x"], [1.5], ["z"], [], "x")]
    expected = [evalCondition(a, c, {}) for c, a in pairs]
    assert [evaluate(c, a) for c, a in pairs] == expected == run_expressions(pairs)
    assert expected == [True, True, True, False, False, False]


def test_the_sql_of_in_does_not_grow_with_its_list():
    def compiled(size: int):
        return DuckDBCompiler().compile(
            parse_expression({"page.path": {"$in": big_list([], size)}})
        )

    small, big = compiled(10), compiled(10_000)
    assert len(big.sql) == len(small.sql) < 2_000
    lists = [v for v in big.params.values() if isinstance(v, list)]
    assert sorted(len(v) for v in lists) == [1_000, 10_000]  # numbers, strings: one each


# ----------------------------------------------------------------------------- merging

#: criteria ids whose tests merge (ordered values, string lists) and one that does not
MERGING = ["page_visit_count", "visit_duration", "day_of_week", "time", "page_title", "custom_v"]


@st.composite
def repeated_criteria(draw):
    """Two to eight criteria over few ids and positions, so that many share a read."""
    names = st.sampled_from(MERGING)
    positions = st.sampled_from(["current", "previous", "first", "any"]) | POSITION_NAMES
    criteria = []
    for _ in range(draw(st.integers(2, 8))):
        name = draw(names)
        _, operators = CRITERIA_SPACE[name]
        operator = draw(st.sampled_from(sorted(operators)))
        value = draw(operators[operator])
        criteria.append(
            {"criterion": name, "when": draw(positions), "operator": operator, "value": value}
        )
    return criteria


PAGES = st.lists(
    st.fixed_dictionaries({}, optional={name: CRITERIA_SPACE[name][0] for name in MERGING}),
    max_size=5,
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(criteria=repeated_criteria(), pages=PAGES)
def test_merged_criteria_hold_exactly_when_the_criteria_do(criteria, pages):
    tree = parse_criteria_for_pages(criteria, pages)
    merged = merged_criteria(tree.children)
    assert len(merged) <= len(tree.children)
    assert evaluate_on_pages(nodes.And(merged), pages) == evaluate_on_pages(tree, pages)


def test_merging_keeps_one_criterion_per_read():
    criteria = [
        {"criterion": "page_visit_duration", "operator": "gte", "value": i % 30}
        for i in range(500)
    ] + [
        {"criterion": "page_path", "operator": "does_not_contain", "value": f"/x{i}"}
        for i in range(500)
    ] + [
        {"criterion": "page_path", "when": "any", "operator": "is_not", "value": "/a"}
        for _ in range(500)
    ]  # fmt: skip
    merged = merged_criteria(parse_criteria(criteria, {}).children)
    assert [(c.criterion, c.position, type(c.test).__name__) for c in merged] == [
        ("page_visit_duration", "current", "Gte"),
        ("page_path", "current", "DoesNotContain"),
        ("page_path", "any", "IsNot"),
    ]
    assert merged[0].test.value == 29 and len(merged[1].test.values) == 500
    # several pages: "is not /a on some page" twice is once, but lists are not pooled
    pooled = [
        {"criterion": "page_path", "when": "any", "operator": "is_not", "value": v}
        for v in ("/a", "/b")
    ]
    assert len(merged_criteria(parse_criteria(pooled, {}).children)) == 2


def test_big_saved_groups_agree_with_the_sdk_and_sql():
    from engage_lab.config.immutable import freeze

    groups = {"big": big_list([1, "A"]), "keyed": {"type": "list", "values": big_list([True])}}
    groups["keyed"]["attributeKey"] = "v"
    conditions = [{"v": {"$inGroup": "big"}}, {"v": {"$notInGroup": "big"}}]
    conditions.append({"$savedGroup": "keyed"})
    pairs = [(c, {"v": v}) for c in conditions for v in TRICKY]
    expected = [evalCondition(a, c, groups) for c, a in pairs]
    frozen = freeze(groups)
    for _ in range(2):  # the frozen lists' keys are remembered: the same answers again
        assert [evaluate(c, a, frozen) for c, a in pairs] == expected
    assert run_expressions(pairs, groups) == expected
    assert 0 < sum(expected) < len(expected)


def test_a_plain_saved_group_list_is_read_anew_each_time():
    groups = {"g": ["a"]}
    assert evaluate({"v": {"$inGroup": "g"}}, {"v": "b"}, groups) is False
    groups["g"].append("b")  # a caller's own list may change between evaluations
    assert evaluate({"v": {"$inGroup": "g"}}, {"v": "b"}, groups) is True
