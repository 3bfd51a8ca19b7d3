"""The criteria registry: every registered criterion is handled by every consumer.

A registry entry without its semantics (the reference's value, the SQL of the fast engine,
the schema, the validator, the world's page-end analysis) fails here. Also: a
configuration's conditions are parsed once, when it loads, and no consumer parses again;
an unknown criterion is a parse error, never a variable read.
"""

from __future__ import annotations

from typing import Any

import pytest

from engage_lab.conditions import check_criteria, evaluate_criteria, parse_criteria
from engage_lab.conditions import criteria as criteria_module
from engage_lab.conditions import expressions as expressions_module
from engage_lab.conditions.criteria import read_page_value
from engage_lab.conditions.nodes import CRITERIA_OPERATORS
from engage_lab.conditions.registry import (
    CRITERIA,
    SOURCES,
    CriterionFacts,
    custom_facts,
    facts_of,
)
from engage_lab.config import Config
from engage_lab.config.schema import config_schema
from engage_lab.engine.plan import make_plan
from engage_lab.errors import ConditionError
from engage_lab.reference.history import IdentitySet, PageView
from engage_lab.reference.plan import ConfigPlan
from engage_lab.reference.state import PageContext
from engage_lab.world.page_ends import reads_past_page_ends
from tests.conditions.sql_harness import run_criteria
from tests.engine.support import assert_same, replayed_both
from tests.reference.builders import World, at, chat, config, config_data, crit, open_chat, trig

IDS = list(CRITERIA)


def holding(facts: CriterionFacts) -> tuple[str, Any]:
    """An operator and value that hold on any found value of the criterion's kind."""
    if facts.kind == "boolean":
        return "is", True
    if facts.kind == "number":
        return "gte", facts.minimum if facts.maximum is not None else 1
    if facts.kind == "day":
        return "lte", "Sunday"
    if facts.kind == "time":
        return "gte", "00:00"
    return "is_present", None


def _context() -> PageContext:
    page = PageView(
        "p1", "v1", "visit1", at(0), at(100), url="https://s.example/a", path="/a", title="A"
    )
    identity = IdentitySet("i1", "v1", None, True, at(10))
    return PageContext(
        page, index=1, visit_count=1, visit_start=at(0), changes=(), identities=(identity,),
        timezone="UTC",
    )  # fmt: skip


@pytest.mark.parametrize("criterion", IDS)
def test_the_reference_gives_every_criterion_a_value_of_its_kind(criterion):
    facts = CRITERIA[criterion]
    ctx = _context()
    for values in (
        ctx.values_at(at(50), chat_shown=True, chat_opened=True),
        ctx.final_values(chat_shown=True, chat_opened=True),
    ):
        assert criterion in values, f"the reference has no value for {criterion}"
        assert read_page_value(values[criterion], facts.kind) is not None


@pytest.mark.parametrize("criterion", IDS)
def test_the_sql_compiler_agrees_with_the_evaluator_on_every_criterion(criterion):
    facts = CRITERIA[criterion]
    ctx = _context()
    pages = [
        ctx.final_values(chat_shown=True, chat_opened=True),
        ctx.values_at(at(50), chat_shown=True, chat_opened=True),
    ]
    op, value = holding(facts)
    cases = []
    for when in ("current", "previous", "previous_2", "any"):
        for operator in facts.operators:
            operand = "a, /" if facts.kind == "string" else value
            if not CRITERIA_OPERATORS[operator].takes_value:
                operand = None
            cases.append(([crit(criterion, operator, operand, when)], pages))
        cases.append(([crit(criterion, op, value, when)], pages[-1:]))
    expected = [evaluate_criteria(c, p) for c, p in cases]
    assert run_criteria(cases) == expected
    assert expected[len(facts.operators)]  # the holding test holds on the current page
    assert len(set(expected)) == 2  # the cases are not all alike


def test_the_schema_enumerates_the_registry():
    criterion = config_schema()["$defs"]["Criterion"]["properties"]["criterion"]
    assert criterion["anyOf"][0]["enum"] == IDS


@pytest.mark.parametrize("criterion", IDS)
def test_the_validator_takes_the_registered_operators_only(criterion):
    facts = CRITERIA[criterion]
    op, value = holding(facts)
    assert check_criteria([crit(criterion, op, value)], None, "c") == []
    refused = [o for o in ("is", "is_not", "contains", "gte") if o not in facts.operators]
    for operator in refused:
        problems = check_criteria([crit(criterion, operator, value)], None, "c")
        assert problems and problems[0].startswith("c[0]"), (criterion, operator)


@pytest.mark.parametrize("criterion", IDS)
def test_the_world_follows_moved_page_ends_for_what_the_registry_says(criterion):
    op, value = holding(CRITERIA[criterion])
    past = config(trig("t", criteria=[crit(criterion, op, value, "previous")]))
    now = config(trig("t", criteria=[crit(criterion, op, value, "current")]))
    assert reads_past_page_ends([past]) is CRITERIA[criterion].end_matters
    assert reads_past_page_ends([now]) is False


def test_every_criterion_replays_alike_in_both_engines():
    """One trigger per criterion and position (current, previous): both engines give the
    same events, and each trigger activates (its criterion was read, not taken as false)."""
    w = World()
    w.page("p1", 0, 100, path="/cart", title="Cart")
    w.identity("i1", 10, signed=True)
    w.page("p2", 100, 300, path="/pay", title="Pay")
    triggers = [trig("opener", open_chat(), criteria=[crit("page_visit_duration", "gte", 20)])]
    for criterion in IDS:
        op, value = holding(CRITERIA[criterion])
        for when in ("current", "previous"):
            triggers.append(trig(f"{criterion}@{when}", chat(), criteria=[crit(criterion, op, value, when)]))  # fmt: skip
    fast, reference = replayed_both(w, config(*triggers))
    assert_same(fast, reference)
    activated = set(fast.loc[fast["event"] == "trigger_activated", "trigger_id"])
    missing = {t["id"] for t in triggers} - activated
    assert not missing, f"never activated: {sorted(missing)}"


def test_engines_read_each_criterion_source_from_the_registry():
    cfg = config(*(trig(c, criteria=[crit(c, *holding(CRITERIA[c]))]) for c in IDS),
                 trig("var", criteria=[crit("custom_cart", "gte", 1)]))  # fmt: skip
    plan = make_plan(cfg)
    sources = {slot.id: slot.leaves[0].source for slot in plan.slots}
    assert sources == {**{c: CRITERIA[c].source for c in IDS}, "var": "var"}
    assert set(sources.values()) == set(SOURCES)


# ----------------------------------------------------------------------------- the rules


@pytest.mark.parametrize("name", ["cart_amount", "custom_", "Page_path", "page"])
def test_an_unknown_criterion_is_a_parse_error_with_its_path(name):
    with pytest.raises(ConditionError) as error:
        parse_criteria([crit("page_url", "is_present"), crit(name, "is", "x")], {}, "t[0].criteria")
    assert error.value.path == "t[0].criteria[1].criterion"
    assert "unknown criterion" in str(error.value)
    problems = Config.check(config_data(trig("t", criteria=[crit(name, "is", "x")])))
    assert problems == [
        f"triggers[0].criteria[0].criterion: unknown criterion {name!r}; "
        "use one of " + ", ".join(IDS) + " or custom_<name>"
    ]
    with pytest.raises(KeyError):
        facts_of(name, "string")


def test_an_undeclared_custom_variable_is_refused_in_a_configuration_only():
    data = config_data(trig("t", criteria=[crit("custom_basket", "gte", 1)]))
    assert Config.check(data) == [
        "triggers[0].criteria[0].criterion: custom variable 'basket' is not declared; "
        "declare it in custom_variables with a type (string, number or boolean)"
    ]
    # the standalone evaluator (no configuration) infers the kind from the pages
    assert evaluate_criteria([crit("custom_basket", "gte", 1)], [{"custom_basket": 2}])
    assert facts_of("custom_basket", "number") == custom_facts("custom_basket", "number")
    assert facts_of("custom_basket", "number").source == "var"


def test_a_registry_entry_is_checked_when_it_is_made():
    with pytest.raises(ValueError, match="cannot read"):
        CriterionFacts("page_referrer", "string", "page", "referrer", "the referrer")
    with pytest.raises(ValueError, match="unknown source"):
        CriterionFacts("weather", "string", "sky", "rain", "the weather")


def test_conditions_are_parsed_once_when_the_configuration_loads(monkeypatch):
    w = World()
    w.page("p1", 0, 100, path="/cart")
    w.var("p1", "custom_cart", 70, 5)
    w.page("p2", 100, 200, path="/pay")
    cfg = config(
        trig("t1", criteria=[crit("custom_cart", "gte", 50), crit("page_path", "is", "/cart")]),
        trig("t2", criteria=[crit("page_visit_duration", "gte", 30, "previous")],
             expression={"page.path": {"$regex": "^/pa"}}),
    )  # fmt: skip
    assert cfg.conditions("t2").expression is not None

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a consumer parsed a condition again")

    monkeypatch.setattr(criteria_module, "_parse_one", refuse)
    monkeypatch.setattr(expressions_module._Parser, "condition", refuse)
    make_plan(cfg)
    ConfigPlan(cfg)
    reads_past_page_ends([cfg])
    fast, reference = replayed_both(w, cfg)
    assert_same(fast, reference)
    assert set(fast.loc[fast["event"] == "trigger_activated", "trigger_id"]) == {"t1", "t2"}


def test_a_copy_with_other_triggers_reads_its_own_conditions():
    cfg = config(trig("t", criteria=[crit("page_path", "is", "/a")]))
    other = config(trig("t", criteria=[crit("page_path", "is", "/b")]))
    copied = cfg.model_copy(update={"triggers": other.triggers})
    assert copied == other and copied != cfg  # before and after it parses its own
    assert copied.conditions("t").criteria[0].test.values == ("/b",)
    assert copied == other
    assert cfg.conditions("t").criteria[0].test.values == ("/a",)


def test_the_documentation_gives_each_criterion_its_registry_kind():
    import pathlib

    doc = (pathlib.Path(__file__).parents[2] / "docs" / "configuration.md").read_text("utf-8")
    for criterion, facts in CRITERIA.items():
        assert f"| `{criterion}` | {facts.kind} |" in doc, criterion
