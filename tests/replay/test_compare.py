"""``compare_results`` on hand-made KPI dicts."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from engage_lab.compare import compare_results, comparison_to_dict


def result(**kpis):
    return SimpleNamespace(kpis=kpis, config_label="x", engine="fast", seed="1", fidelity=None)


def test_differences_and_relative_differences():
    a = result(visits=10, q1_offered=0.5, displays_by_stage={"configured": 4, "messaging": 0})
    b = result(visits=12, q1_offered=0.25, displays_by_stage={"configured": 4, "messaging": 3})
    table = compare_results(a, b)
    assert table.loc["visits"].tolist() == [10, 12, 2, pytest.approx(0.2)]
    assert table.loc["q1_offered", "difference"] == pytest.approx(-0.25)
    assert table.loc["q1_offered", "relative_difference"] == pytest.approx(-0.5)
    assert table.loc["displays_by_stage.configured", "difference"] == 0
    # A is 0: no relative difference
    assert table.loc["displays_by_stage.messaging", "relative_difference"] is None


def test_non_numbers_and_one_sided_kpis():
    a = result(visits=1, time_to_first_offer_median_s=None, engine_note="x")
    b = result(visits=1, time_to_first_offer_median_s=3.0, fidelity=1.0)
    table = compare_results(a, b)
    assert list(table.index) == [
        "visits",
        "time_to_first_offer_median_s",
        "engine_note",
        "fidelity",
    ]
    assert table.loc["time_to_first_offer_median_s", "difference"] is None
    assert table.loc["fidelity", "a"] is None and table.loc["fidelity", "b"] == 1.0
    assert table.loc["engine_note", "difference"] is None


def test_booleans_are_not_numbers():
    table = compare_results(result(flag=True), result(flag=False))
    assert table.loc["flag", "difference"] is None


def test_json_object():
    a, b = result(visits=2), result(visits=3)
    data = comparison_to_dict(compare_results(a, b), a, b)
    text = json.dumps(data)
    assert json.loads(text)["kpis"]["visits"] == {
        "a": 2,
        "b": 3,
        "difference": 1,
        "relative_difference": 0.5,
    }
    assert data["a"]["engine"] == "fast"
