"""``run_fast`` / ``replay_fast``: SQL for the facts and conditions, one compiled pass.

Steps, each cached on the caller's connection so that a second replay only redoes what
its configuration changed (a moved duration threshold re-runs steps 5–6 alone):

1. page-view facts (:mod:`engage_lab.engine.pages`), per :class:`~.pages.PagesKey`;
2. candidates: the page-fixed part of the conditions (:mod:`engage_lab.engine.static`),
   per configuration structure and page-criteria values;
3. variable rows and expression rows (SQL, per compiled test and bound values);
4. engagements, open threads and the availability timeline (per facts / data);
5. the dynamic leaves (:mod:`engage_lab.engine.leaves`) and gating policies;
6. the pass (:mod:`engage_lab.engine.kernel`), then the outcome events.

The result is a :class:`~engage_lab.engine.output.FastRun`: coded event arrays with
everything needed to name them (:meth:`FastRun.frame` builds the events frame).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from engage_lab.availability.state import timeline_sql
from engage_lab.config import Config, ConfigHistory
from engage_lab.engine import engagements as eng_sql
from engage_lab.engine.expressions import expression_rows
from engage_lab.engine.kernel import run_pass, unpack
from engage_lab.engine.leaves import leaf_arrays
from engage_lab.engine.output import FastRun
from engage_lab.engine.pages import NEVER, Pages, PagesKey, build_pages, data_version, source_record
from engage_lab.engine.plan import Plan, make_plan
from engage_lab.engine.static import Candidates, candidates, candidates_key
from engage_lab.errors import EngineError

__all__ = ["replay_fast", "run_fast"]


@dataclass
class _Cache:
    """What one connection keeps between replays."""

    version: tuple[Any, ...] | None = None
    pages: dict[PagesKey, Pages] = field(default_factory=dict)
    candidates: dict[tuple[Any, ...], Candidates] = field(default_factory=dict)
    rows: dict[str, Any] = field(default_factory=dict)
    engagements: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    threads: dict[PagesKey, np.ndarray] = field(default_factory=dict)
    keys: dict[PagesKey, tuple[np.ndarray, ...]] = field(default_factory=dict)
    timeline: tuple[np.ndarray, ...] | None = None

    def reset(self, version: tuple[Any, ...]) -> None:
        self.__init__()  # type: ignore[misc]
        self.version = version


_CACHES: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, _Cache] = weakref.WeakKeyDictionary()


def _cache_of(con: duckdb.DuckDBPyConnection) -> _Cache:
    cache = _CACHES.get(con)
    if cache is None:
        cache = _CACHES[con] = _Cache()
    return cache


def _execute(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None):
    try:
        return con.execute(sql, params or {})
    except duckdb.Error as exc:
        raise EngineError(f"fast engine: query failed: {exc}") from exc


def _pages_key(
    plan: Plan,
    con: duckdb.DuckDBPyConnection,
    time_range: tuple[int, int] | None,
    sample: float | None,
    seed: str | None,
    segment: tuple[str, tuple[tuple[str, Any], ...]] | None,
) -> PagesKey:
    return PagesKey(
        idle_steps=tuple((e.effective_at, e.config.source.visit_idle_ms) for e in plan.entries),
        entry_starts=tuple(e.effective_at for e in plan.entries),
        time_range=time_range,
        sample=sample,
        sample_seed=seed if sample is not None else None,
        segment=segment,
        version=data_version(con),
    )


def _timeline(con: duckdb.DuckDBPyConnection, cache: _Cache) -> tuple[np.ndarray, ...]:
    """Availability steps from the logs, with a leading all-zero step at -inf."""
    if cache.timeline is None:
        query = (
            exp.select(
                exp.func("epoch_ms", exp.column("valid_from")).as_("t"),
                "capacity",
                "in_progress",
                "waiting",
            )
            .from_(timeline_sql().subquery("tl"))
            .order_by("t")
        )
        rows = _execute(con, query.sql("duckdb")).fetchnumpy()
        cache.timeline = tuple(
            np.concatenate([[v], rows[c].astype(np.int64)])
            for c, v in (("t", -NEVER), ("capacity", 0), ("in_progress", 0), ("waiting", 0))
        )
    return cache.timeline


def _page_keys(
    con: duckdb.DuckDBPyConnection, pages: Pages, cache: _Cache
) -> tuple[np.ndarray, ...]:
    """``visitor_id|page_view_id`` of every page view as one UTF-8 buffer with offsets."""
    key = pages.key
    if key not in cache.keys:
        visitors = pages.visitor_ids(con).take(pa.array(pages.visitor.astype(np.int64)))
        ids = pages.scan_page_view_ids(con).take(pa.array(pages.pos))
        joined = pc.binary_join_element_wise(visitors, ids, "|").cast(pa.large_string())
        joined = joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined
        offsets = np.frombuffer(joined.buffers()[1], np.int64)[
            joined.offset : joined.offset + len(joined) + 1
        ]
        data = np.frombuffer(joined.buffers()[2], np.uint8)
        cache.keys[key] = (data, offsets[:-1].copy(), offsets[1:].copy())
    return cache.keys[key]


def _slot_arrays(plan: Plan) -> dict[str, np.ndarray]:
    n = max(len(plan.slots), 1)
    width = max([len(s.program) for s in plan.slots] + [1])
    off_width = max([len(s.offline_items) for s in plan.slots] + [1])
    out: dict[str, Any] = {
        "gid": np.zeros(n, np.int64),
        "gated": np.zeros(n, np.bool_),
        "once": np.zeros(n, np.bool_),
        "no_other": np.zeros(n, np.bool_),
        "max_exec": np.full(n, -1, np.int64),
        "min_ms": np.full(n, -1, np.int64),
        "hides": np.zeros(n, np.bool_),
        "prog_code": np.zeros((n, width), np.int64),
        "prog_item": np.full((n, width), -1, np.int64),
        "prog_len": np.zeros(n, np.int64),
        "off_item": np.full((n, off_width), -1, np.int64),
        "off_len": np.zeros(n, np.int64),
    }
    chat_lo, chat_hi, chat_code, chat_back, chat_which, chat_r = [], [], [], [], [], []
    keys = b""
    key_lo, key_hi = [], []
    for j, slot in enumerate(plan.slots):
        tr = slot.trigger
        out["gid"][j] = slot.gid
        out["gated"][j] = tr.gated
        out["once"][j] = tr.once_per_visit
        out["no_other"][j] = tr.no_other_trigger_after
        ext = tr.extensions
        if ext is not None and ext.max_executions_per_visitor is not None:
            out["max_exec"][j] = ext.max_executions_per_visitor
        if ext is not None and ext.min_ms_between_executions is not None:
            out["min_ms"][j] = ext.min_ms_between_executions
        out["hides"][j] = slot.hides
        for a, (code, item) in enumerate(slot.program):
            out["prog_code"][j, a] = code
            out["prog_item"][j, a] = item
        out["prog_len"][j] = len(slot.program)
        for a, item in enumerate(slot.offline_items):
            out["off_item"][j, a] = item
        out["off_len"][j] = len(slot.offline_items)
        chat_lo.append(len(chat_code))
        for leaf in slot.leaves:
            if leaf.source != "chat":
                continue
            code, back_first, back_last = leaf.position
            from engage_lab.conditions.evaluator import test_value

            r = (
                (4 if test_value(leaf.node.test, True, "boolean") else 0)
                | (2 if test_value(leaf.node.test, False, "boolean") else 0)
                | (1 if type(leaf.node.test).not_found else 0)
            )
            chat_code.append(code)
            chat_back.append((back_first, back_last))
            chat_which.append(0 if leaf.criterion == "chat_shown" else 1)
            chat_r.append(r)
        chat_hi.append(len(chat_code))
        encoded = tr.id.encode("utf-8")
        key_lo.append(len(keys))
        keys += encoded
        key_hi.append(len(keys))
    out["chat_lo"] = np.array(chat_lo or [0], np.int64)
    out["chat_hi"] = np.array(chat_hi or [0], np.int64)
    out["chat_code"] = np.array(chat_code, np.int64)
    out["chat_back"] = np.array(chat_back, np.int64).reshape(-1, 2)
    out["chat_which"] = np.array(chat_which, np.int64)
    out["chat_r"] = np.array(chat_r, np.int64)
    out["key_data"] = np.frombuffer(keys, np.uint8).copy() if keys else np.zeros(1, np.uint8)
    out["key_lo"] = np.array(key_lo or [0], np.int64)
    out["key_hi"] = np.array(key_hi or [0], np.int64)
    return out


def _gating(plan: Plan, timeline: tuple[np.ndarray, ...]) -> np.ndarray:
    """``p[slot, step]``: each gated slot's probability at every availability step."""
    t, capacity, in_progress, waiting = timeline
    out = np.zeros((max(len(plan.slots), 1), len(t)), np.float64)
    for j, slot in enumerate(plan.slots):
        if slot.trigger.gated:
            out[j] = slot.config.policy(slot.trigger).probabilities(capacity, in_progress, waiting)
    return out


def run_fast(
    con: Any,
    config: Config | ConfigHistory,
    *,
    seed: str | int | None = None,
    time_range: tuple[int, int] | None = None,
    sample: float | None = None,
    segment: tuple[str, tuple[tuple[str, Any], ...]] | None = None,
) -> FastRun:
    """Replay with the fast engine; return the coded events (:class:`FastRun`).

    ``segment`` is a compiled page condition ``(sql, params)`` over the columns of
    ``page_views`` and the visitor's ``country``.
    """
    con = getattr(con, "con", con)
    plan = make_plan(config)
    cache = _cache_of(con)
    version = data_version(con)
    if cache.version != version:
        cache.reset(version)
    source = source_record(con)
    chosen_seed = str(seed) if seed is not None else source.get("seed")
    key = _pages_key(plan, con, time_range, sample, chosen_seed, segment)
    pages = cache.pages.get(key)
    if pages is None:
        cache.pages.clear()
        cache.candidates.clear()
        cache.rows.clear()
        cache.engagements.clear()
        pages = cache.pages[key] = build_pages(con, key)
    n_pages = len(pages)
    cand_key = (key, candidates_key(plan))
    cand = cache.candidates.get(cand_key)
    if cand is None:
        cand = cache.candidates[cand_key] = candidates(con, plan, pages)
    expr_rows = expression_rows(con, plan, pages, cand, cache.rows)
    leaves = leaf_arrays(con, plan, pages, expr_rows, cache.rows)
    slots = _slot_arrays(plan)
    live = plan.mode == "live_chat"
    delays = tuple(sorted({e.config.source.impossibility_delay_ms for e in plan.entries}, key=str))
    eng_key = (key, live, delays)
    eng = cache.engagements.get(eng_key)
    if eng is None:
        eng = cache.engagements[eng_key] = eng_sql.engagements(con, live, delays)
    open_thread = np.zeros(n_pages, np.bool_)
    if plan.mode == "messaging":
        if key not in cache.threads:
            cache.threads[key] = eng_sql.open_threads(con, n_pages)
        open_thread = cache.threads[key]
    timeline = _timeline(con, cache)
    if plan.any_gated:
        if chosen_seed is None:
            raise EngineError("a gated trigger needs a seed: the history has none; pass seed=")
        key_data, key_lo, key_hi = _page_keys(con, pages, cache)
        seed_bytes = np.frombuffer(str(chosen_seed).encode("utf-8"), np.uint8).copy()
    else:
        key_data = np.zeros(1, np.uint8)
        key_lo = key_hi = np.zeros(n_pages, np.int64)
        seed_bytes = np.zeros(0, np.uint8)
    steps_p = _gating(plan, timeline)
    eng_lo, eng_hi = eng.ranges(pages.visitor.astype(np.int64))
    entry_embedded = np.array(
        [e.config.source.display == "embedded" and plan.mode == "messaging" for e in plan.entries],
        np.bool_,
    )
    entry_delay = np.array(
        [delays.index(e.config.source.impossibility_delay_ms) for e in plan.entries], np.int64
    )
    entry_of = np.array([s.entry for s in plan.slots], np.int64)
    entry_lo = np.searchsorted(entry_of, np.arange(len(plan.entries)), side="left")
    entry_hi = np.searchsorted(entry_of, np.arange(len(plan.entries)), side="right")
    is_button = np.array([k == "button" for _, k in plan.items] + [False], np.bool_)
    page_tuple = (
        pages.visitor.astype(np.int64), pages.visit.astype(np.int64), pages.start, pages.limit,
        pages.visit_start, pages.idx.astype(np.int64), pages.active, pages.embedded,
        pages.carries, pages.entry.astype(np.int64), open_thread, pages.id_at, pages.signed_at,
    )  # fmt: skip
    slot_tuple = (
        slots["gid"], leaves.slot_lo, leaves.slot_hi, cand.lo, cand.hi, cand.pvi, cand.act,
        cand.fixed_missing, slots["chat_lo"], slots["chat_hi"], slots["chat_code"],
        slots["chat_back"], slots["chat_which"], slots["chat_r"], slots["gated"], slots["once"],
        slots["no_other"], slots["max_exec"], slots["min_ms"], slots["hides"], slots["prog_code"],
        slots["prog_item"], slots["prog_len"], slots["off_item"], slots["off_len"], is_button,
        slots["key_data"], slots["key_lo"], slots["key_hi"],
    )  # fmt: skip
    entry_tuple = (
        entry_lo.astype(np.int64),
        entry_hi.astype(np.int64),
        entry_embedded,
        entry_delay,
    )
    gating = (seed_bytes, key_data, key_lo, key_hi, timeline[0], steps_p)
    eng_tuple = (eng_lo, eng_hi, eng.e, eng.stop)
    bounds = (
        leaves.max_breakpoints, max(len(plan.trigger_ids), 1), len(plan.items),
        plan.mode == "messaging",
    )  # fmt: skip
    capacity = 3 * n_pages + 4 * len(cand.pvi) + 2 * len(eng.e) + 16
    args = (page_tuple, leaves.kernel_tuple(), slot_tuple, entry_tuple, gating, eng_tuple, bounds)
    result = run_pass(*args, capacity)
    if result[0] > capacity:
        result = run_pass(*args, int(result[0]))
    n, buf_i, buf_f, honoured, honoured_pvi, variant = result
    ev, stage, slot, item, mode = unpack(buf_i[:n, 2])
    events = [buf_i[:n, 0], buf_i[:n, 1], ev, stage, slot, item, mode, buf_f[:n, 0], buf_f[:n, 1]]
    outcomes = None
    if honoured.any():
        outcomes = eng_sql.outcome_rows(
            con, pages, eng, np.where(honoured, honoured_pvi, -1), variant
        )
    return FastRun(
        plan=plan, pages=pages, events=events, outcomes=outcomes, con=con, timeline=timeline
    )


def replay_fast(
    con: Any,
    config: Config | ConfigHistory,
    *,
    seed: str | int | None = None,
    time_range: tuple[Any, Any] | None = None,
    sample: float | None = None,
) -> Any:
    """Replay a configuration over the history in ``con`` with the fast engine.

    The same events as :func:`engage_lab.reference.replay_reference` with the log-based
    availability and the recorded engagements (docs/semantics.md), computed with SQL over
    DuckDB and one compiled pass.

    Parameters
    ----------
    con
        A DuckDB connection of an engage_lab database, or a :class:`~engage_lab.lab.Lab`.
    config
        The configuration or configuration history.
    seed
        Seed of the gating draws (default: the ``source`` record's seed).
    time_range
        ``(start, end)``: only page views starting in ``[start, end)``.
    sample
        A fraction of visitors (stable hash sample, :func:`engage_lab.draws.in_sample`).

    Returns
    -------
    pandas.DataFrame
        The events in the :mod:`engage_lab.events` schema and canonical order.

    Examples
    --------
    >>> import engage_lab as el, tempfile, pathlib
    >>> lab = el.open(pathlib.Path(tempfile.mkdtemp()) / "x.duckdb")
    >>> _ = lab.load("data/sample")
    >>> cfg = el.Config.load("data/configs/production-live-chat.json")
    >>> events = replay_fast(lab, cfg)
    >>> list(events.columns)[:4]
    ['visitor_id', 'visit_id', 'page_view_id', 'event_at']
    >>> lab.close()
    """
    from engage_lab.availability.state import to_ms

    window = None if time_range is None else (to_ms(time_range[0]), to_ms(time_range[1]))
    return run_fast(con, config, seed=seed, time_range=window, sample=sample).frame()
