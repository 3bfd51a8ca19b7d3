"""The recorded chat events of the replayed page views, coded (for fidelity).

One query reads ``chat_events`` (without ``started``: not a decision), joined to the
page views by id; trigger and item ids become codes of one vocabulary shared with the
replay (the configuration's triggers first, then ids only the recording has). The stage
is inferred (:func:`engage_lab.kpis.fidelity.infer_stages`).

Both the coded recording and its per-page-view decision sums
(:func:`engage_lab.kpis.fidelity.decision_sums`) are kept with the page facts
(:attr:`Pages.memo <engage_lab.engine.pages.Pages>`): a tuning replay over the same page
views compares with them without reading or summing the recording again.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import sqlglot
from sqlglot import exp

from engage_lab.engine.pages import Pages
from engage_lab.engine.sqlvalues import aliased
from engage_lab.errors import EngineError, translate_duckdb
from engage_lab.kpis.coded import EVENTS, CodedEvents, pack
from engage_lab.kpis.fidelity import decision_sums, infer_stages

__all__ = ["has_recorded_events", "recorded_codes", "recorded_sums"]


def _recorded_query() -> str:
    """The recorded decision events with their page view's scan position, coded (event
    and mode as numbers; trigger and item through the registered vocabularies)."""

    def chat(name: str) -> exp.Column:
        return exp.column(name, "c")

    def cases(column: exp.Expression, codes: dict[str, int], default: int) -> exp.Case:
        ifs = [
            exp.If(this=exp.Literal.string(k), true=exp.Literal.number(v)) for k, v in codes.items()
        ]
        return exp.Case(this=column, ifs=ifs, default=exp.Literal.number(default))

    def code(vocabulary: str) -> exp.Expression:
        return exp.func("coalesce", exp.column("code", vocabulary), exp.Literal.number(-1))

    def numbered(table: str, alias: str, position: str, *columns: str) -> exp.Subquery:
        row = sqlglot.parse_one("row_number() OVER () - 1", read="duckdb")
        return exp.select(row.as_(position), *columns).from_(table).subquery(alias)

    chats = numbered("chat_events", "c", "cpos", "*")
    pages = numbered("page_views", "p", "pos", "page_view_id")
    query = (
        exp.select(
            exp.column("pos", "p"),
            exp.func("epoch_ms", chat("event_at")).as_("t"),
            cases(chat("event"), {e: k for k, e in enumerate(EVENTS)}, -1).as_("event"),
            code("tv").as_("trigger"),
            code("iv").as_("item"),
            cases(chat("mode"), {"online": 1, "offline": 2}, 0).as_("mode"),
            exp.func("coalesce", chat("trigger_continuation"), exp.false()).as_("continuation"),
        )
        .from_(chats)
        .join(pages, using=["page_view_id"])
        .join(
            aliased("_el_tvoc", "tv"),
            on=exp.column("id", "tv").eq(chat("trigger_id")),
            join_type="left",
        )
        .join(
            aliased("_el_ivoc", "iv"),
            on=exp.column("id", "iv").eq(chat("item_id")),
            join_type="left",
        )
        .where(
            exp.and_(
                exp.NEQ(this=chat("event"), expression=exp.Literal.string("started")),
                exp.not_(exp.Is(this=chat("event_at"), expression=exp.null())),
            )
        )
        .order_by(chat("cpos"))
    )
    return query.sql("duckdb")


_SQL = _recorded_query()


def has_recorded_events(con: duckdb.DuckDBPyConnection, pages: Pages | None = None) -> bool:
    """Whether the history holds recorded chat events (``pages``: as counted in the data
    version their facts were built from, without a query)."""
    if pages is not None:
        return bool(pages.key.version[4])
    with translate_duckdb(EngineError, "cannot read the chat_events table"):
        return bool(con.execute("SELECT count(*) FROM chat_events").fetchall()[0][0])


def _distinct(con: duckdb.DuckDBPyConnection, column: str) -> list[str]:
    query = (
        exp.select(exp.column(column))
        .distinct()
        .from_("chat_events")
        .where(exp.not_(exp.Is(this=exp.column(column), expression=exp.null())))
        .order_by(exp.column(column))
    )
    return [r[0] for r in con.execute(query.sql("duckdb")).fetchall()]


def recorded_codes(
    con: duckdb.DuckDBPyConnection,
    pages: Pages,
    trigger_ids: tuple[str, ...],
    item_ids: tuple[str, ...],
) -> CodedEvents:
    """The recorded events of ``pages``, coded with vocabularies that start with
    ``trigger_ids`` / ``item_ids`` (page view codes are ``pvi``). Kept with the page facts:
    a tuning replay over the same page views compares with them again without reading."""
    key = ("recorded_codes", tuple(trigger_ids), tuple(item_ids))
    if key not in pages.memo:
        pages.memo[key] = _recorded_codes(con, pages, tuple(trigger_ids), tuple(item_ids))
    return pages.memo[key]


def recorded_sums(pages: Pages, recorded: CodedEvents) -> tuple[np.ndarray, np.ndarray]:
    """``decision_sums(recorded, len(pages), -1)`` of a recording from
    :func:`recorded_codes` over ``pages``, kept with the page facts (read-only arrays:
    :func:`~engage_lab.kpis.compare_codes` copies them)."""
    key = ("recorded_sums", recorded.trigger_ids, recorded.item_ids)
    if key not in pages.memo:
        sums, counts = decision_sums(recorded, len(pages), -1)
        sums.flags.writeable = counts.flags.writeable = False
        pages.memo[key] = (sums, counts)
    return pages.memo[key]


def _recorded_codes(
    con: duckdb.DuckDBPyConnection,
    pages: Pages,
    trigger_ids: tuple[str, ...],
    item_ids: tuple[str, ...],
) -> CodedEvents:
    triggers = list(trigger_ids) + [t for t in _distinct(con, "trigger_id") if t not in trigger_ids]
    items = list(item_ids) + [i for i in _distinct(con, "item_id") if i not in item_ids]
    vocab_t = pa.table({"id": pa.array(triggers, pa.string()), "code": np.arange(len(triggers))})
    vocab_i = pa.table({"id": pa.array(items, pa.string()), "code": np.arange(len(items))})
    con.register("_el_tvoc", vocab_t)
    con.register("_el_ivoc", vocab_i)
    try:
        with translate_duckdb(EngineError, "reading the recorded chat events failed"):
            rows = con.execute(_SQL).fetchnumpy()
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
