"""The chat-event step: the reference Chat Manager over a generated world, agent pool fed
back, hidden behaviour as the engagement source; a faithful replay of the recorded world
has fidelity 1.0 on both engines."""

from __future__ import annotations

import collections
import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import engage_lab as el
from engage_lab.config import load_any
from engage_lab.errors import ConfigError, EngineError
from engage_lab.replay import replay
from engage_lab.world import generate_world
from engage_lab.world.chat import default_chat_recorder
from engage_lab.world.model import draw_world
from engage_lab.world.output import world_view
from engage_lab.world.recording import load_world_config, record_chat
from engage_lab.world.truth import EngagementTruth

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "data" / "configs"
SAMPLES = {"live_chat": ROOT / "data" / "sample", "messaging": ROOT / "data" / "sample-messaging"}


def production(mode: str) -> Path:
    return CONFIGS / f"production-{mode.replace('_', '-')}.json"


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def fidelity(folder: Path, config: Path, db: Path) -> dict[str, float | None]:
    with el.open(db) as lab:
        lab.load(folder, progress=False)
        cfg = load_any(config)
        return {e: replay(lab, cfg, engine=e).fidelity for e in ("reference", "fast")}


@pytest.fixture(scope="module", params=["live_chat", "messaging"])
def small(request, tmp_path_factory):
    """A small recorded world per mode: (mode, folder, summary)."""
    mode = request.param
    out = tmp_path_factory.mktemp(f"chat-{mode}")
    summary = generate_world(out, visitors=90, seed=31, mode=mode, days=4, progress=False)
    return mode, out, summary


def test_the_reference_recorder_is_the_reference_chat_manager():
    from engage_lab.world.chat import reference_chat_recorder

    assert reference_chat_recorder() is record_chat
    assert default_chat_recorder().__module__ == "engage_lab.world.recording_fast"


@pytest.mark.slow
def test_faithful_replay_of_a_recorded_world_has_fidelity_one(small, tmp_path):
    mode, out, summary = small
    assert summary.chat_events_recorded
    assert fidelity(out, production(mode), tmp_path / "w.duckdb") == {
        "reference": 1.0,
        "fast": 1.0,
    }


@pytest.mark.slow
def test_a_different_configuration_does_not_replay_faithfully(small, tmp_path):
    mode, out, _ = small
    variant = {
        "live_chat": "variant-live-chat-lower-threshold",
        "messaging": "variant-messaging-lower-threshold",
    }[mode]
    scores = fidelity(out, CONFIGS / f"{variant}.json", tmp_path / "v.duckdb")
    assert scores["reference"] == scores["fast"]
    assert scores["reference"] is not None and scores["reference"] < 1.0


@pytest.mark.slow
@pytest.mark.parametrize("mode", sorted(SAMPLES))
def test_committed_samples_replay_with_fidelity_one(mode, tmp_path):
    assert fidelity(SAMPLES[mode], production(mode), tmp_path / "s.duckdb") == {
        "reference": 1.0,
        "fast": 1.0,
    }


@pytest.mark.slow
def test_a_configuration_history_is_recorded_and_replayed_faithfully(tmp_path):
    history = CONFIGS / "history-live-chat.json"
    out = tmp_path / "h"
    generate_world(out, visitors=60, seed=5, days=4, config_history=history, progress=False)
    with el.open(tmp_path / "h.duckdb") as lab:
        lab.load(out, progress=False)
        # the fast engine replays one configuration: the reference replays the history
        assert replay(lab, load_any(history), engine="reference").fidelity == 1.0


def test_same_seed_same_bytes(tmp_path):
    for name in ("a", "b"):
        generate_world(tmp_path / name, visitors=25, seed=4, days=2, progress=False)
    for file in ("chat_events.jsonl", "conversations.jsonl", "truth/chat.json"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()
    assert (tmp_path / "a" / "chat_events.jsonl").stat().st_size > 0


def test_events_carry_labels_from_the_configuration(small):
    mode, out, _ = small
    cfg = load_any(production(mode))
    labels = {t.id: t.label for t in cfg.triggers}
    items = {i.id: i.label for i in (*cfg.catalog.buttons, *cfg.catalog.invitations)}
    events = read_jsonl(out / "chat_events.jsonl")
    with_trigger = [e for e in events if e.get("trigger_id")]
    assert with_trigger
    for e in with_trigger:
        assert e["trigger_label"] == labels[e["trigger_id"]]
        assert e["trigger_human_id"] == f"{labels[e['trigger_id']]} #{e['trigger_id']}"
    for e in events:
        if e.get("item_id"):
            assert e["item_label"] == items[e["item_id"]]
        if e["event"] in ("started", "chat_engaged", "message_sent", "message_received"):
            assert e.get("trigger_id") is None and e.get("server_probability") is None


def test_web_chats_follow_the_pool_rules(small):
    mode, out, _ = small
    web = [c for c in read_jsonl(out / "conversations.jsonl") if c["channel"] == "web_chat"]
    events = read_jsonl(out / "chat_events.jsonl")
    engaged = [e for e in events if e["event"] == "chat_engaged"]
    assert web and len(web) == len(engaged)
    offsets = {v["id"]: v.get("clock_offset_ms", 0) for v in read_jsonl(out / "visitors.jsonl")}
    received = collections.Counter(
        e["visitor_id"] for e in events if e["event"] == "message_received"
    )
    served = collections.Counter(c["visitor_id"] for c in web if c.get("outcome") == "served")
    assert received == served  # the agent's first message: only when an agent serves
    # each web chat is queued at its chat_engaged instant (server time = browser - offset)
    engaged_at = sorted(
        (
            e["visitor_id"],
            pd.Timestamp(e["event_at"]) - pd.Timedelta(milliseconds=offsets[e["visitor_id"]]),
        )
        for e in engaged
    )
    queued = sorted((c["visitor_id"], pd.Timestamp(c["queued_at"])) for c in web)
    assert engaged_at == queued
    for c in web:
        if c.get("started_at"):
            assert c["outcome"] == "served" and c["started_at"] >= c["queued_at"]
        else:
            assert c.get("agent_id") is None
    if mode == "messaging":
        assert not any(e["event"] == "chat_closed" for e in events)
        assert {c.get("outcome") for c in web} <= {"served", None}


def test_pages_without_a_recorded_end_run_until_their_last_variable_change(small):
    _, out, _ = small
    pages = {p["id"]: p for p in read_jsonl(out / "page_views.jsonl")}
    changes = collections.defaultdict(list)
    for c in read_jsonl(out / "var_changes.jsonl"):
        changes[c["page_view_id"]].append(c["changed_at"])
    unended = {i for i, p in pages.items() if "ended_at" not in p}
    assert unended
    # (a stage's chat_shown at a page's start is decided even on a zero-length page)
    for e in read_jsonl(out / "chat_events.jsonl"):
        if e["page_view_id"] in unended and e["event"] == "trigger_activated":
            # zero-length without variable changes: no trigger runs there
            assert changes[e["page_view_id"]], e["id"]
            assert e["event_at"] < max(changes[e["page_view_id"]])


def world_of(mode: str, **kw):
    world = draw_world(8, 70, mode, 3)
    return world_view(world, None, None), world


def test_without_agents_every_gated_trigger_is_refused():
    view, _ = world_of("live_chat")
    tables = dict(view.tables)
    tables["presence"] = tables["presence"].iloc[0:0]
    recording = record_chat(dataclasses.replace(view, tables=tables))
    gated = recording.chat_events.dropna(subset=["server_probability"])
    assert len(gated) and (gated["server_probability"] == 0.0).all()
    assert not (gated["mode"] == "online").any()
    # engagements still come from ungated offers, and no agent ever serves them
    assert set(recording.conversations["outcome"]) <= {"unserved", "closed_by_visitor"}


def test_eager_visitors_load_the_agents_and_change_the_servers_answer():
    view, _ = world_of("live_chat")
    calm = record_chat(view)
    eager_truth = dataclasses.replace(view.params.truth, base_logit=1.5)
    eager = record_chat(
        dataclasses.replace(view, params=dataclasses.replace(view.params, truth=eager_truth))
    )
    assert len(eager.conversations) > len(calm.conversations)

    def refused(rec):
        gated = rec.chat_events.dropna(subset=["server_probability"])
        return int((gated["server_probability"] == 0.0).sum()), len(gated)

    # more web chats in progress: the server answers 0 more often
    (calm_refused, calm_gated), (eager_refused, eager_gated) = refused(calm), refused(eager)
    assert eager_refused / eager_gated > calm_refused / calm_gated


def test_offline_items_bring_no_engagement():
    view, _ = world_of("live_chat")
    frame = record_chat(view).chat_events
    engaged_pages = set(frame.loc[frame["event"] == "chat_engaged", "page_view_id"])
    online = frame[
        (frame["event"].isin(["item_shown", "chat_shown"])) & (frame["mode"] != "offline")
    ]
    assert engaged_pages and engaged_pages <= set(online["page_view_id"]) | set(
        frame.loc[frame["trigger_continuation"] == True, "page_view_id"]  # noqa: E712
    )


def test_recording_is_independent_of_the_generators_rng():
    view, _ = world_of("messaging")
    a = record_chat(view)
    b = record_chat(dataclasses.replace(view, rng=np.random.default_rng(999)))
    pd.testing.assert_frame_equal(a.chat_events, b.chat_events)
    assert a.truth == b.truth


def test_a_configuration_of_the_other_mode_is_refused(tmp_path):
    view, _ = world_of("live_chat")
    wrong = dataclasses.replace(view, config_path=production("messaging"))
    assert load_world_config(wrong).mode == "messaging"
    with pytest.raises(EngineError, match="messaging"):
        record_chat(wrong)
    with pytest.raises(ConfigError):
        generate_world(tmp_path, visitors=5, seed=1, config=production("messaging"), progress=False)


def test_default_configuration_is_the_packaged_production_one():
    view, _ = world_of("messaging")
    assert load_world_config(view).to_dict() == load_any(production("messaging")).to_dict()
    assert EngagementTruth().close_after_served > 0  # visitors close served chats


def test_scalar_engagement_probability_is_the_truths():
    from engage_lab.world.recording import _Behaviour
    from engage_lab.world.truth import engagement_probability

    truth = EngagementTruth()
    model = _Behaviour(1, truth, None, {}, {}, {}, "x-")  # type: ignore[arg-type]
    cases = [("chat", "help", 0.0, False, 0.0), ("button", "home", 95.5, True, -1.2),
             ("invitation", "checkout", 12.25, True, 0.7)]  # fmt: skip
    for kind, category, seconds, returning, effect in cases:
        expected = engagement_probability(
            truth, [kind], [category], [seconds], [returning], [effect]
        )[0]
        assert model.probability(kind, category, seconds, returning, effect) == pytest.approx(
            expected, rel=1e-12
        )
    with pytest.raises(KeyError):
        model.probability("banner", "help", 0.0, False, 0.0)
