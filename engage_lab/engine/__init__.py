"""The fast replay engine: SQL over DuckDB for the facts and page-fixed conditions, one
compiled pass for everything that depends on order.

Public API
----------
:func:`replay_fast`
    ``replay_fast(con, config, *, seed=None, time_range=None, sample=None) -> DataFrame``:
    the events of the reference Chat Manager (log availability, recorded engagements),
    in the :mod:`engage_lab.events` schema and canonical order.
:func:`run_fast`
    The same replay as coded arrays (:class:`~engage_lab.engine.output.FastRun`): what
    the KPIs read without building strings.
:func:`make_plan`, :class:`Plan`
    What a configuration needs (slots, leaves, actions).
:class:`UnsupportedByFastEngineError`
    Raised for what the fast engine does not replay (see :func:`make_plan`).

Modules: :mod:`~engage_lab.engine.plan`, :mod:`~engage_lab.engine.pages` (page-view
facts; their kernels in :mod:`~engage_lab.engine.pages_kernel`),
:mod:`~engage_lab.engine.static` (page-fixed criteria, candidates; the scan in
:mod:`~engage_lab.engine.static_kernel`), :mod:`~engage_lab.engine.leaves` and
:mod:`~engage_lab.engine.steps` (dynamic criteria as step functions),
:mod:`~engage_lab.engine.expressions` (with :mod:`~engage_lab.engine.expression_sql`),
:mod:`~engage_lab.engine.engagements`, :mod:`~engage_lab.engine.kernel` (the pass),
:mod:`~engage_lab.engine.output`, :mod:`~engage_lab.engine.replay`; how the engine runs
beside DuckDB and asks for memory: :mod:`~engage_lab.engine.ahead`,
:mod:`~engage_lab.engine.memory`.
"""

from __future__ import annotations

from engage_lab.engine import compiling
from engage_lab.engine.output import FastRun
from engage_lab.engine.plan import Plan, Slot, UnsupportedByFastEngineError, make_plan
from engage_lab.engine.replay import replay_fast, run_fast

compiling.install()  # a first compilation of the kernels says so on stderr

__all__ = [
    "FastRun",
    "Plan",
    "Slot",
    "UnsupportedByFastEngineError",
    "make_plan",
    "replay_fast",
    "run_fast",
]
