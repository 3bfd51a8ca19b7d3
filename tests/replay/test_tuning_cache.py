"""Tuning replays reuse what a connection cached; each gives what a cold replay gives.

A warm connection first replays a base configuration (filling the caches: page facts,
compiled conditions, the coded recording and its per-page sums, the engagements' outcome
events, the history KPIs), then an edited one; a fresh connection to a copy of the same
database replays the edited configuration alone. Every part of the two results must be
equal: the JSON, the events, the recorded events, the mismatch tables, the KPIs.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

import engage_lab as el
from engage_lab.config import Config, ConfigHistory
from engage_lab.engine import engagements as eng_sql
from engage_lab.engine import replay as engine_replay
from engage_lab.events import DECISION_EVENTS
from engage_lab.kpis import CodedEvents, PageTable, compare_codes
from engage_lab.kpis.coded import code_of, pack
from engage_lab.kpis.fidelity import decision_sums
from engage_lab.replay import ReplayResult, replay
from engage_lab.replay import recorded as recorded_module
from tests.replay.conftest import PRODUCTION, ROOT

HISTORY = ROOT / "data" / "configs" / "history-live-chat.json"
BASE = json.loads(PRODUCTION.read_text())


@pytest.fixture(scope="module")
def databases(sample_db, tmp_path_factory):
    """Two copies of the sample: one for the warm connection, one for cold replays."""
    folder = tmp_path_factory.mktemp("tuning")
    warm, cold = folder / "warm.duckdb", folder / "cold.duckdb"
    shutil.copy(sample_db, warm)
    shutil.copy(sample_db, cold)
    return warm, cold


@pytest.fixture(scope="module")
def warm_lab(databases):
    with el.open(databases[0]) as lab:
        yield lab


def _trigger(data: dict, trigger_id: str) -> dict:
    return next(t for t in data["triggers"] if t["id"] == trigger_id)


def _criterion(data: dict, trigger_id: str, name: str) -> dict:
    return next(c for c in _trigger(data, trigger_id)["criteria"] if c["criterion"] == name)


def _edited(edit: Callable[[dict], None], base: dict = BASE) -> Config:
    data = copy.deepcopy(base)
    edit(data)
    return Config.from_dict(data)


def _set(path: tuple[str, ...], value) -> Callable[[dict], None]:
    """An edit setting ``value`` at ``path`` (a trigger id then keys, or ``source``)."""

    def edit(data: dict) -> None:
        node = data["source"] if path[0] == "source" else _trigger(data, path[0])
        for key in path[1:-1]:
            node = node[key]
        node[path[-1]] = value

    return edit


def _threshold(trigger_id: str, name: str, value) -> Callable[[dict], None]:
    def edit(data: dict) -> None:
        _criterion(data, trigger_id, name)["value"] = value

    return edit


def _disable(*trigger_ids: str) -> Callable[[dict], None]:
    def edit(data: dict) -> None:
        for trigger_id in trigger_ids:
            _trigger(data, trigger_id)["enabled"] = False

    return edit


def _add_criterion(data: dict) -> None:
    _trigger(data, "help-pages-button")["criteria"].append(
        {"criterion": "page_visit_duration", "operator": "gte", "value": 5}
    )


_RESERVE = {"policy": "reserve", "k": 1}
_CURVE = {"policy": "curve", "over": "occupancy", "points": [[0, 1], [0.5, 0.5], [1, 0]]}

#: (kind of edit, the edit); each is replayed after the production configuration
EDITS = {
    "threshold: a page duration": _threshold("cart-invitation", "page_visit_duration", 30),
    "threshold: a custom variable": _threshold("cart-invitation", "custom_cart_amount", 90),
    "policy: reserve": _set(("cart-invitation", "server_probability"), _RESERVE),
    "policy: curve": _set(("pricing-popup", "server_probability"), _CURVE),
    "queuing factor: the source's": _set(("source", "queuing_factor"), 0.5),
    "queuing factor: a trigger's": _set(("checkout-exit", "queuing_factor"), 0.0),
    "disable a trigger": _disable("pricing-popup"),
    "disable two triggers": _disable("cart-invitation", "fixed-help-button"),
    "structure: a criterion added": _add_criterion,
    "structure: the impossibility delay": _set(("source", "impossibility_delay"), "1m"),
}


def _assert_same(warm: ReplayResult, cold: ReplayResult) -> None:
    """Every part of two results is equal."""
    assert warm.to_json() == cold.to_json()
    assert warm.kpis == cold.kpis
    assert warm.fidelity == cold.fidelity
    pd.testing.assert_frame_equal(warm.events, cold.events)
    pd.testing.assert_frame_equal(warm.pages, cold.pages)
    pd.testing.assert_frame_equal(warm.funnel(), cold.funnel())
    assert warm.comparison is not None and cold.comparison is not None
    pd.testing.assert_frame_equal(warm.recorded, cold.recorded)
    pd.testing.assert_frame_equal(warm.mismatches, cold.mismatches)
    pd.testing.assert_frame_equal(warm.comparison.mismatches, cold.comparison.mismatches)
    np.testing.assert_array_equal(warm.comparison.mismatched_pvi, cold.comparison.mismatched_pvi)
    assert warm.comparison.mismatched == cold.comparison.mismatched


def _cold(databases, config, **options) -> ReplayResult:
    with el.open(databases[1]) as lab:
        result = replay(lab, config, **options)
        _ = result.events, result.pages, result.recorded, result.mismatches  # read while open
        _ = result.comparison.mismatches, result.comparison.mismatched
    return result


@pytest.fixture(scope="module")
def production(warm_lab) -> ReplayResult:
    return replay(warm_lab, PRODUCTION)


@pytest.mark.parametrize("kind", list(EDITS))
def test_a_tuning_replay_equals_a_cold_replay(kind, warm_lab, databases, production):
    replay(warm_lab, PRODUCTION)  # the configuration being tuned, cached
    config = _edited(EDITS[kind])
    warm = replay(warm_lab, config)
    _assert_same(warm, _cold(databases, config))
    if not kind.startswith("queuing"):  # a queuing factor may change nothing on the sample
        assert warm.to_json() != production.to_json(), "the edit changed nothing"


def test_enabling_a_disabled_trigger_again_equals_a_cold_replay(warm_lab, databases):
    replay(warm_lab, _edited(_disable("pricing-popup", "account-premium")))
    _assert_same(replay(warm_lab, PRODUCTION), _cold(databases, PRODUCTION))


def test_tuning_a_restricted_replay_equals_a_cold_one(warm_lab, databases):
    options = {"time_range": ("2026-03-03", "2026-03-12"), "sample": 0.5}
    replay(warm_lab, PRODUCTION, **options)
    config = _edited(_threshold("pricing-popup", "page_visit_duration", 10))
    _assert_same(replay(warm_lab, config, **options), _cold(databases, config, **options))


def test_tuning_a_configuration_history_equals_a_cold_replay(warm_lab, databases):
    base = json.loads(HISTORY.read_text())
    replay(warm_lab, ConfigHistory.from_dict(base))
    data = copy.deepcopy(base)
    later = data["history"][-1]["config"]
    _criterion(later, "cart-invitation", "page_visit_duration")["value"] = 20
    later["source"]["impossibility_delay"] = "30s"  # two delays: two outcome variants
    _trigger(data["history"][0]["config"], "help-pages-button")["enabled"] = False
    edited = ConfigHistory.from_dict(data)
    _assert_same(replay(warm_lab, edited), _cold(databases, edited))


class _Counter:
    """Counts the calls of a module function (monkeypatched)."""

    def __init__(self, monkeypatch, module, name: str) -> None:
        self.calls = 0
        original = getattr(module, name)

        def counted(*args, **kwargs):
            self.calls += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)


def test_which_edits_recompile(warm_lab, monkeypatch):
    """Thresholds, policies, queuing factors and enabled flags reuse the compiled
    conditions (the candidates); a structural edit computes them again. None of them
    reads the recording or the engagements' outcome events again."""
    replay(warm_lab, PRODUCTION)
    compiled = _Counter(monkeypatch, engine_replay, "candidates")
    read = _Counter(monkeypatch, recorded_module, "_recorded_codes")
    placed = _Counter(monkeypatch, eng_sql, "outcomes")
    for kind in ("threshold: a page duration", "policy: curve", "queuing factor: the source's"):
        replay(warm_lab, _edited(EDITS[kind]))
    replay(warm_lab, _edited(_disable("pricing-popup", "cart-invitation")))
    replay(warm_lab, PRODUCTION)  # enabled again
    assert compiled.calls == 0
    replay(warm_lab, _edited(_add_criterion))
    assert compiled.calls == 1
    assert read.calls == 0 and placed.calls == 0


_DECISION = {code_of(e) for e in DECISION_EVENTS}


def _random_events(rng, n_pages: int, n: int) -> CodedEvents:
    event = rng.integers(0, 12, n)
    code = pack(event, rng.integers(0, 5, n), rng.integers(0, 3, n), rng.integers(-1, 3, n), -1)
    return CodedEvents(
        rng.integers(-1, n_pages + 2, n), rng.integers(0, 4, n), code, ("a", "b", "c"), ()
    )


def test_compare_codes_finds_exactly_the_page_views_whose_decision_events_differ():
    rng = np.random.default_rng(7)
    n_pages = 40
    table = PageTable.from_frame(
        pd.DataFrame(
            {
                "page_view_id": [f"p{k}" for k in range(n_pages)],
                "visitor_id": "v",
                "visit_id": "w",
            }
        )
    )
    for _ in range(20):
        a = _random_events(rng, n_pages, 60)
        b = a.where(rng.permutation(len(a)))  # the same events in another order ...
        keep = rng.random(len(b)) > 0.1  # ... some dropped
        b = b.where(keep)
        comparison = compare_codes(a, b, table)
        expected = []
        for p in range(n_pages):
            sides = [
                sorted(
                    (int(t), int(c) & ~(0x7 << 4))
                    for t, c, e in zip(
                        ev.t[ev.pvi == p], ev.code[ev.pvi == p], ev.event[ev.pvi == p], strict=True
                    )
                    if e in _DECISION
                )
                for ev in (a, b)
            ]
            if sides[0] != sides[1]:
                expected.append(p)
        assert comparison.mismatched_pvi.tolist() == expected
        assert comparison.fidelity == (n_pages - len(expected)) / n_pages
        # the recording's sums computed once give the same comparison
        again = compare_codes(a, b, table, recorded_sums=decision_sums(b, n_pages, -1))
        np.testing.assert_array_equal(again.mismatched_pvi, comparison.mismatched_pvi)
        # the differing keys (built when read) name exactly those page views
        found = set(comparison.mismatches["page_view_id"])
        assert found == {f"p{p}" for p in expected}


def test_recorded_sums_of_another_size_are_refused():
    ev = CodedEvents(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int32), (), ())
    table = PageTable.from_frame(
        pd.DataFrame({"page_view_id": ["p"], "visitor_id": "v", "visit_id": "w"})
    )
    with pytest.raises(ValueError, match="cover 2 page views, not 1"):
        compare_codes(ev, ev, table, recorded_sums=decision_sums(ev, 2, -1))
