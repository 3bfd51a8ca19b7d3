""":func:`replay`: one entry point over both engines, with restrictions, KPIs, fidelity.

The engine is picked by name from :data:`~engage_lab.replay.engines.ENGINES` and called
through its one interface (:class:`~engage_lab.replay.engines.ReplayEngine`); what
follows the engine (fidelity, KPIs, the result) is the same for every engine.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from engage_lab import tiers
from engage_lab.availability.state import NEVER, Timeline
from engage_lab.config import Config, ConfigHistory, load_any
from engage_lab.engine.memory import ordinary_pages
from engage_lab.engine.pages import Pages, source_record
from engage_lab.errors import DatabaseError, EngineError, translate_duckdb
from engage_lab.kpis import (
    CodedEvents,
    PageTable,
    compare_codes,
    conversation_stats,
    kpis_from_codes,
)
from engage_lab.kpis.core import history_kpis
from engage_lab.replay.engines import ENGINES, ReplayOptions, engine_named, replayed_pages
from engage_lab.replay.recorded import has_recorded_events, recorded_codes, recorded_sums
from engage_lab.replay.restrictions import (
    check_fraction,
    check_segment,
    check_time_range,
    segment_sql,
)
from engage_lab.replay.result import ReplayResult, iso

__all__ = ["ENGINES", "replay", "replayed_page_views"]

#: web chats of the replayed page views (scan positions of their page views)
_CONVERSATIONS_SQL = """
SELECT p.pos, epoch_ms(c.queued_at) AS q, epoch_ms(c.started_at) AS st,
       coalesce(c.outcome = 'unserved', false) AS unserved
FROM conversations c
JOIN (SELECT row_number() OVER () - 1 AS pos, page_view_id FROM page_views) p
  USING (page_view_id)
WHERE c.channel = 'web_chat'
"""


@ordinary_pages()
def replay(
    lab_or_con: Any,
    config: Config | ConfigHistory | str | os.PathLike[str],
    *,
    engine: str = "fast",
    seed: str | int | None = None,
    time_range: tuple[Any, Any] | None = None,
    sample: float | None = None,
    segment: Mapping[str, Any] | str | None = None,
    mismatches: int = 20,
) -> ReplayResult:
    """Replay a configuration over a recorded history; return events, KPIs and fidelity.

    Parameters
    ----------
    lab_or_con
        A :class:`~engage_lab.lab.Lab` or a DuckDB connection of an engage_lab database.
    config
        A :class:`~engage_lab.config.Config`, a :class:`~engage_lab.config.ConfigHistory`
        or the path of a JSON file holding either.
    engine
        The name of an engine of :data:`~engage_lab.replay.engines.ENGINES`: ``"fast"``
        (DuckDB + a compiled pass) or ``"reference"`` (the literal Chat Manager).
    seed
        Seed of the gating draws (default: the history's ``source`` seed).
    time_range, sample, segment
        Restrictions (:mod:`engage_lab.replay.restrictions`). ``segment`` is a condition
        dict or its JSON text.
    mismatches
        How many mismatching page views :attr:`ReplayResult.mismatches` shows.

    Raises
    ------
    ConfigError
        The configuration file is invalid.
    ConditionError
        The segment is malformed or reads an attribute segments do not offer.
    EngineError
        Unknown engine, bad restriction, or the engine failed.

    Examples
    --------
    >>> import tempfile, pathlib, engage_lab as el
    >>> lab = el.open(pathlib.Path(tempfile.mkdtemp()) / "doc.duckdb")
    >>> replay(lab, "data/configs/production-live-chat.json", engine="warp")
    Traceback (most recent call last):
    ...
    engage_lab.errors.EngineError: unknown engine 'warp'; use fast or reference
    >>> lab.close()
    """
    runner = engine_named(engine)
    cfg, label = _config_of(config)
    con = _connection(lab_or_con)
    started = time.perf_counter()
    chosen_seed = str(seed) if seed is not None else _source_seed(con)
    if chosen_seed is not None and not chosen_seed.isascii():
        try:  # DuckDB takes only UTF-8; a surrogate (a non-UTF-8 argument) fails deep inside
            chosen_seed.encode("utf-8")
        except UnicodeEncodeError:
            raise EngineError(f"the seed is not UTF-8 text: {chosen_seed!r}") from None
    window = check_time_range(time_range)
    fraction = check_fraction(sample)
    seg = check_segment(segment)
    compiled = None if seg is None else segment_sql(seg)
    # a small history runs the kernels' Python source when they are not compiled yet
    with tiers.running(_page_view_count(con)):
        run = runner.run(con, cfg, ReplayOptions(chosen_seed, window, fraction, compiled))
        pages, table, codes, timeline = run.pages, run.table, run.codes, run.timeline
        events = run.events
        comparison = recorded = None
        if has_recorded_events(con, pages):
            rec = recorded_codes(con, pages, codes.trigger_ids, codes.item_ids)
            replayed = _aligned(codes, rec)
            comparison = compare_codes(
                replayed, rec, table, recorded_sums=recorded_sums(pages, rec)
            )
            codes = replayed

            def recorded() -> pd.DataFrame:
                return rec.frame(table)

        timezone = _timezone(cfg)
        kpis = kpis_from_codes(
            codes,
            table,
            timezone=timezone,
            history=_history_kpis(con, pages, table, timeline),
            # in messaging a refusal has the online look: read the draws
            refused_at=run.refused_at() if cfg.mode == "messaging" else None,
            fidelity=None if comparison is None else comparison.fidelity,
        )
        restrictions = {
            "time_range": None if window is None else [iso(window[0]), iso(window[1])],
            "sample": fraction,
            "segment": seg,
        }
        return ReplayResult(
            config=cfg,
            config_label=label,
            engine=engine,
            seed=chosen_seed,
            restrictions=restrictions,
            kpis=kpis,
            codes=codes,
            page_table=table,
            events=events,
            pages=lambda: pages.frame(con),
            recorded=recorded,
            comparison=comparison,
            timezone=timezone,
            timeline=timeline,
            mismatch_rows=mismatches,
            elapsed_s=time.perf_counter() - started,
        )


# ------------------------------------------------------------------ inputs


def _config_of(config: Any) -> tuple[Config | ConfigHistory, str]:
    if isinstance(config, Config | ConfigHistory):
        what = "configuration history" if isinstance(config, ConfigHistory) else "configuration"
        return config, f"<{what} {hashlib.sha256(config.to_json().encode()).hexdigest()[:12]}>"
    if isinstance(config, str | os.PathLike):
        return load_any(config), os.fspath(config)
    raise EngineError(f"config must be a Config, a ConfigHistory or a file path, not {config!r}")


def _connection(lab_or_con: Any) -> duckdb.DuckDBPyConnection:
    con = getattr(lab_or_con, "con", lab_or_con)
    if not isinstance(con, duckdb.DuckDBPyConnection):
        raise EngineError(f"replay needs a Lab or a DuckDB connection, not {lab_or_con!r}")
    return con


def _page_view_count(con: duckdb.DuckDBPyConnection) -> int:
    """The page views recorded (0 when there is no such table: the replay says why)."""
    (tables,) = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = 'page_views'"
    ).fetchone()
    if not tables:
        return 0
    return int(con.execute("SELECT count(*) FROM page_views").fetchone()[0])


def _source_seed(con: duckdb.DuckDBPyConnection) -> str | None:
    seed = source_record(con).get("seed")
    return None if seed is None else str(seed)


def _timezone(config: Config | ConfigHistory) -> str:
    last = config if isinstance(config, Config) else config.history[-1].config
    return last.source.timezone


# ------------------------------------------------------------------ replayed page views


def replayed_page_views(
    con: duckdb.DuckDBPyConnection,
    config: Config | ConfigHistory,
    *,
    seed: str | None = None,
    time_range: tuple[int, int] | None = None,
    sample: float | None = None,
    segment: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """The page views a restricted replay runs, with their visits under ``config``.

    Columns: ``page_view_id, visitor_id, visit_id`` (re-derived when the configuration's
    visit idle duration differs from the loaded one), ``started_at, ended_at``
    (``datetime64[ms, UTC]``, effective end), ``path`` and ``embedded``; sorted by
    visitor, start and id.
    """
    con = _connection(con)
    compiled = None if segment is None else segment_sql(check_segment(segment) or {})
    options = ReplayOptions(seed, check_time_range(time_range), check_fraction(sample), compiled)
    return replayed_pages(con, config, options).frame(con)


# ------------------------------------------------------------------ after the engine


def _history_kpis(
    con: duckdb.DuckDBPyConnection, pages: Pages, table: PageTable, timeline: Timeline
) -> dict[str, Any]:
    """Occupancy and conversation KPIs of the replayed page views (kept with them: they
    read the logs, not the configuration)."""
    if "history_kpis" not in pages.memo:
        pages.memo["history_kpis"] = history_kpis(
            table, timeline=timeline, conversations=_conversations(con, pages)
        )
    return pages.memo["history_kpis"]


def _conversations(con: duckdb.DuckDBPyConnection, pages: Pages) -> dict[str, Any]:
    with translate_duckdb(DatabaseError, "cannot read table conversations"):
        rows = con.execute(_CONVERSATIONS_SQL).fetchnumpy()
    scan_pvi = np.full(pages.n_scan, -1, np.int64)
    scan_pvi[pages.pos] = np.arange(len(pages), dtype=np.int64)
    keep = scan_pvi[rows["pos"].astype(np.int64)] >= 0 if len(rows["pos"]) else np.zeros(0, bool)

    def ms(column: str) -> np.ndarray:
        values = rows[column]
        missing = np.ma.getmaskarray(values)
        return np.where(missing, NEVER, np.ma.getdata(values)).astype(np.int64)[keep]

    return conversation_stats(ms("q"), ms("st"), rows["unserved"].astype(bool)[keep])


def _aligned(codes: CodedEvents, rec: CodedEvents) -> CodedEvents:
    """The replay's codes in the recording's trigger / item vocabularies (which extend
    the replay's)."""
    assert rec.trigger_ids[: len(codes.trigger_ids)] == codes.trigger_ids
    assert rec.item_ids[: len(codes.item_ids)] == codes.item_ids
    return replace(codes, trigger_ids=rec.trigger_ids, item_ids=rec.item_ids)
