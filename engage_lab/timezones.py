"""Which timezone names engage_lab accepts: those both engines read the same way.

The reference engine reads local clocks with Python's :mod:`zoneinfo`, the fast engine
with DuckDB's ICU. Each knows names the other does not: zoneinfo opens any file of the
tz database, so ``posix/Europe/Paris`` and ``right/UTC`` (a zone *with leap seconds*,
27 s off UTC) load, while DuckDB silently reads a name it does not know as UTC;
DuckDB knows Java-style abbreviations (``PST``, ``IST``) that zoneinfo does not; a
folder name (``Europe``) makes zoneinfo fail with an OS error. A zone is accepted only
when it is in DuckDB's own list (``SELECT name FROM pg_timezone_names()``) **and**
zoneinfo loads it, so the two engines can never disagree on a clock. Names are
case-sensitive, as in the tz database.

>>> is_known_timezone("Europe/Paris"), is_known_timezone("UTC")
(True, True)
>>> is_known_timezone("posix/Europe/Paris"), is_known_timezone("right/UTC")
(False, False)
>>> is_known_timezone("Europe"), is_known_timezone("PST")
(False, False)
>>> timezone_problem("Europe")
"unknown timezone 'Europe'; use an IANA name such as UTC or Europe/Paris"
"""

from __future__ import annotations

import functools
import zoneinfo

import duckdb

__all__ = ["is_known_timezone", "known_timezones", "timezone_problem"]


@functools.cache
def known_timezones() -> frozenset[str]:
    """Every accepted zone name: DuckDB's list, less the names zoneinfo cannot load."""
    con = duckdb.connect()
    try:
        rows = con.execute("SELECT name FROM pg_timezone_names()").fetchall()
    finally:
        con.close()
    return frozenset(name for (name,) in rows if _zoneinfo_loads(name))


def _zoneinfo_loads(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False  # OSError: a folder of the tz database, or an unreadable file
    return True


def is_known_timezone(name: object) -> bool:
    """Whether ``name`` is a zone both engines read (:func:`known_timezones`)."""
    return isinstance(name, str) and name in known_timezones()


def timezone_problem(name: object) -> str | None:
    """None for a known zone, else the message that says what to write instead.

    >>> timezone_problem("Europe/Paris") is None
    True
    """
    if is_known_timezone(name):
        return None
    return f"unknown timezone {name!r}; use an IANA name such as UTC or Europe/Paris"
