"""The analyst's entry point: ``el.open(db)`` returns a :class:`Lab`.

A ``Lab`` holds one DuckDB connection to one database file and delegates the work to
``engage_lab.data`` (loading, unloading, quality). Later features add methods here
(``replay``), each a thin call into its own package.

>>> import tempfile, pathlib, engage_lab as el
>>> db = pathlib.Path(tempfile.mkdtemp()) / "doc.duckdb"
>>> with el.open(db) as lab:
...     int(lab.sql("select count(*) as n from page_views")["n"][0])
0
"""

from __future__ import annotations

import builtins
import sys
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from engage_lab.config.limits import MAX_DURATION_MS
from engage_lab.data import database, loading
from engage_lab.data import quality as _quality
from engage_lab.data.loading import LoadReport
from engage_lab.data.quality import Quality
from engage_lab.data.sqltext import ident, sql
from engage_lab.durations import DurationError, duration_ms
from engage_lab.errors import ConfigError, DatabaseError, EngageLabError, translate_duckdb

if TYPE_CHECKING:
    from engage_lab.replay import ReplayResult

__all__ = ["Lab", "open"]


class Lab:
    """One engage_lab database, open for loading, querying and (later) replaying.

    Parameters
    ----------
    path
        The DuckDB file; created with every table when missing (a 0-byte file, what a
        create cut short leaves, counts as missing). Any other file that is not a DuckDB
        database (a data file, a folder) is refused with :class:`DatabaseError`.
    read_only
        Only read the file (it must exist): for replays and queries of a file this user
        may not write, or that other read-only processes read at the same time. Loads
        and unloads are refused by DuckDB.
    """

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._con: duckdb.DuckDBPyConnection | None = database.connect(path, read_only=read_only)

    # -- connection ---------------------------------------------------------------------
    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection (for the engines; analysts use :meth:`sql`)."""
        if self._con is None:
            raise DatabaseError(f"{self.path} is closed")
        return self._con

    def close(self) -> None:
        """Release the file for other processes (a second close does nothing); replay
        results keep their frames readable."""
        if self._con is not None:
            pages = sys.modules.get("engage_lab.engine.pages")
            if pages is not None:  # replays ran: their frames may still be read later
                pages.detach_all(self._con)
            self._con.close()
            self._con = None

    def __enter__(self) -> Lab:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._con is None else "open"
        return f"<Lab {str(self.path)!r} ({state})>"

    # -- data ---------------------------------------------------------------------------
    def load(
        self, *paths: str | Path, visit_idle: str | int | None = None, progress: bool | None = None
    ) -> LoadReport:
        """Load JSON Lines / CSV / Parquet files or folders, in one transaction.

        Parameters
        ----------
        *paths
            Files, or folders whose data files (top level only) are read.
        visit_idle
            Visit idle duration: ``"24h"``, ``"30m"``, ``"1h30m"``, or a bare number of
            **seconds** (``1800`` is 30 minutes), read as a configuration's ``visit_idle``
            is (:func:`engage_lab.durations.duration_ms`). None keeps the database's
            (24 h for a new one); another value re-derives the
            visits of every visitor.
        progress
            Show a progress bar on stderr for long loads (default: when it is a terminal).

        Returns
        -------
        LoadReport
            ``load_id``, records added per table, records already present.

        Raises
        ------
        LoadError
            Any problem in any file; every problem is listed and nothing is loaded.
        ConfigError
            ``visit_idle`` is not a positive duration.
        """
        self._writable("load")
        idle = None if visit_idle is None else _visit_idle_ms(visit_idle)
        return loading.load(self.con, paths, visit_idle_ms=idle, progress=progress)

    def unload(self, load_id: str) -> dict[str, int]:
        """Undo one load as a whole; return the records removed per table.

        Raises
        ------
        LoadError
            (``UnloadError``) unknown or already undone load, or records of other loads
            refer to records of this one.
        """
        self._writable("unload")
        return loading.unload(self.con, load_id)

    def _writable(self, what: str) -> None:
        if self.read_only:
            raise DatabaseError(f"{self.path} is open read-only: cannot {what}")

    def quality(self) -> Quality:
        """The data-quality summary of the whole database."""
        return _quality.quality(self.con)

    def loads(self) -> pd.DataFrame:
        """The ``loads`` table, oldest first."""
        return self.con.execute(sql("SELECT * FROM {t} ORDER BY load_id", t=ident("loads"))).df()

    def replay(self, config: Any, **options: Any) -> ReplayResult:
        """Replay a configuration over this database's history.

        A thin call into :func:`engage_lab.replay.replay` (same options: ``engine``,
        ``seed``, ``time_range``, ``sample``, ``segment``); returns a
        :class:`~engage_lab.replay.ReplayResult` with ``.events``, ``.kpis`` and, where
        the history holds recorded chat events, ``.fidelity``.
        """
        from engage_lab.replay import replay  # the replay stack loads only when used

        return replay(self, config, **options)

    def sql(
        self, query: str, params: builtins.list[Any] | dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Run a query; return its result as a DataFrame.

        Raises
        ------
        EngageLabError
            The query failed (DuckDB's message, one line).
        """
        with translate_duckdb(EngageLabError, "query failed", first_line=True):
            return self.con.execute(query, params).df()


def _visit_idle_ms(value: str | float) -> int:
    """The visit idle duration in ms, refused (as a configuration's is) unless positive."""
    try:
        ms = duration_ms(value)
    except DurationError as exc:
        raise ConfigError([f"visit_idle: {exc}"]) from exc
    if ms == 0:
        raise ConfigError(['visit_idle: must be longer than 0, e.g. "24h" (the default)'])
    if ms > MAX_DURATION_MS:  # as a configuration's: instants plus it stay valid timestamps
        raise ConfigError(
            [
                f"visit_idle: {value} is longer than the longest duration, "
                "2**53 ms (about 285,000 years)"
            ]
        )
    return ms


def open(path: str | Path, *, read_only: bool = False) -> Lab:
    """Open (or create) an engage_lab database; ``read_only`` only reads an existing one.

    >>> import tempfile, pathlib, engage_lab as el
    >>> db = pathlib.Path(tempfile.mkdtemp()) / "x.duckdb"
    >>> lab = el.open(db)
    >>> lab.close()
    >>> with el.open(db, read_only=True) as lab:
    ...     int(lab.sql("select count(*) as n from page_views")["n"][0])
    0
    """
    return Lab(path, read_only=read_only)
