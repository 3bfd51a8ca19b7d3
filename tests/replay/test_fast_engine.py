"""``replay(engine="fast")``: the same KPIs as the reference; segments via a restricted copy."""

from __future__ import annotations

import pytest

import engage_lab as el
from engage_lab.events import compare_events
from engage_lab.replay import replay
from tests.replay.conftest import PRODUCTION


@pytest.mark.slow
@pytest.mark.parametrize(
    "restrictions",
    [
        {},
        {"segment": {"page.device": "desktop"}, "sample": 0.5},
        {"time_range": ("2026-03-02T12:00:00Z", "2026-03-04T00:00:00Z")},
    ],
    ids=["whole-sample", "segment-and-sample", "time-range"],
)
def test_fast_and_reference_agree_through_replay(sample_db, restrictions):
    with el.open(sample_db) as lab:
        fast = replay(lab, PRODUCTION, engine="fast", **restrictions)
        reference = replay(lab, PRODUCTION, engine="reference", **restrictions)
    assert len(fast.pages) > 0
    assert compare_events(fast.events, reference.events).fidelity == 1.0
    assert fast.kpis == reference.kpis
    assert fast.fidelity == reference.fidelity
