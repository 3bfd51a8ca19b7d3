"""generate_world and ``engage-lab generate``: arguments, errors, the chat-event hook, loading."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import engage_lab as el
from engage_lab.cli import main
from engage_lab.errors import ConfigError, EngageLabError
from engage_lab.world import ChatRecording, WorldError, WorldView, generate_world
from engage_lab.world.truth import EngagementTruth, engagement_probability
from tests.world.conftest import read_jsonl


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"visitors": 0}, "visitors"),
        ({"visitors": -5}, "visitors"),
        ({"seed": -1}, "seed"),
        ({"days": 0}, "days"),
        ({"mode": "email"}, "mode"),
    ],
)
def test_bad_arguments_raise_world_error(tmp_path, kwargs, message):
    args = {"visitors": 10, "seed": 1, "days": 2, "progress": False, **kwargs}
    with pytest.raises(WorldError, match=message) as info:
        generate_world(tmp_path, **args)
    assert isinstance(info.value, EngageLabError)
    assert not list(tmp_path.glob("*.jsonl"))


def test_configuration_of_the_other_mode_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="messaging"):
        generate_world(tmp_path, 10, 1, days=2, config="data/configs/production-messaging.json",
                       progress=False)  # fmt: skip


def test_missing_or_invalid_configuration_is_refused(tmp_path):
    with pytest.raises(ConfigError):
        generate_world(tmp_path, 10, 1, days=2, config=tmp_path / "nope.json", progress=False)
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 1, "triggers": "no"}')
    with pytest.raises(ConfigError):
        generate_world(tmp_path, 10, 1, days=2, config=bad, progress=False)


def test_configurations_are_recorded_for_the_chat_event_step(tmp_path):
    summary = generate_world(
        tmp_path, 20, 3, days=2, config="data/configs/production-live-chat.json",
        config_history="data/configs/history-live-chat.json", progress=False,
    )  # fmt: skip
    run = json.loads((tmp_path / "truth" / "params.json").read_text())["run"]
    assert run["config"]["path"] == "data/configs/production-live-chat.json"
    assert len(run["config"]["sha256"]) == 64
    assert run["config_history"]["path"] == "data/configs/history-live-chat.json"
    assert summary.chat_events_recorded is True
    assert (tmp_path / "chat_events.jsonl").stat().st_size > 0
    default = generate_world(tmp_path / "d", 20, 3, days=2, progress=False)
    run = json.loads((tmp_path / "d" / "truth" / "params.json").read_text())["run"]
    assert run["config"]["path"] == "packaged:production-live-chat"
    assert default.config is None


def test_cli_generate_prints_a_summary_and_records_chat_events(tmp_path, capsys):
    code = main(["generate", "--out", str(tmp_path), "--visitors", "40", "--seed", "8",
                 "--days", "3", "--mode", "messaging", "--no-progress"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    for word in ("visitors", "visits", "page views", "page_views.jsonl", "elapsed",
                 "page views/s", "chat_events.jsonl"):  # fmt: skip
        assert word in out, word
    assert (tmp_path / "threads.jsonl").exists()
    assert (tmp_path / "chat_events.jsonl").stat().st_size > 0


def test_cli_generate_json_summary(tmp_path, capsys):
    assert main(["generate", "--out", str(tmp_path), "--visitors", "30", "--seed", "2",
                 "--days", "2", "--json", "--no-progress"]) == 0  # fmt: skip
    summary = json.loads(capsys.readouterr().out)
    lines = (tmp_path / "page_views.jsonl").read_text(encoding="utf-8").splitlines()
    assert summary["visitors"] == 30 and summary["page_views"] == len(lines)
    assert summary["records"]["page_views.jsonl"] == summary["page_views"]


def test_cli_generate_bad_seed_exits_1_with_one_line(tmp_path, capsys):
    assert main(["generate", "--out", str(tmp_path), "--visitors", "5", "--seed", "-4"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "seed" in err[0]


def test_progress_bar_goes_to_stderr(tmp_path, capsys):
    generate_world(tmp_path, 20, 5, days=2, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "writing records" in captured.err


def _fake_recorder(world: WorldView) -> ChatRecording:
    """Shows the chat on each visitor's first page, one web chat per visitor (test double)."""
    pages = world.tables["page_views"].drop_duplicates("visitor_id").head(5)
    assert set(world.page_truth.columns) == {
        "page_view_id", "visit_id", "page_category", "visit_number"}  # fmt: skip
    pv = world.tables["page_views"]
    assert pv["page_view_id"].is_unique and pv["started_at"].is_monotonic_increasing
    assert str(pv["started_at"].dtype) == "datetime64[ms, UTC]"
    assert (pv["ended_at"].dropna() > pv.loc[pv["ended_at"].notna(), "started_at"]).all()
    assert len(world.agent_timelines) == len(world.tables["agents"])
    assert world.rng.random() < 1.0
    events = pd.DataFrame({
        "page_view_id": pages["page_view_id"], "visitor_id": pages["visitor_id"],
        "event_at": pages["started_at"], "event": "chat_shown", "trigger_id": None,
        "trigger_continuation": False,
    })  # fmt: skip
    conv = pd.DataFrame({
        "agent_id": world.tables["agents"]["agent_id"].iloc[0], "channel": "web_chat",
        "visitor_id": pages["visitor_id"], "page_view_id": pages["page_view_id"],
        "queued_at": pages["started_at"], "started_at": pages["started_at"] + pd.Timedelta("5s"),
        "ended_at": pages["started_at"] + pd.Timedelta("5min"), "outcome": "served",
    })  # fmt: skip
    return ChatRecording(events, conv, {"engagements": 5})


def test_chat_recorder_hook_writes_chat_events_and_web_chats(tmp_path):
    summary = generate_world(tmp_path, 30, 6, days=2, chat_recorder=_fake_recorder,
                             progress=False)  # fmt: skip
    assert summary.chat_events_recorded
    events = read_jsonl(tmp_path / "chat_events.jsonl")
    pages = {p["id"]: p for p in read_jsonl(tmp_path / "page_views.jsonl")}
    assert [e["id"] for e in events] == [f"s6-ce-{i:07d}" for i in range(1, 6)]
    for e in events:
        assert e["event"] == "chat_shown" and "trigger_id" not in e
        assert e["trigger_continuation"] is False
        assert e["event_at"] == pages[e["page_view_id"]]["started_at"]  # offsets alike
    convs = read_jsonl(tmp_path / "conversations.jsonl")
    web = [c for c in convs if c["channel"] == "web_chat"]
    assert [c["id"] for c in web] == [f"s6-wc-{i:06d}" for i in range(1, 6)]
    assert all(c["outcome"] == "served" and c["page_view_id"] in pages for c in web)
    assert summary.records["conversations.jsonl"] == len(convs)
    assert json.loads((tmp_path / "truth" / "chat.json").read_text()) == {"engagements": 5}


@pytest.mark.slow
def test_generated_world_loads_cleanly_with_the_loader(tmp_path, live_world):
    with el.open(tmp_path / "w.duckdb") as lab:
        lab.load(str(live_world.out))
        counts = lab.sql("select (select count(*) from page_views) pv, "
                         "(select count(distinct visit_id) from page_views) visits, "
                         "(select count(*) from var_changes) vc").iloc[0]  # fmt: skip
        assert counts["pv"] == live_world.summary.page_views
        assert counts["visits"] == live_world.summary.visits
        assert counts["vc"] == len(live_world["var_changes"])
        text = str(lab.quality())
        assert "conversations started while their agent was not available: 0 of" in text
        # Loading the same folder twice adds nothing.
        lab.load(str(live_world.out))
        assert lab.sql("select count(*) n from page_views").iloc[0]["n"] == counts["pv"]


def test_engagement_truth_model_directions():
    t = EngagementTruth()
    base = dict(item_kind=["button"] * 2, page_category=["product"] * 2,
                seconds_on_page=[10.0, 10.0], visitor_effect=[0.0, 0.0])  # fmt: skip
    p = engagement_probability(t, returning=[False, True], **base)
    assert p[1] > p[0]
    longer = engagement_probability(t, ["button"] * 2, ["product"] * 2, [5.0, 300.0],
                                    [False] * 2, [0.0, 0.0])  # fmt: skip
    assert longer[1] > longer[0]
    kinds = engagement_probability(t, ["button", "invitation", "chat"], ["help"] * 3,
                                   [10.0] * 3, [False] * 3, np.zeros(3))  # fmt: skip
    assert kinds[0] < kinds[1] < kinds[2]
    with pytest.raises(ValueError, match="unknown key"):
        engagement_probability(t, ["banner"], ["help"], [1.0], [False], [0.0])


def test_world_view_tables_build_the_reference_history():
    history_module = pytest.importorskip("engage_lab.reference.history")
    from engage_lab.world.model import draw_world
    from engage_lab.world.output import world_view

    world = draw_world(3, 120, "messaging", 4)
    view = world_view(world, None, None)
    history = history_module.History.from_frames(view.tables)
    visits = {
        page.visit_id
        for visitor in view.tables["visitors"]["visitor_id"]
        for page in history.visitor(visitor).page_views
    }
    assert len(visits) == world.visits == view.page_truth["visit_id"].nunique()


@pytest.mark.parametrize(("visitors", "days"), [(1, 1), (3, 2)])
def test_tiny_worlds_are_valid(tmp_path, visitors, days):
    summary = generate_world(tmp_path, visitors, 0, days=days, progress=False)
    pages = read_jsonl(tmp_path / "page_views.jsonl")
    assert len(pages) == summary.page_views >= 1
    assert summary.visits >= 1 and summary.agents >= 4
    assert [r["status"] for r in read_jsonl(tmp_path / "source_status.jsonl")] == [
        "active", "maintenance", "active"]  # fmt: skip


def test_parameters_can_move_the_site_to_another_zone(tmp_path):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from engage_lab.world import WorldParams

    params = WorldParams(timezone="America/New_York",
                         countries=(("US", "America/New_York", 1.0),))  # fmt: skip
    generate_world(tmp_path, 300, 5, days=4, params=params, progress=False)
    (source,) = read_jsonl(tmp_path / "source.jsonl")
    assert source["timezone"] == "America/New_York"
    zone = ZoneInfo("America/New_York")
    hours = [
        datetime.fromisoformat(v["started_at"].replace("Z", "+00:00")).astimezone(zone).hour
        for v in read_jsonl(tmp_path / "truth" / "visits.jsonl")
    ]
    day = sum(1 for h in hours if 9 <= h < 21)
    night = sum(1 for h in hours if 1 <= h < 6)
    assert day > 6 * max(night, 1)
    assert {v["country"] for v in read_jsonl(tmp_path / "visitors.jsonl")} == {"US"}
