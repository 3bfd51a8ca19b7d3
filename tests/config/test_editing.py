"""Validated edits: each returns a new valid Config or raises ConfigError naming the JSON
path (as ``engage-lab validate`` writes it); the original is never changed."""

from __future__ import annotations

import re

import pytest

import engage_lab as el
from engage_lab.config import Config, ReservePolicy
from tests.config.conftest import minimal_config

_PYDANTIC_LOC = re.compile(r"\.\d+(\.|\b)")


@pytest.fixture
def cfg() -> Config:
    return Config.from_dict(minimal_config())


def _refused(call, where: str, *words: str) -> el.ConfigError:
    with pytest.raises(el.ConfigError) as caught:
        call()
    problems = caught.value.problems
    assert any(p.startswith(f"{where}: ") for p in problems), problems
    assert all(not _PYDANTIC_LOC.search(p.split(": ")[0]) for p in problems), problems
    assert all(w in str(caught.value) for w in words), str(caught.value)
    return caught.value


def test_edit_sets_a_value_anywhere_and_validates_the_whole(cfg):
    edited = cfg.edit("source.queuing_factor", 0.25)
    assert edited.source.queuing_factor == 0.25 and cfg.source.queuing_factor == 0
    assert cfg.edit('saved_groups["vip"]', ["gold", "silver"]).saved_groups == {
        "vip": ["gold", "silver"]
    }
    assert cfg.edit("triggers[2].label", "Open now").trigger("t-open").label == "Open now"
    _refused(lambda: cfg.edit("source.queuing_factor", "twenty"), "source.queuing_factor")
    _refused(lambda: cfg.edit("source.queuing_factor", 1e20), "source.queuing_factor", "1000000")
    _refused(lambda: cfg.edit("triggers[7].label", "x"), "triggers[7]", "no such entry")
    _refused(lambda: cfg.edit("source.queueing_factor", 1), "source.queueing_factor")
    _refused(
        lambda: cfg.edit("triggers[0].actions[0].item", "nope"),
        "triggers[0].actions[0].item",
        "unknown item",
    )


def test_edit_refuses_a_path_it_cannot_read(cfg):
    with pytest.raises(el.ConfigError, match="cannot read the path"):
        cfg.edit("triggers.1.label", "x")  # pydantic's notation, not the project's


def test_delete_falls_back_to_the_default_or_drops_an_entry(cfg):
    assert cfg.edit("source.visit_idle", "1h").delete("source.visit_idle").source.visit_idle_ms == (
        86_400_000
    )
    _refused(lambda: cfg.delete("catalog.messages[0]"), "triggers[1].actions[1].message", "unknown")


def test_with_threshold_by_position_by_criterion_or_by_path(cfg):
    assert cfg.with_threshold("t-cart", 0, 150).trigger("t-cart").criteria[0]["value"] == 150
    by_id = cfg.with_threshold("t-cart", "custom_cart_amount", 175)
    assert by_id.trigger("t-cart").criteria[0]["value"] == 175
    with_expression = cfg.edit("triggers[1].expression", {"page.count": {"$gte": 2}})
    moved = with_expression.with_threshold("t-cart", 'expression["page.count"]["$gte"]', 5)
    assert moved.trigger("t-cart").expression == {"page.count": {"$gte": 5}}
    _refused(lambda: cfg.with_threshold("t-cart", 0, "twenty"), "triggers[1].criteria[0].value")
    _refused(lambda: cfg.with_threshold("t-cart", 0, 1e40), "triggers[1].criteria[0].value")
    _refused(lambda: cfg.with_threshold("t-cart", 3, 1), "triggers[1].criteria", "no criterion 3")
    _refused(lambda: cfg.with_threshold("t-cart", "page_url", 1), "triggers[1].criteria")
    _refused(lambda: cfg.with_threshold("nope", 0, 1), "triggers", "no trigger 'nope'")


def test_enable_gating_policy_and_queuing_factor(cfg):
    assert [t.id for t in cfg.enable_trigger("t-open", False).enabled_triggers] == [
        "t-button",
        "t-cart",
    ]
    assert cfg.with_gating("t-open", True).trigger("t-open").gated
    reserve = cfg.with_policy("t-cart", ReservePolicy(policy="reserve", k=1))
    assert reserve.trigger("t-cart").policy == ReservePolicy(policy="reserve", k=1)
    assert reserve.with_policy("t-cart", None).trigger("t-cart").server_probability is None
    _refused(
        lambda: reserve.with_gating("t-cart", False),
        "triggers[1].server_probability",
        "only to gated triggers",
    )
    _refused(
        lambda: cfg.with_policy("t-cart", {"policy": "reserve", "k": 10**30}),
        "triggers[1].server_probability.k",
    )
    _refused(
        lambda: cfg.with_policy("t-open", {"policy": "reserve", "k": 1}),
        "triggers[2].server_probability",
    )
    assert cfg.with_queuing_factor(0.5).effective_queuing_factor("t-cart") == 0.5
    own = cfg.with_queuing_factor(0.75, "t-cart")
    assert own.effective_queuing_factor("t-cart") == 0.75
    assert own.with_queuing_factor(None, "t-cart").effective_queuing_factor("t-cart") == 0
    _refused(lambda: cfg.with_queuing_factor(0.125), "source.queuing_factor", "two decimals")
    _refused(lambda: cfg.enable_trigger("t-open", "yes"), "triggers[2].enabled")


def test_move_duplicate_remove(cfg):
    assert [t.id for t in cfg.move_trigger("t-open", 0).triggers] == [
        "t-open",
        "t-button",
        "t-cart",
    ]
    assert [t.id for t in cfg.move_trigger("t-button", -1).triggers] == [
        "t-cart",
        "t-open",
        "t-button",
    ]
    _refused(lambda: cfg.move_trigger("t-open", 3), "triggers", "no position 3")
    twin = cfg.duplicate_trigger("t-cart", "t-cart-2", label="Cart (variant)")
    assert [t.id for t in twin.triggers] == ["t-button", "t-cart", "t-cart-2", "t-open"]
    assert twin.trigger("t-cart-2").criteria == twin.trigger("t-cart").criteria
    assert twin.trigger("t-cart-2").label == "Cart (variant)"
    _refused(lambda: cfg.duplicate_trigger("t-cart", "t-open"), "triggers[3].id", "duplicate")
    assert [t.id for t in cfg.remove_trigger("t-button").triggers] == ["t-cart", "t-open"]
    one = cfg.remove_trigger("t-button").remove_trigger("t-cart")
    _refused(lambda: one.remove_trigger("t-open"), "triggers", "at least one trigger")


def test_edits_chain_like_a_tuning_widget_and_round_trip(cfg):
    tuned = (
        cfg.with_threshold("t-cart", 0, 120)
        .with_gating("t-button", True)
        .with_policy("t-button", {"policy": "reserve", "k": 2})
        .move_trigger("t-cart", 0)
        .with_queuing_factor(0.5)
    )
    assert Config.from_json(tuned.to_json()) == tuned
    assert Config.check(tuned.to_dict()) == []
    assert cfg == Config.from_dict(minimal_config())  # every step left its input alone


def test_an_edit_error_says_what_was_refused(cfg):
    error = _refused(lambda: cfg.with_threshold("t-cart", 0, "x"), "triggers[1].criteria[0].value")
    assert error.headline == (
        "threshold of t-cart: refused, the configuration would be invalid (1 problem)"
    )


def test_numpy_scalars_from_a_widget_are_their_json_values(cfg):
    import numpy as np

    edited = cfg.with_threshold("t-cart", 0, np.int64(120)).enable_trigger(
        "t-open", np.bool_(False)
    )
    assert edited.trigger("t-cart").criteria[0]["value"] == 120
    assert type(edited.trigger("t-cart").criteria[0]["value"]) is int
    assert edited.trigger("t-open").enabled is False
    _refused(
        lambda: cfg.with_threshold("t-cart", 0, np.float64("inf")), "triggers[1].criteria[0].value"
    )
