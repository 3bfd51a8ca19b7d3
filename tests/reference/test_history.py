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
