"""Checks across records: duplicates, references, consistency with the database.

Each check is one SQL statement that appends problem rows to ``_problems``; it also
builds ``_new_<type>``, the records of the load that the database does not hold yet.

* the same ``(type, id)`` twice with identical content is one record (overlapping files
  are fine); with other content it is an error naming both places (``file:line`` of the
  first, or the load and ``file:line`` of the record already in the database) and the
  fields that differ;
* a reference (``page_view_id``, ``identity_id``, ``agent_id``) must name a record of
  this load or of the database;
* a chat event's or conversation's ``visitor_id`` must be its page view's visitor;
* one chat source per database;
* a clock offset must arrive with or before its visitor's records (see :mod:`.derive`).
"""

from __future__ import annotations

import duckdb

from engage_lab.data import schema
from engage_lab.data.sqltext import Sql, ident, join, literal, sql
from engage_lab.data.validate import typed_table

__all__ = [
    "check_clock_offsets",
    "check_references",
    "check_single_source",
    "compare_columns",
    "new_table",
    "select_new_records",
]

#: ``(table, visitor column, page view column)``: the visitor must be the page view's.
SAME_VISITOR: tuple[tuple[str, str, str], ...] = (
    ("chat_events", "visitor_id", "page_view_id"),
    ("conversations", "visitor_id", "page_view_id"),
)


def new_table(record_type: str) -> Sql:
    """The table of a load's records that are not in the database yet."""
    return ident(f"_new_{record_type}")


def compare_columns(table: schema.Table) -> list[schema.Column]:
    """The columns that make a record's content (raw columns but the id)."""
    return [c for c in schema.raw_columns(table) if c.name != table.id_column]


def _stored(table: schema.Table, column: schema.Column) -> Sql:
    """A stored column as the raw record gave it (an inferred end was not given)."""
    if table.name == "page_views" and column.name == "ended_at":
        return Sql("CASE WHEN s.end_recorded THEN s.ended_at END")
    return sql("s.{c}", c=ident(column.name))


def _differing(table: schema.Table, left: list[Sql], right: list[Sql]) -> Sql:
    """SQL of the list of raw field names whose values differ between two rows."""
    items = [
        sql(
            "CASE WHEN {a} IS DISTINCT FROM {b} THEN {n} END",
            a=a,
            b=b,
            n=literal(schema.raw_field(table, c)),
        )
        for c, a, b in zip(compare_columns(table), left, right, strict=True)
    ]
    if not items:
        return Sql("CAST([] AS VARCHAR[])")
    return sql("list_filter([{items}], lambda x: x IS NOT NULL)", items=join(items))


def select_new_records(con: duckdb.DuckDBPyConnection, table: schema.Table) -> None:
    """Duplicates within the load and against the database; build ``_new_<type>``."""
    typed = typed_table(table.record_type)
    idc = ident(table.id_column)
    cols = compare_columns(table)
    field = literal(f"{table.record_type}.id")
    # Within the load: every later occurrence of an id is compared with the first. Most
    # loads have no repeated id; then no window (a sort of the whole type) is needed.
    (dups,) = con.execute(
        sql("SELECT count({id}) - count(DISTINCT {id}) FROM {typed}", id=idc, typed=typed)
    ).fetchone()
    con.execute(
        sql(
            """
        CREATE TEMP TABLE _ranked AS
        SELECT *, row_number() OVER (PARTITION BY {id} ORDER BY file_no, line_no) AS rn
        FROM {typed} WHERE {id} IS NOT NULL
        """
            if dups
            else "CREATE TEMP VIEW _ranked AS SELECT *, 1 AS rn FROM {typed} WHERE {id} IS NOT NULL",
            id=idc,
            typed=typed,
        )
    )
    if dups:
        diff = _differing(
            table,
            [sql("a.{c}", c=ident(c.name)) for c in cols],
            [sql("b.{c}", c=ident(c.name)) for c in cols],
        )
        con.execute(
            sql(
                """
            INSERT INTO _problems
            SELECT b.file_no, b.line_no, {field},
                   to_json(b.{id}) || ' given again with other content (' ||
                   array_to_string({diff}, ', ') || '); first at ' || f.name || ':' || a.line_no
            FROM _ranked b
            JOIN _ranked a ON a.{id} = b.{id} AND a.rn = 1
            JOIN _files f ON f.file_no = a.file_no
            WHERE b.rn > 1 AND len({diff}) > 0
            """,
                field=field,
                id=idc,
                diff=diff,
            )
        )
    # Against the database: identical records are skipped, others are conflicts.
    diff = _differing(
        table, [sql("n.{c}", c=ident(c.name)) for c in cols], [_stored(table, c) for c in cols]
    )
    con.execute(
        sql(
            """
        CREATE TEMP TABLE _matched AS
        SELECT n.file_no, n.line_no, n.{id}, {diff} AS d, s.load_id, s.load_file, s.load_line
        FROM _ranked n JOIN {stored} s ON s.{id} = n.{id}
        WHERE n.rn = 1
        """,
            id=idc,
            diff=diff,
            stored=ident(table.name),
        )
    )
    con.execute(
        sql(
            """
        INSERT INTO _problems
        SELECT file_no, line_no, {field},
               to_json({id}) || ' already loaded with other content (' ||
               array_to_string(d, ', ') || ') from ' || load_file || ':' || load_line ||
               ' (load ' || load_id || ')'
        FROM _matched WHERE len(d) > 0
        """,
            field=field,
            id=idc,
        )
    )
    matched = con.execute("SELECT 1 FROM _matched LIMIT 1").fetchone() is not None
    if dups or matched:
        con.execute(
            sql(
                """
            CREATE TEMP TABLE {new} AS
            SELECT * EXCLUDE (rn, ok) FROM _ranked r
            WHERE rn = 1 AND NOT EXISTS (SELECT 1 FROM _matched m WHERE m.{id} = r.{id})
            """,
                new=new_table(table.record_type),
                id=idc,
            )
        )
    else:  # every record is new: no copy, the insert reads the typed table
        con.execute(
            sql(
                "CREATE TEMP VIEW {new} AS SELECT * EXCLUDE (ok) FROM {typed} "
                "WHERE {id} IS NOT NULL",
                new=new_table(table.record_type),
                typed=typed,
                id=idc,
            )
        )
    con.execute("DROP TABLE _ranked" if dups else "DROP VIEW _ranked")
    con.execute("DROP TABLE _matched")


def check_references(con: duckdb.DuckDBPyConnection, present: set[str]) -> None:
    """References to ids found neither in the load nor in the database.

    ``present``: the record types the load carries (others have nothing to check).
    """
    for table in schema.TABLES:
        if table.record_type not in present:
            continue
        for column in table.columns:
            if column.references is None:
                continue
            target = schema.TABLES_BY_NAME[column.references]
            tid = ident(target.id_column)
            con.execute(
                sql(
                    """
                INSERT INTO _problems
                SELECT r.file_no, r.line_no, {field},
                       {msg} || to_json(r.{c}) || ' (not in this load nor in the database)'
                FROM {typed} r
                WHERE r.{c} IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM {ttyped} x WHERE x.{tid} = r.{c})
                  AND NOT EXISTS (SELECT 1 FROM {tstored} y WHERE y.{tid} = r.{c})
                """,
                    field=literal(f"{table.record_type}.{column.name}"),
                    msg=literal(f"unknown {target.record_type} "),
                    c=ident(column.name),
                    typed=typed_table(table.record_type),
                    ttyped=typed_table(target.record_type),
                    tid=tid,
                    tstored=ident(target.name),
                )
            )
    for name, visitor_col, pv_col in SAME_VISITOR:
        table = schema.TABLES_BY_NAME[name]
        if table.record_type not in present:
            continue
        con.execute(
            sql(
                """
            INSERT INTO _problems
            SELECT r.file_no, r.line_no, {field},
                   to_json(r.{v}) || ' is not the visitor of page view ' || to_json(r.{p})
                   || ' (' || to_json(m.visitor_id) || ')'
            FROM {typed} r JOIN _pv_visitor m ON m.page_view_id = r.{p}
            WHERE r.{v} IS NOT NULL AND r.{v} <> m.visitor_id
            """,
                field=literal(f"{table.record_type}.{visitor_col}"),
                v=ident(visitor_col),
                p=ident(pv_col),
                typed=typed_table(table.record_type),
            )
        )


def check_single_source(con: duckdb.DuckDBPyConnection) -> None:
    """One chat source per database.

    The source is the one already loaded, else the first of this load (file, then line
    order); every source record with another id is refused, whatever the ids' order.
    """
    con.execute(
        """
        INSERT INTO _problems
        SELECT n.file_no, n.line_no, 'source.id',
               'a database holds one chat source; ' || to_json(n.source_id) ||
               ' would be another besides ' || to_json(o.source_id) || o.place
        FROM _typed_source n,
             (SELECT source_id, place FROM (
                  SELECT source_id, 0 AS k, 0 AS file_no, 0 AS line_no,
                         ' (already loaded by load ' || load_id || ')' AS place
                  FROM source
                  UNION ALL
                  SELECT t.source_id, 1, t.file_no, t.line_no,
                         ' (' || f.name || ':' || t.line_no || ')'
                  FROM _typed_source t JOIN _files f USING (file_no)
                  WHERE t.source_id IS NOT NULL)
              ORDER BY k, file_no, line_no, source_id LIMIT 1) o
        WHERE n.source_id IS NOT NULL AND n.source_id <> o.source_id
        """
    )


def check_clock_offsets(con: duckdb.DuckDBPyConnection) -> None:
    """Build ``_offsets`` and refuse offsets that arrive after their visitor's records."""
    con.execute(
        """
        CREATE TEMP TABLE _offsets AS
        SELECT visitor_id, any_value(clock_offset_ms) AS off FROM (
            SELECT visitor_id, clock_offset_ms FROM visitors
            UNION ALL SELECT visitor_id, clock_offset_ms FROM _new_visitor
        ) WHERE coalesce(clock_offset_ms, 0) <> 0
          -- an offset out of bounds is refused on its own; applied, it could overflow
          AND clock_offset_ms BETWEEN ? AND ?
        GROUP BY visitor_id
        """,
        [-schema.MAX_CLOCK_OFFSET_MS, schema.MAX_CLOCK_OFFSET_MS],
    )
    con.execute(
        """
        INSERT INTO _problems
        SELECT n.file_no, n.line_no, 'visitor.clock_offset_ms',
               'visitor ' || to_json(n.visitor_id) || ' already has records from load ' ||
               r.load_id || ' (' || r.load_file || ':' || r.load_line ||
               '); a clock offset must be loaded with or before the visitor''s records'
        FROM _new_visitor n
        JOIN (SELECT visitor_id, load_id, load_file, load_line FROM (
                  SELECT visitor_id, load_id, load_file, load_line FROM page_views
                  UNION ALL SELECT visitor_id, load_id, load_file, load_line FROM identities
                  UNION ALL SELECT visitor_id, load_id, load_file, load_line FROM chat_events)
              -- the first record (one record's load, file and line, not three minimums)
              QUALIFY row_number() OVER (PARTITION BY visitor_id
                                         ORDER BY load_id, load_file, load_line) = 1
             ) r USING (visitor_id)
        WHERE coalesce(n.clock_offset_ms, 0) <> 0
        """
    )
