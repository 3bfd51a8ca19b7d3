"""Hostile values in configurations and segments reach DuckDB bound, and both engines agree.

Pages, variables and triggers carry quotes, semicolons, SQL comments, ``inf`` / ``nan`` as
text, backslashes and unicode; criteria (page criteria, past pages' values, variables)
and expressions (``$eq``, ``$in``, regexes, saved groups) test them. The fast engine's
events must equal the reference's, and the activations must be the ones written out. A
segment with such values selects exactly the page views the reference evaluator picks.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from engage_lab.conditions import evaluate
from engage_lab.config import Config
from engage_lab.errors import ConditionError
from engage_lab.replay import replay, replayed_page_views
from tests.engine.support import assert_same, load_world, replayed_both
from tests.reference.builders import T0, World, crit

QUOTE = "it's"
INJECT = "x'); DROP TABLE page_views; --"
COMMENT = "/* c */ -- d"
SLASH = "back\\slash"
UNICODE = "Crème ﬁne 日本 🙂"


def _world() -> World:
    w = World()
    w.page("p1", 0, 60, path="/" + QUOTE, title=INJECT)
    w.page("p2", 60, 120, path="/inf", title=COMMENT)
    w.page("p3", 120, 180, path="/nan", title=UNICODE)
    w.page("p4", 180, 240, path="/" + SLASH, title="plain")
    w.page("q1", 0, 90, visitor="v2", path="/" + INJECT, title=QUOTE)
    w.page("q2", 90, 150, visitor="v2", path="/plain")
    w.var("p1", "custom_plan", INJECT, 10)
    w.var("p2", "custom_plan", "inf", 70)
    w.var("p3", "custom_plan", "NaN", 130)
    w.var("p4", "custom_plan", UNICODE, 190)
    w.var("q1", "custom_plan", QUOTE, 5)
    return w


def _trig(tid: str, criteria=(), expression: Any = None) -> dict[str, Any]:
    out = {
        "id": tid,
        "label": tid,
        "criteria": list(criteria),
        "actions": [{"type": "show_item", "item": "b1"}],
    }
    if expression is not None:
        out["expression"] = expression
    return out


def _config() -> Config:
    return Config.from_dict(
        {
            "schema_version": 1,
            "source": {"mode": "live_chat"},
            "catalog": {"buttons": [{"id": "b1", "label": "B1"}]},
            "custom_variables": {"custom_plan": {"type": "string"}},
            "saved_groups": {"odd": [INJECT, "inf", "nan"]},
            "triggers": [
                _trig("title-is", [crit("page_title", "is", INJECT)]),
                _trig("title-contains", [crit("page_title", "contains", "/* c */")]),
                _trig("title-unicode", [crit("page_title", "starts_with", "creme fine")]),
                _trig("path-list", [crit("page_path", "is", f"/inf, /{SLASH}")]),
                _trig("prev-title", [crit("page_title", "is", QUOTE.upper(), when="previous")]),
                _trig("var-is", [crit("custom_plan", "is", "inf, nan")]),
                _trig("var-any", [crit("custom_plan", "ends_with", "drop table page_views; --")]),
                _trig("expr-eq", expression={"page.title": {"$eq": COMMENT}}),
                _trig("expr-in", expression={"vars.custom_plan": {"$in": [QUOTE, UNICODE]}}),
                _trig("expr-regex", expression={"page.path": {"$regex": re.escape(SLASH) + "$"}}),
                _trig("expr-group", expression={"vars.custom_plan": {"$inGroup": "odd"}}),
                _trig("expr-nan", expression={"page.path": {"$regexi": "^/NAN$"}}),
            ],
        }
    )


def test_hostile_values_in_a_configuration_agree_across_engines():
    fast, reference = replayed_both(_world(), _config())
    assert_same(fast, reference)
    activated = sorted(
        ((int(r["event_at"].value // 1_000_000) - T0) / 1000, r["page_view_id"], r["trigger_id"])
        for r in fast.to_dict("records")
        if r["event"] == "trigger_activated"
    )
    assert activated == [
        (0.0, "p1", "title-is"),
        (5.0, "q1", "expr-in"),  # v2's plan is "it's"
        (10.0, "p1", "expr-group"),  # the plan is the injection text, in the group
        (10.0, "p1", "var-any"),
        (60.0, "p2", "expr-eq"),
        (60.0, "p2", "path-list"),
        (60.0, "p2", "title-contains"),
        (70.0, "p2", "expr-group"),  # "inf" as text, in the group
        (70.0, "p2", "var-is"),
        (90.0, "q2", "prev-title"),  # "IT'S" normalized, on the previous page
        (120.0, "p3", "expr-nan"),
        (120.0, "p3", "title-unicode"),  # NFKD folds "ﬁ", accents stripped
        (130.0, "p3", "var-is"),  # "NaN" normalized; not in the case-sensitive group
        (180.0, "p4", "expr-regex"),
        (180.0, "p4", "path-list"),
        (190.0, "p4", "expr-in"),
    ]


@pytest.mark.parametrize(
    "segment",
    [
        {"page.title": {"$in": [INJECT, COMMENT, "nope"]}},
        {"page.path": {"$regex": "^/(inf|nan)$"}},
        {"$or": [{"page.title": QUOTE}, {"page.path": "/" + SLASH}]},
        {"page.title": {"$nin": [UNICODE]}, "page.path": {"$ne": "/" + INJECT}},
    ],
)
def test_a_segment_with_hostile_values_keeps_the_pages_it_names(tmp_path, segment):
    world = _world()
    lab = load_world(world, tmp_path)
    try:
        kept = replayed_page_views(lab.con, _config(), segment=segment)
        fast = replay(lab, _config(), engine="fast", segment=segment).events
        reference = replay(lab, _config(), engine="reference", segment=segment).events
    finally:
        lab.close()
    expected = sorted(
        p["page_view_id"]
        for p in world.tables["page_views"]
        if evaluate(segment, {"page": {"title": p["title"], "path": p["path"]}})
    )
    assert sorted(kept["page_view_id"]) == expected and 0 < len(expected) < 5
    assert_same(fast, reference)
    assert set(fast["page_view_id"]) <= set(expected)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ('{"page.path": {"$gt": NaN}}', 'segment["page.path"]["$gt"]: NaN'),
        ('{"page.title": {"$in": ["a", Infinity]}}', 'segment["page.title"]["$in"][1]: Infinity'),
        ('{"$or": [{"page.path": -Infinity}]}', 'segment["$or"][0]["page.path"]: -Infinity'),
        ('{"page.path": {"$lt": 1e999}}', 'segment["page.path"]["$lt"]: 1e999'),
    ],
)
def test_a_segment_with_a_non_finite_number_is_refused_with_its_path(tmp_path, text, shown):
    lab = load_world(_world(), tmp_path)
    try:
        with pytest.raises(ConditionError) as info:
            replay(lab, _config(), segment=text)
        with pytest.raises(ConditionError):
            replay(lab, _config(), segment={"page.path": {"$gte": float("nan")}})
    finally:
        lab.close()
    assert str(info.value) == f"{shown} is not a finite number; write a finite number"
