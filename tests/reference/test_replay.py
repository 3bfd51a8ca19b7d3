"""``replay_reference`` end to end over the sample, and its restrictions."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import engage_lab as el
from engage_lab.config import Config
from engage_lab.errors import EngineError
from engage_lab.events import EVENT_COLUMNS, frame_to_arrow, sort_events
from engage_lab.reference import History, replay_reference, trigger_order
from tests.reference.builders import World, config, item, passes_shown, replay, trig

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
LIVE = ROOT / "data" / "configs" / "production-live-chat.json"


@pytest.fixture(scope="module")
def sample_lab(tmp_path_factory):
    lab = el.open(tmp_path_factory.mktemp("ref") / "sample.duckdb")
    lab.load(SAMPLE, progress=False)
    yield lab
    lab.close()


def test_replay_sample_end_to_end_schema_and_canonical_order(sample_lab):
    cfg = Config.load(LIVE)
    out = replay_reference(sample_lab, cfg)
    assert list(out.columns) == list(EVENT_COLUMNS)
    frame_to_arrow(out)  # raises unless every value fits the schema
    assert len(out) > 0
    order = trigger_order(cfg)
    assert out.equals(sort_events(out, order, rounds=passes_shown(out, order)))
    pages = set(sample_lab.sql("select page_view_id from page_views")["page_view_id"])
    assert set(out["page_view_id"]) <= pages
    # same inputs, same events; global time order gives the same result with log availability
    again = replay_reference(History.from_connection(sample_lab.con), cfg, global_order=True)
    assert out.equals(again)


def test_replay_restricted_to_time_range_and_visitors(sample_lab):
    cfg = Config.load(LIVE)
    full = replay_reference(sample_lab, cfg)
    some = sorted(set(full["visitor_id"]))[:3]
    only = replay_reference(sample_lab, cfg, visitors=some)
    assert set(only["visitor_id"]) == set(some)
    start, end = full["event_at"].min(), full["event_at"].min() + pd.Timedelta(hours=3)
    ranged = replay_reference(sample_lab, cfg, time_range=(start, end))
    starts = sample_lab.sql("select page_view_id, started_at from page_views")
    starts = starts.set_index("page_view_id")["started_at"].dt.tz_localize("UTC")
    assert len(ranged) > 0
    assert all(start <= starts[p] < end for p in ranged["page_view_id"])
    half = replay_reference(sample_lab, cfg, visitors=0.5)
    assert set(half["visitor_id"]) < set(full["visitor_id"]) or len(full) == 0


def test_replay_reads_a_database_connection(sample_lab):
    cfg = Config.load(LIVE)
    assert replay_reference(sample_lab.con, cfg).equals(replay_reference(sample_lab, cfg))


def test_bad_connection_raises_engine_error():
    with pytest.raises(EngineError, match="cannot read the history tables"):
        History.from_connection(object())


def test_unknown_visitor_gives_no_events():
    w = World()
    w.page("p1", 0, 60)
    assert len(replay(w, config(trig("t1", item("b1"))), visitors=["nobody"])) == 0


def test_page_prefilter_never_changes_results(sample_lab, monkeypatch):
    cfg = Config.load(LIVE)
    fast = replay_reference(sample_lab, cfg)
    import engage_lab.reference.plan as plan

    monkeypatch.setattr(plan, "possible_on_page", lambda *args: True)
    assert replay_reference(sample_lab, cfg).equals(fast)


@pytest.mark.parametrize(
    "name", ["production-messaging", "variant-live-chat-reserve", "variant-messaging-queuing"]
)
def test_replay_sample_under_other_packaged_configs(sample_lab, name):
    cfg = Config.load(ROOT / "data" / "configs" / f"{name}.json")
    out = replay_reference(sample_lab, cfg)
    frame_to_arrow(out)
    order = trigger_order(cfg)
    assert out.equals(sort_events(out, order, rounds=passes_shown(out, order)))


def test_segment_keeps_the_visits_of_the_whole_history():
    from engage_lab.replay import replay as replay_restricted
    from tests.engine.support import memory_db

    w = World()
    w.page("p1", 0, 1, path="/a")  # starts the visit; outside the segment
    w.page("p2", 10, 11, path="/b")
    con = memory_db(w)
    try:
        out = replay_restricted(
            con, config(trig("t0", item("b1"))), engine="reference", segment={"page.path": "/b"}
        )
        pages, events = out.pages, out.events
    finally:
        con.close()
    assert pages[["page_view_id", "visit_id"]].values.tolist() == [["p2", "p1"]]
    assert set(events["page_view_id"]) == {"p2"}
    assert set(events["visit_id"]) == {"p1"}
