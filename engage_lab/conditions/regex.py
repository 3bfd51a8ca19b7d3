"""Regexes as every engine runs them: RE2, in time linear in the text.

DuckDB evaluates ``$regex`` with RE2 (``regexp_matches``), which never backtracks. The
reference evaluator (and every other place that evaluates a condition in Python) runs the
same library through its official Python binding (``google-re2``) with the same options,
RE2's defaults, so both engines read a pattern alike: UTF-8 text, ``.`` not matching a
newline, ``^`` / ``$`` only at the ends of the text (``$`` not before a final newline),
``\\d``, ``\\w``, ``\\s`` and ``\\b`` ASCII-only, ``(?i)`` folding Unicode case. Where
Python's ``re`` reads a pattern otherwise (``\\w`` on ``é``, ``$`` before ``\\n``,
``{,3}``), RE2 wins: Python's ``re`` backtracks (``^([\\w./:-]+)*!$`` took 32 s on a
short URL) and is not used to evaluate.

A pattern is *accepted* when both RE2s compile it: the binding's and the (older) one
DuckDB ships, asked once per pattern on a private in-memory connection (DuckDB's does
not know ``(?<name>…)``). A pattern that is not accepted matches nothing: ``$regex`` is
false and ``$notRegex`` true, in every engine, as in GrowthBook for a pattern that does
not compile. The configuration validator refuses such patterns with their JSON path
(:func:`engage_lab.conditions.check_regex`).

>>> regex_finds("^/cart/[0-9]+$", "/cart/12")
True
>>> regex_finds(r"^([\\w./:-]+)*!$", "https://shop.example/products/item-1234/detail" * 4)
False
>>> regex_finds("(?=x)", "x") is None  # look-ahead: not RE2, so no answer
True
>>> regex_finds("CART", "/cart", insensitive=True), regex_finds(r"\\w", "é")
(True, False)
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

import re2

__all__ = ["INSENSITIVE_PREFIX", "re2_problem", "regex_finds"]

#: What ``$regexi`` / ``$notRegexi`` put before the pattern, in every engine.
INSENSITIVE_PREFIX = "(?i)"

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a refused pattern is an answer, not a line on stderr

_duckdb_lock = threading.Lock()
_duckdb_connection: Any = None


def _duckdb_problem(pattern: str) -> str | None:
    global _duckdb_connection
    import duckdb

    from engage_lab.errors import duckdb_message

    with _duckdb_lock:
        if _duckdb_connection is None:
            _duckdb_connection = duckdb.connect(":memory:")
        try:
            _duckdb_connection.execute("SELECT regexp_matches('', $p)", {"p": pattern}).fetchone()
        except duckdb.Error as error:
            # an invalid pattern is the answer here, not a failure to translate
            return duckdb_message(error, first_line=True).removeprefix("Invalid Input Error: ")
    return None


@lru_cache(maxsize=256)  # each compiled RE2 may hold up to 8 MiB of DFA cache
def _compiled(pattern: str) -> tuple[Any, str | None]:
    """RE2's compiled pattern and ``None``, or ``None`` and why RE2 refuses it."""
    try:
        compiled = re2.compile(pattern, _OPTIONS)
    except re2.error as error:
        reason = error.args[0] if error.args else "invalid pattern"
        return None, reason.decode("utf-8", "replace") if isinstance(reason, bytes) else reason
    except (TypeError, UnicodeError) as error:  # a lone surrogate cannot be UTF-8
        return None, str(error)
    problem = _duckdb_problem(pattern)
    return (None, problem) if problem is not None else (compiled, None)


def re2_problem(pattern: str) -> str | None:
    """Why RE2 (in Python and in DuckDB) refuses ``pattern``, or ``None`` if both accept it.

    >>> re2_problem("^/cart/[0-9]+$") is None
    True
    >>> re2_problem(r"(a)\\1")
    'invalid escape sequence: \\\\1'
    """
    return _compiled(pattern)[1]


def regex_finds(pattern: Any, text: Any, insensitive: bool = False) -> bool | None:
    """Whether RE2 finds ``pattern`` in ``text`` (anywhere, like ``re.search``).

    ``None`` when there is no answer: ``pattern`` is not an accepted string pattern or
    ``text`` is not a string (the operators then read as GrowthBook's "error" case).
    ``insensitive`` prefixes ``(?i)``, exactly as the SQL compilers do.
    """
    if not isinstance(pattern, str) or not isinstance(text, str):
        return None
    compiled, _ = _compiled(INSENSITIVE_PREFIX + pattern if insensitive else pattern)
    if compiled is None:
        return None
    try:
        return compiled.search(text) is not None
    except UnicodeError:  # a lone surrogate: no UTF-8 text to search
        return None
