"""One ``NEVER``, one list of event names, one list of day names, shared by every package."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np

import engage_lab
from engage_lab.availability import state
from engage_lab.conditions.vocabulary import DAY_NAMES, DAYS
from engage_lab.data.schema import CHAT_EVENTS
from engage_lab.events import DECISION_EVENTS, EVENT_RANK, STAGES

ROOT = Path(engage_lab.__file__).parent


def _sources() -> dict[str, str]:
    return {p.relative_to(ROOT).as_posix(): p.read_text() for p in ROOT.rglob("*.py")}


def test_never_is_defined_once_and_every_package_uses_it():
    defining = [
        name
        for name, text in _sources().items()
        if re.search(r"^_?NEVER\s*=\s*[\d(]", text, re.MULTILINE)
        or re.search(r"^_?NEVER\s*=\s*np\.iinfo", text, re.MULTILINE)
    ]
    assert defining == ["availability/state.py"]
    from engage_lab.availability import pool_kernel
    from engage_lab.engine import kernel, pages, pages_kernel, plan

    assert pool_kernel.NEVER == pages_kernel.NEVER == pages.NEVER == state.NEVER
    assert kernel._NEVER == state.NEVER
    assert plan.make_plan.__globals__["NEVER"] == state.NEVER


def test_never_survives_the_arithmetic_and_the_columns_it_goes_through():
    never = np.int64(state.NEVER)
    week = np.int64(7 * 86_400_000)
    with np.errstate(over="raise"):
        assert never + 100 * 365 * week > never  # an instant plus a duration: no overflow
        assert -never < 0 < never
    assert int(np.float64(state.NEVER)) == state.NEVER  # through a float64 column, exactly
    year_2100 = int(dt.datetime(2100, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)
    assert year_2100 * 1000 < state.NEVER  # later than any instant, even in microseconds


def test_event_names_are_listed_once():
    assert tuple(EVENT_RANK) == CHAT_EVENTS
    assert [EVENT_RANK[e] for e in CHAT_EVENTS] == [0, 1, 2, 3, 4, 4, 5, 6, 7, 8, 9]
    assert DECISION_EVENTS == (
        "trigger_activated",
        "trigger_executed",
        "item_shown",
        "button_shown",
        "invitation_shown",
        "chat_shown",
    )
    listing = [
        name
        for name, text in _sources().items()
        if re.search(r'^\s*"trigger_executed",\s*$', text, re.MULTILINE)
    ]
    assert listing == ["data/schema.py"]


def test_the_engine_codes_are_the_shared_vocabulary():
    from engage_lab.engine import kernel
    from engage_lab.kpis.coded import EVENTS

    assert EVENTS == CHAT_EVENTS
    assert (*DECISION_EVENTS, "chat_engaged") == kernel.EVENT_NAMES
    assert kernel.STAGE_NAMES == STAGES


def test_day_names_are_listed_once():
    assert DAY_NAMES[0] == "Monday" and DAY_NAMES[-1] == "Sunday" and len(set(DAY_NAMES)) == 7
    assert tuple(d.lower() for d in DAY_NAMES) == DAYS
    listing = [
        name
        for name, text in _sources().items()
        if re.search(r'=\s*[(\[]\s*"Monday",\s*"Tuesday"', text)
    ]
    assert listing == ["conditions/vocabulary.py"]
    from engage_lab.explore import WEEKDAYS
    from engage_lab.reference.state import local_clock
    from engage_lab.world.distributions import WEEKDAYS as WORLD_WEEKDAYS

    assert WEEKDAYS == WORLD_WEEKDAYS == DAY_NAMES
    monday_noon = int(dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC).timestamp() * 1000)
    assert local_clock(monday_noon, "UTC")[2] == "Monday"


def test_codes_are_decoded_in_one_place():
    decoding = [
        name
        for name, text in _sources().items()
        if re.search(r"np\.array\(\s*(EVENTS|STAGES)\s*,\s*dtype=object\)", text)
        or re.search(r'\[\s*None,\s*"online",\s*"offline"\s*\]', text)
        or re.search(r"pd\.array\(\[\*values", text)
    ]
    assert decoding == []


def test_a_coded_events_frame_round_trips():
    import pandas as pd

    from engage_lab.events import EventRecord, events_to_frame
    from engage_lab.kpis.coded import CodedEvents, decode

    pages = pd.DataFrame(
        {"page_view_id": ["p1", "p2"], "visitor_id": ["v", "w"], "visit_id": ["a", "b"]}
    )
    frame = events_to_frame(
        [
            EventRecord("w", "b", "p2", 9, "chat_shown", "messaging"),
            EventRecord("v", "a", "p1", 7, "trigger_executed", "configured", "t1", mode="offline"),
            EventRecord("v", "a", "p1", 7, "item_shown", "configured", "t1", "i1", mode="online"),
        ]
    )
    coded, table = CodedEvents.from_frames(frame, pages)
    back = coded.frame(table).astype(object).where(lambda f: f.notna(), None)
    assert back["page_view_id"].tolist() == ["p1", "p1", "p2"]
    assert back["event"].tolist() == ["trigger_executed", "item_shown", "chat_shown"]
    assert back["trigger_id"].tolist() == ["t1", "t1", None]
    assert back["item_id"].tolist() == [None, "i1", None]
    assert back["mode"].tolist() == ["offline", "online", None]
    assert back["stage"].tolist() == ["configured", "configured", "messaging"]
    text = decode(["x", None], [0, 1, -1], text=True)
    assert str(text.dtype) == "str" and text.isna().tolist() == [False, True, True]
