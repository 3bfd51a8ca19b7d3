"""The fast replay engine: SQL over DuckDB for the facts and conditions, one compiled
sequential pass for what depends on order.

Public API
----------
:func:`replay_fast`
    ``replay_fast(con, config, *, seed=None, time_range=None, sample=None) -> DataFrame``:
    the events of the reference Chat Manager (log availability, recorded engagements),
    in the :mod:`engage_lab.events` schema and canonical order.
:func:`make_plan`, :class:`Plan`
    What a configuration needs (triggers, criteria, thresholds, actions).
:class:`UnsupportedByFastEngineError`
    Raised for what the fast engine does not replay (see :func:`make_plan`).

Modules: :mod:`~engage_lab.engine.plan`, :mod:`~engage_lab.engine.facts` (page-view
facts), :mod:`~engage_lab.engine.instants` (candidate instants and condition masks),
:mod:`~engage_lab.engine.engagements` (recorded engagements, threads),
:mod:`~engage_lab.engine.sequential` (the numba pass), :mod:`~engage_lab.engine.replay`.
"""

from __future__ import annotations

from engage_lab.engine.plan import Plan, TriggerPlan, UnsupportedByFastEngineError, make_plan
from engage_lab.engine.replay import replay_fast

__all__ = ["Plan", "TriggerPlan", "UnsupportedByFastEngineError", "make_plan", "replay_fast"]
