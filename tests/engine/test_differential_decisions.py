"""Fast engine vs reference on the hand-made histories of the section 5 decisions
(items 26-29, tests/reference/test_decisions.py): identical event frames, column by
column and row by row (the order at one instant included)."""

from __future__ import annotations

import pytest

from tests.engine.support import check_world
from tests.reference import test_decisions as decisions

CASES = {
    **decisions.CASES,
    "timezone_of_config_paris": lambda: decisions.timezone_of_config("Europe/Paris"),
    "timezone_of_config_default": lambda: decisions.timezone_of_config(None),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_fast_equals_reference_on_decision_cases(name: str) -> None:
    world, cfg = CASES[name]()
    frame = check_world(world, cfg)
    assert len(frame) > 0, f"{name}: the case replays no event"
