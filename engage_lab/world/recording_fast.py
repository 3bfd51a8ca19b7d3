"""The chat-event step, compiled: the same recording as the reference, much faster.

:func:`record_chat_fast` records exactly what :func:`engage_lab.world.recording.record_chat`
records (the same rows, ids, draws and truth counts; the differential tests hold the two
together), in three steps per pass over the world:

1. the world's tables go into an in-memory DuckDB database in the schema of a loaded
   history (:func:`world_database`; page ends as the loader will derive them, as in the
   reference pass), so the fast engine's page facts, candidates and step functions
   (:func:`engage_lab.engine.replay.prepare`) read it as they read any history;
2. one compiled loop runs every visitor's Chat Manager in global time order with the live
   agent pool and the hidden behaviour (:func:`engage_lab.world.record_kernel.record_pass`);
3. the coded events become the ``chat_events`` rows (the engine's events frame, the
   ``started`` events, labels), the pool's records the web chats.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from engage_lab.availability.pool_kernel import NEVER, OUTCOME_NAMES, build_pool_from_tables
from engage_lab.config import Config, ConfigHistory
from engage_lab.data import database, derive
from engage_lab.data.sqltext import Sql, ident, join, sql
from engage_lab.engine.kernel import static_steps
from engage_lab.engine.output import FastRun, GatingContext
from engage_lab.engine.plan import UnsupportedByFastEngineError
from engage_lab.engine.replay import _id_buffers, prepare
from engage_lab.events import STAGES
from engage_lab.kpis.coded import EVENTS, MODES, code_of, decode, pack
from engage_lab.tiers import tiered
from engage_lab.world.chat import ChatRecording, WorldView
from engage_lab.world.output import id_prefix
from engage_lab.world.record_kernel import (
    KIND_BUTTON,
    KIND_INVITATION,
    Behaviour,
    RecorderIds,
    TruthParams,
    record_pass,
)
from engage_lab.world.recording import (
    RunResult,
    config_labels,
    record_chat,
    record_passes,
    web_chat_frame,
)

__all__ = ["record_chat_fast", "world_database", "world_tables"]


def record_chat_fast(world: WorldView) -> ChatRecording:
    """Record the chat events of ``world``: :func:`~engage_lab.world.recording.record_chat`
    compiled (see the module docstring).

    >>> from engage_lab.world.model import draw_world
    >>> from engage_lab.world.output import world_view
    >>> from engage_lab.world.recording import record_chat
    >>> view = world_view(draw_world(3, 20, "live_chat", 2), None, None)
    >>> fast, reference = record_chat_fast(view), record_chat(view)
    >>> fast.chat_events.equals(reference.chat_events), fast.truth == reference.truth
    (True, True)
    """
    staged = world_tables(world)
    try:
        return record_passes(
            world, lambda w, cfg, at, ends: _run_once_fast(w, cfg, at, ends, staged)
        )
    except UnsupportedByFastEngineError:
        return record_chat(world)  # what the compiled pass does not cover: the reference


# ---------------------------------------------------------------------------- database
def _ms(series: pd.Series) -> np.ndarray:
    return series.astype("datetime64[ms, UTC]").astype("int64").to_numpy()


def _ms_or_null(series: pd.Series) -> pa.Array:
    present = series.notna().to_numpy()
    values = np.zeros(len(series), np.int64)
    if present.any():
        values[present] = _ms(series[present])
    return pa.array(values, pa.int64(), mask=~present)


def _strings(series: pd.Series) -> pa.Array:
    return pa.array(series, pa.string(), from_pandas=True)


def _flags(series: pd.Series) -> pa.Array:
    return pa.array(series.to_numpy(np.bool_))


#: per table: its columns as loaded, each the SQL (fixed text) over the staged Arrow table
_SELECTS: dict[str, dict[str, str]] = {
    "source": {c: c for c in ("source_id", "mode", "timezone", "seed")},
    "source_status": {"source_status_id": "id", "changed_at": "make_timestamp(t * 1000)",
                      "status": "status"},
    "visitors": {"visitor_id": "id", "clock_offset_ms": "0", "country": "country"},
    "page_views": {
        "page_view_id": "id", "visitor_id": "visitor", "started_at": "make_timestamp(s * 1000)",
        "ended_at": "make_timestamp(e * 1000)", "end_recorded": "rec", "url": "url",
        "path": "path", "title": "title", "referrer": "referrer", "device": "device",
        "embedded": "embedded", "page_change": "page_change", "placeholders": "placeholders",
    },
    "var_changes": {"var_change_id": "id", "page_view_id": "pv", "name": "name",
                    "value": "value::JSON", "value_type": str(derive.VALUE_TYPE),
                    "changed_at": "make_timestamp(t * 1000)"},
    "identities": {"identity_id": "id", "visitor_id": "visitor", "uuid": "uuid",
                   "signed": "signed", "set_at": "make_timestamp(t * 1000)"},
    "threads": {"thread_id": "id", "identity_id": "identity",
                "opened_at": "make_timestamp(o * 1000)", "locked_at": "make_timestamp(l * 1000)",
                "closed_at": "make_timestamp(c * 1000)", "identity_initiated_thread": "init"},
}  # fmt: skip


def world_tables(world: WorldView) -> dict[str, pa.Table]:
    """The world's tables (but chat events and conversations) staged as Arrow tables for
    :func:`world_database`; the page views without their ends (``e``), given per pass."""
    t = world.tables
    src, st, vis, pv, vc, ids, th = (
        t[k] for k in ("source", "source_status", "visitors", "page_views", "var_changes",
                       "identities", "threads")
    )  # fmt: skip
    values = [json.dumps(v, ensure_ascii=False) for v in vc["value"].tolist()]
    return {
        "source": pa.table({c: _strings(src[c]) for c in _SELECTS["source"]}),
        "source_status": pa.table({"id": _strings(st["source_status_id"]),
                                   "t": _ms_or_null(st["changed_at"]),
                                   "status": _strings(st["status"])}),
        "visitors": pa.table({"id": _strings(vis["visitor_id"]), "country": _strings(vis["country"])}),
        "page_views": pa.table({
            "id": _strings(pv["page_view_id"]), "visitor": _strings(pv["visitor_id"]),
            "s": pa.array(_ms(pv["started_at"]), pa.int64()), "rec": _flags(pv["ended_at"].notna()),
            **{c: _strings(pv[c]) for c in ("url", "path", "title", "referrer", "device")},
            "embedded": _flags(pv["embedded"]), "page_change": _flags(pv["page_change"]),
            "placeholders": pa.array(pv["placeholders"], pa.list_(pa.string()), from_pandas=True),
        }),
        "var_changes": pa.table({
            "id": _strings(vc["var_change_id"]), "pv": _strings(vc["page_view_id"]),
            "name": _strings(vc["name"]), "value": pa.array(values, pa.string()),
            "t": _ms_or_null(vc["changed_at"]),
        }),
        "identities": pa.table({
            "id": _strings(ids["identity_id"]), "visitor": _strings(ids["visitor_id"]),
            "uuid": _strings(ids["uuid"]), "signed": _flags(ids["signed"]),
            "t": _ms_or_null(ids["set_at"]),
        }),
        "threads": pa.table({
            "id": _strings(th["thread_id"]), "identity": _strings(th["identity_id"]),
            "o": _ms_or_null(th["opened_at"]), "l": _ms_or_null(th["locked_at"]),
            "c": _ms_or_null(th["closed_at"]), "init": _flags(th["identity_initiated_thread"]),
        }),
    }  # fmt: skip


def world_database(
    world: WorldView, ends_ms: np.ndarray, staged: dict[str, pa.Table] | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory database of the world's history without chat events, as the loader
    would hold it, with the page ends ``ends_ms`` (per ``page_views`` row); ``staged``:
    :func:`world_tables` of the world, when already built."""
    staged = world_tables(world) if staged is None else staged
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    database.create_tables(con)
    for name, select in _SELECTS.items():
        table = staged[name]
        if name == "page_views":
            table = table.append_column("e", pa.array(np.asarray(ends_ms, np.int64), pa.int64()))
        con.register("_el_in", table)
        con.execute(
            sql(
                "INSERT INTO {t} ({cols}) SELECT {sel} FROM _el_in",
                t=ident(name),
                cols=join(ident(c) for c in select),
                sel=join(Sql(e) for e in select.values()),
            )
        )
        con.unregister("_el_in")
    return con


# ---------------------------------------------------------------------------- one run
def _truth_params(truth: Any) -> TruthParams:
    return TruthParams(
        base_logit=float(truth.base_logit), slope=float(truth.time_on_page_slope),
        returning_effect=float(truth.returning_effect),
        delay_median=float(truth.engage_delay_median_s),
        delay_sigma=float(truth.engage_delay_sigma),
        live_median=float(truth.live_chat_duration_median_s),
        messaging_median=float(truth.messaging_duration_median_s),
        duration_sigma=float(truth.duration_sigma),
        patience_median=float(truth.patience_median_s),
        patience_sigma=float(truth.patience_sigma),
        close_after_served=float(truth.close_after_served),
        close_median=float(truth.close_delay_median_s),
    )  # fmt: skip


def _run_once_fast(
    world: WorldView,
    config: Config | ConfigHistory,
    config_at: Any,
    ends: pd.Series,
    staged: dict[str, pa.Table] | None = None,
) -> RunResult:
    con = world_database(world, ends.to_numpy(), staged)
    try:
        return _record(world, con, config)
    finally:
        con.close()


def _record(
    world: WorldView, con: duckdb.DuckDBPyConnection, config: Config | ConfigHistory
) -> RunResult:
    seed = str(world.seed)
    prep = prepare(con, config, seed=seed)
    pages, plan = prep.pages, prep.plan
    n_pages = len(pages)
    v_data, v_off, p_data, p_at, longest = _id_buffers(con, pages, prep.cache)
    seed_bytes = np.frombuffer(seed.encode("utf-8"), np.uint8).copy()
    steps = tiered(static_steps)(
        prep.page_tuple, prep.leaf_tuple, prep.slot_tuple, prep.entry_tuple, prep.bounds, 0,
        n_pages,
    )  # fmt: skip
    # the hidden behaviour, per pvi / visitor code
    page_id_array = pages.scan_page_view_ids(con).take(pa.array(pages.pos))
    page_ids = page_id_array.to_pandas()
    truth_pages = world.page_truth
    scan_ids = world.tables["page_views"]["page_view_id"]
    if (
        len(truth_pages) == len(scan_ids)
        and (truth_pages["page_view_id"].to_numpy() == scan_ids.to_numpy()).all()
    ):
        at = pages.pos  # the truth is in page_views order (world_view builds it so)
    else:
        at = pd.Index(truth_pages["page_view_id"]).get_indexer(page_ids)
    categories = sorted(dict(world.params.truth.page_category_effect))
    category = pd.Categorical(truth_pages["page_category"].to_numpy()[at], categories).codes.astype(
        np.int64
    )
    returning = truth_pages["visit_number"].to_numpy()[at] > 1

    visitor_ids = pages.visitor_ids(con).to_pandas()
    effect = (
        world.visitor_truth.set_index("visitor_id")["engagement_effect"]
        .reindex(visitor_ids).to_numpy(np.float64)
    )  # fmt: skip
    truth = world.params.truth
    kinds = dict(truth.item_kind_effect)
    kind_effect = np.array([kinds["chat"], kinds["button"], kinds["invitation"]], np.float64)
    category_effect = np.array(
        [dict(truth.page_category_effect)[c] for c in categories], np.float64
    )
    item_kind = np.array(
        [KIND_BUTTON if k == "button" else KIND_INVITATION for _, k in plan.items] + [0], np.int64
    )
    item_bytes = [i.encode("utf-8") for i, _ in plan.items]
    item_hi = np.cumsum([len(b) for b in item_bytes], dtype=np.int64)
    item_lo = item_hi - np.array([len(b) for b in item_bytes], np.int64)
    item_key = np.frombuffer(b"".join(item_bytes) or b"\0", np.uint8).copy()
    behaviour = Behaviour(
        start=pages.start, end=pages.end.astype(np.int64), category=category, returning=returning, effect=effect,
        kind_effect=kind_effect, category_effect=category_effect, item_kind=item_kind,
        item_key=item_key, item_lo=np.append(item_lo, 0), item_hi=np.append(item_hi, 0),
        params=_truth_params(truth),
    )  # fmt: skip
    tables = world.tables
    _, pool = build_pool_from_tables(
        tables["agents"], tables["presence"], tables["conversations"],
        max_chats=max(1024, n_pages // 50),
    )  # fmt: skip
    entry_delay_ms = np.array(
        [
            -1
            if e.config.source.impossibility_delay_ms is None
            else e.config.source.impossibility_delay_ms
            for e in plan.entries
        ],
        np.int64,
    )
    ids = RecorderIds(
        seed=seed_bytes, v_data=v_data, v_off=v_off, p_data=p_data, p_at=p_at,
        longest=max(longest, len(seed)) + 64,
    )  # fmt: skip
    t, pc, state_index, states, chats, counts, records = tiered(record_pass)(
        prep.page_tuple, prep.slot_tuple, prep.entry_tuple, prep.bounds, steps, ids, behaviour,
        pool, entry_delay_ms,
    )  # fmt: skip
    ch_pvi, ch_e, ch_close = chats
    started, ended, outcome = records[1], records[2], records[4]
    live = plan.mode == "live_chat"
    # outcome events: the first message, the agent's first message, the visitor's close
    o_pvi, o_t, o_ev = [ch_pvi], [ch_e], [np.full(len(ch_e), code_of("message_sent"))]
    got = started != NEVER
    o_pvi.append(_page_at(pages, ch_pvi[got], started[got]))
    o_t.append(started[got])
    o_ev.append(np.full(int(got.sum()), code_of("message_received")))
    if live:
        closed = np.full(len(ch_e), NEVER, np.int64)
        by_visitor = outcome == OUTCOME_NAMES.index("closed_by_visitor")
        closed[by_visitor] = ended[by_visitor]
        served = (outcome == OUTCOME_NAMES.index("served")) & (ch_close >= 0) & (ended != NEVER)
        closed[served] = ended[served] + ch_close[served]
        has = closed != NEVER
        o_pvi.append(_page_at(pages, ch_pvi[has], closed[has]))
        o_t.append(closed[has])
        o_ev.append(np.full(int(has.sum()), code_of("chat_closed")))
    out_pvi = np.concatenate([pc[:, 0].astype(np.int64), *o_pvi])
    out_t = np.concatenate([t, *o_t])
    outcome_codes = pack(
        np.concatenate(o_ev).astype(np.int64), STAGES.index("engagement"), 0, -1, -1
    )
    out_code = np.concatenate([pc[:, 1].astype(np.int64), np.asarray(outcome_codes, np.int64)])
    si = np.concatenate([state_index.astype(np.int64), np.full(len(out_t) - len(t), -1)])
    per_event = tuple(
        np.where(si >= 0, a[np.maximum(si, 0)], 0) if len(a) else np.zeros(len(si), np.int64)
        for a in states
    )
    gating = GatingContext(
        plan=plan, seed=seed_bytes, ids=(v_data, v_off, p_data, p_at, longest), timeline=(),
        slot_of=prep.slot_of, slots=prep.slots, states=per_event,
    )  # fmt: skip
    run = FastRun(
        plan=plan, pages=pages, t=out_t, pvi=out_pvi.astype(np.int32),
        code=out_code.astype(np.int32), con=con, gating=gating,
    )  # fmt: skip
    events = _chat_events(run, page_id_array, pages.visitor_ids(con))
    conversations = _web_chats(world, pages, visitor_ids, page_ids, ch_pvi, records)
    outcomes = conversations["outcome"].value_counts().to_dict() if len(conversations) else {}
    truth_counts: dict[str, object] = {
        "offers_online": int(counts[0]),
        "engagements_drawn": int(counts[1]),
        "engagements_honoured": len(ch_e),
        "web_chat_outcomes": {str(k): int(v) for k, v in sorted(outcomes.items())},
        "events": {str(k): int(v) for k, v in sorted(events["event"].value_counts().items())},
        "engagement_draws": "md5 of seed|engage|visitor|page view|kind|item|shown_at (ms)",
    }
    last = np.full(n_pages, np.iinfo(np.int64).min, np.int64)
    np.maximum.at(last, out_pvi.astype(np.int64), out_t)
    active = pages.active & (pages.entry >= 0)
    last[active] = np.maximum(last[active], pages.start[active])
    last_event = np.full(len(world.tables["page_views"]), np.nan)
    has = last != np.iinfo(np.int64).min
    last_event[pages.pos[has]] = last[has]
    return RunResult(events, conversations, truth_counts, last_event)


def _chat_events(run: FastRun, page_ids: pa.Array, visitor_ids: pa.Array) -> pd.DataFrame:
    """The ``chat_events`` rows (what :func:`~engage_lab.world.recording.assemble_chat_events`
    builds from the reference's events) straight from the coded events: the decided
    events in canonical order after the ``started`` event of each page view that ran,
    per visitor and instant; labels of the configuration entry in force at the page
    view's start."""
    plan, pages = run.plan, run.pages
    order = run.canonical_order()
    p, u = run.gated_values(order)
    c = run.coded()
    active = np.flatnonzero(pages.active & (pages.entry >= 0))
    n_b, n_d = len(active), len(order)
    pvi = np.concatenate([active, c.pvi.astype(np.int64)[order]])
    t = np.concatenate([pages.start[active], c.t[order]])
    visitor = pages.visitor.astype(np.int64)[pvi]
    first = np.concatenate([np.zeros(n_b, np.int8), np.ones(n_d, np.int8)])
    final = np.lexsort((first, t, visitor))  # stable: the concatenation order breaks ties
    pvi, t, visitor = pvi[final], t[final], visitor[final]
    decided = final - n_b  # position in the decided events, negative: a start

    def take(codes: np.ndarray, fill: int = -1) -> np.ndarray:
        out = np.full(len(final), fill, np.int64)
        out[decided >= 0] = codes.astype(np.int64)[order][decided[decided >= 0]]
        return out

    event = take(c.event, code_of("started"))
    stage = take(c.stage)
    trigger = take(c.trigger)
    item = take(c.item)
    mode = take(c.mode, 0)
    entry = pages.entry.astype(np.int64)[pvi]
    n_trig, n_items = max(len(plan.trigger_ids), 1), max(len(plan.items), 1)
    trig_labels: list[str | None] = [None] * (len(plan.entries) * n_trig)
    item_labels: list[str | None] = [None] * (len(plan.entries) * n_items)
    for k, e in enumerate(plan.entries):
        tl, il = config_labels(e.config)
        for g, tid in enumerate(plan.trigger_ids):
            trig_labels[k * n_trig + g] = tl.get(tid)
        for i, (iid, _) in enumerate(plan.items):
            item_labels[k * n_items + i] = il.get(iid)
    trig_human = [None if lab is None else f"{lab} #{plan.trigger_ids[k % n_trig]}"
                  for k, lab in enumerate(trig_labels)]  # fmt: skip
    item_human = [None if lab is None else f"{lab} #{plan.items[k % n_items][0]}"
                  for k, lab in enumerate(item_labels)]  # fmt: skip
    has_trig = (trigger >= 0) & (entry >= 0)
    has_item = (item >= 0) & (entry >= 0)
    trig_at = np.where(has_trig, entry * n_trig + trigger, -1)
    item_at = np.where(has_item, entry * n_items + item, -1)
    prob = np.full(len(final), np.nan)
    draw = np.full(len(final), np.nan)
    prob[decided >= 0] = p[decided[decided >= 0]]
    draw[decided >= 0] = u[decided[decided >= 0]]
    ms = pd.to_datetime(t, unit="ms", utc=True).astype("datetime64[ms, UTC]")
    frame = pd.DataFrame(
        {
            "page_view_id": _text(page_ids, pvi),
            "visitor_id": _text(visitor_ids, visitor),
            "event_at": pd.Series(ms),
            "event": _text(list(EVENTS), event),
            "trigger_id": _objects(list(plan.trigger_ids), trigger),
            "trigger_label": _text(trig_labels, trig_at),
            "trigger_human_id": _text(trig_human, trig_at),
            "trigger_continuation": stage == STAGES.index("continuation"),
            "mode": _objects(list(MODES), mode),
            "item_id": _objects([i for i, _ in plan.items], item),
            "item_type": _objects([k for _, k in plan.items], item),
            "item_label": _text(item_labels, item_at),
            "item_human_id": _text(item_human, item_at),
            "server_probability": prob,
            "draw": draw,
        }
    )
    return frame


def _objects(values: list[str | None], codes: np.ndarray) -> pd.Series:
    """Codes to an object column of the values (``-1``: None)."""
    return pd.Series(decode(values, codes), dtype=object)


def _text(values: list[str | None] | pa.Array, codes: np.ndarray) -> pd.Series:
    """Codes to a text column (``-1`` or a None value: missing), through Arrow."""
    return decode(values, codes, text=True)


def _page_at(pages: Any, pvi: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Per instant ``t[i]``, the latest page view of the visitor of page view ``pvi[i]``
    started at or before it (``_page_at`` of the reference; page views are in
    ``(visitor, start, id)`` order), else ``pvi[i]``."""
    visitor = pages.visitor.astype(np.int64)
    lo = np.searchsorted(visitor, visitor[pvi], side="left")
    hi = np.searchsorted(visitor, visitor[pvi], side="right")
    out = np.asarray(pvi, np.int64).copy()
    for i in range(len(t)):
        k = int(np.searchsorted(pages.start[lo[i] : hi[i]], t[i], side="right")) - 1
        if k >= 0:
            out[i] = lo[i] + k
    return out


def _web_chats(
    world: WorldView, pages: Any, visitor_ids: pd.Series, page_ids: pd.Series,
    ch_pvi: np.ndarray, records: tuple[np.ndarray, ...],
) -> pd.DataFrame:  # fmt: skip
    queued, started, ended, agent, outcome = (np.asarray(a) for a in records)
    agent_ids = sorted(str(a) for a in world.tables["agents"]["agent_id"])
    prefix = id_prefix(world.seed, "web_chat")
    n = len(ch_pvi)

    def instants(ms: np.ndarray) -> pd.Series:
        values = pd.array(np.where(ms == NEVER, 0, ms), dtype="Int64")
        values[ms == NEVER] = pd.NA
        return pd.Series(pd.to_datetime(values, unit="ms").astype("datetime64[ms]"))

    frame = pd.DataFrame(
        {
            "conversation_id": [f"{prefix}{i + 1:06d}" for i in range(n)],
            "channel": ["web_chat"] * n,
            "queued_at": instants(queued[:n]),
            "started_at": instants(started[:n]),
            "ended_at": instants(ended[:n]),
            "agent_id": [agent_ids[a] if a >= 0 else None for a in agent[:n].tolist()],
            "outcome": [OUTCOME_NAMES[o] if o >= 0 else None for o in outcome[:n].tolist()],
            "visitor_id": visitor_ids.to_numpy()[pages.visitor[ch_pvi]].tolist(),
            "page_view_id": page_ids.to_numpy()[ch_pvi].tolist(),
        }
    )
    return web_chat_frame(frame)
