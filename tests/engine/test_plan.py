"""The engine's plan: thresholds, structure keys, refusals; exact crossing instants."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engage_lab.conditions.walking import first_ms_above, first_ms_at_least
from engage_lab.engine import UnsupportedByFastEngineError, facts, instants, make_plan, plan
from tests.reference.builders import config, crit, item, trig


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_crossing_instants_are_the_first_milliseconds_where_the_threshold_holds(
    seconds: float,
) -> None:
    # the engines share these functions; this pins their definition, in doubles
    d = first_ms_at_least(seconds)
    assert d / 1000 >= seconds > (d - 1) / 1000
    d = first_ms_above(seconds)
    assert d / 1000 > seconds >= (d - 1) / 1000


def test_structure_key_ignores_thresholds_only() -> None:
    a = make_plan(config(trig("t", criteria=[crit("page_visit_duration", "gte", 10)])))
    b = make_plan(config(trig("t", criteria=[crit("page_visit_duration", "gte", 20)])))
    c = make_plan(config(trig("t", criteria=[crit("visit_duration", "gte", 10)])))
    assert a.structure_key == b.structure_key
    assert a.structure_key != c.structure_key
    assert a.triggers[0].page_offsets == (10_000, 10_001)
    assert c.triggers[0].visit_offsets == (10_000, 10_001)


def test_chat_readers_and_programs() -> None:
    p = make_plan(
        config(
            trig(
                "t1",
                item("b1"),
                {"type": "hide_other_elements"},
                criteria=[crit("chat_shown", "is", False)],
            ),
            trig("t2", item("boff"), item("b1"), only_if_agents_available=True),
            trig("t3", enabled=False),
        )
    )
    assert [t.id for t in p.triggers] == ["t1", "t2"]
    assert p.triggers[0].reads_chat and p.triggers[0].hides
    assert not p.triggers[1].reads_chat
    items = dict(enumerate(i for i, _ in p.items))
    assert [items[k] for k in p.triggers[1].offline_items] == ["boff"]
    assert p.any_gated


@pytest.mark.parametrize(
    "bad",
    [
        trig("t", criteria=[crit("chat_shown", "is", True, when="previous")]),
        trig("t", extensions={"min_seconds_between_executions": 30}),
        trig("t", expression={"page.count": {"$gte": 2}}),
    ],
)
def test_unsupported_features_raise(bad) -> None:
    with pytest.raises(UnsupportedByFastEngineError):
        make_plan(config(bad))


@pytest.mark.parametrize("module", [plan, facts, instants])
def test_doctests(module) -> None:
    result = doctest.testmod(module)
    assert result.failed == 0
