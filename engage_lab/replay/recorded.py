"""The recorded chat events of the replayed page views, coded (for fidelity).

One query reads ``chat_events`` (without ``started``: not a decision), joined to the
page views by id; trigger and item ids become codes of one vocabulary shared with the
replay (the configuration's triggers first, then ids only the recording has). The stage
is inferred (:func:`engage_lab.kpis.fidelity.infer_stages`).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from engage_lab.engine.pages import Pages
from engage_lab.errors import EngineError
from engage_lab.kpis.coded import EVENTS, CodedEvents, pack
from engage_lab.kpis.fidelity import infer_stages

__all__ = ["has_recorded_events", "recorded_codes"]

_EVENT_CASE = " ".join(f"WHEN '{e}' THEN {k}" for k, e in enumerate(EVENTS))  # fixed names

_SQL = f"""
SELECT p.pos, epoch_ms(c.event_at) AS t,
       CASE c.event {_EVENT_CASE} ELSE -1 END AS event,
       coalesce(tv.code, -1) AS trigger, coalesce(iv.code, -1) AS item,
       CASE c.mode WHEN 'online' THEN 1 WHEN 'offline' THEN 2 ELSE 0 END AS mode,
       coalesce(c.trigger_continuation, false) AS continuation
FROM (SELECT row_number() OVER () - 1 AS cpos, * FROM chat_events) c
JOIN (SELECT row_number() OVER () - 1 AS pos, page_view_id FROM page_views) p
  USING (page_view_id)
LEFT JOIN _el_tvoc tv ON tv.id = c.trigger_id
LEFT JOIN _el_ivoc iv ON iv.id = c.item_id
WHERE c.event <> 'started' AND c.event_at IS NOT NULL
ORDER BY c.cpos
"""


def has_recorded_events(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the history holds recorded chat events."""
    try:
        return bool(con.execute("SELECT count(*) FROM chat_events").fetchall()[0][0])
    except duckdb.Error as exc:
        raise EngineError(f"cannot read the chat_events table: {exc}") from exc


def _distinct(con: duckdb.DuckDBPyConnection, column: str) -> list[str]:
    rows = con.execute(
        f"SELECT DISTINCT {column} FROM chat_events WHERE {column} IS NOT NULL ORDER BY {column}"
    ).fetchall()
    return [r[0] for r in rows]


def recorded_codes(
    con: duckdb.DuckDBPyConnection,
    pages: Pages,
    trigger_ids: tuple[str, ...],
    item_ids: tuple[str, ...],
) -> CodedEvents:
    """The recorded events of ``pages``, coded with vocabularies that start with
    ``trigger_ids`` / ``item_ids`` (page view codes are ``pvi``)."""
    triggers = list(trigger_ids) + [t for t in _distinct(con, "trigger_id") if t not in trigger_ids]
    items = list(item_ids) + [i for i in _distinct(con, "item_id") if i not in item_ids]
    vocab_t = pa.table({"id": pa.array(triggers, pa.string()), "code": np.arange(len(triggers))})
    vocab_i = pa.table({"id": pa.array(items, pa.string()), "code": np.arange(len(items))})
    con.register("_el_tvoc", vocab_t)
    con.register("_el_ivoc", vocab_i)
    try:
        rows = con.execute(_SQL).fetchnumpy()
    except duckdb.Error as exc:
        raise EngineError(f"reading the recorded chat events failed: {exc}") from exc
    finally:
        con.unregister("_el_tvoc")
        con.unregister("_el_ivoc")
    scan_pvi = np.full(pages.n_scan, -1, np.int64)
    scan_pvi[pages.pos] = np.arange(len(pages), dtype=np.int64)
    pvi = scan_pvi[rows["pos"].astype(np.int64)] if len(rows["pos"]) else np.zeros(0, np.int64)
    keep = (pvi >= 0) & (rows["event"] >= 0)
    event = rows["event"].astype(np.int8)[keep]
    trigger = rows["trigger"].astype(np.int32)[keep]
    pvi = pvi[keep]
    stage = infer_stages(
        event,
        trigger >= 0,
        rows["continuation"].astype(np.bool_)[keep],
        pages.embedded[pvi],
    )
    code = pack(event, stage, rows["mode"][keep], trigger, rows["item"][keep])
    return CodedEvents(pvi, rows["t"].astype(np.int64)[keep], code, tuple(triggers), tuple(items))
