"""Fast engine vs reference on small generated worlds (engage_lab.world), both modes,
loaded through ``el.open(...).load(...)``, with the shipped configurations."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

import engage_lab as el
from engage_lab.engine import replay_fast
from engage_lab.reference import replay_reference
from engage_lab.world import generate_world
from tests.engine.support import assert_same

CONFIGS = pathlib.Path(__file__).resolve().parents[2] / "data" / "configs"
SUPPORTED = {
    "live_chat": [
        "production-live-chat",
        "variant-live-chat-lower-threshold",
        "variant-live-chat-reserve",  # min_seconds_between_executions, reserve policy
    ],
    "messaging": [
        "production-messaging",
        "variant-messaging-lower-threshold",
        "variant-messaging-queuing",  # an expression, queuing factor
    ],
}


@pytest.fixture(scope="module", params=["live_chat", "messaging"])
def world_lab(request, tmp_path_factory):
    mode = request.param
    folder = tmp_path_factory.mktemp(f"world-{mode}")
    generate_world(folder / "data", visitors=80, seed=11, mode=mode, days=3, progress=False)
    lab = el.open(folder / "engage.duckdb")
    lab.load(str(folder / "data"))
    yield mode, lab
    lab.close()


@pytest.mark.slow
def test_production_configs_agree(world_lab):
    mode, lab = world_lab
    for name in SUPPORTED[mode]:
        cfg = el.Config.load(CONFIGS / f"{name}.json")
        fast = replay_fast(lab, cfg)
        assert len(fast) > 100, f"{name}: too few events to compare"
        assert_same(fast, replay_reference(lab.con, cfg))


@pytest.mark.slow
def test_restrictions_agree(world_lab):
    mode, lab = world_lab
    cfg = el.Config.load(CONFIGS / f"{SUPPORTED[mode][0]}.json")
    first, last = lab.con.execute(
        "select min(started_at), max(started_at) from page_views"
    ).fetchone()
    middle = first + (last - first) / 2
    fast = replay_fast(lab, cfg, time_range=(middle, last), sample=0.5)
    reference = replay_reference(lab.con, cfg, time_range=(middle, last), visitors=0.5)
    assert len(fast) > 0
    assert_same(fast, reference)


@pytest.mark.parametrize("column", ["path", "url", "title", "placeholders"])
def test_page_value_codes_agree_between_enum_and_arrow_encodings(world_lab, monkeypatch, column):
    from engage_lab.engine import pages as pages_module

    _, lab = world_lab
    expected = lab.con.execute(
        "SELECT array_to_string(coalesce(placeholders, []::VARCHAR[]), chr(31)) AS v"
        " FROM page_views"
        if column == "placeholders"
        else f"SELECT {column} AS v FROM page_views"
    ).fetchnumpy()["v"]  # test-only SQL on a known column name
    expected = [None if v is None or v is np.ma.masked else v for v in expected.tolist()]
    results = []
    for limit in (pages_module._ENUM_LIMIT, 1):  # DuckDB's ENUM codes, then arrow's
        monkeypatch.setattr(pages_module, "_ENUM_LIMIT", limit)
        distinct, codes = pages_module._dictionary_codes(
            lab.con, pages_module._page_value(column), len(expected)
        )
        values = distinct.to_pylist()
        assert values == sorted(values) and len(set(values)) == len(values)
        assert [values[k] if k >= 0 else None for k in codes.tolist()] == expected
        results.append((values, codes.tolist()))
    assert results[0] == results[1]
    assert len(results[0][0]) > 1  # the world has several values


def test_threaded_chunks_give_the_events_of_one_thread(world_lab, monkeypatch):
    """The candidate scan and the pass split the page views between threads (at this
    size only when told to): four threads give the events of one, byte for byte."""
    from engage_lab.engine import replay as replay_module
    from engage_lab.engine import static

    mode, lab = world_lab
    cfg = el.Config.load(CONFIGS / f"{SUPPORTED[mode][0]}.json")
    frames = []
    for threads, per_thread in ((1, 10**9), (4, 7)):
        for module in (static, replay_module):
            monkeypatch.setattr(module, "_THREADS", threads)
            monkeypatch.setattr(module, "_PAGES_PER_THREAD", per_thread)
        replay_module._CACHES.pop(lab.con, None)  # candidates again, with these threads
        frames.append(replay_fast(lab, cfg))
    assert len(frames[0]) > 100
    assert frames[0].equals(frames[1])
    assert_same(frames[1], replay_reference(lab.con, cfg))
