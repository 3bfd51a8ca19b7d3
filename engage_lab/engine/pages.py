"""Page-view facts: the replayed page views in the engine's order, as numpy arrays.

Built once per connection and :class:`PagesKey` (visit idle durations, configuration
entries, restrictions, data version) and cached by the replay:

* one query orders ``page_views`` by ``(visitor_id, started_at, page_view_id)`` (visitor
  ranks first, so the sort compares integers) and returns each row's scan position, start
  and end (``ended_at``, else ``started_at + 30 min``);
* one compiled pass (:func:`engage_lab.engine.pages_kernel.derive_pages`) derives visits
  (a page view starting more than the idle duration in force at its start after the
  latest end before it opens a visit, named after its first page view), applies the
  time range and the visitor sample, and computes per kept page view, in ``pvi`` order:
  the 1-based index in its visit, the visit count, the visit start, the instant limit
  ``lim = min(end, next start of the visitor)``, single-page-application carry-over, the
  source status at the start and the configuration entry in force;
* variable changes are assigned to page views (a change at or after its page's end
  moves to the visitor's next page view that has not ended by then) and de-duplicated
  (two changes of one variable at one instant: the greater ``var_change_id`` wins) into
  the temporary table ``_el_vc(pvi, name, c, value)``; the first instants an identity
  and a signed identity were set, per visitor, become arrays.

The SQL side sees the facts through registered Arrow tables: ``_el_pv`` (one row per
``pvi``), ``_el_scan`` (one row per ``page_views`` scan position, for ``POSITIONAL
JOIN``) and ``_el_vr(code, visitor_id)``. Semantics: docs/semantics.md ("Time, page
views and visits"), the same as the reference's history view. Values never enter SQL
text: they are bound as parameters.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pac
from sqlglot import exp

from engage_lab.data import schema
from engage_lab.draws import in_sample_sql
from engage_lab.engine.ahead import Ahead
from engage_lab.engine.pages_kernel import (
    NEVER,
    assign_var_changes,
    dense_codes,
    derive_pages,
    page_records,
    position_type,
    shared_instants,
    visitor_time_order,
)
from engage_lab.errors import EngineError, one_source_message, translate_duckdb
from engage_lab.kpis.coded import PageTable
from engage_lab.tiers import tiered

__all__ = [
    "NEVER",
    "Pages",
    "PagesKey",
    "build_pages",
    "data_version",
    "detach_all",
    "source_record",
]

_INACTIVE = ("inactive", "maintenance")
#: joins a page's placeholder ids into one text (ids never hold it)
PLACEHOLDER_SEPARATOR = "\x1f"


@dataclass(frozen=True)
class PagesKey:
    """What the page facts depend on."""

    #: ``(effective_at_ms, visit_idle_ms)`` per configuration entry (one entry: ``(0, idle)``)
    idle_steps: tuple[tuple[int, int], ...]
    #: configuration entry starts (ms); a page view starting before the first runs nothing
    entry_starts: tuple[int, ...]
    time_range: tuple[int, int] | None
    sample: float | None
    sample_seed: str | None
    #: segment condition as (SQL text, parameters), or None
    segment: tuple[str, tuple[tuple[str, Any], ...]] | None
    version: tuple[Any, ...]

    @classmethod
    def of_plan(
        cls,
        con: duckdb.DuckDBPyConnection,
        plan: Any,
        *,
        time_range: tuple[int, int] | None,
        sample: float | None,
        seed: str | None,
        segment: tuple[str, tuple[tuple[str, Any], ...]] | None,
        version: tuple[Any, ...] | None = None,
    ) -> PagesKey:
        """The key of the page views a replay of ``plan`` (an
        :class:`~engage_lab.engine.plan.Plan`) runs under these restrictions, on the data
        loaded now (``seed`` keys the sample; ``version``: the data version when the caller
        has already read it)."""
        return cls(
            idle_steps=tuple((e.effective_at, e.config.source.visit_idle_ms) for e in plan.entries),
            entry_starts=tuple(e.effective_at for e in plan.entries),
            time_range=time_range,
            sample=sample,
            sample_seed=seed if sample is not None else None,
            segment=segment,
            version=data_version(con) if version is None else version,
        )


@dataclass(eq=False)
class Pages:
    """The replayed page views (``pvi`` order) and what the engine reads about them."""

    key: PagesKey
    #: per pvi
    pos: np.ndarray  # scan position in page_views
    visitor: np.ndarray  # visitor code (rank of visitor_id among all visitors)
    visit: np.ndarray  # visit number (0, 1, ... in pvi order)
    visit_pos: np.ndarray  # scan position of the visit's first page view (its id)
    start: np.ndarray
    end: np.ndarray
    limit: np.ndarray
    visit_start: np.ndarray
    idx: np.ndarray  # 1-based page index in the visit
    vcount: np.ndarray  # 1-based visit index of the visitor
    embedded: np.ndarray
    carries: np.ndarray
    active: np.ndarray
    entry: np.ndarray  # configuration entry in force at the start (-1: none)
    #: per visitor code: first identity / signed identity instants (NEVER: none)
    id_at: np.ndarray
    signed_at: np.ndarray
    n_scan: int
    #: lazily fetched strings (see :meth:`page_view_ids`, :meth:`visitor_ids`)
    _strings: dict[str, pa.Array] = field(default_factory=dict, repr=False)
    _tables: dict[str, pa.Table] = field(default_factory=dict, repr=False)
    #: per dictionary column, each page view's value code (int32, -1: null)
    _codes: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    #: what is derived from these page views alone, kept with them (dense codes; the
    #: coded recorded chat events of :mod:`engage_lab.replay.recorded`)
    memo: dict[Any, Any] = field(default_factory=dict, repr=False)
    #: reads started ahead while these facts were built (:mod:`engage_lab.engine.ahead`);
    #: set by the replay's preparation for its duration only
    ahead: Ahead | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.start)

    # ------------------------------------------------------------------ strings
    def scan_page_view_ids(self, con: duckdb.DuckDBPyConnection) -> pa.Array:
        """``page_view_id`` of every ``page_views`` row, by scan position."""
        return self.scan_column(con, "page_view_id")

    def detach(self, con: duckdb.DuckDBPyConnection) -> None:
        """Fetch the strings the frames read, so they can be built after ``con`` closes."""
        for column in ("page_view_id", "path"):
            self.scan_column(con, column)
        self.visitor_ids(con)

    def dictionary(
        self, con: duckdb.DuckDBPyConnection, column: str
    ) -> tuple[pa.Array, np.ndarray]:
        """A page column's distinct values and, per page view, the index of its value
        (``-1``: null): tests then run once per distinct value. ``placeholders`` (a list)
        is read as its items joined by U+001F (remembered)."""
        key = f"dict:{column}"
        if key not in self._tables:
            distinct, scan_codes = self.read(
                con, ("dict", column), dictionary_read(column, self.n_scan)
            )
            self._tables[key] = pa.table({"v": distinct})
            self._codes[column] = scan_codes[self.pos]
        return self._tables[key].column(0).combine_chunks(), self._codes[column]

    def scan_column(self, con: duckdb.DuckDBPyConnection, column: str) -> pa.Array:
        """One ``page_views`` column of every row, by scan position (remembered)."""
        if column not in self._strings:
            self._strings[column] = self.read(con, ("column", column), column_read(column))
        return self._strings[column]

    def read(self, con: duckdb.DuckDBPyConnection, key: Any, read: Any) -> Any:
        """``read(con)`` of the history tables, or its result when it was started ahead."""
        if self.ahead is None:
            return read(con)
        return self.ahead.take(key, read)

    def dense_codes(self) -> tuple[np.ndarray, np.ndarray, int, int]:
        """Visit and visitor codes numbered 0, 1, … in pvi order, and their counts."""
        visit, visitor, first_visit, first_visitor = self._dense()
        return visit, visitor, len(first_visit), len(first_visitor)

    def _dense(self) -> tuple[np.ndarray, ...]:
        if "dense" not in self.memo:
            self.memo["dense"] = tiered(dense_codes)(self.visit, self.visitor)
        return self.memo["dense"]

    def page_table(self, con: duckdb.DuckDBPyConnection) -> PageTable:
        """The :class:`~engage_lab.kpis.PageTable` of these page views (ids on demand)."""
        visit, visitor, first_of_visit, first_of_visitor = self._dense()

        def strings(values: pa.Array, take: np.ndarray) -> np.ndarray:
            return values.take(pa.array(take)).to_numpy(zero_copy_only=False)

        return PageTable(
            visit=visit,
            visitor=visitor,
            start=self.start,
            end=self.end,
            n_visits=len(first_of_visit),
            n_visitors=len(first_of_visitor),
            page_view_ids=lambda: strings(self.scan_page_view_ids(con), self.pos),
            visit_ids=lambda: strings(self.scan_page_view_ids(con), self.visit_pos[first_of_visit]),
            visitor_ids=lambda: strings(
                self.visitor_ids(con), self.visitor[first_of_visitor].astype(np.int64)
            ),
            paths=lambda: strings(self.scan_column(con, "path"), self.pos),
        )

    def frame(self, con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
        """The page views as a frame: ``page_view_id, visitor_id, visit_id, started_at,
        ended_at`` (effective end), ``path``, ``embedded``; in pvi order."""
        table = self.page_table(con)
        return pd.DataFrame(
            {
                "page_view_id": pd.Series(table.ids("page_view"), dtype="str"),
                "visitor_id": pd.Series(table.ids("visitor")[table.visitor], dtype="str"),
                "visit_id": pd.Series(table.ids("visit")[table.visit], dtype="str"),
                "started_at": pd.to_datetime(self.start, unit="ms", utc=True),
                "ended_at": pd.to_datetime(self.end, unit="ms", utc=True),
                "path": pd.Series(table.ids("path"), dtype=object),
                "embedded": self.embedded,
            }
        )

    def scan_table(self, con: duckdb.DuckDBPyConnection) -> None:
        """Register ``_el_scan(pvi, idx, vcount, vstart, lim)`` in ``page_views`` scan order
        (``pvi = -1``: not replayed), for ``POSITIONAL JOIN``."""
        if "scan" in self._tables:
            return
        pvi = np.full(self.n_scan, -1, np.int64)
        pvi[self.pos] = np.arange(len(self), dtype=np.int64)
        idx = np.zeros(self.n_scan, np.int32)
        idx[self.pos] = self.idx
        vcount = np.zeros(self.n_scan, np.int32)
        vcount[self.pos] = self.vcount
        vstart = np.zeros(self.n_scan, np.int64)
        vstart[self.pos] = self.visit_start
        lim = np.zeros(self.n_scan, np.int64)
        lim[self.pos] = self.limit
        table = pa.table({"pvi": pvi, "idx": idx, "vcount": vcount, "vstart": vstart, "lim": lim})
        self._tables["scan"] = table
        con.register("_el_scan", table)

    def visitor_ids(self, con: duckdb.DuckDBPyConnection) -> pa.Array:
        """``visitor_id`` by visitor code."""
        if "vr" not in self._strings:
            query = exp.select("visitor_id").from_("_el_vr").order_by("code")
            self._strings["vr"] = _arrow(con, query).column(0).combine_chunks()
        return self._strings["vr"]


def _page_value(column: str) -> exp.Expression:
    """A ``page_views`` column as a dictionary reads it (``placeholders``: its items
    joined by U+001F)."""
    if column != "placeholders":
        return exp.column(column)
    empty = exp.cast(exp.Array(expressions=[]), "VARCHAR[]")
    return exp.func(
        "array_to_string",
        exp.func("coalesce", exp.column(column), empty),
        exp.Literal.string(PLACEHOLDER_SEPARATOR),
    )


def dictionary_read(column: str, n_rows: int) -> Any:
    """The read of :meth:`Pages.dictionary` (scan order), for a connection."""
    return lambda con: _dictionary_codes(con, _page_value(column), n_rows)


def column_read(column: str) -> Any:
    """The read of :meth:`Pages.scan_column`, for a connection."""
    query = exp.select(exp.column(column)).from_("page_views")
    return lambda con: _arrow(con, query).column(0).combine_chunks()


#: at most this many distinct values are coded by DuckDB (an ENUM cast, in parallel)
_ENUM_LIMIT = 20_000


def _dictionary_codes(
    con: duckdb.DuckDBPyConnection, value: exp.Expression, n_rows: int
) -> tuple[pa.Array, np.ndarray]:
    """The distinct non-null values of ``value`` over ``page_views`` (sorted) and each of
    its ``n_rows`` rows' index in them, by scan position (-1: null). Few distinct values
    (paths, titles) are coded by an ENUM cast in DuckDB, many by arrow's dictionary
    encoding."""
    distinct_query = (
        exp.select(value.as_("v"))
        .distinct()
        .from_("page_views")
        .where(exp.not_(exp.Is(this=value.copy(), expression=exp.null())))
        .order_by("v")
        .limit(_ENUM_LIMIT + 1)
    )
    distinct = _arrow(con, distinct_query).column(0).combine_chunks()
    if len(distinct) <= _ENUM_LIMIT:
        if len(distinct) == 0:
            return distinct, np.full(n_rows, -1, np.int32)
        enum = exp.DataType(
            this=exp.DataType.Type.ENUM,
            expressions=[exp.Literal.string(v) for v in distinct.to_pylist()],
        )
        query = exp.select(exp.func("enum_code", exp.cast(value.copy(), enum)).as_("k"))
        k = _numpy(con, query.from_("page_views").sql("duckdb"))["k"]
        codes = np.ma.getdata(k).astype(np.int32)
        if np.ma.isMaskedArray(k):
            codes[np.ma.getmaskarray(k)] = -1
        return distinct, codes
    values = _arrow(con, exp.select(value.as_("v")).from_("page_views")).column(0).combine_chunks()
    encoded = pac.dictionary_encode(values)
    order = pac.array_sort_indices(encoded.dictionary)  # sorted, as the small case
    rank = np.empty(len(order), np.int32)
    rank[order.to_numpy()] = np.arange(len(order), dtype=np.int32)
    idx = encoded.indices.to_numpy(zero_copy_only=False)
    if idx.dtype.kind == "f":  # nulls
        codes = np.where(np.isnan(idx), -1, rank[np.nan_to_num(idx).astype(np.int64)])
    else:
        codes = rank[idx.astype(np.int64)]
    return encoded.dictionary.take(order), codes


_READING = "fast engine: reading the page views failed"
#: A lazy frame read after its connection was closed.
_CLOSED = {
    duckdb.ConnectionException: lambda exc: (
        "the database was closed before this replay's frames were read: read them "
        "before closing the connection, or replay through a Lab (Lab.close keeps them "
        "readable)"
    )
}


def _execute(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None):
    with translate_duckdb(EngineError, _READING):
        return con.execute(sql, params or {})


def _arrow(con: duckdb.DuckDBPyConnection, query: exp.Expression) -> pa.Table:
    with translate_duckdb(EngineError, _READING, by_kind=_CLOSED):
        return con.sql(query.sql("duckdb")).to_arrow_table()


def _numpy(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None
) -> dict[str, np.ndarray]:
    return _execute(con, sql, params).fetchnumpy()


def data_version(con: duckdb.DuckDBPyConnection) -> tuple[Any, ...]:
    """A fingerprint of the loaded data (the loads recorded, the row counts)."""
    with translate_duckdb(EngineError, "cannot read the history tables"):
        rows = con.execute(
            "SELECT (SELECT count(*) FROM loads), (SELECT max(load_id) FROM loads), "
            "(SELECT count(*) FROM page_views), (SELECT count(*) FROM var_changes), "
            "(SELECT count(*) FROM chat_events)"
        ).fetchall()
    return tuple(rows[0])


def source_record(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The ``source`` record (mode, timezone, seed), empty when none.

    A database holds one source (the loader refuses a second); a database holding more
    (loaded before that rule) is refused rather than one of them picked by chance.
    """
    with translate_duckdb(EngineError, "cannot read the source table"):
        frame = con.execute(
            exp.select("*").from_("source").order_by("source_id").sql("duckdb")
        ).df()
    if len(frame) == 0:
        return {}
    if len(frame) > 1:
        raise EngineError(one_source_message(frame["source_id"].tolist()))
    return {k: (None if v is None or v != v else v) for k, v in frame.iloc[0].to_dict().items()}


# Fixed SQL text; values are bound parameters.
_VISITORS_SQL = """
CREATE OR REPLACE TEMP TABLE _el_vr AS
SELECT (row_number() OVER (ORDER BY visitor_id) - 1)::INTEGER AS code, visitor_id
FROM (SELECT DISTINCT visitor_id FROM page_views WHERE visitor_id IS NOT NULL)
"""

_STATUS_SQL = """
SELECT epoch_ms(changed_at) AS t,
       arg_max(status, source_status_id) IN ('inactive', 'maintenance') AS off
FROM source_status WHERE changed_at IS NOT NULL GROUP BY changed_at ORDER BY t
"""

_IDENTITIES_SQL = """
SELECT vr.code, min(epoch_ms(i.set_at)) AS id_at,
       min(CASE WHEN i.signed THEN epoch_ms(i.set_at) END) AS signed_at
FROM identities i JOIN _el_vr vr USING (visitor_id)
WHERE i.set_at IS NOT NULL GROUP BY vr.code
"""

_VAR_SQL = """
SELECT v.vpos, p.pos AS ppos
FROM (SELECT row_number() OVER () - 1 AS vpos, page_view_id FROM var_changes) v
JOIN (SELECT row_number() OVER () - 1 AS pos, page_view_id FROM page_views) p
  USING (page_view_id)
"""

#: the variable changes with their page view (pvi) and instant (ms); a change another
#: one of the same variable at the same instant outranks (greater id) is left out
_VC_VIEW_SQL = """
CREATE OR REPLACE TEMP VIEW _el_vc AS
SELECT m.pvi, v.name, m.c, v.value, v.var_change_id
FROM var_changes v POSITIONAL JOIN _el_vcmap m
WHERE m.keep
"""

#: the rows that may tie (same page view, instant and name hash): their names and ids
_TIE_ROWS_SQL = """
SELECT v.vpos, v.name, v.var_change_id
FROM (SELECT row_number() OVER () - 1 AS vpos, name, var_change_id FROM var_changes) v
SEMI JOIN _el_tied t ON t.vpos = v.vpos
"""


def _scan_query(segment: tuple[str, tuple[tuple[str, Any], ...]] | None) -> str:
    """Per ``page_views`` row: start, end, flags and the segment test (in scan order; with a
    segment, which may join the visitor's country, with the scan position ``pos``).

    The segment arrives as the SQL text its compiler generated
    (:func:`engage_lab.replay.segment_sql`, values bound as parameters) and is placed in a
    fixed template as it is: parsing it back into sqlglot would not give the same text
    (a ``json_extract`` would come back as ``->``, which DuckDB reads as a lambda inside
    ``list_transform``)."""
    if segment is None:
        return _SCAN_SQL
    return _SEGMENT_SCAN_SQL.replace("{segment}", segment[0])


_SCAN_COLUMNS = """epoch_ms(started_at) AS s,
       coalesce(epoch_ms(ended_at), epoch_ms(started_at) + $inferred) AS e,
       coalesce(embedded, false) AS embedded,
       coalesce(page_change, false) AS page_change"""

_SCAN_SQL = "SELECT " + _SCAN_COLUMNS + ", true AS seg FROM page_views"

_SEGMENT_SCAN_SQL = (
    "SELECT pos, "
    + _SCAN_COLUMNS
    + """, coalesce({segment}, false) AS seg
FROM (SELECT row_number() OVER () - 1 AS pos, * FROM page_views) p
LEFT JOIN (SELECT visitor_id AS _vid, country FROM visitors) v ON v._vid = p.visitor_id
"""
)


_CODES_SQL = """
SELECT pos, code
FROM (SELECT row_number() OVER () - 1 AS pos, visitor_id FROM page_views)
JOIN _el_vr USING (visitor_id)
"""


#: per connection, the page facts built on it (their frames read strings from it lazily)
_LIVE: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, weakref.WeakSet[Pages]] = (
    weakref.WeakKeyDictionary()
)


def detach_all(con: duckdb.DuckDBPyConnection) -> None:
    """Before ``con`` closes: let every result built on it read its strings (one fetch
    per page facts, not per result)."""
    for pages in list(_LIVE.get(con, ())):
        pages.detach(con)


def build_pages(con: duckdb.DuckDBPyConnection, key: PagesKey, ahead: Ahead | None = None) -> Pages:
    """Compute the :class:`Pages` of ``key`` and register their SQL views (``ahead``: the
    reads to run beside the compiled passes, :mod:`engage_lab.engine.ahead`; the variable
    changes' page views are one)."""
    if ahead is None:
        with Ahead(con) as own:
            return build_pages(con, key, own)
    ahead.later("var", var_read)
    _execute(con, _VISITORS_SQL)
    n_visitors = int(_execute(con, "SELECT count(*) FROM _el_vr").fetchall()[0][0])
    params: dict[str, Any] = {"inferred": schema.INFERRED_PAGE_LENGTH_MS}
    if key.segment is not None:
        params.update(dict(key.segment[1]))
    scan = _numpy(con, _scan_query(key.segment), params)
    n_scan = len(scan["s"])
    if "pos" in scan:  # back to scan order
        at = scan.pop("pos").astype(np.int64)
        for name, values in scan.items():
            ordered = np.empty_like(values)
            ordered[at] = values
            scan[name] = ordered
    codes = _numpy(con, _CODES_SQL)
    code = np.full(n_scan, -1, np.int32)
    code[np.asarray(codes.pop("pos"), np.int64)] = codes.pop("code")
    start = np.asarray(scan.pop("s"), np.int64)
    end = np.asarray(scan.pop("e"), np.int64)
    ahead.go()  # the compiled passes below leave DuckDB to the reads started ahead
    order = _engine_order(con, code, start)
    in_sample = np.ones(n_visitors, np.bool_)
    if key.sample is not None:
        draw = in_sample_sql(
            exp.column("visitor_id"), exp.Placeholder(this="fraction"), exp.Placeholder(this="seed")
        )
        sampled = _numpy(
            con,
            exp.select("code", draw.as_("keep")).from_("_el_vr").sql("duckdb"),
            {"fraction": key.sample, "seed": key.sample_seed or "0"},
        )
        in_sample[sampled["code"].astype(np.int64)] = sampled["keep"].astype(np.bool_)
    status = _numpy(con, _STATUS_SQL)
    lo, hi = key.time_range if key.time_range is not None else (-NEVER, NEVER)
    flags = [np.asarray(scan.pop(c), np.bool_) for c in ("page_change", "embedded", "seg")]
    rec = tiered(page_records)(code, start, end, *flags)
    del scan, start, end, code, flags
    # visits are derived over all page views (a segment or time range keeps their visits)
    out = tiered(derive_pages)(
        order,
        rec,
        in_sample,
        np.int64(lo),
        np.int64(hi),
        np.array([s for s, _ in key.idle_steps], np.int64),
        np.array([i for _, i in key.idle_steps], np.int64),
        np.array(key.entry_starts, np.int64),
        status["t"].astype(np.int64),
        status["off"].astype(np.bool_),
    )
    n_kept = int(out[0])
    fields = [a[:n_kept] for a in out[1:]]
    pos, visitor, visit, visit_pos, p_start, p_end, limit, vstart, idx, vcount = fields[:10]
    embedded, carries, active, entry, seq_pvi = (
        fields[10],
        fields[11],
        fields[12],
        fields[13],
        out[-1],
    )
    ids = _identities(con, n_visitors)
    pages = Pages(
        key=key,
        pos=pos,
        visitor=visitor,
        visit=visit,
        visit_pos=visit_pos,
        start=p_start,
        end=p_end,
        limit=limit,
        visit_start=vstart,
        idx=idx,
        vcount=vcount,
        embedded=embedded,
        carries=carries,
        active=active,
        entry=entry,
        id_at=ids[0],
        signed_at=ids[1],
        n_scan=n_scan,
    )
    _register(con, pages)
    _LIVE.setdefault(con, weakref.WeakSet()).add(pages)
    _var_changes(con, pages, order, rec, seq_pvi, ahead.take("var", var_read))
    return pages


def _engine_order(
    con: duckdb.DuckDBPyConnection, code: np.ndarray, start: np.ndarray
) -> np.ndarray:
    """Scan positions in the engine's order: visitor code, start, then page view id (ids
    are read only for the rare ties of visitor and start)."""
    if len(code) == 0:
        return np.zeros(0, np.int32)
    index = np.empty(len(code), position_type(len(code)))
    order, ties = tiered(visitor_time_order)(code, start, index)
    if len(ties):
        ids = _arrow(con, exp.select("page_view_id").from_("page_views")).column(0)
        _sort_ties(order, ties, ids)
    return order


def _sort_ties(order: np.ndarray, ties: np.ndarray, ids: Any) -> None:
    """Order each run ``order[a:b]`` of equal (visitor, start) by page view id."""
    for a, b in ties.tolist():
        run = order[a:b]
        names = ids.take(pa.array(run)).to_pylist()
        order[a:b] = run[np.argsort(np.array(names, dtype=object), kind="stable")]


def _identities(con: duckdb.DuckDBPyConnection, n_visitors: int) -> tuple[np.ndarray, np.ndarray]:
    rows = _numpy(con, _IDENTITIES_SQL)
    id_at = np.full(n_visitors, NEVER, np.int64)
    signed_at = np.full(n_visitors, NEVER, np.int64)
    codes = rows["code"].astype(np.int64)
    id_at[codes] = rows["id_at"].astype(np.int64)
    signed = rows["signed_at"]
    mask = ~np.ma.getmaskarray(signed)
    signed_at[codes[mask]] = np.ma.getdata(signed)[mask].astype(np.int64)
    return id_at, signed_at


def _register(con: duckdb.DuckDBPyConnection, pages: Pages) -> None:
    n = len(pages)
    pvi = np.arange(n, dtype=position_type(n))
    table = pa.table(
        {
            "pvi": pvi,
            "pos": pages.pos,
            "code": pages.visitor,
            "visit": pages.visit,
            "s": pages.start,
            "e": pages.end,
            "lim": pages.limit,
            "vstart": pages.visit_start,
            "idx": pages.idx,
            "vcount": pages.vcount,
        }
    )
    pages._tables["pv"] = table
    con.register("_el_pv", table)


def _var_changes(
    con: duckdb.DuckDBPyConnection,
    pages: Pages,
    order: np.ndarray,
    rec: np.ndarray,
    seq_pvi: np.ndarray,
    read: tuple[dict[str, np.ndarray], dict[str, np.ndarray]],
) -> None:
    """Register ``_el_vcmap(pvi, c, keep)`` (one row per ``var_changes`` row, scan order)
    and the view ``_el_vc`` over it (``read``: :func:`var_read`)."""
    fetched, rows = read
    n_vc = len(fetched["c"])
    c = _int_column(fetched["c"], NEVER)
    ppos = np.full(n_vc, -1, np.int32)
    ppos[np.asarray(rows.pop("vpos"), np.int64)] = rows.pop("ppos")
    pvi = tiered(assign_var_changes)(ppos, c, order, rec, seq_pvi)
    del ppos
    keep = pvi >= 0
    tied = tiered(shared_instants)(pvi, c, fetched.pop("h"), len(pages))
    if len(tied):
        con.register("_el_tied", pa.table({"vpos": tied}))
        try:
            rows = _execute(con, _TIE_ROWS_SQL).df()
        finally:
            con.unregister("_el_tied")
        rows["pvi"] = pvi[rows["vpos"].to_numpy(np.int64)]
        rows["c"] = c[rows["vpos"].to_numpy(np.int64)]
        for _, group in rows.groupby(["pvi", "c", "name"], sort=False):
            if len(group) > 1:  # the greatest var_change_id wins
                losers = group.sort_values("var_change_id").iloc[:-1]["vpos"].to_numpy()
                keep[losers.astype(np.int64)] = False
    vcmap = pa.table({"pvi": pvi, "c": c, "keep": keep})
    pages._tables["vcmap"] = vcmap
    con.register("_el_vcmap", vcmap)
    _execute(con, _VC_VIEW_SQL)


def var_read(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, np.ndarray], ...]:
    """Per ``var_changes`` row its instant and name hash (scan order), and the scan
    positions of the variable changes and their page views (the history tables only)."""
    fetched = _numpy(con, "SELECT epoch_ms(changed_at) AS c, hash(name) AS h FROM var_changes")
    return fetched, _numpy(con, _VAR_SQL)


def _int_column(values: np.ndarray, missing: int) -> np.ndarray:
    """A fetched integer column as int64 (``missing`` where null), without a copy when
    it has no nulls."""
    data = np.asarray(np.ma.getdata(values), np.int64)
    mask = np.ma.getmaskarray(values) if np.ma.isMaskedArray(values) else None
    if mask is not None and mask.any():
        data = np.where(mask, missing, data)
    return data
