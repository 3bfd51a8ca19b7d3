"""Reads of the history tables run ahead, on their own cursor, while the main thread runs
compiled passes.

Building the page facts is a sequence of single-threaded passes (the visitor/time order,
the visits, the variable-change assignment) between DuckDB queries. Queries that read
only the history tables (the variable changes' page views, the page values a plan's
criteria test, the placeholders, the page view ids) do not wait for those passes: an
:class:`Ahead` starts them on a second connection to the same database (``con.cursor()``)
in one background thread, so DuckDB and the passes share the cores. Each result is
taken once (:meth:`Ahead.take`), then dropped; a read that was not started runs on the
caller's connection at that point, with the same result.

>>> import duckdb
>>> con = duckdb.connect()
>>> _ = con.execute("CREATE TABLE t AS SELECT range AS x FROM range(5)")
>>> with Ahead(con) as ahead:
...     ahead.start("total", lambda c: c.execute("SELECT sum(x) FROM t").fetchall()[0][0])
...     ahead.later("top", lambda c: c.execute("SELECT max(x) FROM t").fetchall()[0][0])
...     ahead.go()
...     ahead.take("total", lambda c: None), ahead.take("top", None), ahead.take("other", lambda c: 7)
(10, 4, 7)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import duckdb

__all__ = ["ENGINE_THREADS", "Ahead"]

#: threads the engine's compiled passes split page views between (the scan, the pass)
ENGINE_THREADS = max(1, min(os.cpu_count() or 1, 8))


class Ahead:
    """Reads started ahead on a cursor of ``con`` (see the module docstring)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self._pool: ThreadPoolExecutor | None = None
        self._cursor: duckdb.DuckDBPyConnection | None = None
        self._futures: dict[Any, Future[Any]] = {}
        self._waiting: dict[Any, Callable[[duckdb.DuckDBPyConnection], Any]] = {}

    def start(self, key: Any, read: Callable[[duckdb.DuckDBPyConnection], Any]) -> None:
        """Run ``read(cursor)`` in the background (reads run one after the other)."""
        if key in self._futures:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="engage-lab-ahead")
            self._cursor = self._con.cursor()
        cursor = self._cursor
        self._futures[key] = self._pool.submit(read, cursor)

    def later(self, key: Any, read: Callable[[duckdb.DuckDBPyConnection], Any]) -> None:
        """Keep ``read`` to :meth:`start` at :meth:`go` (the caller knows when the main
        thread leaves DuckDB for its compiled passes)."""
        if key not in self._futures and key not in self._waiting:
            self._waiting[key] = read

    def go(self) -> None:
        """Start what :meth:`later` kept, in the order it was kept."""
        waiting, self._waiting = self._waiting, {}
        for key, read in waiting.items():
            self.start(key, read)

    def started(self, key: Any) -> bool:
        """Whether ``key`` was started and not taken yet."""
        return key in self._futures

    def take(self, key: Any, read: Callable[[duckdb.DuckDBPyConnection], Any]) -> Any:
        """The result of ``key`` (waiting for it), or ``read(con)`` now when it was not
        started. An error of the read is raised here."""
        self._waiting.pop(key, None)
        future = self._futures.pop(key, None)
        if future is None:
            return read(self._con)
        return future.result()

    def close(self) -> None:
        """Drop what was not taken (waiting for a read in progress) and the cursor."""
        self._waiting.clear()
        for future in self._futures.values():
            future.cancel()
        self._futures.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._cursor is not None:
            self._cursor.close()
            self._cursor = None

    def __enter__(self) -> Ahead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
