"""Columns the loader derives: path, clock offsets, inferred page ends, visits.

* ``path``: the URL without scheme, host and anchor (query kept), when a page view does
  not carry one: ``https://shop.example/cart?step=1#top`` -> ``/cart?step=1``.
* clock offsets: a ``visitor`` record's ``clock_offset_ms`` (browser clock minus server
  clock) is subtracted from that visitor's browser times (page views, var changes, chat
  events, identities) in the same load and in later loads. An offset must arrive with or
  before the visitor's first records: a visitor record with a non-zero offset for a
  visitor who already has browser records in the database is refused (unload that load
  and load both together) — otherwise some of the visitor's times would be shifted and
  others not. An offset is at most one day either way, and a shifted time must still lie
  in the plausible range (:data:`engage_lab.data.validate.PLAUSIBLE`).
* ``ended_at`` when not recorded (``end_recorded = false``): the instant of the page
  view's last recorded event (its var changes and chat events; never before its start),
  or ``started_at`` + 30 min when it has none. Recomputed whenever a load or an unload
  changes the events of the page view.
* ``visit_id``: a visit is a run of one visitor's page views, in ``(started_at,
  page_view_id)`` order, in which no page view starts more than the visit idle duration
  after the latest end of the page views before it; its id is the ``page_view_id`` of
  its first page view. Recomputed for every visitor a load or an unload touches.
* ``value_type`` of a var change: ``string``, ``number``, ``boolean`` or ``null``.
"""

from __future__ import annotations

import duckdb

from engage_lab.data import schema
from engage_lab.data.sqltext import Sql, ident, join, literal, sql
from engage_lab.data.validate import PLAUSIBLE

__all__ = [
    "PATH_FROM_URL",
    "VALUE_TYPE",
    "apply_clock_offsets",
    "rederive_page_views",
]

#: SQL of the path of ``url`` (a column): scheme and host removed, then the anchor.
PATH_FROM_URL = Sql(
    "CASE WHEN url IS NULL THEN NULL ELSE (SELECT CASE WHEN p = '' OR p[1] = '?' "
    "THEN '/' || p ELSE p END FROM (SELECT regexp_replace(regexp_replace(url, "
    "'^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*', ''), '#.*$', '') AS p)) END"
)

#: SQL of the value type of a JSON ``value`` column.
VALUE_TYPE = Sql(
    "CASE WHEN value IS NULL THEN 'null' ELSE CASE json_type(value) "
    "WHEN 'VARCHAR' THEN 'string' WHEN 'BOOLEAN' THEN 'boolean' WHEN 'NULL' THEN 'null' "
    "ELSE 'number' END END"
)


def apply_clock_offsets(con: duckdb.DuckDBPyConnection, typed: dict[str, Sql]) -> None:
    """Subtract visitors' clock offsets from the browser times of the typed records.

    ``typed`` maps table name to its typed staging table. ``_offsets(visitor_id, off)``
    must exist (non-zero offsets of the database and of this load).
    """
    (count,) = con.execute("SELECT count(*) FROM _offsets").fetchone()
    if count == 0:
        return
    for table_name, (visitor_col, time_cols) in schema.BROWSER_TIMES.items():
        target = typed[table_name]
        if con.execute(sql("SELECT 1 FROM {t} LIMIT 1", t=target)).fetchone() is None:
            continue
        _shifted_out_of_range(con, schema.TABLES_BY_NAME[table_name], target, visitor_col)
        sets = join(sql("{c} = {c} - to_milliseconds(o.off)", c=ident(c)) for c in time_cols)
        if visitor_col is not None:
            con.execute(
                sql(
                    "UPDATE {t} SET {sets} FROM _offsets o WHERE {t}.{v} = o.visitor_id",
                    t=target,
                    v=ident(visitor_col),
                    sets=sets,
                )
            )
        else:  # var changes: the visitor of their page view
            con.execute(
                sql(
                    "UPDATE {t} SET {sets} FROM _pv_visitor m JOIN _offsets o USING (visitor_id) "
                    "WHERE {t}.page_view_id = m.page_view_id",
                    t=target,
                    sets=sets,
                )
            )


def _shifted_out_of_range(
    con: duckdb.DuckDBPyConnection, table: schema.Table, target: Sql, visitor_col: str | None
) -> None:
    """Browser times the clock offset moves out of the plausible range: refused.

    A time already out of range is refused on its own (:mod:`.validate`).
    """
    lo, hi = (sql("TIMESTAMP {d}", d=literal(d)) for d in PLAUSIBLE)
    if visitor_col is not None:
        offsets = sql("JOIN _offsets o ON o.visitor_id = r.{v}", v=ident(visitor_col))
    else:
        offsets = Sql("JOIN _pv_visitor m USING (page_view_id) JOIN _offsets o USING (visitor_id)")
    for column in schema.BROWSER_TIMES[table.name][1]:
        c = sql("r.{c}", c=ident(column))
        shifted = sql("({c} - to_milliseconds(o.off))", c=c)
        con.execute(
            sql(
                """
            INSERT INTO _problems
            SELECT r.file_no, r.line_no, {field},
                   strftime({c}, {iso}) || ' minus the visitor''s clock offset of ' || o.off
                   || ' ms is ' || strftime({shifted}, {iso}) || {outside}
            FROM {target} r {offsets}
            WHERE {c} >= {lo} AND {c} < {hi} AND ({shifted} < {lo} OR {shifted} >= {hi})
            """,
                field=literal(f"{table.record_type}.{column}"),
                c=c,
                shifted=shifted,
                iso=literal("%Y-%m-%dT%H:%M:%S.%gZ"),
                outside=literal(f", outside {PLAUSIBLE[0]} .. {PLAUSIBLE[1]}"),
                target=target,
                offsets=offsets,
                lo=lo,
                hi=hi,
            )
        )


def rederive_page_views(con: duckdb.DuckDBPyConnection, visit_idle_ms: int) -> None:
    """Recompute inferred ends and visit ids of the page views of ``_affected`` visitors."""
    con.execute(
        sql(
            """
        CREATE OR REPLACE TEMP TABLE _pv_derived AS
        WITH pv AS (
            SELECT page_view_id, visitor_id, started_at, ended_at, end_recorded
            FROM page_views WHERE visitor_id IN (SELECT visitor_id FROM _affected)
        ),
        last_event AS (
            SELECT page_view_id, max(instant) AS instant FROM (
                SELECT page_view_id, changed_at AS instant FROM var_changes
                UNION ALL SELECT page_view_id, event_at FROM chat_events
            ) WHERE page_view_id IN (SELECT page_view_id FROM pv)
            GROUP BY page_view_id
        ),
        ends AS (
            SELECT pv.*, CASE WHEN end_recorded THEN ended_at
                              WHEN e.instant IS NULL THEN started_at + to_milliseconds({length})
                              ELSE greatest(e.instant, started_at) END AS new_end
            FROM pv LEFT JOIN last_event e USING (page_view_id)
        ),
        gaps AS (
            SELECT *, max(new_end) OVER (PARTITION BY visitor_id ORDER BY started_at, page_view_id
                      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
            FROM ends
        ),
        numbered AS (
            SELECT *, sum(CASE WHEN prev_end IS NULL
                               OR epoch_ms(started_at) - epoch_ms(prev_end) > ? THEN 1 ELSE 0 END)
                      OVER (PARTITION BY visitor_id ORDER BY started_at, page_view_id
                            ROWS UNBOUNDED PRECEDING) AS visit_no
            FROM gaps
        )
        SELECT page_view_id, new_end,
               first_value(page_view_id) OVER (PARTITION BY visitor_id, visit_no
                   ORDER BY started_at, page_view_id) AS new_visit_id
        FROM numbered
        """,
            length=literal(schema.INFERRED_PAGE_LENGTH_MS),
        ),
        [visit_idle_ms],
    )
    con.execute(
        """
        UPDATE page_views SET ended_at = d.new_end, visit_id = d.new_visit_id
        FROM _pv_derived d
        WHERE page_views.page_view_id = d.page_view_id
          AND (page_views.ended_at IS DISTINCT FROM d.new_end
               OR page_views.visit_id IS DISTINCT FROM d.new_visit_id)
        """
    )
    con.execute("DROP TABLE _pv_derived")
