"""Transactional loads and unloads.

One load call is one DuckDB transaction: every file is read, typed and checked, and only
when no problem was found anywhere are the new records inserted, the derived columns
recomputed and the ``loads`` row written, then committed. Any problem (or a crash, or a
SIGKILL) leaves the database as it was. Records already in the database with identical
content are skipped, so loading a file twice adds nothing; that load still gets its own
``loads`` row (``rows = 0``).

``unload(load_id)`` removes exactly the records that load added (``load_id`` column),
re-derives the visits and inferred ends of the visitors it touched, and marks the
``loads`` row undone (``undone_at``); it refuses when records of other loads refer to
records it would remove.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from engage_lab.data import database, derive, integrity, readers, schema, validate
from engage_lab.data.files import (
    FileReadError,
    SourceFile,
    discover,
    prepass,
    write_readable_copy,
)
from engage_lab.data.progress import StepProgress
from engage_lab.data.sqltext import Sql, ident, join, sql
from engage_lab.errors import LoadError, translate_duckdb

__all__ = ["MAX_KEPT_PROBLEMS", "LoadReport", "UnloadError", "load", "unload"]

#: Problems kept on a LoadError; its ``total`` counts every problem found.
MAX_KEPT_PROBLEMS = 10_000


class UnloadError(LoadError):
    """An unload refused (unknown or undone load, or records of other loads need it)."""


@dataclass(frozen=True)
class LoadReport:
    """What one load call did.

    ``rows``: records added; ``rows_by_table``: the same per table; ``skipped``: records
    read but not added because the database already held them (or they were repeated in
    the load) with identical content; ``files``: absolute paths read.
    """

    load_id: str
    files: tuple[str, ...]
    rows: int
    rows_by_table: dict[str, int]
    skipped: int
    visit_idle_ms: int
    seconds: float = field(compare=False)

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return {
            "load_id": self.load_id,
            "files": list(self.files),
            "rows": self.rows,
            "rows_by_table": dict(self.rows_by_table),
            "skipped": self.skipped,
            "visit_idle_ms": self.visit_idle_ms,
        }

    def __str__(self) -> str:
        lines = [
            f"load {self.load_id}: {self.rows} records added from {len(self.files)} file(s)"
            + (f", {self.skipped} already loaded" if self.skipped else "")
        ]
        width = max((len(t) for t in self.rows_by_table), default=0)
        lines += [f"  {t:<{width}}  {n:>10,}" for t, n in self.rows_by_table.items() if n]
        return "\n".join(lines)


def _fetch_problems(con: duckdb.DuckDBPyConnection) -> tuple[list[str], int]:
    """The first ``MAX_KEPT_PROBLEMS`` problems, in file and line order, and their count."""
    (total,) = con.execute("SELECT count(*) FROM _problems").fetchone()
    if total == 0:
        return [], 0
    rows = con.execute(
        """
        SELECT f.name || ':' || p.line_no || ': ' || p.field || ': ' || p.message
        FROM _problems p JOIN _files f USING (file_no)
        ORDER BY p.file_no, p.line_no, p.field, p.message
        LIMIT ?
        """,
        [MAX_KEPT_PROBLEMS],
    ).fetchall()
    return [r[0] for r in rows], total


def _next_load_id(con: duckdb.DuckDBPyConnection) -> str:
    (count,) = con.execute(sql("SELECT count(*) FROM {t}", t=ident(schema.LOADS_TABLE))).fetchone()
    return f"L{count + 1:04d}"


def _stored_select(table: schema.Table) -> Sql:
    """Select list that turns a ``_new_<type>`` row into a stored row."""
    parts = []
    for column in table.columns:
        if column.raw:
            parts.append(sql("n.{c}", c=ident(column.name)))
        elif column.name == "end_recorded":
            parts.append(Sql("n.ended_at IS NOT NULL"))
        elif column.name == "value_type":
            parts.append(derive.VALUE_TYPE)
        else:  # visit_id: derived after the insert
            parts.append(Sql("NULL"))
    parts += [Sql("?"), Sql("f.name"), Sql("n.line_no")]
    return join(parts)


def _present_types(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Record types the load carries (the others skip the costly statements)."""
    present = set()
    for table in schema.TABLES:
        row = con.execute(
            sql("SELECT 1 FROM {s} LIMIT 1", s=readers.stage_table(table.record_type))
        ).fetchone()
        if row is not None:
            present.add(table.record_type)
    return present


def _check(con: duckdb.DuckDBPyConnection, bar: StepProgress) -> set[str]:
    """Type, check and select the new records of every staged record type."""
    present = _present_types(con)
    for table in schema.TABLES:
        if table.record_type in present:
            validate.type_records(con, table)
        else:
            validate.create_empty_typed(con, table)
    bar.step("checking duplicates and references")
    if "page_view" in present:
        con.execute(
            sql("UPDATE _typed_page_view SET path = {p} WHERE path IS NULL", p=derive.PATH_FROM_URL)
        )

    def select_new(table: schema.Table) -> None:
        if table.record_type in present:
            integrity.select_new_records(con, table)
        else:
            con.execute(
                sql(
                    "CREATE TEMP TABLE {new} AS SELECT * EXCLUDE (ok) FROM {typed} LIMIT 0",
                    new=integrity.new_table(table.record_type),
                    typed=validate.typed_table(table.record_type),
                )
            )

    select_new(schema.RECORD_TYPES["visitor"])
    integrity.check_clock_offsets(con)
    con.execute(
        """
        CREATE TEMP TABLE _pv_visitor AS
        -- the stored page view's visitor, else the first record's (an id given again
        -- with another visitor is refused as a conflict; the messages stay the same)
        -- (one BIGINT key: as fast as any_value, a struct key is 1.5x slower)
        SELECT page_view_id, arg_min(visitor_id, k) AS visitor_id FROM (
            SELECT page_view_id, visitor_id, (file_no::BIGINT << 40) + line_no AS k
            FROM _typed_page_view
            UNION ALL SELECT page_view_id, visitor_id, -1 FROM page_views)
        WHERE page_view_id IS NOT NULL AND visitor_id IS NOT NULL GROUP BY page_view_id
        """
    )
    typed = {t.name: validate.typed_table(t.record_type) for t in schema.TABLES}
    derive.apply_clock_offsets(con, typed)
    for table in schema.TABLES:
        if table.record_type != "visitor":
            select_new(table)
    integrity.check_references(con, present)
    if "source" in present:
        integrity.check_single_source(con)
    return present


def _insert(con: duckdb.DuckDBPyConnection, load_id: str, present: set[str]) -> dict[str, int]:
    counts = {}
    for table in schema.TABLES:
        counts[table.name] = 0
        if table.record_type not in present:
            continue
        names = [c.name for c in table.columns] + [c.name for c in schema.BOOKKEEPING_COLUMNS]
        con.execute(
            sql(
                "INSERT INTO {t} ({cols}) SELECT {sel} FROM {new} n JOIN _files f USING (file_no)",
                t=ident(table.name),
                cols=join(ident(n) for n in names),
                sel=_stored_select(table),
                new=integrity.new_table(table.record_type),
            ),
            [load_id],
        )
        (counts[table.name],) = con.execute(
            sql("SELECT count(*) FROM {new}", new=integrity.new_table(table.record_type))
        ).fetchone()
    return counts


def _current_idle(con: duckdb.DuckDBPyConnection) -> int:
    value = database.get_meta(con, "visit_idle_ms")
    return schema.DEFAULT_VISIT_IDLE_MS if value is None else int(value)


def load(
    con: duckdb.DuckDBPyConnection,
    paths: tuple[str | Path, ...],
    visit_idle_ms: int | None = None,
    progress: bool | None = None,
) -> LoadReport:
    """Load files or folders in one transaction; see the module docstring."""
    started = time.perf_counter()
    files, problems = discover(paths)
    if not files:
        raise LoadError(problems or ["nothing to load"], headline="load refused:")
    current_idle = _current_idle(con)
    idle = current_idle if visit_idle_ms is None else visit_idle_ms
    # A DuckDB error we did not diagnose: say what DuckDB said (after the rollback below).
    refused = "load refused, the database is unchanged:"
    with (
        StepProgress(total=2 * len(files) + 4, enabled=progress) as bar,
        tempfile.TemporaryDirectory(prefix="engage-lab-load-") as scratch,
        translate_duckdb(
            lambda words: LoadError([*problems, f"database error: {words}"], headline=refused),
            first_line=True,
        ),
    ):
        bad_files = set()
        byte_problems: list[tuple[int, int, str, str]] = []
        for source in files:
            bar.step(f"hashing {source.name}")
            found = prepass(source)
            if not found and source.needs_copy:  # the copy is read: later lines are checked
                copy = Path(scratch) / f"{source.file_no}{source.path.suffix}"
                try:  # made from the file through exact_path: a change since hashing is caught
                    copied = write_readable_copy(source, copy)
                except FileReadError as exc:
                    found = [(1, "file", str(exc))]
                else:
                    byte_problems += [(source.file_no, *p) for p in copied]
            if not found:
                found = _probe(source)
            if found:
                bad_files.add(source.file_no)
                byte_problems += [(source.file_no, *p) for p in found]
        con.execute("BEGIN TRANSACTION")
        try:
            readers.create_staging(con)
            con.execute("CREATE TEMP TABLE _files (file_no INTEGER, name VARCHAR)")
            con.executemany(
                "INSERT INTO _files VALUES (?, ?)", [[f.file_no, f.name] for f in files]
            )
            if byte_problems:
                readers.add_problems(con, byte_problems)
            for source in files:
                bar.step(f"reading {source.name}")
                unreadable = source.fmt != "jsonl" and source.record_type is None
                if source.file_no not in bad_files and not unreadable:
                    try:
                        readers.stage_file(con, source)
                    except FileReadError as exc:  # moved, changed or unreadable since hashed
                        if isinstance(exc.__cause__, duckdb.Error):  # the transaction aborted
                            problem = f"{source.name}:1: file: {exc}"
                            raise LoadError([*problems, problem], headline=refused) from exc
                        bad_files.add(source.file_no)
                        con.execute(
                            "INSERT INTO _problems VALUES (?, 1, 'file', ?)",
                            [source.file_no, str(exc)],
                        )
                    except duckdb.Error as exc:  # the transaction is aborted: say where
                        problem = readers.unreadable_problem(source, exc)
                        raise LoadError([*problems, problem], headline=refused) from exc
            bar.step("checking records")
            readers.stage_jsonl_records(
                con, [f for f in files if f.fmt == "jsonl" and f.file_no not in bad_files]
            )
            present = _check(con, bar)
            found, total = _fetch_problems(con)
            if problems or found:
                raise LoadError([*problems, *found], headline=refused, total=len(problems) + total)
            bar.step("writing")
            load_id = _next_load_id(con)
            counts = _insert(con, load_id, present)
            (typed_rows,) = con.execute(
                sql(
                    "SELECT {s}",
                    s=join(
                        (
                            sql("(SELECT count(*) FROM {t})", t=validate.typed_table(t.record_type))
                            for t in schema.TABLES
                        ),
                        " + ",
                    ),
                )
            ).fetchone()
            con.execute(
                """
                CREATE TEMP TABLE _affected AS
                SELECT DISTINCT visitor_id FROM (
                    SELECT visitor_id FROM _new_page_view
                    UNION ALL SELECT m.visitor_id FROM _new_var_change JOIN _pv_visitor m
                        USING (page_view_id)
                    UNION ALL SELECT m.visitor_id FROM _new_chat_event JOIN _pv_visitor m
                        USING (page_view_id))
                """
            )
            if idle != current_idle:  # visits of every visitor follow the new duration
                con.execute(
                    "INSERT INTO _affected SELECT DISTINCT visitor_id FROM page_views "
                    "EXCEPT SELECT visitor_id FROM _affected"
                )
            derive.rederive_page_views(con, idle)
            database.set_meta(con, "visit_idle_ms", str(idle))
            rows = sum(counts.values())
            con.execute(
                sql(
                    "INSERT INTO {t} VALUES (?, now()::TIMESTAMP, ?, ?, ?, ?, ?, NULL)",
                    t=ident(schema.LOADS_TABLE),
                ),
                [
                    load_id,
                    [str(f.path) for f in files],
                    [f.digest for f in files],
                    rows,
                    json.dumps(counts),
                    idle,
                ],
            )
            _drop_temp(con)
            con.execute("COMMIT")
        except BaseException:
            _rollback(con)
            raise
    return LoadReport(
        load_id=load_id,
        files=tuple(str(f.path) for f in files),
        rows=rows,
        rows_by_table=counts,
        skipped=typed_rows - rows,
        visit_idle_ms=idle,
        seconds=time.perf_counter() - started,
    )


def _probe(source: SourceFile) -> list[tuple[int, str, str]]:
    """:func:`readers.probe_file`, a file changed or gone since it was hashed a problem."""
    try:
        return readers.probe_file(source)
    except FileReadError as exc:
        return [(1, "file", str(exc))]


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    # The transaction may already be aborted by DuckDB; then there is nothing to undo.
    with contextlib.suppress(duckdb.Error):
        con.execute("ROLLBACK")


def _drop_temp(con: duckdb.DuckDBPyConnection) -> None:
    views = con.execute(
        "SELECT view_name FROM duckdb_views() WHERE temporary AND starts_with(view_name, '_')"
    ).fetchall()
    for (name,) in views:
        con.execute(sql("DROP VIEW {t}", t=ident(name)))
    names = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary AND starts_with(table_name, '_')"
    ).fetchall()
    for (name,) in names:
        con.execute(sql("DROP TABLE {t}", t=ident(name)))


def unload(con: duckdb.DuckDBPyConnection, load_id: str) -> dict[str, int]:
    """Undo one load as a whole; return the records removed per table."""
    row = con.execute(
        sql("SELECT undone_at FROM {t} WHERE load_id = ?", t=ident(schema.LOADS_TABLE)),
        [load_id],
    ).fetchone()
    if row is None:
        raise UnloadError([f"no load {load_id!r} in this database"], headline="unload refused:")
    if row[0] is not None:
        raise UnloadError(
            [f"load {load_id} was already undone at {row[0]:%Y-%m-%d %H:%M:%S}"],
            headline="unload refused:",
        )
    con.execute("BEGIN TRANSACTION")
    try:
        problems = _dangling(con, load_id)
        if problems:
            raise UnloadError(problems, headline=f"unload {load_id} refused, nothing removed:")
        con.execute(
            """
            CREATE TEMP TABLE _affected AS
            SELECT DISTINCT p.visitor_id FROM page_views p WHERE p.load_id = ?
               OR p.page_view_id IN (SELECT page_view_id FROM var_changes WHERE load_id = ?)
               OR p.page_view_id IN (SELECT page_view_id FROM chat_events WHERE load_id = ?)
            """,
            [load_id, load_id, load_id],
        )
        removed = {}
        for table in schema.TABLES:
            (removed[table.name],) = con.execute(
                sql("SELECT count(*) FROM {t} WHERE load_id = ?", t=ident(table.name)),
                [load_id],
            ).fetchone()
            con.execute(sql("DELETE FROM {t} WHERE load_id = ?", t=ident(table.name)), [load_id])
        derive.rederive_page_views(con, _current_idle(con))
        con.execute(
            sql(
                "UPDATE {t} SET undone_at = now()::TIMESTAMP WHERE load_id = ?",
                t=ident(schema.LOADS_TABLE),
            ),
            [load_id],
        )
        _drop_temp(con)
        con.execute("COMMIT")
    except BaseException:
        _rollback(con)
        raise
    return removed


def _dangling(con: duckdb.DuckDBPyConnection, load_id: str) -> list[str]:
    """Records of other loads that refer to records of ``load_id``."""
    problems: list[str] = []
    for table in schema.TABLES:
        for column in table.columns:
            if column.references is None:
                continue
            target = schema.TABLES_BY_NAME[column.references]
            rows = con.execute(
                sql(
                    """
                SELECT r.{id}, r.{c}, r.load_id, r.load_file, r.load_line
                FROM {t} r JOIN {target} x ON x.{tid} = r.{c}
                WHERE x.load_id = ? AND r.load_id IS DISTINCT FROM ?
                ORDER BY r.load_id, r.load_file, r.load_line LIMIT 1000
                """,
                    id=ident(table.id_column),
                    c=ident(column.name),
                    t=ident(table.name),
                    target=ident(target.name),
                    tid=ident(target.id_column),
                ),
                [load_id, load_id],
            ).fetchall()
            problems += [
                f"{file}:{line}: {table.record_type}.{column.name}: {rid!r} of load {lid} "
                f"refers to {target.record_type} {ref!r}, which load {load_id} added"
                for rid, ref, lid, file, line in rows
            ]
    rows = con.execute(
        """
        SELECT v.visitor_id, r.load_id, r.load_file, r.load_line FROM visitors v
        JOIN (SELECT visitor_id, load_id, load_file, load_line FROM page_views
              UNION ALL SELECT visitor_id, load_id, load_file, load_line FROM identities
              UNION ALL SELECT visitor_id, load_id, load_file, load_line FROM chat_events) r
          USING (visitor_id)
        WHERE v.load_id = ? AND coalesce(v.clock_offset_ms, 0) <> 0 AND r.load_id <> ?
        ORDER BY r.load_id, r.load_file, r.load_line LIMIT 1000
        """,
        [load_id, load_id],
    ).fetchall()
    problems += [
        f"{file}:{line}: visitor {vid!r}: its clock offset (load {load_id}) was applied to "
        f"this record of load {lid}"
        for vid, lid, file, line in rows
    ]
    return problems
