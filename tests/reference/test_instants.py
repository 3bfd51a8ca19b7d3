"""Candidate instants and the state at an instant (durations, clock, variables, identity,
historical positions, counts)."""

from __future__ import annotations

import pandas as pd

from engage_lab.reference import History
from tests.reference.builders import T0, World, at, chat, config, crit, item, run, trig

ACT = "trigger_activated"


def activations(world, cfg, **kw):
    return [(r[0], r[2]) for r in run(world, cfg, **kw) if r[1] == ACT]


def test_trigger_activates_at_exact_time_threshold_crossing():
    w = World()
    w.page("p1", 0.25, 100)
    cfg = config(trig("t1", criteria=[crit("page_visit_duration", "gte", 45)]))
    assert activations(w, cfg) == [(45.25, "t1")]


def test_fractional_threshold_crossing_to_the_millisecond():
    w = World()
    w.page("p1", 0, 100)
    cfg = config(trig("t1", criteria=[crit("page_visit_duration", "gte", 0.0015)]))
    assert activations(w, cfg) == [(0.002, "t1")]


def test_gt_expression_threshold_activates_one_ms_after():
    w = World()
    w.page("p1", 0, 100)
    cfg = config(trig("t1", expression={"page.duration": {"$gt": 45}}))
    assert activations(w, cfg) == [(45.001, "t1")]


def test_lte_threshold_true_at_start_false_after():
    w = World()
    w.page("p1", 0, 100)
    w.var("p1", "custom_cart", 1, 10)
    w.var("p1", "custom_cart", 2, 20.001)
    cfg = config(
        trig(
            "t1", criteria=[crit("page_visit_duration", "lte", 10), crit("custom_cart", "gte", 1)]
        ),
        trig(
            "t2", criteria=[crit("page_visit_duration", "lte", 20), crit("custom_cart", "gte", 2)]
        ),
    )
    assert activations(w, cfg) == [(10, "t1")]  # t2's change comes 1 ms too late


def test_visit_duration_threshold_relative_to_visit_start():
    w = World()
    w.page("p1", 0, 50)
    w.page("p2", 50, 200)
    cfg = config(trig("t1", criteria=[crit("visit_duration", "gte", 60)]))
    assert activations(w, cfg) == [(60, "t1")]


def test_time_gte_activates_at_slot_boundary():
    w = World()
    w.page("p1", -600, 600)  # 07:50 to 08:10 UTC
    cfg = config(trig("t1", criteria=[crit("time", "gte", "08:00")]))
    assert activations(w, cfg) == [(0, "t1")]


def test_time_slot_lte_holds_until_end_of_slot():
    # 08:00 + 14 min 59.999 s is still in the 08:00 slot; 08:15:00.000 is not
    w = World()
    w.page("p1", -10, 2000)
    w.var("p1", "custom_cart", 1, 899.999)
    w.page("p2", 890, 2000, visitor="v2")
    w.var("p2", "custom_cart", 1, 900)  # 08:15:00.000: the next slot
    cfg = config(trig("t1", criteria=[crit("time", "lte", "08:00"), crit("custom_cart", "gte", 1)]))
    assert activations(w, cfg) == [(899.999, "t1")]


def test_time_and_day_of_week_in_source_timezone():
    w = World()
    w.page(
        "p1", -9 * 3600 - 1800, -9 * 3600
    )  # Sunday 22:30 UTC = Monday 00:30 in Asia/Tokyo? no: 07:30
    w.page("p2", -7.5 * 3600 - 60, -7.5 * 3600 + 60, visitor="v2")  # Monday 00:29..00:31 UTC
    cfg = config(
        trig("t1", criteria=[crit("day_of_week", "is", "Monday"), crit("time", "lte", "01:00")]),
        timezone="Europe/Paris",
    )
    # p2 starts 00:29 UTC = 01:29 Paris: too late; p1 Sunday 22:30 UTC = Sunday 23:30 Paris,
    # Monday begins in Paris at 23:00 UTC, which is after p1's end: nothing on p1 either.
    assert activations(w, cfg) == []
    cfg_utc = config(
        trig("t1", criteria=[crit("day_of_week", "is", "Monday"), crit("time", "lte", "01:00")])
    )
    assert activations(w, cfg_utc) == [(-7.5 * 3600 - 60, "t1")]


def test_weekday_boundary_is_a_candidate_instant():
    w = World()
    w.page("p1", -8 * 3600 - 60, -8 * 3600 + 60)  # Sunday 23:59 to Monday 00:01 UTC
    cfg = config(
        trig(
            "t1",
            criteria=[crit("day_of_week", "gte", "Monday"), crit("day_of_week", "lte", "Monday")],
        )
    )
    assert activations(w, cfg) == [(-8 * 3600, "t1")]


def test_var_change_at_started_at_is_initial_state():
    w = World()
    w.page("p1", 0, 60)
    w.var("p1", "custom_cart", 5, 0)
    cfg = config(
        trig("t1", criteria=[crit("custom_cart", "is_not_present")]),
        trig("t2", criteria=[crit("custom_cart", "gte", 5)]),
    )
    assert activations(w, cfg) == [(0, "t2")]


def test_var_change_at_ended_at_belongs_to_next_page():
    w = World()
    w.page("p1", 0, 60)
    w.page("p2", 70, 130)
    w.var("p1", "custom_cart", 5, 60)  # recorded on p1, at its end
    cfg = config(
        trig("t1", criteria=[crit("custom_cart", "gte", 5)]),
        trig("t2", criteria=[crit("custom_cart", "gte", 5, when="previous")]),
    )
    # p1 never sees it; p2 has it in its initial state; p1's final state lacks it
    assert activations(w, cfg) == [(70, "t1")]


def test_var_change_mid_page_activates_at_change():
    w = World()
    w.page("p1", 0, 60)
    w.var("p1", "custom_plan", "Pro ", 12.345)
    cfg = config(trig("t1", criteria=[crit("custom_plan", "is", "pro, business")]))
    assert activations(w, cfg) == [(12.345, "t1")]


def test_var_changes_at_one_instant_greater_id_wins():
    w = World()
    w.page("p1", 0, 60)
    w.var("p1", "custom_cart", 9, 10, vid="vc-b")
    w.var("p1", "custom_cart", 1, 10, vid="vc-a")
    cfg = config(trig("t1", criteria=[crit("custom_cart", "gte", 5)]))
    assert activations(w, cfg) == [(10, "t1")]


def test_variable_values_belong_to_their_page():
    w = World()
    w.page("p1", 0, 60)
    w.page("p2", 70, 130)
    w.var("p1", "custom_cart", 5, 10)
    cfg = config(trig("t1", item("b1"), criteria=[crit("custom_cart", "is_not_present")]))
    assert activations(w, cfg) == [(0, "t1"), (70, "t1")]


def test_identity_set_mid_page_activates_identity_criterion():
    w = World()
    w.page("p1", 0, 60)
    w.identity("id1", 33.3, signed=True)
    cfg = config(
        trig("t1", criteria=[crit("identity", "is", True)]),
        trig("t2", item("b1"), criteria=[crit("signed_identity", "is", True)]),
    )
    assert activations(w, cfg) == [(33.3, "t1"), (33.3, "t2")]


def test_identity_persists_across_visits():
    w = World()
    w.identity("id1", 10)
    w.page("p1", 0, 60)
    w.page("p2", 30 * 3600, 30 * 3600 + 60)
    cfg = config(trig("t1", criteria=[crit("identity", "is_present")]))
    assert activations(w, cfg) == [(10, "t1"), (30 * 3600, "t1")]


def test_historical_positions_previous_page_final_state():
    w = World()
    w.page("p1", 0, 60, path="/checkout")
    w.var("p1", "custom_cart", 1, 5)
    w.var("p1", "custom_cart", 0, 50)  # final value 0
    w.page("p2", 60, 120, path="/home")
    cfg = config(
        trig("t1", criteria=[crit("custom_cart", "gte", 1, when="previous")]),
        trig(
            "t2",
            item("b1"),
            criteria=[
                crit("page_path", "starts_with", "/checkout", when="previous"),
                crit("page_path", "does_not_contain", "/checkout"),
                crit("page_visit_duration", "gte", 60, when="previous"),
            ],
        ),
    )
    # t1 reads p1's final value (0), not the 1 it had on the way
    assert activations(w, cfg) == [(60, "t2")]


def test_historical_positions_before_first_page_not_found():
    w = World()
    w.page("p1", 0, 60)
    cfg = config(
        trig("t1", criteria=[crit("page_path", "is", "/", when="previous")]),
        trig("t2", item("b1"), criteria=[crit("page_path", "is_not_present", when="previous")]),
    )
    assert activations(w, cfg) == [(0, "t2")]


def test_positions_stay_within_visit():
    w = World()
    w.page("p1", 0, 60, path="/x")
    w.page("p2", 30 * 3600, 30 * 3600 + 60, path="/y")
    cfg = config(trig("t1", criteria=[crit("page_path", "is", "/x", when="any")]))
    assert activations(w, cfg) == [(0, "t1")]


def test_page_visit_count_counts_current_page():
    w = World()
    for k in range(3):
        w.page(f"p{k}", 60 * k, 60 * k + 60)
    cfg = config(trig("t1", criteria=[crit("page_visit_count", "gte", 3)]))
    assert activations(w, cfg) == [(120, "t1")]


def test_visit_count_counts_current_visit():
    w = World()
    w.page("p1", 0, 60)
    w.page("p2", 120, 180)
    w.page("p3", 30 * 3600, 30 * 3600 + 60)
    cfg = config(trig("t1", criteria=[crit("visit_count", "is", 2)]))
    assert activations(w, cfg) == [(30 * 3600, "t1")]


def test_visit_idle_rederived_from_config():
    w = World()
    w.page("p1", 0, 60)
    w.page("p2", 2 * 3600, 2 * 3600 + 60)  # 2 h later: same visit with 24 h
    cfg = config(trig("t1", criteria=[crit("visit_count", "is", 2)]), visit_idle="1h")
    assert activations(w, cfg) == [(2 * 3600, "t1")]
    assert activations(w, config(trig("t1", criteria=[crit("visit_count", "is", 2)]))) == []


def test_expression_reads_visit_urls_and_chat():
    w = World()
    w.page("p1", 0, 60, path="/cart")
    w.page("p2", 60, 120, path="/help")
    cfg = config(
        trig(
            "t1",
            item("b1"),
            expression={"visit.paths": {"$elemMatch": {"$eq": "/cart"}}, "chat.shown": True},
        ),
        trig("t2", chat(), criteria=[crit("page_path", "is", "/help")]),
    )
    # t1 holds once t2 showed the chat: it activates after t2 (a second pass)
    assert activations(w, cfg) == [(60, "t2"), (60, "t1")]


def test_page_without_end_lasts_until_last_event_or_30_minutes():
    pv = pd.DataFrame(
        {
            "page_view_id": ["p1", "p2"],
            "visitor_id": ["v1", "v1"],
            "started_at": [at(0), at(4000)],
            "ended_at": [None, None],
            "url": ["https://s.example/a", "https://s.example/b"],
        }
    )
    vc = pd.DataFrame(
        {
            "var_change_id": ["c1"],
            "page_view_id": ["p1"],
            "name": ["custom_x"],
            "value": [1],
            "changed_at": [at(100)],
        }
    )
    h = History.from_frames({"page_views": pv, "var_changes": vc})
    ends = [(p.ended_at - T0) / 1000 for p in h.visitor("v1").page_views]
    assert ends == [100, 4000 + 1800]
