"""Replays over a configuration history: the configuration in force at each page start."""

from __future__ import annotations

from engage_lab.config import ConfigHistory
from tests.reference.builders import T0, World, at, config, crit, iso, item, run, trig


def history(*entries) -> ConfigHistory:
    return ConfigHistory.from_dict(
        {
            "schema_version": 1,
            "history": [{"effective_at": iso(s), "config": c.to_dict()} for s, c in entries],
        }
    )


def test_config_history_edit_applies_from_effective_at():
    w = World()
    w.page("p1", 0, 60)
    w.page("p2", 100, 160)  # starts exactly at the edit
    w.page("p3", 90, 150, visitor="v2")  # started before the edit: runs entirely under v1
    before = config(trig("t1", item("b1")))
    after = config(trig("t2", item("b2")))
    out = run(w, history((-10, before), (100, after)))
    assert sorted({(r[0], r[2]) for r in out}) == [(0, "t1"), (90, "t1"), (100, "t2")]


def test_page_views_before_first_entry_run_nothing():
    w = World()
    w.page("p1", 0, 60)
    w.page("p2", 100, 160)
    out = run(w, history((50, config(trig("t1", item("b1"))))))
    assert {r[0] for r in out} == {100}


def test_visit_state_carries_over_config_edits():
    w = World()
    w.page("p1", 0, 60)
    w.page("p2", 100, 160)  # same visit, new configuration
    before = config(trig("t1", item("b1"), once_per_visit=True))
    after = config(trig("t1", item("b2"), once_per_visit=True))
    out = run(w, history((-10, before), (80, after)))
    assert [r[0] for r in out if r[1] == "trigger_activated"] == [0]
    assert at(0) == T0


def test_past_page_clock_read_in_the_timezone_of_its_own_configuration():
    # p1 at 07:59:58 UTC = 13:44:58 in Kathmandu (UTC+05:45); p2 asks for p1's time >= 13:00
    kathmandu = config(
        trig("t0", item("b1"), criteria=[crit("time", "gte", "13:00", when="previous")]),
        timezone="Asia/Kathmandu",
    )
    shown = []
    for first_entry in (-1.5, -10.0):  # p1 before the first entry (UTC), then under it
        w = World()
        w.page("p1", -2, -1.999)
        w.page("p2", -1, -0.999)
        shown.append(run(w, history((first_entry, kathmandu))))
    assert shown[0] == []  # p1's clock in UTC: 07:45, not >= 13:00
    assert [r[1:3] for r in shown[1]][:1] == [("trigger_activated", "t0")]
