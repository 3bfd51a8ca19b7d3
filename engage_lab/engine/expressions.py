"""Expressions (GrowthBook-style conditions) as rows: evaluated in SQL at their breakpoints."""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np

from engage_lab.engine.pages import Pages
from engage_lab.engine.plan import Plan, UnsupportedByFastEngineError
from engage_lab.engine.static import Candidates

__all__ = ["expression_rows"]


def expression_rows(
    con: duckdb.DuckDBPyConnection,
    plan: Plan,
    pages: Pages,
    cand: Candidates,
    cache: dict[str, Any],
) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per slot with an expression: its ``(pvi, t, mask)`` rows, sorted."""
    for slot in plan.slots:
        if slot.expression is not None:
            raise UnsupportedByFastEngineError("expressions: not yet")
    return {}
