"""The generated world looks like a real site: cycles, returns, tails, variables, agents."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from engage_lab.world.site import PAGE_CATEGORIES, build_site
from tests.world.test_integrity import ms

DAY_MS = 24 * 3600 * 1000
PARIS = ZoneInfo("Europe/Paris")


def _derive_visits(pages: list[dict], offsets: dict[str, int]) -> list[list[dict]]:
    """Visits as the loader derives them: a gap over 24 h after a page's end starts one."""
    visits: list[list[dict]] = []
    ordered = sorted(pages, key=lambda p: (p["visitor_id"], p["started_at"]))
    last_end = None
    for p in ordered:
        start = ms(p["started_at"]) - offsets[p["visitor_id"]]
        if (
            not visits
            or visits[-1][0]["visitor_id"] != p["visitor_id"]
            or start - last_end > DAY_MS
        ):
            visits.append([])
        visits[-1].append(p)
        end = ms(p["ended_at"]) if "ended_at" in p else ms(p["started_at"]) + 30 * 60_000
        last_end = end - offsets[p["visitor_id"]]
    return visits


def test_visits_derived_with_24h_idle_match_the_truth_and_some_visitors_return(live_world):
    offsets = {v["id"]: v["clock_offset_ms"] for v in live_world["visitors"]}
    visits = _derive_visits(live_world["page_views"], offsets)
    assert len(visits) == live_world.summary.visits == len(live_world.truth_visits)
    assert [len(v) for v in visits] == [t["page_views"] for t in sorted(
        live_world.truth_visits, key=lambda t: (t["visitor_id"], t["started_at"]))]  # fmt: skip
    per_visitor = Counter(v[0]["visitor_id"] for v in visits)
    returning = [n for n in per_visitor.values() if n >= 2]
    assert len(returning) > 0.1 * len(per_visitor)
    assert max(per_visitor.values()) >= 3


def test_daily_cycle_in_the_source_timezone(live_world):
    hours = Counter(
        datetime.fromtimestamp(ms(v["started_at"]) / 1000, PARIS).hour
        for v in live_world.truth_visits
    )
    peak = max(hours[h] for h in range(9, 23))
    night = np.mean([hours[h] for h in (2, 3, 4, 5)])
    assert peak > 2 * night
    assert sum(hours[h] for h in range(10, 22)) > 3 * sum(hours[h] for h in (0, 1, 2, 3, 4, 5))


def test_weekly_cycle_weekdays_busier_than_weekends(live_world):
    days = Counter(
        datetime.fromtimestamp(ms(v["started_at"]) / 1000, PARIS).date()
        for v in live_world.truth_visits
    )
    weekday = np.mean([n for d, n in days.items() if d.weekday() < 5])
    weekend = np.mean([n for d, n in days.items() if d.weekday() >= 5])
    assert weekday > 1.15 * weekend


def test_most_visitors_are_in_the_source_country(live_world):
    countries = Counter(v["country"] for v in live_world["visitors"])
    assert countries["FR"] > 0.6 * sum(countries.values())
    assert len(countries) >= 4


def test_pages_per_visit_are_heavy_tailed(live_world):
    lengths = np.array([t["page_views"] for t in live_world.truth_visits])
    assert (lengths == 1).sum() > 0.1 * len(lengths)
    assert (lengths >= 10).sum() > 0.02 * len(lengths)
    assert lengths.max() >= 5 * np.median(lengths)


def test_dwell_times_are_lognormal_like(live_world):
    dwell = np.array([ms(p["ended_at"]) - ms(p["started_at"]) for p in live_world["page_views"]
                      if "ended_at" in p and not p["page_change"]], dtype=float)  # fmt: skip
    logs = np.log(dwell)
    assert np.percentile(dwell, 99) > 8 * np.median(dwell)  # heavy right tail
    assert abs(np.mean(logs) - np.median(logs)) < 0.25  # roughly symmetric in log


def test_site_map_and_page_categories(live_world):
    site = build_site("https://shop.example")
    assert len(set(site.paths)) >= 30 and len(set(site.titles)) == len(site.titles)
    seen = {p["path"].split("?")[0] for p in live_world["page_views"]}
    assert len(seen) >= 30
    assert all(p["url"] == "https://shop.example" + p["path"] for p in live_world["page_views"])
    tagged = [p for p in live_world["page_views"] if "?utm_source=" in p["url"]]
    assert tagged and all(p.get("referrer", "").startswith("https://") for p in tagged)
    for prefix in ("/", "/category/", "/product/", "/cart", "/checkout", "/help", "/pricing",
                   "/account"):  # fmt: skip
        assert any(path.startswith(prefix) for path in seen), prefix
    assert set(site.category_names) == set(PAGE_CATEGORIES)
    devices = Counter(p["device"] for p in live_world["page_views"])
    assert set(devices) == {"desktop", "mobile", "tablet"}


def test_single_page_application_changes_only_within_checkout_and_account(live_world):
    pages = sorted(live_world["page_views"], key=lambda p: (p["visitor_id"], p["started_at"]))
    changes = 0
    for before, page in itertools.pairwise(pages):
        if page["page_change"]:
            changes += 1
            assert page["path"].startswith(("/checkout", "/account"))
            assert before["visitor_id"] == page["visitor_id"]
            assert before["ended_at"] == page["started_at"]
            assert page["referrer"] == before["url"]
    assert changes > 20


def test_fixed_button_placeholders_on_help_pages_not_on_checkout(live_world):
    for p in live_world["page_views"]:
        if p["path"].startswith("/help"):
            assert p["placeholders"] == ["btn-help-footer"]
        if p["path"].startswith(("/checkout", "/cart")):
            assert p["placeholders"] == []


def test_custom_variables_change_mid_page(live_world):
    pages = {p["id"]: p for p in live_world["page_views"]}
    mid = Counter()
    at_start = Counter()
    for c in live_world["var_changes"]:
        page = pages[c["page_view_id"]]
        (mid if c["changed_at"] > page["started_at"] else at_start)[c["name"]] += 1
        if c["name"] == "custom_cart_amount":
            assert isinstance(c["value"], float) and c["value"] >= 0
            assert page["path"].startswith(("/product/", "/cart", "/checkout"))
        elif c["name"] == "custom_logged_in":
            assert isinstance(c["value"], bool)
        else:
            assert c["value"] in ("free", "starter", "business", "enterprise")
    for name in ("custom_cart_amount", "custom_logged_in", "custom_plan"):
        assert mid[name] > 0 and at_start[name] > 0, name


def test_identities_set_mid_visit_some_signed(live_world):
    pages = sorted(live_world["page_views"], key=lambda p: p["started_at"])
    first_page = {}
    for p in pages:
        first_page.setdefault(p["visitor_id"], p)
    identities = live_world["identities"]
    assert {i["signed"] for i in identities} == {True, False}
    assert len({i["visitor_id"] for i in identities}) == len(identities)
    later = [i for i in identities if i["set_at"] > first_page[i["visitor_id"]]["started_at"]]
    assert len(later) > 0.2 * len(identities)


def test_agents_presence_statuses_soft_limits_and_channels(live_world):
    statuses = Counter(p["status"] for p in live_world["presence"])
    assert set(statuses) == {"available", "away", "offline"}
    assert all(2 <= a["soft_limit"] <= 4 for a in live_world["agents"])
    channels = Counter(c["channel"] for c in live_world["conversations"])
    assert {"email", "phone", "social"} <= set(channels)
    # Background conversations start while their agent is available.
    by_agent: dict[str, list[tuple[int, str]]] = {}
    for p in live_world["presence"]:
        by_agent.setdefault(p["agent_id"], []).append((ms(p["changed_at"]), p["status"]))
    for c in live_world["conversations"]:
        if c.get("agent_id") is None:  # a web chat no agent took (unserved or closed waiting)
            assert c["channel"] == "web_chat" and c.get("started_at") is None
            continue
        changes = sorted(by_agent[c["agent_id"]])
        status = [s for t, s in changes if t <= ms(c["started_at"])][-1]
        assert status == "available"


def test_agents_work_shifts_with_breaks(live_world):
    paris_hours = Counter(
        datetime.fromtimestamp(ms(p["changed_at"]) / 1000, PARIS).hour
        for p in live_world["presence"] if p["status"] == "available"
    )  # fmt: skip
    assert sum(paris_hours[h] for h in range(0, 7)) == 0
    aways = [p for p in live_world["presence"] if p["status"] == "away"]
    assert len(aways) >= 2 * len(live_world["agents"])


def test_messaging_world_has_threads_in_every_state(messaging_world):
    threads = messaging_world["threads"]
    assert threads
    open_ = [t for t in threads if "locked_at" not in t and "closed_at" not in t]
    locked = [t for t in threads if "locked_at" in t]
    closed = [t for t in threads if "closed_at" in t]
    assert open_ and locked and closed
    assert {t["identity_initiated_thread"] for t in threads} == {True, False}
    assert any(p["embedded"] for p in messaging_world["page_views"])
    (source,) = messaging_world["source"]
    assert source["mode"] == "messaging"


def test_live_chat_world_has_no_threads_nor_embedded_pages(live_world):
    assert live_world["threads"] == []
    assert not any(p["embedded"] for p in live_world["page_views"])


def test_truth_holds_parameters_and_per_visitor_effects(live_world):
    params = live_world.params
    assert params["params"]["timezone"] == "Europe/Paris"
    assert params["run"]["chat_events_recorded"] is True
    effects = np.array([v["engagement_effect"] for v in live_world.truth_visitors])
    assert len(effects) == 400 and 0.5 < effects.std() < 1.1
    reference = np.array([v["engagement_p_reference"] for v in live_world.truth_visitors])
    assert ((reference > 0) & (reference < 1)).all()
    assert np.corrcoef(effects, reference)[0, 1] > 0.9
