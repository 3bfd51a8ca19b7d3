"""The engine's plan: leaves and their sources, slots of a history, structure keys,
refusals; exact crossing instants; the module examples."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engage_lab.conditions.walking import first_ms_above, first_ms_at_least
from engage_lab.config import ConfigHistory
from engage_lab.engine import (
    ahead,
    engagements,
    kernel,
    leaves,
    make_plan,
    memory,
    output,
    pages,
    plan,
    static,
    steps,
)
from engage_lab.engine.kernel import POS_ANY_PREVIOUS, POS_BACK
from engage_lab.engine.static import candidates_key
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


def test_candidates_do_not_depend_on_current_thresholds_but_on_page_values() -> None:
    def key(*criteria):
        return candidates_key(make_plan(config(trig("t", criteria=list(criteria)))))

    duration = crit("page_visit_duration", "gte", 10)
    assert key(duration) == key(crit("page_visit_duration", "gte", 99))
    assert key(crit("page_path", "is", "/a")) != key(crit("page_path", "is", "/b"))
    # a past position reads final values: its threshold decides candidates
    past = crit("page_visit_duration", "gte", 10, when="previous")
    assert key(past) != key(crit("page_visit_duration", "gte", 11, when="previous"))


def test_leaves_are_classified_by_what_their_value_depends_on() -> None:
    p = make_plan(
        config(
            trig(
                "t1",
                item("b1"),
                {"type": "hide_other_elements"},
                criteria=[
                    crit("chat_shown", "is", False, when="any_previous"),
                    crit("page_path", "starts_with", "/cart", when="previous"),
                    crit("page_visit_duration", "gte", 30),
                    crit("custom_cart", "gte", 20),
                    crit("identity", "is", True),
                    crit("time", "gte", "08:00"),
                ],
            ),
            trig("t2", item("boff"), item("b1"), only_if_agents_available=True),
            trig("t3", enabled=False),
        )
    )
    assert [s.id for s in p.slots] == ["t1", "t2"]
    first = p.slots[0]
    assert [leaf.source for leaf in first.leaves] == [
        "chat", "page", "duration", "var", "identity", "clock",
    ]  # fmt: skip
    assert first.leaves[0].position == (POS_ANY_PREVIOUS, 0, 0)
    assert first.leaves[1].position == (POS_BACK, 1, 1)
    assert [leaf.source for leaf in first.dynamic_leaves] == [
        "duration",
        "var",
        "identity",
        "clock",
    ]
    assert first.hides
    items = dict(enumerate(i for i, _ in p.items))
    assert [items[k] for k in p.slots[1].offline_items] == ["boff"]
    assert p.any_gated


def test_a_history_has_one_slot_per_enabled_trigger_per_entry() -> None:
    a = config(trig("t1"), trig("t2"))
    b = config(trig("t2"), trig("t3"))
    history = ConfigHistory.from_dict(
        {
            "schema_version": 1,
            "history": [
                {"effective_at": "2026-03-01T00:00:00Z", "config": a.to_dict()},
                {"effective_at": "2026-03-02T00:00:00Z", "config": b.to_dict()},
            ],
        }
    )
    p = make_plan(history)
    assert p.trigger_ids == ("t1", "t2", "t3")
    assert [(s.entry, s.id, s.gid, s.rank) for s in p.slots] == [
        (0, "t1", 0, 0), (0, "t2", 1, 1), (1, "t2", 1, 0), (1, "t3", 2, 1),
    ]  # fmt: skip
    assert p.entries[1].effective_at - p.entries[0].effective_at == 86_400_000


@pytest.mark.parametrize(
    "module", [plan, pages, static, leaves, steps, kernel, engagements, output, memory, ahead]
)
def test_doctests(module) -> None:
    result = doctest.testmod(module)
    assert result.failed == 0
