"""``replay_fast``: SQL for the facts and conditions, one compiled pass for the order.

Steps (each intermediate table is a DuckDB temporary table on the caller's connection):

1. page-view facts (:mod:`engage_lab.engine.facts`), cached per facts key;
2. candidate instants and condition masks (:mod:`engage_lab.engine.instants`), cached per
   configuration structure and bound thresholds;
3. the server's probability at each mask row of a gated trigger (the availability
   timeline from :func:`engage_lab.availability.state.timeline_sql`, looked up with a
   binary search, then the trigger's policy) and the draws ``u`` (:func:`engage_lab.draws.
   draw_sql`, per page view and gated trigger);
4. engagements and threads (:mod:`engage_lab.engine.engagements`);
5. the sequential pass (:mod:`engage_lab.engine.sequential`);
6. the events frame (:mod:`engage_lab.events` schema and canonical order).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from sqlglot import exp

from engage_lab.availability.state import timeline_sql
from engage_lab.config import Config, ConfigHistory
from engage_lab.draws import draw_sql
from engage_lab.engine import engagements as eng_sql
from engage_lab.engine.facts import FactsKey, build_facts, data_version, source_record
from engage_lab.engine.instants import condition_query, instants_sql, past_lists_sql
from engage_lab.engine.plan import Plan, UnsupportedByFastEngineError, make_plan
from engage_lab.engine.sequential import EVENT_NAMES, STAGE_NAMES, run_pass
from engage_lab.errors import EngineError
from engage_lab.events import EVENT_COLUMNS, EVENT_RANK

__all__ = ["replay_fast"]

_NEVER = 9_000_000_000_000_000


@dataclass
class _Cache:
    """What one connection keeps between replays."""

    facts: FactsKey | None = None
    masks: tuple[Any, ...] | None = None
    timeline: tuple[np.ndarray, ...] | None = None
    timeline_version: tuple[Any, ...] | None = None
    pages: dict[str, Any] = field(default_factory=dict)
    pages_key: tuple[Any, ...] | None = None


#: per connection (weakly held: a closed, dropped connection takes its cache with it)
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


def _mask_params(plan: Plan, cq_params: dict[str, Any], sql: str) -> dict[str, Any]:
    params = dict(cq_params)
    if "$tz" in sql:
        params["tz"] = plan.config.source.timezone
    return params


def _instant_params(plan: Plan) -> dict[str, Any]:
    page = sorted({d for t in plan.triggers for d in t.page_offsets})
    visit = sorted({d for t in plan.triggers for d in t.visit_offsets})
    steps = [t.clock_step for t in plan.triggers if t.clock_step]
    return {"page_offsets": page, "visit_offsets": visit, "step": min(steps) if steps else 0}


def _build_masks(con: duckdb.DuckDBPyConnection, plan: Plan, cache: _Cache) -> None:
    # the same configuration over the same facts: the masks are already there
    key = (cache.facts, plan.config.to_json())
    if cache.masks == key:
        return
    inst = _instant_params(plan)
    cq = condition_query(plan)
    params = _mask_params(plan, cq.params, cq.sql)
    _execute(con, instants_sql(), inst)
    past = past_lists_sql(plan)
    if past is not None:
        params_past = {
            f"var_{c}": c for c, (_, p) in plan.criteria.items() if p and c.startswith("custom_")
        }
        if "$tz" in past:
            params_past["tz"] = plan.config.source.timezone
        _execute(con, past, params_past)
    _execute(con, cq.sql, params)
    cache.masks = key


def _timeline(con: duckdb.DuckDBPyConnection, cache: _Cache) -> tuple[np.ndarray, ...]:
    version = cache.facts.version if cache.facts else None
    if cache.timeline is None or cache.timeline_version != version:
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
        frame = _execute(con, query.sql("duckdb")).df()
        cache.timeline = tuple(
            frame[c].to_numpy(dtype=np.int64) for c in ("t", "capacity", "in_progress", "waiting")
        )
        cache.timeline_version = version
    return cache.timeline


def _pages(con: duckdb.DuckDBPyConnection, plan: Plan, cache: _Cache) -> dict[str, Any]:
    """Page arrays (cached per facts key and the fixed items / mode they depend on)."""
    fixed = [list(t.fixed_items) for t in plan.triggers]
    key = (cache.facts, repr(fixed), plan.config.source.mode)
    if cache.pages_key == key:
        return cache.pages
    missing: exp.Expression = exp.Literal.number(0)
    params: dict[str, Any] = {}
    for j, items in enumerate(fixed):
        if not items:
            continue
        params[f"fixed{j}"] = items
        has_all = exp.func(
            "list_has_all",
            exp.column("placeholders"),
            exp.cast(exp.Placeholder(this=f"fixed{j}"), "VARCHAR[]"),
        )
        missing = exp.Add(
            this=missing,
            expression=exp.Case(
                ifs=[exp.If(this=exp.Not(this=has_all), true=exp.Literal.number(1 << j))],
                default=exp.Literal.number(0),
            ),
        )
    query = (
        exp.select(
            "pvi",
            "page_view_id",
            "visitor_id",
            "visit_id",
            "vseq",
            "s",
            "lim",
            "active",
            "embedded",
            "carries",
            exp.cast(missing, "BIGINT").as_("fixed_missing"),
        )
        .from_("_el_pv")
        .order_by("pvi")
    )
    frame = _execute(con, query.sql("duckdb"), params).df()
    visitor_codes = pd.factorize(frame["visitor_id"])[0].astype(np.int64)
    visit_codes = pd.factorize(frame["visitor_id"] + "\x00" + frame["visit_id"])[0].astype(np.int64)
    open_thread = np.zeros(len(frame), np.bool_)
    if plan.config.source.mode == "messaging":
        rows = _execute(con, eng_sql.OPEN_THREADS_SQL).df()
        open_thread[rows["pvi"].to_numpy(dtype=np.int64)] = True
    cache.pages = {
        "frame": frame,
        "visitor": visitor_codes,
        "visit": visit_codes,
        "start": frame["s"].to_numpy(dtype=np.int64),
        "limit": frame["lim"].to_numpy(dtype=np.int64),
        "active": frame["active"].to_numpy(dtype=np.bool_),
        "embedded": frame["embedded"].to_numpy(dtype=np.bool_),
        "carries": frame["carries"].fillna(False).to_numpy(dtype=np.bool_),
        "fixed_missing": frame["fixed_missing"].to_numpy(dtype=np.int64),
        "open_thread": open_thread,
    }
    cache.pages_key = key
    return cache.pages


def _row_arrays(
    con: duckdb.DuckDBPyConnection, plan: Plan, cache: _Cache, n_pages: int, seed: str | None
) -> dict[str, np.ndarray]:
    n_trig = len(plan.triggers)
    masks = [exp.column(f"m{k}") for k in range(n_trig)]
    frame = _execute(
        con, exp.select("pvi", "t", *masks).from_("_el_masks").order_by("pvi", "t").sql("duckdb")
    ).df()
    pvi = frame["pvi"].to_numpy(dtype=np.int64)
    t = frame["t"].to_numpy(dtype=np.int64)
    mask = np.zeros((len(frame), max(n_trig, 1)), np.int64)
    for k in range(n_trig):
        mask[:, k] = frame[f"m{k}"].to_numpy(dtype=np.int64)
    row_start = np.searchsorted(pvi, np.arange(n_pages), side="left").astype(np.int64)
    row_end = np.searchsorted(pvi, np.arange(n_pages), side="right").astype(np.int64)
    p = np.full(mask.shape, np.nan)
    u = np.full(mask.shape, np.nan)
    gated = [k for k, tp in enumerate(plan.triggers) if tp.trigger.gated]
    if gated:
        if seed is None:
            raise EngineError("a gated trigger needs a seed: the history has none; pass seed=")
        valid_from, capacity, in_progress, waiting = _timeline(con, cache)
        idx = np.searchsorted(valid_from, t, side="right") - 1
        found = idx >= 0
        safe = np.where(found, idx, 0)

        def at(values: np.ndarray) -> np.ndarray:
            if len(values) == 0:
                return np.zeros(len(t), np.int64)
            return np.where(found, values[safe], 0).astype(np.int64)

        cap, busy, wait = at(capacity), at(in_progress), at(waiting)
        draws = [
            draw_sql(
                exp.Placeholder(this="seed"),
                exp.column("visitor_id"),
                exp.column("page_view_id"),
                plan.triggers[k].id,
            ).as_(f"u{k}")
            for k in gated
        ]
        pages_with_rows = (
            exp.select("pvi", *draws)
            .from_("_el_pv")
            .where(exp.column("pvi").isin(exp.select("pvi").from_("_el_masks")))
            .order_by("pvi")
        )
        uframe = _execute(con, pages_with_rows.sql("duckdb"), {"seed": str(seed)}).df()
        upvi = uframe["pvi"].to_numpy(dtype=np.int64)
        pos = np.searchsorted(upvi, pvi)
        for k in gated:
            tp = plan.triggers[k]
            policy = plan.config.policy(tp.trigger)
            p[:, k] = policy.probabilities(cap, busy, wait)
            u[:, k] = uframe[f"u{k}"].to_numpy(dtype=np.float64)[pos]
    return {
        "row_start": row_start,
        "row_end": row_end,
        "row_t": t,
        "row_mask": mask,
        "row_p": p,
        "row_u": u,
    }


def _trigger_arrays(plan: Plan) -> dict[str, np.ndarray]:
    n = max(len(plan.triggers), 1)
    width = max([len(t.program) for t in plan.triggers] + [1])
    off_width = max([len(t.offline_items) for t in plan.triggers] + [1])
    out = {
        "gated": np.zeros(n, np.bool_),
        "once": np.zeros(n, np.bool_),
        "no_other": np.zeros(n, np.bool_),
        "max_exec": np.full(n, -1, np.int64),
        "hides": np.zeros(n, np.bool_),
        "prog_code": np.zeros((n, width), np.int64),
        "prog_item": np.full((n, width), -1, np.int64),
        "prog_len": np.zeros(n, np.int64),
        "off_item": np.full((n, off_width), -1, np.int64),
        "off_len": np.zeros(n, np.int64),
    }
    for j, tp in enumerate(plan.triggers):
        tr = tp.trigger
        out["gated"][j] = tr.gated
        out["once"][j] = tr.once_per_visit
        out["no_other"][j] = tr.no_other_trigger_after
        if tr.extensions is not None and tr.extensions.max_executions_per_visitor is not None:
            out["max_exec"][j] = tr.extensions.max_executions_per_visitor
        out["hides"][j] = tp.hides
        for a, (code, item) in enumerate(tp.program):
            out["prog_code"][j, a] = code
            out["prog_item"][j, a] = item
        out["prog_len"][j] = len(tp.program)
        for a, item in enumerate(tp.offline_items):
            out["off_item"][j, a] = item
        out["off_len"][j] = len(tp.offline_items)
    return out


def _engagement_arrays(
    con: duckdb.DuckDBPyConnection, plan: Plan, pages: dict[str, Any]
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    src = plan.config.source
    delay = src.impossibility_delay_ms
    frame = _execute(
        con,
        eng_sql.ENGAGEMENTS_SQL + "",
        {"live": src.mode == "live_chat", "delay": delay},
    )
    eng = _execute(con, "SELECT * FROM _el_eng ORDER BY first_pvi, e").df()
    del frame
    n_pages = len(pages["start"])
    visitor = pages["visitor"]
    first = eng["first_pvi"].to_numpy(dtype=np.int64)
    vcode = visitor[first] if len(first) else np.zeros(0, np.int64)
    # per page: the range of its visitor's engagements
    starts = np.searchsorted(vcode, visitor, side="left").astype(np.int64)
    ends = np.searchsorted(vcode, visitor, side="right").astype(np.int64)
    stop = eng["stop"].astype("Float64").fillna(_NEVER).to_numpy(dtype=np.float64).astype(np.int64)
    del n_pages
    return eng, {
        "eng_start": starts,
        "eng_end": ends,
        "eng_t": eng["e"].to_numpy(dtype=np.int64),
        "eng_stop": stop,
    }


def replay_fast(
    con: Any,
    config: Config | ConfigHistory,
    *,
    seed: str | int | None = None,
    time_range: tuple[Any, Any] | None = None,
    sample: float | None = None,
) -> pd.DataFrame:
    """Replay a configuration over the history in ``con`` with the fast engine.

    The same events as :func:`engage_lab.reference.replay_reference` with the log-based
    availability and the recorded engagements (docs/semantics.md), computed with SQL over
    DuckDB and one compiled sequential pass.

    Parameters
    ----------
    con
        A DuckDB connection of an engage_lab database, or a :class:`~engage_lab.lab.Lab`.
    config
        The configuration (a :class:`~engage_lab.config.ConfigHistory` of one entry whose
        configuration applies to the whole history is accepted too).
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

    Raises
    ------
    UnsupportedByFastEngineError
        For the few features the fast engine does not replay (see :func:`make_plan`).
    EngineError
        When the history cannot be read.

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
    con = getattr(con, "con", con)
    if isinstance(config, ConfigHistory):
        if len(config.history) != 1:
            raise UnsupportedByFastEngineError(
                "the fast engine replays one configuration; use the reference engine for a "
                "configuration history with edits"
            )
        config = config.history[0].config
    plan = make_plan(config)
    cache = _cache_of(con)
    source = source_record(con)
    chosen_seed = str(seed) if seed is not None else source.get("seed")
    key = FactsKey(
        visit_idle_ms=config.source.visit_idle_ms,
        time_range=None if time_range is None else (time_range[0], time_range[1]),
        sample=sample,
        sample_seed=chosen_seed,
        version=data_version(con),
    )
    if cache.facts != key:
        build_facts(
            con,
            visit_idle_ms=key.visit_idle_ms,
            time_range=time_range,
            sample=sample,
            sample_seed=chosen_seed,
        )
        cache.facts = key
        cache.masks = None
        cache.pages_key = None
    pages = _pages(con, plan, cache)
    n_pages = len(pages["start"])
    display_embedded = config.source.display == "embedded" and config.source.mode == "messaging"
    if display_embedded or not plan.triggers:
        rows = {
            "row_start": np.zeros(n_pages, np.int64),
            "row_end": np.zeros(n_pages, np.int64),
            "row_t": np.zeros(0, np.int64),
            "row_mask": np.zeros((0, max(len(plan.triggers), 1)), np.int64),
            "row_p": np.zeros((0, max(len(plan.triggers), 1))),
            "row_u": np.zeros((0, max(len(plan.triggers), 1))),
        }
    else:
        _build_masks(con, plan, cache)
        rows = _row_arrays(con, plan, cache, n_pages, chosen_seed)
    eng, eng_arrays = _engagement_arrays(con, plan, pages)
    trig = _trigger_arrays(plan)
    is_button = np.array([kind == "button" for _, kind in plan.items] + [False], np.bool_)
    args = (
        pages["visitor"], pages["visit"], pages["start"], pages["limit"], pages["active"],
        pages["embedded"], pages["carries"], pages["open_thread"], pages["fixed_missing"],
        rows["row_start"], rows["row_end"], rows["row_t"], rows["row_mask"], rows["row_p"],
        rows["row_u"],
        eng_arrays["eng_start"], eng_arrays["eng_end"], eng_arrays["eng_t"],
        eng_arrays["eng_stop"],
        trig["gated"], trig["once"], trig["no_other"], trig["max_exec"], trig["hides"],
        trig["prog_code"], trig["prog_item"], trig["prog_len"], trig["off_item"],
        trig["off_len"], is_button, display_embedded, config.source.mode == "messaging",
    )  # fmt: skip
    capacity = 4 * len(rows["row_t"]) + 2 * n_pages + 2 * len(eng_arrays["eng_t"]) + 16
    result = run_pass(*args, capacity)
    if result[0] > capacity:
        result = run_pass(*args, int(result[0]))
    n = int(result[0])
    columns = [a[:n] for a in result[1:10]]
    honoured = result[10]
    if honoured.any():
        extra = _outcomes(con, eng, honoured, result[11])
        columns = [np.concatenate([a, b]) for a, b in zip(columns, extra, strict=True)]
    return _events_frame(plan, pages, columns)


_ALL_EVENTS = (*EVENT_NAMES, "message_sent", "message_received", "chat_closed")
_ENGAGEMENT_STAGE = STAGE_NAMES.index("engagement")


def _vocabulary(values: list[Any]) -> Any:
    """A string array to ``take`` codes from (``-1``: null)."""
    return pd.array(values, dtype="str")


def _events_frame(plan: Plan, pages: dict[str, Any], columns: list[np.ndarray]) -> pd.DataFrame:
    """The events in canonical order (:func:`engage_lab.events.sort_events`'s keys, sorted on
    integer ranks: visitor, instant, page view id, stage, trigger list position, event,
    item id) with the schema's dtypes."""
    out_t, out_pvi, out_ev, out_stage, out_trig, out_item, out_mode, out_p, out_u = columns
    frame = pages["frame"]
    trig = out_trig.astype(np.int64)
    item = out_item.astype(np.int64)
    ev = out_ev.astype(np.int64)
    event_rank = np.array([EVENT_RANK[e] for e in _ALL_EVENTS], np.int64)[ev]
    list_rank = np.array([t.rank for t in plan.triggers] + [-1], np.int64)
    item_order = np.argsort(np.array([i for i, _ in plan.items] + [""], dtype=object))
    item_rank = np.empty(len(item_order), np.int64)
    item_rank[item_order] = np.arange(len(item_order))
    if "page_rank" not in pages:
        ids = frame["page_view_id"].to_numpy(dtype=object)
        page_rank = np.empty(len(ids), np.int64)
        page_rank[np.argsort(ids, kind="stable")] = np.arange(len(ids))
        pages["page_rank"] = page_rank
    order = np.lexsort(
        (
            item_rank[item],
            item >= 0,
            event_rank,
            list_rank[trig],
            out_stage,
            pages["page_rank"][out_pvi],
            out_t,
            pages["visitor"][out_pvi],
        )
    )
    pvi = out_pvi[order]
    data: dict[str, Any] = {
        name: pd.Series(frame[name].array.take(pvi)).astype("str")
        for name in ("visitor_id", "visit_id", "page_view_id")
    }
    data["event_at"] = pd.Series(
        pd.to_datetime(out_t[order], unit="ms", utc=True).astype("datetime64[ms, UTC]")
    )
    data["event"] = _vocabulary(list(_ALL_EVENTS)).take(ev[order])
    data["stage"] = _vocabulary(list(STAGE_NAMES)).take(out_stage.astype(np.int64)[order])
    data["trigger_id"] = _vocabulary([t.id for t in plan.triggers]).take(
        trig[order], allow_fill=True
    )
    data["item_id"] = _vocabulary([i for i, _ in plan.items]).take(item[order], allow_fill=True)
    data["item_type"] = _vocabulary([k for _, k in plan.items]).take(item[order], allow_fill=True)
    modes = np.where(out_mode == 0, -1, out_mode.astype(np.int64) - 1)
    data["mode"] = _vocabulary(["online", "offline"]).take(modes[order], allow_fill=True)
    data["server_probability"] = out_p[order].astype("float64")
    data["draw"] = out_u[order].astype("float64")
    return pd.DataFrame({name: data[name] for name in EVENT_COLUMNS})


def _outcomes(
    con: duckdb.DuckDBPyConnection,
    eng: pd.DataFrame,
    honoured: np.ndarray,
    honoured_pvi: np.ndarray,
) -> list[np.ndarray]:
    """The outcome events of the honoured engagements, as event arrays."""
    chosen = pd.DataFrame(
        {
            "visitor_id": eng["visitor_id"].to_numpy(dtype=object)[honoured],
            "e": eng["e"].to_numpy(dtype=np.int64)[honoured],
            "pvi": honoured_pvi[honoured],
        }
    )
    con.register("_el_honoured_frame", chosen)
    try:
        _execute(
            con, "CREATE OR REPLACE TEMP TABLE _el_honoured AS SELECT * FROM _el_honoured_frame"
        )
    finally:
        con.unregister("_el_honoured_frame")
    rows = _execute(con, eng_sql.OUTCOMES_SQL).df()
    n = len(rows)
    codes = {name: k for k, name in enumerate(_ALL_EVENTS)}
    return [
        rows["x"].to_numpy(dtype=np.int64),
        rows["pvi"].to_numpy(dtype=np.int64),
        rows["event"].map(codes).to_numpy(dtype=np.int8),
        np.full(n, _ENGAGEMENT_STAGE, np.int8),
        np.full(n, -1, np.int16),
        np.full(n, -1, np.int16),
        np.zeros(n, np.int8),
        np.full(n, np.nan),
        np.full(n, np.nan),
    ]
