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
from engage_lab.engine.kernel import static_steps
from engage_lab.engine.output import FastRun, GatingContext
from engage_lab.engine.replay import _id_buffers, prepare
from engage_lab.events import STAGES, conform_events
from engage_lab.kpis.coded import code_of, pack
from engage_lab.world.chat import ChatRecording, WorldView
from engage_lab.world.output import id_prefix
from engage_lab.world.record_kernel import KIND_BUTTON, KIND_INVITATION, record_pass
from engage_lab.world.recording import (
    RunResult,
    assemble_chat_events,
    config_labels,
    record_passes,
    web_chat_frame,
)

__all__ = ["record_chat_fast", "world_database"]


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
    return record_passes(world, _run_once_fast)


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
    return pa.array(series.astype(object).where(series.notna(), None).tolist(), pa.string())


def world_database(world: WorldView, ends_ms: np.ndarray) -> duckdb.DuckDBPyConnection:
    """An in-memory database of the world's history without chat events, as the loader
    would hold it, with the page ends ``ends_ms`` (per ``page_views`` row)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    database.create_tables(con)
    tables = world.tables

    def insert(name: str, columns: dict[str, pa.Array], select: dict[str, str]) -> None:
        con.register("_el_in", pa.table(columns))
        names = ", ".join(select)
        exprs = ", ".join(select.values())
        con.execute(f"INSERT INTO {name} ({names}) SELECT {exprs} FROM _el_in")
        con.unregister("_el_in")

    def ts(column: str) -> str:
        return f"make_timestamp({column} * 1000)"

    src = tables["source"]
    insert(
        "source",
        {c: _strings(src[c]) for c in ("source_id", "mode", "timezone", "seed")},
        {c: c for c in ("source_id", "mode", "timezone", "seed")},
    )
    st = tables["source_status"]
    insert(
        "source_status",
        {"id": _strings(st["source_status_id"]), "t": _ms_or_null(st["changed_at"]),
         "status": _strings(st["status"])},
        {"source_status_id": "id", "changed_at": ts("t"), "status": "status"},
    )  # fmt: skip
    vis = tables["visitors"]
    insert(
        "visitors",
        {"id": _strings(vis["visitor_id"]), "country": _strings(vis["country"])},
        {"visitor_id": "id", "clock_offset_ms": "0", "country": "country"},
    )
    pv = tables["page_views"]
    insert(
        "page_views",
        {
            "id": _strings(pv["page_view_id"]),
            "visitor": _strings(pv["visitor_id"]),
            "s": pa.array(_ms(pv["started_at"]), pa.int64()),
            "e": pa.array(np.asarray(ends_ms, np.int64), pa.int64()),
            "rec": pa.array(pv["ended_at"].notna().to_numpy()),
            **{c: _strings(pv[c]) for c in ("url", "path", "title", "referrer", "device")},
            "embedded": pa.array(pv["embedded"].to_numpy(np.bool_)),
            "page_change": pa.array(pv["page_change"].to_numpy(np.bool_)),
            "placeholders": pa.array([list(p) for p in pv["placeholders"]], pa.list_(pa.string())),
        },
        {
            "page_view_id": "id", "visitor_id": "visitor", "started_at": ts("s"),
            "ended_at": ts("e"), "end_recorded": "rec", "url": "url", "path": "path",
            "title": "title", "referrer": "referrer", "device": "device",
            "embedded": "embedded", "page_change": "page_change", "placeholders": "placeholders",
        },
    )  # fmt: skip
    vc = tables["var_changes"]
    insert(
        "var_changes",
        {
            "id": _strings(vc["var_change_id"]), "pv": _strings(vc["page_view_id"]),
            "name": _strings(vc["name"]),
            "value": pa.array([json.dumps(v, ensure_ascii=False) for v in vc["value"]],
                              pa.string()),
            "t": _ms_or_null(vc["changed_at"]),
        },
        {"var_change_id": "id", "page_view_id": "pv", "name": "name",
         "value": "value::JSON", "value_type": str(derive.VALUE_TYPE), "changed_at": ts("t")},
    )  # fmt: skip
    ids = tables["identities"]
    insert(
        "identities",
        {"id": _strings(ids["identity_id"]), "visitor": _strings(ids["visitor_id"]),
         "uuid": _strings(ids["uuid"]), "signed": pa.array(ids["signed"].to_numpy(np.bool_)),
         "t": _ms_or_null(ids["set_at"])},
        {"identity_id": "id", "visitor_id": "visitor", "uuid": "uuid", "signed": "signed",
         "set_at": ts("t")},
    )  # fmt: skip
    th = tables["threads"]
    insert(
        "threads",
        {"id": _strings(th["thread_id"]), "identity": _strings(th["identity_id"]),
         "o": _ms_or_null(th["opened_at"]), "l": _ms_or_null(th["locked_at"]),
         "c": _ms_or_null(th["closed_at"]),
         "init": pa.array(th["identity_initiated_thread"].to_numpy(np.bool_))},
        {"thread_id": "id", "identity_id": "identity", "opened_at": ts("o"),
         "locked_at": ts("l"), "closed_at": ts("c"), "identity_initiated_thread": "init"},
    )  # fmt: skip
    return con


# ---------------------------------------------------------------------------- one run
def _truth_params(truth: Any) -> np.ndarray:
    return np.array(
        [
            truth.base_logit, truth.time_on_page_slope, truth.returning_effect,
            truth.engage_delay_median_s, truth.engage_delay_sigma,
            truth.live_chat_duration_median_s, truth.messaging_duration_median_s,
            truth.duration_sigma, truth.patience_median_s, truth.patience_sigma,
            truth.close_after_served, truth.close_delay_median_s,
        ],
        np.float64,
    )  # fmt: skip


def _run_once_fast(
    world: WorldView, config: Config | ConfigHistory, config_at: Any, ends: pd.Series
) -> RunResult:
    con = world_database(world, ends.to_numpy())
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
    v_data, v_off, p_data, p_off, longest = _id_buffers(con, pages, prep.cache)
    seed_bytes = np.frombuffer(seed.encode("utf-8"), np.uint8).copy()
    steps = static_steps(
        prep.page_tuple, prep.leaf_tuple, prep.slot_tuple, prep.entry_tuple, prep.bounds, 0,
        n_pages,
    )  # fmt: skip
    # the hidden behaviour, per pvi / visitor code
    page_ids = pages.scan_page_view_ids(con).take(pa.array(pages.pos)).to_pandas()
    truth_pages = world.page_truth.set_index("page_view_id")
    categories = sorted(dict(world.params.truth.page_category_effect))
    category = pd.Categorical(
        truth_pages["page_category"].reindex(page_ids).to_numpy(), categories
    ).codes.astype(np.int64)
    returning = (truth_pages["visit_number"].reindex(page_ids).to_numpy() > 1).astype(np.bool_)
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
    behaviour = (
        pages.end.astype(np.int64), category, returning, effect, kind_effect, category_effect,
        item_kind, item_key, np.append(item_lo, 0), np.append(item_hi, 0), _truth_params(truth),
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
    ids = (seed_bytes, v_data, v_off, p_data, p_off, max(longest, len(seed)) + 64)
    t, pc, state_index, states, chats, counts, records = record_pass(
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
        plan=plan, seed=seed_bytes, ids=(v_data, v_off, p_data, p_off, longest), timeline=(),
        slot_of=prep.slot_of, slots=prep.slots, states=per_event,
    )  # fmt: skip
    run = FastRun(
        plan=plan, pages=pages, t=out_t, pvi=out_pvi.astype(np.int32),
        code=out_code.astype(np.int32), con=con, gating=gating,
    )  # fmt: skip
    decided = run.frame()
    active = np.flatnonzero(pages.active & (pages.entry >= 0))
    begun = conform_events(
        pd.DataFrame(
            {
                "visitor_id": visitor_ids.to_numpy()[pages.visitor[active]],
                "visit_id": pages.scan_page_view_ids(con).take(pa.array(pages.visit_pos[active]))
                .to_pandas().to_numpy(),
                "page_view_id": page_ids.to_numpy()[active],
                "event_at": pages.start[active],
                "event": "started",
                "stage": "configured",
                **dict.fromkeys(("trigger_id", "item_id", "item_type", "mode"), None),
                "server_probability": np.nan,
                "draw": np.nan,
            }
        )
    )  # fmt: skip
    entry_of_page = pd.Series(pages.entry.astype(np.int64), index=page_ids.to_numpy())
    entry_labels = [config_labels(e.config) for e in plan.entries]

    def labels(frame: pd.DataFrame) -> tuple[list[str | None], list[str | None]]:
        entry = entry_of_page.reindex(frame["page_view_id"].to_numpy()).to_numpy()
        trigger_label: list[str | None] = [None] * len(frame)
        item_label: list[str | None] = [None] * len(frame)
        trig = frame["trigger_id"].to_numpy(object)
        item = frame["item_id"].to_numpy(object)
        for c, (tl, il) in enumerate(entry_labels):
            for r in np.flatnonzero(entry == c).tolist():
                if isinstance(trig[r], str):
                    trigger_label[r] = tl.get(trig[r])
                if isinstance(item[r], str):
                    item_label[r] = il.get(item[r])
        return trigger_label, item_label

    events = assemble_chat_events(decided, begun, labels)
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
    return RunResult(events, conversations, truth_counts)


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
