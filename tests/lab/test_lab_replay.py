"""``lab.replay`` is the stable entry point of DESIGN.md section 9 and delegates to replay()."""

from __future__ import annotations

from pathlib import Path

import pytest

import engage_lab as el

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with el.open(tmp_path_factory.mktemp("lab") / "e.duckdb") as lab:
        lab.load(ROOT / "data" / "sample")
        yield lab


def test_lab_replay_faithful_production_has_fidelity_one(lab):
    cfg = el.Config.load(ROOT / "data" / "configs" / "production-live-chat.json")
    result = lab.replay(cfg, sample=0.2)
    assert result.kpis["page_views"] > 0
    assert result.kpis["fidelity"] == 1.0
    assert list(result.events.columns)[:3] == ["visitor_id", "visit_id", "page_view_id"]


def test_lab_replay_lower_thresholds_activate_the_cart_trigger_at_least_as_often(lab):
    configs = ROOT / "data" / "configs"
    base = lab.replay(el.Config.load(configs / "production-live-chat.json"))
    lower = lab.replay(el.Config.load(configs / "variant-live-chat-lower-threshold.json"))

    def cart_activations(result):
        events = result.events
        mask = (events["event"] == "trigger_activated") & (
            events["trigger_id"] == "cart-invitation"
        )
        return int(mask.sum())

    assert base.kpis["page_views"] == lower.kpis["page_views"]
    # lower thresholds on time on page and cart amount can only widen the trigger's window
    assert cart_activations(lower) >= cart_activations(base)
    assert not base.events.equals(lower.events)
