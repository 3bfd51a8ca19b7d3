"""The per-visitor history view: bad inputs and the rules applied at build time."""

from __future__ import annotations

import pandas as pd
import pytest

from engage_lab.errors import EngineError
from engage_lab.reference import History
from tests.reference.builders import World, at


def test_missing_start_is_refused():
    pv = pd.DataFrame(
        {"page_view_id": ["p1"], "visitor_id": ["v1"], "started_at": [None], "url": ["x"]}
    )
    with pytest.raises(EngineError, match="missing"):
        History.from_frames({"page_views": pv})


def test_change_after_last_page_is_dropped_and_json_values_decoded():
    pv = pd.DataFrame(
        {
            "page_view_id": ["p1"],
            "visitor_id": ["v1"],
            "started_at": [at(0)],
            "ended_at": [at(10)],
            "url": ["https://s.example/a?x=1#top"],
        }
    )
    vc = pd.DataFrame(
        {
            "var_change_id": ["c1", "c2"],
            "page_view_id": ["p1", "p1"],
            "name": ["custom_a", "custom_b"],
            "value": ['{"k": 1}', "2.5"],
            "changed_at": [at(5), at(10)],
        }
    )
    h = History.from_frames({"page_views": pv, "var_changes": vc}, values_are_json=True)
    visitor = h.visitor("v1")
    assert [c.value for c in visitor.changes("p1")] == [{"k": 1}]
    assert visitor.page_views[0].path == "/a?x=1"


def test_status_defaults_to_active_and_follows_changes():
    w = World()
    w.page("p1", 0, 1)
    w.status(100, "maintenance")
    h = w.history()
    assert (h.status_at(at(99.999)), h.status_at(at(100))) == ("active", "maintenance")


def test_frame_values_become_python_values_and_nulls_none():
    """Arrow strings, nullable booleans, numpy scalars and missing values of any kind
    read as plain Python values (the tables are read column by column)."""
    pv = pd.DataFrame(
        {
            "page_view_id": pd.array(["p1", "p2"], dtype="string[pyarrow]"),
            "visitor_id": ["v1", "v1"],
            "started_at": [at(0), at(20)],
            "ended_at": [at(10), None],
            "url": ["https://s.example/a", None],
            "title": [float("nan"), "B"],
            "embedded": pd.array([True, None], dtype="boolean"),
            "placeholders": [["fb-1"], None],
        }
    )
    changes = pd.DataFrame(
        {
            "var_change_id": ["c1"],
            "page_view_id": ["p1"],
            "name": ["custom_n"],
            "value": pd.array([7], dtype="int64"),
            "changed_at": [at(5)],
        }
    )
    visitor = History.from_frames({"page_views": pv, "var_changes": changes}).visitor("v1")
    first, second = visitor.page_views
    assert (first.title, second.title, second.url) == (None, "B", None)
    assert (first.embedded, second.embedded) == (True, False)
    assert first.placeholders == frozenset({"fb-1"}) and second.placeholders == frozenset()
    assert second.ended_at == at(20) + 30 * 60 * 1000  # no end recorded: 30 minutes
    (change,) = visitor.changes("p1")
    assert change.value == 7 and type(change.value) is int
    assert type(first.page_view_id) is str and type(first.started_at) is int
