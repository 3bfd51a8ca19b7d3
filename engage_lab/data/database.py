"""Opening an engage_lab database: the DuckDB file, its tables, its facts.

One process at a time: DuckDB locks the file, and a second process gets a one-line
:class:`~engage_lab.errors.DatabaseError` naming the process that holds it.

Memory: DuckDB keeps a load's temporary tables within its ``memory_limit`` (80 % of RAM
by default) and spills the rest to ``<db>.tmp``; a smaller bound is one setting away
(``lab.con.execute("SET memory_limit = '2GB'")``), at some cost in speed.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from engage_lab.data import dbfile, schema
from engage_lab.data.sqltext import Sql, ident, join, sql
from engage_lab.display import visible
from engage_lab.errors import DatabaseError, duckdb_message, translate_duckdb

__all__ = [
    "connect",
    "create_tables",
    "get_meta",
    "set_meta",
    "table_columns",
]

_LOCK_PID = re.compile(r"\(PID (\d+)\)")


def connect(path: str | Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (or create) the database file and make sure every table exists.

    With ``read_only``, the file must exist and is only read: nothing is created, a file
    without write permission opens, and other read-only processes may read it at the
    same time.

    Raises
    ------
    DatabaseError
        The file is locked by another process, is not a DuckDB database (a data file,
        a folder), cannot be created or written (and ``read_only`` is not set), or
        (``read_only``) is missing or holds no engage_lab tables; one line naming
        the path.
    """
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:  # bytes Python kept as surrogates; DuckDB takes only UTF-8
        raise DatabaseError(
            f"{visible(path)}: the file name is not UTF-8; DuckDB cannot open it"
        ) from None
    # A path DuckDB would open as something else (a data file, a folder), or a create
    # cut short, is settled first; a new database is created whole (see dbfile), never
    # for a read-only open.
    target = dbfile.prepare(path, initialise=_initialise, create=not read_only)
    path = Path(path)
    with translate_duckdb(
        DatabaseError,
        f"{path}: cannot open",
        first_line=True,
        by_kind={duckdb.IOException: lambda exc: _cannot_open(path, exc, read_only)},
    ):
        con = duckdb.connect(str(target), read_only=read_only)
    try:
        with translate_duckdb(DatabaseError, f"{path}: cannot use", first_line=True):
            dbfile.check_opened(con, path, target)
            # Timestamps are UTC everywhere; casts of zoned strings must not depend on the
            # machine's zone.
            con.execute("SET TimeZone = 'UTC'")
            # Our own progress bar (stderr, on long loads) replaces DuckDB's, which would
            # print into the output of the CLI and of notebooks.
            con.execute("SET enable_progress_bar = false")
            if not read_only:
                create_tables(con)
            elif not _has_tables(con):
                raise DatabaseError(f"{path} holds no engage_lab tables (load data into it)")
    except DatabaseError:
        con.close()
        raise
    return con


def _initialise(con: duckdb.DuckDBPyConnection) -> None:
    """The tables of a new database (run on its file before it takes its name)."""
    con.execute("SET TimeZone = 'UTC'")
    create_tables(con)


def _has_tables(con: duckdb.DuckDBPyConnection) -> bool:
    (count,) = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = ?",
        [schema.META_TABLE],
    ).fetchone()
    return count > 0


def _cannot_open(path: Path, exc: duckdb.Error, read_only: bool) -> str:
    """Why DuckDB could not open ``path``: another process's lock (with its pid), a file
    this user may not write (or read), or DuckDB's own words."""
    text = str(exc)
    if "lock" in text.lower():
        found = _LOCK_PID.search(text)
        pid = f" (pid {found.group(1)})" if found else ""
        return f"{path} is in use by another process{pid}; close it there first"
    if "permission denied" in text.lower():
        if read_only:
            return f"{path}: cannot read the database: permission denied"
        return (
            f"{path}: cannot write the database (permission denied); it can only be "
            "opened read-only, to query or replay it"
        )
    return f"{path}: cannot open: {duckdb_message(exc, first_line=True)}"


def _column_defs(columns: tuple[schema.Column, ...]) -> Sql:
    return join(sql("{n} {t}", n=ident(c.name), t=Sql(c.sql_type)) for c in columns)


def table_columns(table: schema.Table) -> tuple[schema.Column, ...]:
    """Every stored column of a data table: the schema's, then the bookkeeping ones."""
    return table.columns + schema.BOOKKEEPING_COLUMNS


def create_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the data tables, ``loads`` and ``lab_meta`` when missing."""
    for table in schema.TABLES:
        con.execute(
            sql(
                "CREATE TABLE IF NOT EXISTS {t} ({cols})",
                t=ident(table.name),
                cols=_column_defs(table_columns(table)),
            )
        )
    con.execute(
        sql(
            "CREATE TABLE IF NOT EXISTS {t} ({cols})",
            t=ident(schema.LOADS_TABLE),
            cols=_column_defs(schema.LOADS_COLUMNS),
        )
    )
    con.execute(
        sql(
            "CREATE TABLE IF NOT EXISTS {t} (key VARCHAR PRIMARY KEY, value VARCHAR)",
            t=ident(schema.META_TABLE),
        )
    )
    if get_meta(con, "schema_version") is None:
        set_meta(con, "schema_version", schema.SCHEMA_VERSION)


def get_meta(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    """A fact of ``lab_meta`` (None when not set)."""
    row = con.execute(
        sql("SELECT value FROM {t} WHERE key = ?", t=ident(schema.META_TABLE)), [key]
    ).fetchone()
    return None if row is None else row[0]


def set_meta(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    """Set a fact of ``lab_meta``."""
    con.execute(
        sql(
            "INSERT OR REPLACE INTO {t} (key, value) VALUES (?, ?)",
            t=ident(schema.META_TABLE),
        ),
        [key, value],
    )
