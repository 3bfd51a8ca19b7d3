"""The error tree of engage_lab.

Every error the library raises on purpose derives from one root, so callers can catch
``EngageLabError`` and know they saw a problem we diagnosed, not a crash::

    EngageLabError
    ├── LoadError              bad input data: carries ``problems`` (file:line: field: problem)
    ├── DatabaseError          the database file cannot be opened or used (locked, corrupt)
    ├── ConfigError            an invalid configuration: carries ``problems`` (JSON path: message)
    ├── ConditionError         a condition that cannot be parsed (carries the JSON path)
    ├── CompileError           a condition that cannot be compiled to SQL
    │   └── UnsupportedOperatorError(dialect, op)
    ├── EngineError            a replay that cannot run (missing data, inconsistent state)
    │   └── MissingSeedError   a gated trigger and no seed
    └── NotBuiltError          a command that exists in the interface but is not built yet

Errors from DuckDB, sqlglot or pydantic are translated at the boundary with
``raise ... from``, so the original stays available as ``__cause__``. DuckDB's are
translated in one place, :func:`translate_duckdb`, a context manager (as httpx maps its
transport errors): each call site names the error to raise and the context of the
message (the file, the table, what was being read), the manager adds DuckDB's words.

>>> import duckdb
>>> try:
...     with translate_duckdb(DatabaseError, "cannot read table agents", first_line=True):
...         duckdb.connect().execute("SELECT * FROM agents")
... except DatabaseError as error:
...     print(error)
cannot read table agents: Catalog Error: Table with name agents does not exist!
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager

import duckdb

__all__ = [
    "CompileError",
    "ConditionError",
    "ConfigError",
    "DatabaseError",
    "EngageLabError",
    "EngineError",
    "LoadError",
    "MissingSeedError",
    "NotBuiltError",
    "UnsupportedOperatorError",
    "duckdb_message",
    "one_source_message",
    "translate_duckdb",
]

#: How many problems an error message lists before it only counts the rest.
MAX_LISTED_PROBLEMS = 20


class EngageLabError(Exception):
    """The root of every error engage_lab raises on purpose."""


class _ProblemListError(EngageLabError):
    """An error that carries every problem found, not only the first."""

    def __init__(
        self, problems: Iterable[str], headline: str | None = None, total: int | None = None
    ) -> None:
        self.problems: list[str] = list(problems)
        self.headline = headline
        #: How many problems were found: more than ``problems`` holds when only the first
        #: ones were kept (a file of a million bad lines).
        self.total = max(total or 0, len(self.problems))
        super().__init__(self._render())

    def _render(self) -> str:
        """The headline, the first problems, and how many more were found.

        >>> print(LoadError(["a.jsonl:1: x: bad", "a.jsonl:2: x: bad"], total=30_000))
        a.jsonl:1: x: bad
        a.jsonl:2: x: bad
        ... and 29,998 more problems
        """
        lines = [] if self.headline is None else [self.headline]
        shown = self.problems[:MAX_LISTED_PROBLEMS]
        lines += shown
        hidden = self.total - len(shown)
        if hidden > 0:
            lines.append(f"... and {hidden:,} more problem{'s' if hidden != 1 else ''}")
        return "\n".join(lines)


class LoadError(_ProblemListError):
    """Input data refused; each problem reads ``file:line: field: problem``."""


class DatabaseError(EngageLabError):
    """The database file cannot be opened or used."""


class ConfigError(_ProblemListError):
    """An invalid configuration; each problem reads ``json.path: message``."""


class ConditionError(EngageLabError):
    """A condition that cannot be parsed; ``path`` is its JSON path."""

    def __init__(self, message: str, path: str = "") -> None:
        self.path = path
        self.detail = message
        super().__init__(f"{path}: {message}" if path else message)


class CompileError(EngageLabError):
    """A condition that cannot be compiled to SQL."""


class UnsupportedOperatorError(CompileError):
    """A node kind the compiler of ``dialect`` has no handler for."""

    def __init__(self, dialect: str, op: str) -> None:
        self.dialect = dialect
        self.op = op
        super().__init__(f"{dialect}: no SQL for {op}")


class EngineError(EngageLabError):
    """A replay that cannot run."""


class MissingSeedError(EngineError):
    """A gated trigger needs a seed: neither the history nor the caller gave one.

    ``how`` says how to give one where the error is shown: ``seed=`` in Python, the
    command line says ``--seed``.

    >>> str(MissingSeedError())
    'a gated trigger needs a seed: the history has none; pass seed='
    >>> str(MissingSeedError("pass --seed SEED"))
    'a gated trigger needs a seed: the history has none; pass --seed SEED'
    """

    def __init__(self, how: str = "pass seed=") -> None:
        super().__init__(f"a gated trigger needs a seed: the history has none; {how}")


class NotBuiltError(EngageLabError):
    """A command of the stable interface that is not built yet."""


def one_source_message(source_ids: list[str]) -> str:
    """Why a history holding several ``source`` records cannot be replayed.

    >>> one_source_message(["s1", "s2"])
    "the database holds 2 source records ('s1', 's2'); a history has one (its seed and zone)"
    """
    listed = ", ".join(repr(i) for i in source_ids[:5]) + (", ..." if len(source_ids) > 5 else "")
    return (
        f"the database holds {len(source_ids)} source records ({listed}); "
        "a history has one (its seed and zone)"
    )


def duckdb_message(error: BaseException, *, first_line: bool = False) -> str:
    """DuckDB's words for ``error``: whole, or its first non-blank line.

    DuckDB appends hints and "LINE 1: ..." excerpts of the SQL after the first line; the
    first line alone suits a message about the user's data or database file.

    >>> duckdb_message(duckdb.Error("Catalog Error: no table\\n\\nDid you mean?"), first_line=True)
    'Catalog Error: no table'
    """
    text = str(error)
    if not first_line:
        return text
    return next((line for line in text.splitlines() if line.strip()), text)


@contextmanager
def translate_duckdb(
    error: Callable[[str], EngageLabError],
    context: str | None = None,
    *,
    first_line: bool = False,
    by_kind: Mapping[type[duckdb.Error], Callable[[duckdb.Error], str]] | None = None,
) -> Iterator[None]:
    """Raise ``error(message)`` from any DuckDB error raised in the block.

    Parameters
    ----------
    error
        The engage_lab error class, or a function of the message that builds the error
        (e.g. a :class:`LoadError` listing the problems found so far).
    context
        What was being done (``"cannot read table agents"``); the message is
        ``"{context}: {DuckDB's words}"``, or DuckDB's words alone when None.
    first_line
        Keep only the first non-blank line of DuckDB's words (:func:`duckdb_message`).
    by_kind
        Whole messages for particular DuckDB error classes (checked in order, before the
        general message), e.g. a connection closed under a lazy frame.

    >>> closed = {duckdb.ConnectionException: lambda exc: "read the frames before closing"}
    >>> try:
    ...     with translate_duckdb(EngineError, "reading the page views failed", by_kind=closed):
    ...         raise duckdb.ConnectionException("Connection already closed!")
    ... except EngineError as error:
    ...     print(error)
    read the frames before closing
    """
    try:
        yield
    except duckdb.Error as exc:
        for kind, message in (by_kind or {}).items():
            if isinstance(exc, kind):
                raise error(message(exc)) from exc
        words = duckdb_message(exc, first_line=first_line)
        raise error(words if context is None else f"{context}: {words}") from exc
