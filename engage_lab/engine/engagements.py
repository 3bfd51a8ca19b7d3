"""Recorded engagements and messaging threads, in SQL (docs/semantics.md, "Engagement").

The engagement instants are the visitor's distinct ``chat_engaged`` instants; the
conversation of an engagement at ``e`` spans the visitor's recorded events from ``e`` to
the next ``chat_engaged``. In live chat it ends when the visitor closes the chat (the
first ``chat_closed`` of the span) or, when no agent took it within the impossibility
delay (its web-chat conversation — the first of the visitor queued in the span — did not
start by ``e + delay``; with no such record, no ``message_received`` by then), unserved
at ``e + delay``. Messaging conversations end only with the visit. Outcome events kept:
those of the span up to the end, without ``message_received`` / ``chat_closed`` when
unserved.

The delay depends on the configuration in force where the engagement is honoured, so the
ends are computed for each distinct delay (``variant``). Whether an engagement is
honoured depends on the pass (chat or item visible, not engaged); this module prepares
the instants, ends and outcome rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numba
import numpy as np
import pandas as pd

from engage_lab.engine.pages import NEVER, Pages
from engage_lab.errors import EngineError, translate_duckdb
from engage_lab.kpis.coded import code_of
from engage_lab.tiers import tiered

__all__ = ["Engagements", "Outcomes", "engagements", "open_threads", "outcomes"]

#: ``_el_eng(code, e, span_end, closed, n_chats, chat_start, received_at)``: one row per
#: engagement instant of a replayed visitor, with what its end depends on.
_ENGAGEMENTS_SQL = """
CREATE OR REPLACE TEMP TABLE _el_eng AS
WITH visitors AS (SELECT DISTINCT code FROM _el_pv),
eng AS (
    SELECT DISTINCT vr.code, epoch_ms(c.event_at) AS e
    FROM chat_events c JOIN _el_vr vr USING (visitor_id) JOIN visitors USING (code)
    WHERE c.event = 'chat_engaged'
), spans AS (
    SELECT code, e, lead(e) OVER (PARTITION BY code ORDER BY e) AS span_end FROM eng
), outcomes AS (
    SELECT vr.code, epoch_ms(c.event_at) AS x, c.event
    FROM chat_events c JOIN _el_vr vr USING (visitor_id)
    WHERE c.event IN ('message_received', 'chat_closed')
      AND vr.code IN (SELECT code FROM eng)
), chats AS (
    SELECT vr.code, c.conversation_id, epoch_ms(c.queued_at) AS q,
           epoch_ms(c.started_at) AS st
    FROM conversations c JOIN _el_vr vr USING (visitor_id)
    WHERE c.channel = 'web_chat' AND vr.code IN (SELECT code FROM eng)
)
SELECT s.code, s.e, s.span_end,
    (SELECT min(o.x) FROM outcomes o WHERE o.code = s.code AND o.event = 'chat_closed'
        AND o.x >= s.e AND (s.span_end IS NULL OR o.x < s.span_end)) AS closed,
    (SELECT count(*) FROM chats c WHERE c.code = s.code AND c.q >= s.e
        AND (s.span_end IS NULL OR c.q < s.span_end)) AS n_chats,
    (SELECT arg_min(c.st, (c.q, c.conversation_id)) FROM chats c
        WHERE c.code = s.code AND c.q >= s.e
        AND (s.span_end IS NULL OR c.q < s.span_end)) AS chat_start,
    (SELECT min(o.x) FROM outcomes o WHERE o.code = s.code AND o.event = 'message_received'
        AND o.x >= s.e AND (s.span_end IS NULL OR o.x < s.span_end)) AS received_at
FROM spans s
ORDER BY s.code, s.e
"""

_OUTCOME_CODE = {e: code_of(e) for e in ("message_sent", "message_received", "chat_closed")}

#: outcome events of every engagement under every delay variant (needs
#: ``_el_outcome_of(k, v, code, e, stop, unserved)``): ``(k, v, x, event, own_pos)``
_OUTCOMES_SQL = """
SELECT h.k, h.v, epoch_ms(c.event_at) AS x, c.event, p.pos AS own_pos
FROM _el_outcome_of h
JOIN _el_eng g ON g.code = h.code AND g.e = h.e
JOIN _el_vr vr ON vr.code = h.code
JOIN chat_events c ON c.visitor_id = vr.visitor_id
LEFT JOIN (SELECT row_number() OVER () - 1 AS pos, page_view_id, visitor_id FROM page_views) p
  ON p.page_view_id = c.page_view_id AND p.visitor_id = c.visitor_id
WHERE c.event IN ('message_sent', 'message_received', 'chat_closed')
  AND epoch_ms(c.event_at) >= g.e
  AND (g.span_end IS NULL OR epoch_ms(c.event_at) < g.span_end)
  AND epoch_ms(c.event_at) <= h.stop
  AND NOT (h.unserved AND c.event IN ('message_received', 'chat_closed'))
"""

#: the page views (pvi) whose current identity has an open thread at their start
_OPEN_THREADS_SQL = """
WITH ids AS (
    SELECT vr.code, epoch_ms(i.set_at) AS set_ms,
           arg_max(coalesce('uuid:' || i.uuid, 'id:' || i.identity_id), i.identity_id) AS key
    FROM identities i JOIN _el_vr vr USING (visitor_id) GROUP BY vr.code, i.set_at
), thread_keys AS (
    SELECT coalesce('uuid:' || i.uuid, 'id:' || t.identity_id) AS key,
           epoch_ms(t.opened_at) AS o, epoch_ms(t.locked_at) AS l, epoch_ms(t.closed_at) AS c
    FROM threads t LEFT JOIN identities i USING (identity_id)
), current AS (
    SELECT p.pvi, p.s, ids.key FROM _el_pv p
    ASOF LEFT JOIN ids ON ids.code = p.code AND p.s >= ids.set_ms
)
SELECT cur.pvi FROM current cur
WHERE cur.key IS NOT NULL AND EXISTS (
    SELECT 1 FROM thread_keys th WHERE th.key = cur.key AND th.o <= cur.s
      AND (th.l IS NULL OR th.l > cur.s) AND (th.c IS NULL OR th.c > cur.s))
"""


@dataclass
class Engagements:
    """Engagement instants per visitor (sorted by code, instant) and their ends."""

    code: np.ndarray
    e: np.ndarray
    #: ``stop[variant, k]``: the conversation's end (NEVER: open), per delay variant
    stop: np.ndarray
    unserved: np.ndarray  # [variant, k]
    delays: tuple[int | None, ...]
    frame: pd.DataFrame

    def ranges(self, visitor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per visitor code in ``visitor``: the range of its engagements."""
        lo = np.searchsorted(self.code, visitor, side="left").astype(np.int64)
        hi = np.searchsorted(self.code, visitor, side="right").astype(np.int64)
        return lo, hi


def _execute(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None):
    with translate_duckdb(EngineError, "fast engine: reading the engagements failed"):
        return con.execute(sql, params or {})


def engagements(
    con: duckdb.DuckDBPyConnection, live_chat: bool, delays: tuple[int | None, ...]
) -> Engagements:
    """The recorded engagements of the replayed visitors, with their ends per delay."""
    _execute(con, _ENGAGEMENTS_SQL)
    frame = _execute(con, "SELECT * FROM _el_eng ORDER BY code, e").df()
    n = len(frame)
    e = frame["e"].to_numpy(dtype=np.int64)

    def column(name: str) -> np.ndarray:
        return (
            frame[name].astype("Float64").fillna(NEVER).to_numpy(dtype=np.float64).astype(np.int64)
        )

    closed = column("closed")
    chat_start = column("chat_start")
    received = column("received_at")
    n_chats = frame["n_chats"].to_numpy(dtype=np.int64) if n else np.zeros(0, np.int64)
    stop = np.full((max(len(delays), 1), n), NEVER, np.int64)
    unserved = np.zeros((max(len(delays), 1), n), np.bool_)
    for v, delay in enumerate(delays):
        if not live_chat:
            continue
        if delay is None:
            stop[v] = closed
            continue
        served = np.where(n_chats > 0, chat_start <= e + delay, received <= e + delay)
        late = ~served & ((closed == NEVER) | (e + delay < closed))
        unserved[v] = late
        stop[v] = np.where(late, e + delay, closed)
    return Engagements(frame["code"].to_numpy(dtype=np.int64), e, stop, unserved, delays, frame)


def open_threads(con: duckdb.DuckDBPyConnection, n_pages: int) -> np.ndarray:
    """Per page view: its current identity has an open thread at its start."""
    out = np.zeros(n_pages, np.bool_)
    rows = _execute(con, _OPEN_THREADS_SQL).fetchnumpy()
    out[rows["pvi"].astype(np.int64)] = True
    return out


@dataclass(frozen=True)
class Outcomes:
    """The outcome events of every engagement under every delay variant, placed on the
    replayed page views: what an engagement brings does not depend on the pass, only
    whether it is honoured, and where (computed once per page facts and engagements; a
    replay picks the rows of those it honoured, :meth:`rows`).

    Rows are sorted by ``(variant, engagement, instant, event, page view)``; those of
    engagement ``k`` under variant ``v`` are ``lo[v, k]:hi[v, k]``.
    """

    lo: np.ndarray
    hi: np.ndarray
    t: np.ndarray
    #: the event's own page view if replayed, else the visitor's replayed page view
    #: containing it, else -1: the page view the engagement was honoured on
    pvi: np.ndarray
    #: event codes (:func:`engage_lab.kpis.coded.code_of`)
    event: np.ndarray

    def rows(
        self, honoured_pvi: np.ndarray, variant: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(pvi, t, event code)`` of the outcome events of the honoured engagements
        (``honoured_pvi >= 0``; ``variant``: the delay variant each was honoured under)."""
        chosen = np.flatnonzero(honoured_pvi >= 0)
        lo = self.lo[variant[chosen], chosen]
        length = self.hi[variant[chosen], chosen] - lo
        total = int(length.sum())
        starts = np.cumsum(length) - length
        at = np.repeat(lo - starts, length) + np.arange(total, dtype=np.int64)
        pvi = self.pvi[at]
        pvi = np.where(pvi >= 0, pvi, np.repeat(honoured_pvi[chosen], length))
        return pvi, self.t[at], self.event[at]


def outcomes(con: duckdb.DuckDBPyConnection, pages: Pages, eng: Engagements) -> Outcomes:
    """The :class:`Outcomes` of every engagement of ``eng`` (read once: a tuning replay
    only picks rows)."""
    n, variants = len(eng.e), eng.stop.shape[0]
    k = np.tile(np.arange(n, dtype=np.int64), variants)
    v = np.repeat(np.arange(variants, dtype=np.int64), n)
    table = pd.DataFrame(
        {
            "k": k,
            "v": v,
            "code": eng.code[k],
            "e": eng.e[k],
            "stop": eng.stop[v, k],  # NEVER: open
            "unserved": eng.unserved[v, k],
        }
    )
    con.register("_el_outcome_of", table)
    try:
        rows = _execute(con, _OUTCOMES_SQL).df()
    finally:
        con.unregister("_el_outcome_of")
    rk = rows["k"].to_numpy(dtype=np.int64)
    rv = rows["v"].to_numpy(dtype=np.int64)
    x = rows["x"].to_numpy(dtype=np.int64)
    event = rows["event"].map(_OUTCOME_CODE).to_numpy(dtype=np.int64)
    # the event's own page view if replayed; else the visitor's page view containing it
    scan_pvi = np.full(pages.n_scan, -1, np.int64)
    scan_pvi[pages.pos] = np.arange(len(pages), dtype=np.int64)
    own_pos = (
        rows["own_pos"].astype("Float64").fillna(-1).to_numpy(dtype=np.float64).astype(np.int64)
    )
    own = np.where(own_pos >= 0, scan_pvi[np.maximum(own_pos, 0)], -1)
    code = eng.code[rk]
    at = tiered(_page_at)(pages.visitor, pages.start, code.astype(pages.visitor.dtype), x)
    pvi = np.where(own >= 0, own, at)
    order = np.lexsort((pvi, event, x, rk, rv))
    group = rv[order] * n + rk[order]
    bounds = np.searchsorted(group, np.arange(variants * n + 1, dtype=np.int64))
    return Outcomes(
        lo=bounds[:-1].reshape(variants, n),
        hi=bounds[1:].reshape(variants, n),
        t=x[order],
        pvi=pvi[order],
        event=event[order],
    )


@numba.njit(cache=True, nogil=True)
def _page_at(visitor, start, code, x):
    """The latest replayed page view of visitor ``code`` started at or before ``x`` (-1);
    pages are sorted by (visitor, start): a binary search in the visitor's block."""
    out = np.full(x.shape[0], -1, np.int64)
    for i in range(x.shape[0]):
        lo = np.searchsorted(visitor, code[i], side="left")
        hi = np.searchsorted(visitor, code[i], side="right")
        j = np.searchsorted(start[lo:hi], x[i], side="right") - 1
        if j >= 0:
            out[i] = lo + j
    return out
