"""Two replays side by side: each KPI for A and B, the difference and the relative one.

Nested KPIs are flattened with dots (``displays_by_stage.configured``); KPIs that are
not numbers on both sides (a median with no offer) keep their values and get no
difference. The relative difference is ``(B - A) / |A|`` (null when A is 0).

>>> from types import SimpleNamespace
>>> a = SimpleNamespace(kpis={"visits": 10, "q1_offered": 0.5, "displays_by_stage": {"configured": 4}})
>>> b = SimpleNamespace(kpis={"visits": 10, "q1_offered": 0.6, "displays_by_stage": {"configured": 2}})
>>> table = compare_results(a, b)
>>> table.loc["displays_by_stage.configured", ["a", "b", "difference", "relative_difference"]].tolist()
[4, 2, -2, -0.5]
>>> round(table.loc["q1_offered", "difference"], 6)
0.1
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from engage_lab.kpis import jsonable
from engage_lab.replay.result import flatten

__all__ = ["compare_results", "comparison_to_dict"]

_COLUMNS = ["a", "b", "difference", "relative_difference"]


def _number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and not (isinstance(value, float) and math.isnan(value))
    )


def compare_results(a: Any, b: Any) -> pd.DataFrame:
    """KPIs of two replays (anything with a ``kpis`` dict) side by side.

    Returns
    -------
    pandas.DataFrame
        Index ``kpi`` (A's KPIs in order, then those only B has); columns ``a``, ``b``,
        ``difference`` (B − A) and ``relative_difference`` ((B − A) / |A|).
    """
    flat_a, flat_b = flatten(a.kpis), flatten(b.kpis)
    names = list(flat_a) + [k for k in flat_b if k not in flat_a]
    rows = []
    for name in names:
        va, vb = flat_a.get(name), flat_b.get(name)
        diff = rel = None
        if _number(va) and _number(vb):
            diff = vb - va
            rel = diff / abs(va) if va != 0 else None
        rows.append((name, va, vb, diff, rel))
    return pd.DataFrame(rows, columns=["kpi", *_COLUMNS], dtype=object).set_index("kpi")


def comparison_to_dict(table: pd.DataFrame, a: Any, b: Any) -> dict[str, Any]:
    """The ``compare --json`` object: both replays' headers and ``kpis`` rows
    (``{kpi: {"a", "b", "difference", "relative_difference"}}``)."""

    def header(result: Any) -> dict[str, Any]:
        return {
            "config": getattr(result, "config_label", None),
            "engine": getattr(result, "engine", None),
            "seed": getattr(result, "seed", None),
            "fidelity": getattr(result, "fidelity", None),
        }

    rows = {name: dict(zip(_COLUMNS, row, strict=True)) for name, row in table.iterrows()}
    return jsonable({"a": header(a), "b": header(b), "kpis": rows})
