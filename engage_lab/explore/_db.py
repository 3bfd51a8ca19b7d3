"""The connection and argument plumbing shared by the exploration modules."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, TypeAlias

import duckdb
import pandas as pd
from sqlglot import exp

from engage_lab.data import schema
from engage_lab.errors import DatabaseError, EngageLabError, one_source_message, translate_duckdb
from engage_lab.timezones import is_known_timezone

if TYPE_CHECKING:
    from engage_lab.lab import Lab

__all__ = [
    "Database",
    "ExploreArgumentError",
    "bucket_seconds",
    "create_tables",
    "run",
    "source_timezone",
    "time_column",
    "zone",
]


class ExploreArgumentError(EngageLabError, ValueError):
    """An argument of an exploration function that cannot be used (zone, bucket)."""


#: What every function accepts: ``el.open(db)``'s Lab, or a DuckDB connection.
Database: TypeAlias = "Lab | duckdb.DuckDBPyConnection"


def connection(db: Database) -> duckdb.DuckDBPyConnection:
    if isinstance(db, duckdb.DuckDBPyConnection):
        return db
    con = getattr(db, "con", None)  # Lab.con (raises DatabaseError once the Lab is closed)
    if isinstance(con, duckdb.DuckDBPyConnection):
        return con
    raise ExploreArgumentError(f"not a Lab or a DuckDB connection: {type(db).__name__}")


_MISSING = {duckdb.CatalogException: lambda exc: f"the database lacks a table or column: {exc}"}


def run(db: Database, query: str, params: dict[str, object] | None = None) -> pd.DataFrame:
    """Run constant SQL text with bound parameters; DuckDB errors become ours."""
    con = connection(db)
    with translate_duckdb(DatabaseError, "query failed", by_kind=_MISSING):
        return con.execute(query, params or {}).df()


def create_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the empty data tables of the schema (for tests and scratch databases).

    The loader creates the real ones (with its bookkeeping columns); this creates the
    schema's columns only, so a test can insert hand-written rows.

    >>> import duckdb
    >>> con = duckdb.connect()
    >>> create_tables(con)
    >>> con.execute("select count(*) from page_views").fetchone()
    (0,)
    """
    for table in schema.TABLES:
        columns = [
            exp.ColumnDef(
                this=exp.to_identifier(c.name, quoted=True),
                kind=exp.DataType.build(c.sql_type, dialect="duckdb"),
            )
            for c in table.columns
        ]
        create = exp.Create(
            this=exp.Schema(this=exp.to_table(table.name, quoted=True), expressions=columns),
            kind="TABLE",
            exists=True,
        )
        con.execute(create.sql("duckdb"))


def source_timezone(db: Database) -> str:
    """The IANA zone of the recorded source (``source.timezone``), ``'UTC'`` if unknown.

    >>> import duckdb
    >>> con = duckdb.connect()
    >>> create_tables(con)
    >>> source_timezone(con)
    'UTC'
    """
    result = run(db, "select source_id, timezone from source order by source_id")
    if len(result) > 1:  # never one picked by chance (a database loaded before the rule)
        raise DatabaseError(one_source_message(result["source_id"].tolist()))
    recorded = None if result.empty else result["timezone"].iloc[0]
    return "UTC" if recorded is None or pd.isna(recorded) else str(recorded)


def zone(db: Database, timezone: str | None) -> str:
    """``timezone``, or the source's when None; an unknown zone is refused."""
    name = source_timezone(db) if timezone is None else timezone
    if not is_known_timezone(name):  # one both engines read alike (engage_lab.timezones)
        raise ExploreArgumentError(f"unknown timezone: {name!r}")
    return name


def time_column(table: schema.Table) -> str | None:
    """The column that places a table's records in time (its first timestamp)."""
    for column in table.columns:
        if column.sql_type == "TIMESTAMP":
            return column.name
    return None


def bucket_seconds(bucket: str | timedelta) -> int:
    try:
        width = pd.Timedelta(bucket)
    except (ValueError, TypeError) as error:
        raise ExploreArgumentError(f"not a duration: {bucket!r}") from error
    seconds = width.total_seconds()
    if seconds <= 0 or seconds != int(seconds):
        raise ExploreArgumentError(f"bucket must be a positive whole number of seconds: {bucket}")
    return int(seconds)
