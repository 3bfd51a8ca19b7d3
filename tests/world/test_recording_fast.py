"""The compiled recorder records exactly what the reference recorder records.

:func:`engage_lab.world.recording_fast.record_chat_fast` (the default chat-event step)
against :func:`engage_lab.world.recording.record_chat` (the reference Chat Manager per
visitor under the scheduler): the same ``chat_events`` frame (rows, order, dtypes), the
same web chats and the same truth counts, on worlds of both modes, every shipped
configuration and a configuration history, hidden behaviours that load the agents or
leave them idle, and hypothesis-drawn worlds. Then the in-memory database the compiled
recorder reads is checked against the loader's view of the same world.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engage_lab as el
from engage_lab.world import generate_world
from engage_lab.world.chat import default_chat_recorder
from engage_lab.world.model import draw_world
from engage_lab.world.output import world_view
from engage_lab.world.page_ends import PageEnds
from engage_lab.world.recording import load_world_config, record_chat
from engage_lab.world.recording_fast import record_chat_fast, world_database

CONFIGS = Path(__file__).resolve().parents[2] / "data" / "configs"


def assert_same_recording(fast, reference) -> None:
    pd.testing.assert_frame_equal(fast.chat_events, reference.chat_events)
    pd.testing.assert_frame_equal(fast.conversations, reference.conversations)
    assert fast.truth == reference.truth


def view_of(mode: str, seed: int, visitors: int, days: int, config: str | None = None,
            history: str | None = None, **truth):  # fmt: skip
    view = world_view(
        draw_world(seed, visitors, mode, days),
        CONFIGS / f"{config}.json" if config else None,
        CONFIGS / f"{history}.json" if history else None,
    )
    if truth:
        params = dataclasses.replace(
            view.params, truth=dataclasses.replace(view.params.truth, **truth)
        )
        view = dataclasses.replace(view, params=params)
    return view


def test_the_default_recorder_is_the_compiled_one():
    assert default_chat_recorder() is record_chat_fast


CASES = {
    "live chat, production": ("live_chat", 3, 220, 5, None, None, {}),
    "live chat, lower threshold": ("live_chat", 4, 220, 5,
                                   "variant-live-chat-lower-threshold", None, {}),
    "live chat, reserve policy": ("live_chat", 5, 220, 5, "variant-live-chat-reserve", None, {}),
    "live chat, configuration history": ("live_chat", 6, 220, 5, None, "history-live-chat", {}),
    "live chat, eager visitors load the agents": ("live_chat", 7, 260, 4, None, None,
                                                  {"base_logit": 1.5}),
    "live chat, impatient visitors who always close": (
        "live_chat", 8, 220, 4, None, None,
        {"patience_median_s": 5.0, "close_after_served": 1.0, "base_logit": 0.5}),
    "messaging, production": ("messaging", 9, 220, 5, None, None, {}),
    "messaging, queuing factor": ("messaging", 10, 220, 5, "variant-messaging-queuing", None,
                                  {"base_logit": 1.0}),
    "messaging, lower threshold": ("messaging", 11, 220, 5,
                                   "variant-messaging-lower-threshold", None, {}),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_compiled_recorder_equals_the_reference(case):
    mode, seed, visitors, days, config, history, truth = CASES[case]
    view = view_of(mode, seed, visitors, days, config, history, **truth)
    reference = record_chat(view)
    assert reference.truth["engagements_honoured"] > 0  # the case exercises the pool
    assert_same_recording(record_chat_fast(view), reference)


def test_a_world_without_available_agents_is_recorded_alike():
    view = view_of("live_chat", 12, 150, 3)
    tables = dict(view.tables)
    tables["presence"] = tables["presence"].iloc[0:0]
    view = dataclasses.replace(view, tables=tables)
    reference = record_chat(view)
    assert set(reference.conversations["outcome"]) <= {"unserved", "closed_by_visitor"}
    assert_same_recording(record_chat_fast(view), reference)


def test_the_cases_include_repeated_passes_over_moved_page_ends():
    # pages without a recorded end move when an outcome lands after them: the pass loop
    # runs more than once in some world, and both recorders agree there too
    passes = []
    for seed in (3, 21):
        view = view_of("live_chat", seed, 400, 6, None, None, base_logit=1.0)
        fast, reference = record_chat_fast(view), record_chat(view)
        assert_same_recording(fast, reference)
        passes.append(reference.truth["passes"])
    assert max(passes) >= 2


@pytest.mark.slow
@settings(
    max_examples=int(os.environ.get("ENGAGE_LAB_RECORDER_EXAMPLES", "25")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    mode=st.sampled_from(["live_chat", "messaging"]),
    seed=st.integers(0, 10_000),
    visitors=st.integers(5, 120),
    days=st.integers(1, 4),
    base_logit=st.sampled_from([-3.0, -1.0, 0.5, 2.0]),
    close=st.sampled_from([0.0, 0.5, 1.0]),
    patience=st.sampled_from([2.0, 60.0, 600.0]),
    variant=st.booleans(),
)
def test_compiled_recorder_equals_the_reference_on_drawn_worlds(
    mode, seed, visitors, days, base_logit, close, patience, variant
):
    config = None
    if variant:
        config = {
            "live_chat": "variant-live-chat-reserve",
            "messaging": "variant-messaging-queuing",
        }[mode]
    view = view_of(mode, seed, visitors, days, config, None, base_logit=base_logit,
                   close_after_served=close, patience_median_s=patience)  # fmt: skip
    assert_same_recording(record_chat_fast(view), record_chat(view))


def test_the_recorders_database_is_the_loaders_view_of_the_world(tmp_path):
    view_world = draw_world(13, 80, "messaging", 3)
    out = tmp_path / "w"
    generate_world(out, visitors=80, seed=13, mode="messaging", days=3, progress=False,
                   chat_recorder=None)  # fmt: skip
    view = world_view(view_world, None, None)
    ends = PageEnds(view, load_world_config(view)).ends(None).to_numpy()
    mine = world_database(view, ends)
    with el.open(tmp_path / "w.duckdb") as lab:
        lab.load(out, progress=False)
        loaded = lab.con
        checks = {
            "source": "SELECT source_id, mode, timezone, seed FROM source",
            "source_status": "SELECT source_status_id, changed_at, status FROM source_status",
            "visitors": "SELECT visitor_id, country FROM visitors",
            "page_views": "SELECT page_view_id, visitor_id, started_at, end_recorded, url, path, "
            "title, referrer, device, embedded, page_change, placeholders, "
            "CASE WHEN end_recorded THEN ended_at END AS recorded_end FROM page_views",
            "var_changes": "SELECT var_change_id, page_view_id, name, value::VARCHAR AS value, "
            "value_type, changed_at FROM var_changes",
            "identities": "SELECT identity_id, visitor_id, uuid, signed, set_at FROM identities",
            "threads": "SELECT thread_id, identity_id, opened_at, locked_at, closed_at, "
            "identity_initiated_thread FROM threads",
        }
        for name, query in checks.items():
            a = _sorted(mine, query)
            b = _sorted(loaded, query)
            assert len(a) > 0 or name == "threads", name
            if name == "var_changes":  # JSON text may differ, the values may not
                for frame in (a, b):
                    frame["value"] = [json.loads(v) for v in frame["value"]]
            pd.testing.assert_frame_equal(a, b, check_dtype=False, obj=name)
    mine.close()


def _sorted(con: duckdb.DuckDBPyConnection, query: str) -> pd.DataFrame:
    frame = con.execute(query).df()
    frame = frame.map(lambda v: tuple(v) if isinstance(v, list | np.ndarray) else v)
    return frame.sort_values(list(frame.columns[:1])).reset_index(drop=True)
