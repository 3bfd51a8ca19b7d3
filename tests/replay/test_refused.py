"""``refused`` counts the gated activations the draw turned down (``u >= p``) in both
modes: in live chat they have the offline look, in messaging the online look (so the KPI
reads the draws there), and a missing placeholder is never a refusal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import engage_lab as el
from tests.replay.conftest import PRODUCTION, ROOT, _load

MESSAGING = ROOT / "data" / "sample-messaging"
PRODUCTION_MESSAGING = ROOT / "data" / "configs" / "production-messaging.json"


@pytest.fixture(scope="module")
def messaging_db(tmp_path_factory) -> Path:
    return _load(MESSAGING, tmp_path_factory.mktemp("msg") / "messaging.duckdb")


def _draw_refusals(events) -> tuple[int, dict[int, int]]:
    act = events[events["event"] == "trigger_activated"]
    refused = act[act["server_probability"].notna() & (act["draw"] >= act["server_probability"])]
    return len(refused), refused


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_messaging_refusals_read_from_the_draws(messaging_db, engine):
    with el.open(messaging_db) as lab:
        res = lab.replay(PRODUCTION_MESSAGING, engine=engine)
        events = res.events
    n, refused = _draw_refusals(events)
    assert n > 0, "the messaging sample must hold refusals"
    assert (refused["mode"] == "online").all()  # the look used in messaging
    assert res.kpis["refused"] == n
    assert sum(res.kpis["refusals_by_hour"].values()) == n
    activated = int((events["event"] == "trigger_activated").sum())
    executed = int((events["event"] == "trigger_executed").sum())
    # what is neither executed nor refused: activations without their fixed button's placeholder
    assert res.kpis["activated_not_executed"] == activated - executed - n


def test_messaging_refusals_agree_between_engines(messaging_db):
    with el.open(messaging_db) as lab:
        fast = lab.replay(PRODUCTION_MESSAGING, engine="fast").kpis
        ref = lab.replay(PRODUCTION_MESSAGING, engine="reference").kpis
    for key in ("refused", "refusals_by_hour", "activated_not_executed"):
        assert fast[key] == ref[key], key


def test_live_chat_refusals_are_the_offline_activations_and_the_draws(sample_db):
    with el.open(sample_db) as lab:
        res = lab.replay(PRODUCTION)
        events = res.events
    n, refused = _draw_refusals(events)
    offline = events[(events["event"] == "trigger_activated") & (events["mode"] == "offline")]
    assert n > 0
    assert res.kpis["refused"] == n == len(offline)
    assert np.array_equal(
        np.sort(refused["event_at"].to_numpy()), np.sort(offline["event_at"].to_numpy())
    )
