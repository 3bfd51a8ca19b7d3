"""The engines :func:`~engage_lab.replay.run.replay` runs, behind one small interface.

Every engine is a :class:`ReplayEngine`: ``run(con, config, options)`` replays a
configuration (or configuration history) over the history of an engage_lab database
under :class:`ReplayOptions` (seed, restrictions) and returns an :class:`EngineRun`: the
replayed page views, their page table, the coded events, the events frame (built on
demand) and the availability timeline. What follows — KPIs, fidelity to the recorded
events, the :class:`~engage_lab.replay.result.ReplayResult` — is the same for every
engine and lives in :mod:`~engage_lab.replay.run`.

Engines are found by name in :data:`ENGINES` (:func:`engine_named`); a new engine (Spark)
is one adapter class and one entry there.

>>> sorted(ENGINES)
['fast', 'reference']
>>> engine_named("warp")
Traceback (most recent call last):
...
engage_lab.errors.EngineError: unknown engine 'warp'; use fast or reference
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

import duckdb
import numpy as np
import pandas as pd
from sqlglot import exp

from engage_lab.availability.state import Timeline, to_ms_array
from engage_lab.config import Config, ConfigHistory
from engage_lab.engine.pages import Pages, PagesKey, build_pages
from engage_lab.engine.plan import make_plan
from engage_lab.errors import DatabaseError, EngineError, translate_duckdb
from engage_lab.kpis import CodedEvents, PageTable

__all__ = [
    "ENGINES",
    "EngineRun",
    "FastEngine",
    "ReferenceEngine",
    "ReplayEngine",
    "ReplayOptions",
    "engine_named",
    "replayed_pages",
]

#: A compiled segment: page-condition SQL and its parameters.
CompiledSegment = tuple[str, tuple[tuple[str, Any], ...]]


@dataclass(frozen=True)
class ReplayOptions:
    """What a replay is asked beyond the configuration: the draws' seed and the
    restrictions (checked and compiled by :mod:`~engage_lab.replay.restrictions`)."""

    seed: str | None = None
    time_range: tuple[int, int] | None = None
    sample: float | None = None
    segment: CompiledSegment | None = None


@dataclass(frozen=True)
class EngineRun:
    """What an engine hands back: everything engine-specific a replay result needs."""

    pages: Pages
    table: PageTable
    codes: CodedEvents
    events: Callable[[], pd.DataFrame]
    timeline: Timeline
    #: instants (ms) of the gated activations the draw turned down (``u >= p``), computed
    #: when asked (the look of a refusal tells it in live chat only)
    refused_at: Callable[[], np.ndarray]


class ReplayEngine(Protocol):
    """One replay engine (an adapter over the reference or the fast engine)."""

    name: str

    def run(
        self,
        con: duckdb.DuckDBPyConnection,
        config: Config | ConfigHistory,
        options: ReplayOptions,
    ) -> EngineRun:
        """Replay ``config`` over the history in ``con`` under ``options``."""
        ...


def replayed_pages(
    con: duckdb.DuckDBPyConnection, config: Config | ConfigHistory, options: ReplayOptions
) -> Pages:
    """The page views a replay of ``config`` under ``options`` runs (visits re-derived
    with the configuration's visit idle durations)."""
    key = PagesKey.of_plan(
        con,
        make_plan(config),
        time_range=options.time_range,
        sample=options.sample,
        seed=options.seed,
        segment=options.segment,
    )
    return build_pages(con, key)


class FastEngine:
    """DuckDB and a compiled sequential pass (:mod:`engage_lab.engine`)."""

    name = "fast"

    def run(
        self,
        con: duckdb.DuckDBPyConnection,
        config: Config | ConfigHistory,
        options: ReplayOptions,
    ) -> EngineRun:
        from engage_lab.engine import run_fast  # numba compiles on first use: load lazily

        run = run_fast(
            con,
            config,
            seed=options.seed,
            time_range=options.time_range,
            sample=options.sample,
            segment=options.segment,
        )
        steps = run.timeline
        return EngineRun(
            pages=run.pages,
            table=page_table(con, run.pages),
            codes=run.coded(),
            events=run.frame,
            timeline=Timeline(steps[0][1:], steps[1][1:], steps[2][1:], steps[3][1:]),
            refused_at=run.refused_at,
        )


class ReferenceEngine:
    """The literal, per-visitor Chat Manager (:mod:`engage_lab.reference`)."""

    name = "reference"

    def run(
        self,
        con: duckdb.DuckDBPyConnection,
        config: Config | ConfigHistory,
        options: ReplayOptions,
    ) -> EngineRun:
        from engage_lab.reference import History, replay_reference
        from engage_lab.reference.replay import with_config_visits

        pages = replayed_pages(con, config, options)
        table = page_table(con, pages)
        history = with_config_visits(History.from_connection(con), config)
        if options.segment is not None:
            # No native segment: the engine gets a history view without the other page
            # views, whose visits stay those of the whole history (as the pages frame
            # names them).
            history = _restrict_history(history, set(table.ids("page_view").tolist()))
        frame = replay_reference(
            history,
            config,
            seed=options.seed,
            time_range=options.time_range,
            visitors=options.sample,
            derive_visits=False,
        )
        codes, _ = CodedEvents.from_frames(frame, _id_frame(table), make_plan(config).trigger_ids)
        return EngineRun(
            pages=pages,
            table=table,
            codes=codes,
            events=lambda: frame,
            timeline=Timeline.from_frames(
                _read(con, "agents"), _read(con, "presence"), _read(con, "conversations")
            ),
            refused_at=lambda: refused_instants(frame),
        )


#: The engines by name, in the order an error lists them.
ENGINES: dict[str, ReplayEngine] = {e.name: e for e in (FastEngine(), ReferenceEngine())}


def page_table(con: duckdb.DuckDBPyConnection, pages: Pages) -> PageTable:
    """The page table of ``pages``, kept with them (its ids are fetched once)."""
    if "page_table" not in pages.memo:
        pages.memo["page_table"] = pages.page_table(con)
    return pages.memo["page_table"]


def engine_named(name: str) -> ReplayEngine:
    """The engine called ``name``.

    Raises
    ------
    EngineError
        No engine has that name (the message lists those that exist).
    """
    engine = ENGINES.get(name) if isinstance(name, str) else None
    if engine is None:
        raise EngineError(f"unknown engine {name!r}; use {' or '.join(ENGINES)}")
    return engine


def refused_instants(frame: pd.DataFrame) -> np.ndarray:
    """Instants (ms) of an events frame's gated activations that the draw turned down.

    >>> from engage_lab.events import EventRecord, events_to_frame
    >>> ev = events_to_frame([
    ...     EventRecord("v", "v1", "p1", 5, "trigger_activated", "configured", "t",
    ...                 mode="online", server_probability=0.5, draw=0.7),
    ...     EventRecord("v", "v1", "p1", 9, "trigger_activated", "configured", "t",
    ...                 mode="online", server_probability=0.5, draw=0.2)])
    >>> refused_instants(ev).tolist()
    [5]
    """
    act = frame["event"] == "trigger_activated"
    p = frame["server_probability"].astype("float64")
    u = frame["draw"].astype("float64")
    keep = (act & p.notna() & u.notna() & (u >= p)).to_numpy(dtype=bool)
    return to_ms_array(frame["event_at"][keep])


def _restrict_history(history: Any, keep: set[str]) -> Any:
    visitors = {}
    for visitor_id, visitor in history.visitors.items():
        kept = tuple(p for p in visitor.page_views if p.page_view_id in keep)
        if kept:
            visitors[visitor_id] = replace(visitor, page_views=kept)
    return replace(history, visitors=visitors)


def _id_frame(table: PageTable) -> pd.DataFrame:
    """The page table's ids as a frame (to code a reference frame against it)."""
    return pd.DataFrame(
        {
            "page_view_id": table.ids("page_view"),
            "visitor_id": table.ids("visitor")[table.visitor],
            "visit_id": table.ids("visit")[table.visit],
        }
    )


def _read(con: duckdb.DuckDBPyConnection, table: str) -> pd.DataFrame:
    query = exp.select("*").from_(exp.to_identifier(table, quoted=True))
    with translate_duckdb(DatabaseError, f"cannot read table {table}", first_line=True):
        return con.cursor().execute(query.sql("duckdb")).df()
