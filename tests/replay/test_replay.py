"""``replay()``: restrictions, fidelity end to end, results, bad inputs (reference engine)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import engage_lab as el
from engage_lab import conditions
from engage_lab.conditions.checks import MAX_ELEM_MATCH_NESTING
from engage_lab.config import ConfigHistory, load_any
from engage_lab.draws import in_sample
from engage_lab.errors import ConditionError, ConfigError, EngineError
from engage_lab.events import compare_events
from engage_lab.kpis import JSON_KPIS
from engage_lab.replay import ReplayResult, replay, replayed_page_views
from tests.replay.conftest import PRODUCTION, VARIANT


@pytest.fixture(scope="module")
def lab(sample_db):
    with el.open(sample_db) as opened:
        yield opened


@pytest.fixture(scope="module")
def full(lab) -> ReplayResult:
    return replay(lab, PRODUCTION, engine="reference")


def _seed(lab) -> str:
    return str(lab.sql("select seed from source")["seed"][0])


def _all_pages(lab) -> pd.DataFrame:
    return lab.sql(
        "select p.page_view_id, p.visitor_id, epoch_ms(p.started_at) as s, p.device, p.path, "
        "p.url, v.country from page_views p left join visitors v using (visitor_id)"
    )


def test_full_replay_covers_every_page_view(lab, full):
    n = int(lab.sql("select count(*) as n from page_views")["n"][0])
    visits = int(lab.sql("select count(distinct visit_id) as n from page_views")["n"][0])
    assert full.kpis["page_views"] == n == len(full.pages)
    assert full.kpis["visits"] == visits
    assert set(full.events["page_view_id"]) <= set(full.pages["page_view_id"])
    assert full.engine == "reference" and full.seed == _seed(lab)


def test_kpis_hold_every_stable_key_as_numbers(full):
    for key in JSON_KPIS:
        assert key in full.kpis, key
    assert "fidelity" in full.kpis  # the sample has recorded chat events
    data = json.loads(full.to_json())
    assert data["engine"] == "reference"
    assert data["config"].endswith("production-live-chat.json")
    for key in JSON_KPIS:
        value = data["kpis"][key]
        values = value.values() if isinstance(value, dict) else [value]
        assert all(isinstance(v, int | float) and not isinstance(v, bool) for v in values), key


def test_kpis_agree_with_the_events(full):
    ev = full.events
    assert full.kpis["activations"] == int((ev["event"] == "trigger_activated").sum())
    assert full.kpis["engagements"] == int((ev["event"] == "chat_engaged").sum())
    funnel = full.funnel()
    assert len(funnel) == full.kpis["visits"]
    assert full.kpis["q1_offered"] == pytest.approx(funnel["q1_offered"].mean())


def test_same_replay_same_json(lab, full):
    again = replay(lab, PRODUCTION, engine="reference")
    assert again.to_json() == full.to_json()


def test_faithful_replay_of_the_sample_has_fidelity_one(full):
    # data/sample is a world recorded by the reference with the production configuration.
    assert full.fidelity == 1.0
    assert full.kpis["fidelity"] == 1.0
    assert len(full.mismatches) == 0
    data = json.loads(full.to_json())
    assert data["mismatched_page_views"] == 0 and data["first_mismatches"] == []
    # every replayed page view is compared, including those without any event
    assert full.comparison.page_views == frozenset(full.pages["page_view_id"])


def test_time_range_keeps_page_views_starting_within(lab):
    pages = _all_pages(lab)
    lo = int(pages["s"].min()) + 3 * 86_400_000
    hi = lo + 86_400_000
    start, end = pd.Timestamp(lo, unit="ms", tz="UTC"), pd.Timestamp(hi, unit="ms", tz="UTC")
    res = replay(lab, PRODUCTION, engine="reference", time_range=(start, end))
    expected = set(pages.loc[(pages["s"] >= lo) & (pages["s"] < hi), "page_view_id"])
    assert 0 < len(expected) < len(pages)
    assert set(res.pages["page_view_id"]) == expected
    assert set(res.events["page_view_id"]) <= expected
    assert res.comparison.page_views == expected  # fidelity on the same restricted set
    assert res.restrictions["time_range"] == [
        start.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        end.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
    ]


@pytest.mark.slow
def test_sample_is_the_stable_hash_sample(lab):
    res = replay(lab, PRODUCTION, engine="reference", sample=0.2)
    visitors = set(_all_pages(lab)["visitor_id"])
    expected = {v for v in visitors if in_sample(v, 0.2, _seed(lab))}
    assert 0 < len(expected) < len(visitors)
    assert set(res.pages["visitor_id"]) == expected
    assert set(res.events["visitor_id"]) <= expected
    other_seed = replay(lab, PRODUCTION, engine="reference", sample=0.2, seed="other")
    assert set(other_seed.pages["visitor_id"]) == {
        v for v in visitors if in_sample(v, 0.2, "other")
    }
    assert set(other_seed.pages["visitor_id"]) != expected


def _segment_by_python(lab, segment) -> set[str]:
    """The segment evaluated per page view with the library's GrowthBook evaluator."""
    rows = lab.sql(
        "select p.page_view_id, p.visitor_id, p.url, p.path, p.title, p.referrer, p.device, "
        "coalesce(p.embedded, false) as embedded, coalesce(p.page_change, false) as page_change, "
        "v.country from page_views p left join visitors v using (visitor_id)"
    )
    keep = set()
    page_fields = ("url", "path", "title", "referrer", "device", "embedded", "page_change")
    for row in rows.to_dict("records"):
        attrs = {
            "page": {"page_view_id": row["page_view_id"]}
            | {k: _plain(row[k]) for k in page_fields},
            "visitor": {"id": row["visitor_id"], "country": _plain(row["country"])},
        }
        if conditions.evaluate(segment, attrs):
            keep.add(row["page_view_id"])
    return keep


def _plain(value):
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value.item() if hasattr(value, "item") else value


@pytest.mark.parametrize(
    "segment",
    [
        {"page.device": "mobile"},
        {"visitor.country": {"$in": ["FR", "DE"]}},
        {"$or": [{"page.path": {"$regex": "^/product"}}, {"visitor.country": {"$exists": False}}]},
        {"page.embedded": False, "page.title": {"$regex": "(?i)cart"}},
    ],
    ids=["device", "country-in", "or-regex-missing", "boolean-and-ne"],
)
def test_segment_matches_the_growthbook_evaluator(lab, segment):
    expected = _segment_by_python(lab, segment)
    pages = replayed_page_views(lab.con, load_any(PRODUCTION), segment=segment)
    assert set(pages["page_view_id"]) == expected
    assert len(expected) > 0


def test_segment_restricts_replay_and_fidelity(lab):
    segment = {"page.device": "desktop"}
    res = replay(lab, PRODUCTION, engine="reference", segment=json.dumps(segment))
    expected = _segment_by_python(lab, segment)
    assert set(res.pages["page_view_id"]) == expected
    assert set(res.events["page_view_id"]) <= expected
    assert res.comparison.page_views == expected
    assert res.restrictions["segment"] == segment


def test_restrictions_combine(lab):
    res = replay(
        lab,
        PRODUCTION,
        engine="reference",
        sample=0.5,
        segment={"page.device": "mobile"},
        time_range=("2026-03-01T00:00Z", "2026-03-08T00:00Z"),
    )
    assert len(res.pages) > 0
    assert all(in_sample(v, 0.5, _seed(lab)) for v in res.pages["visitor_id"])
    devices = lab.sql("select page_view_id, device from page_views").set_index("page_view_id")
    assert set(devices.loc[res.pages["page_view_id"], "device"]) == {"mobile"}


@pytest.mark.parametrize(
    ("segment", "message"),
    [
        ({"page.duration": {"$gt": 3}}, "a segment may read"),
        ({"page.device": {"$regx": "a"}}, "unknown operator"),
        ("{not json", "not JSON"),
        ('["page.device"]', "JSON object"),
    ],
)
def test_bad_segment_is_a_condition_error(lab, segment, message):
    with pytest.raises(ConditionError, match=message):
        replay(lab, PRODUCTION, engine="reference", segment=segment)


def test_a_segment_nesting_elem_match_past_the_limit_is_refused_with_its_path(lab):
    segment: dict = {"$eq": "/x"}
    for _ in range(MAX_ELEM_MATCH_NESTING + 1):  # any depth would compile: DuckDB's would not
        segment = {"$elemMatch": segment}
    with pytest.raises(ConditionError) as info:
        replay(lab, PRODUCTION, engine="fast", segment={"page.path": segment})
    assert info.value.path == 'segment["page.path"]' + ".$elemMatch" * (MAX_ELEM_MATCH_NESTING + 1)
    assert f"at most {MAX_ELEM_MATCH_NESTING} are allowed" in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"engine": "warp"}, "unknown engine"),
        ({"sample": 0.0}, "sample must be"),
        ({"sample": 1.5}, "sample must be"),
        ({"time_range": ("2026-03-03", "2026-03-02")}, "end must be after"),
        ({"time_range": ("yesterday", "today")}, "time_range"),
    ],
)
def test_bad_arguments(lab, kwargs, message):
    with pytest.raises(EngineError, match=message):
        replay(lab, PRODUCTION, **{"engine": "reference", **kwargs})


def test_bad_config_and_target(lab, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 1}')
    with pytest.raises(ConfigError):
        replay(lab, bad, engine="reference")
    with pytest.raises(EngineError, match="Lab or a DuckDB connection"):
        replay("not a lab", PRODUCTION, engine="reference")
    with pytest.raises(EngineError, match="Config"):
        replay(lab, 42, engine="reference")


@pytest.mark.slow
def test_config_objects_and_histories_are_accepted(lab, full):
    cfg = load_any(PRODUCTION)
    by_object = replay(lab, cfg, engine="reference")
    assert by_object.kpis == full.kpis
    assert by_object.config_label.startswith("<configuration ")
    history = replay(lab, ConfigHistory.of(cfg), engine="reference")
    assert history.kpis == full.kpis


@pytest.mark.slow
def test_a_variant_differs_from_production(lab, full):
    variant = replay(lab, VARIANT, engine="reference")
    assert variant.kpis["page_views"] == full.kpis["page_views"]
    assert compare_events(full.events, variant.events).fidelity < 1.0


def test_occupancy_and_offers_tables(full):
    occupancy = full.occupancy("1h")
    assert {"bin_start", "capacity", "load", "occupancy"} <= set(occupancy.columns)
    assert (occupancy["capacity"] >= 0).all()
    offers = full.offers()
    assert len(offers) == round(full.kpis["offers_per_visit"] * full.kpis["visits"])
    assert offers["hour"].between(0, 23).all()


# ------------------------------------------------------------------ fidelity end to end


@pytest.mark.slow
def test_a_perturbed_recording_is_caught(perturbed_db):
    db, victim = perturbed_db
    with el.open(db) as lab:
        res = replay(lab, PRODUCTION, engine="reference", sample=0.3)
    assert victim["page_view_id"] in set(res.pages["page_view_id"])
    n = res.kpis["page_views"]
    assert res.fidelity == pytest.approx((n - 1) / n)
    assert res.comparison.mismatched == frozenset({victim["page_view_id"]})
    differing = res.mismatches[res.mismatches["differs"]]
    assert set(differing["event"]) == {"item_shown"}
    assert set(differing["side"]) == {"replay", "recorded"}
    # the other decision events of that page view are listed too, as agreeing
    assert len(res.mismatches) > len(differing)


# ------------------------------------------------------------------ visits under the config


def _visits_by_gap(pages: pd.DataFrame, idle_ms: int) -> int:
    """Count visits by the idle rule, written independently: a page view starting more than
    ``idle_ms`` after the latest end before it (same visitor) opens a visit."""
    count = 0
    for _, group in pages.sort_values(["visitor_id", "s", "page_view_id"]).groupby("visitor_id"):
        latest = None
        for row in group.itertuples():
            if latest is None or row.s - latest > idle_ms:
                count += 1
            latest = row.e if latest is None else max(latest, row.e)
    return count


@pytest.mark.slow
@pytest.mark.parametrize("segment", [None, {"page.device": "desktop"}], ids=["all", "segment"])
def test_visits_are_rederived_with_the_configurations_idle_duration(lab, tmp_path, segment):
    cfg = load_any(PRODUCTION).to_dict()
    cfg["source"]["visit_idle"] = "72h"
    path = tmp_path / "long-visits.json"
    path.write_text(json.dumps(cfg))
    res = replay(lab, path, engine="reference", segment=segment)
    pages = lab.sql(
        "select page_view_id, visitor_id, device, epoch_ms(started_at) as s, "
        "epoch_ms(ended_at) as e from page_views"
    )
    if segment is not None:
        pages = pages[pages["device"] == "desktop"]
    loaded = int(lab.sql("select count(distinct visit_id) as n from page_views")["n"][0])
    expected = _visits_by_gap(pages, 72 * 3_600_000)
    assert res.kpis["visits"] == expected
    if segment is None:
        assert expected < loaded  # a 72 h idle merges visits of the 24 h rule
    # the engine's visits are the same as the KPI's
    visit_of = res.pages.set_index("page_view_id")["visit_id"]
    assert (res.events["visit_id"] == res.events["page_view_id"].map(visit_of)).all()
