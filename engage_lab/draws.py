"""The gating draw and the visitor sample: one md5-based number, in Python and in SQL.

A gated trigger executes iff ``u < p`` where ``p`` is the server's probability and ``u``
is the client's draw. ``u`` is never a global random state::

    key = seed || '|' || visitor_id || '|' || page_view_id || '|' || trigger_id
    u   = int(first 13 hex digits of md5(utf8(key)), 16) / 2**52

13 hex digits are 52 bits, so the integer fits a double's mantissa and the division by a
power of two is exact: Python, DuckDB and Spark compute the same double, bit for bit.
``u`` lies in ``[0, 1)``.

The same construction gives a stable visitor sample for fast exploration (the
``sample=`` restriction of a replay): a visitor is in a sample of ``fraction`` iff ``sample_draw < fraction`` with
``key = seed || '|sample|' || visitor_id``. The ``sample`` tag keeps the sample
independent of the gating draws, and a visitor in the 10 % sample is also in the 20 % one.

Components are text: an integer seed is written in decimal (``42`` and ``"42"`` give the
same draw), which is also what the ``source.seed`` column stores. In SQL a NULL component
gives a NULL draw; in Python ``None`` is refused (scalars) or gives NaN (vectors).

>>> draw("42", "v1", "pv1", "t-invite") == draw(42, "v1", "pv1", "t-invite")
True
>>> 0.0 <= draw("42", "v1", "pv1", "t-invite") < 1.0
True
>>> import duckdb
>>> sql = draw_sql("42", "v1", "pv1", "t-invite").sql("duckdb")
>>> duckdb.connect().execute("select " + sql).fetchone()[0] == draw(42, "v1", "pv1", "t-invite")
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from sqlglot import exp

from engage_lab.errors import ConfigError, UnsupportedOperatorError

__all__ = [
    "DIALECTS",
    "HEX_DIGITS",
    "SAMPLE_TAG",
    "draw",
    "draw_key",
    "draw_sql",
    "draws",
    "in_sample",
    "in_sample_sql",
    "sample_draw",
    "sample_draw_sql",
    "u_from_bytes",
    "u_from_key",
]

#: Hex digits of the md5 digest kept: 13 digits = 52 bits, exact in a double.
HEX_DIGITS = 13
_SCALE = float(2**52)
_md5 = hashlib.md5
#: Tag separating the visitor-sample key from gating keys.
SAMPLE_TAG = "sample"
#: SQL dialects ``draw_sql`` can target (sqlglot dialect names).
DIALECTS = ("duckdb", "spark")

SqlArg = exp.Expression | str | int


# --------------------------------------------------------------------------- Python


def _text(value: object, name: str) -> str:
    if value is None:
        raise TypeError(f"{name} is None: a draw needs every key component")
    if isinstance(value, bool) or not isinstance(value, (str, int, np.integer)):
        raise TypeError(f"{name} must be a string (or an integer seed), got {type(value)!r}")
    return str(value)


def draw_key(seed: str | int, visitor_id: str, page_view_id: str, trigger_id: str) -> str:
    """The text hashed for a gating draw.

    >>> draw_key(42, "v1", "pv1", "t1")
    '42|v1|pv1|t1'
    """
    parts = (
        _text(seed, "seed"),
        _text(visitor_id, "visitor_id"),
        _text(page_view_id, "page_view_id"),
        _text(trigger_id, "trigger_id"),
    )
    return "|".join(parts)


def u_from_key(key: str) -> float:
    """``int(first 13 hex digits of md5(utf8(key)), 16) / 2**52``.

    >>> u_from_key("abc") == int("900150983cd24", 16) / 2**52  # md5("abc") = 900150983cd24…
    True
    """
    return u_from_bytes(key.encode("utf-8"))


def u_from_bytes(message: bytes) -> float:
    """:func:`u_from_key` of the key's UTF-8 bytes.

    >>> u_from_bytes(b"abc") == u_from_key("abc")
    True
    """
    # The first 7 bytes are the first 14 hex digits; dropping 4 bits keeps 13 (faster
    # than formatting the hex digest, same integer).
    digest = _md5(message, usedforsecurity=False).digest()
    return (int.from_bytes(digest[:7], "big") >> 4) / _SCALE


def draw(seed: str | int, visitor_id: str, page_view_id: str, trigger_id: str) -> float:
    """The client's draw ``u`` in ``[0, 1)`` for one trigger on one page view.

    Parameters
    ----------
    seed
        The history's seed (``source.seed``) or the one a replay names.
    visitor_id, page_view_id, trigger_id
        Ids as stored in the tables (text).

    >>> u = draw("7", "visitor-1", "pv-1", "t-invite")
    >>> u == draw("7", "visitor-1", "pv-1", "t-invite")   # reproducible
    True
    >>> u != draw("7", "visitor-1", "pv-2", "t-invite")   # another page view, another u
    True
    """
    return u_from_key(draw_key(seed, visitor_id, page_view_id, trigger_id))


def _column(values: Iterable[Any] | str | int, n: int | None) -> list[Any]:
    if isinstance(values, (str, int, np.integer)) and not isinstance(values, bool):
        return [values] * (n if n is not None else 1)
    if hasattr(values, "tolist"):  # Series / arrays: far faster than iterating them
        return values.tolist()  # type: ignore[union-attr]
    return list(values)


def draws(
    seed: str | int,
    visitor_ids: Iterable[str] | str,
    page_view_ids: Iterable[str] | str,
    trigger_ids: Iterable[str] | str,
) -> np.ndarray:
    """Vectorized :func:`draw`: arrays, Series or lists (a scalar is broadcast).

    Rows with a missing component (None / NaN / pd.NA) get NaN, as SQL gives NULL.

    >>> draws("42", ["v1", "v2", None], "pv1", "t1").round(6).tolist()[2]
    nan
    >>> bool(draws("42", ["v1"], ["pv1"], ["t1"])[0] == draw("42", "v1", "pv1", "t1"))
    True
    """
    lengths = [
        len(_column(v, None))
        for v in (visitor_ids, page_view_ids, trigger_ids)
        if not isinstance(v, (str, int, np.integer))
    ]
    if len(set(lengths)) > 1:
        raise ValueError(f"draws: columns of different lengths {lengths}")
    n = lengths[0] if lengths else 1
    columns = [_column(v, n) for v in (visitor_ids, page_view_ids, trigger_ids)]
    seed_text = _text(seed, "seed")
    out = np.empty(n, dtype=np.float64)
    for i, (vis, pv, trig) in enumerate(zip(*columns, strict=True)):
        if type(vis) is str and type(pv) is str and type(trig) is str:  # the common case
            out[i] = u_from_key(f"{seed_text}|{vis}|{pv}|{trig}")
        elif any(x is None or (not isinstance(x, str) and pd.isna(x)) for x in (vis, pv, trig)):
            out[i] = np.nan
        else:
            out[i] = u_from_key("|".join((seed_text, str(vis), str(pv), str(trig))))
    return out


def sample_draw(visitor_id: str, seed: str | int) -> float:
    """The visitor's sampling number in ``[0, 1)`` (key ``seed|sample|visitor_id``).

    >>> sample_draw("v1", 42) == u_from_key("42|sample|v1")
    True
    """
    return u_from_key("|".join((_text(seed, "seed"), SAMPLE_TAG, _text(visitor_id, "visitor_id"))))


def _check_fraction(fraction: float) -> float:
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.floating)):
        raise ConfigError([f"sample fraction: expected a number, got {fraction!r}"])
    if not 0.0 <= float(fraction) <= 1.0:
        raise ConfigError([f"sample fraction: {fraction!r} is not in [0, 1]"])
    return float(fraction)


def in_sample(visitor_id: str, fraction: float, seed: str | int) -> bool:
    """Whether a visitor belongs to the stable hash sample of share ``fraction``.

    Samples are nested: a visitor in the 10 % sample is in every larger one.

    >>> in_sample("v1", 1.0, 42), in_sample("v1", 0.0, 42)
    (True, False)
    >>> in_sample("v1", 0.5, 42) == (sample_draw("v1", 42) < 0.5)
    True
    """
    return sample_draw(visitor_id, seed) < _check_fraction(fraction)


# --------------------------------------------------------------------------- SQL


def _sql_arg(value: SqlArg) -> exp.Expression:
    """A column expression as is; a Python string or integer as a text literal."""
    if isinstance(value, exp.Expression):
        return value
    if isinstance(value, bool) or not isinstance(value, (str, int, np.integer)):
        raise TypeError(f"expected a sqlglot expression, a string or an int, got {value!r}")
    return exp.Literal.string(str(value))


def _as_text(value: SqlArg) -> exp.Expression:
    node = _sql_arg(value)
    if isinstance(node, exp.Literal) and node.is_string:
        return node
    # Columns may be integers (a seed column): cast so both engines hash the decimal text.
    return exp.cast(node, exp.DataType.build("VARCHAR"))


def _concat(parts: list[exp.Expression]) -> exp.Expression:
    """``a || '|' || b || ...``; ``||`` is NULL-propagating in DuckDB and Spark alike."""
    node = parts[0]
    for part in parts[1:]:
        node = exp.DPipe(this=node, expression=exp.Literal.string("|"), safe=True)
        node = exp.DPipe(this=node, expression=part, safe=True)
    return node


def _hex_prefix_to_bigint(hex_text: exp.Expression, dialect: str) -> exp.Expression:
    bigint = exp.DataType.build("BIGINT")
    if dialect == "duckdb":
        # DuckDB casts '0x…' text to integers exactly (checked in tests on 10^4 keys).
        prefixed = exp.DPipe(this=exp.Literal.string("0x"), expression=hex_text, safe=True)
        return exp.cast(exp.paren(prefixed, copy=False), bigint)
    if dialect == "spark":
        # conv() returns the decimal digits as text; 52 bits fit a BIGINT.
        conv = exp.Anonymous(
            this="CONV", expressions=[hex_text, exp.Literal.number(16), exp.Literal.number(10)]
        )
        return exp.cast(conv, bigint)
    raise UnsupportedOperatorError(dialect, "md5 draw")


def _u_from_key_sql(key: exp.Expression, dialect: str) -> exp.Expression:
    if dialect not in DIALECTS:
        raise UnsupportedOperatorError(dialect, "md5 draw")
    hex_prefix = exp.Substring(
        this=exp.MD5(this=key),
        start=exp.Literal.number(1),
        length=exp.Literal.number(HEX_DIGITS),
    )
    double = exp.DataType.build("DOUBLE")
    numerator = exp.cast(_hex_prefix_to_bigint(hex_prefix, dialect), double)
    # Both sides cast to DOUBLE: a bare 4503599627370496.0 would be a DECIMAL in DuckDB.
    denominator = exp.cast(exp.Literal.number(2**52), double)
    return exp.Div(this=numerator, expression=denominator, typed=True, safe=False)


def draw_sql(
    seed: SqlArg,
    visitor_id: SqlArg,
    page_view_id: SqlArg,
    trigger_id: SqlArg,
    dialect: str = "duckdb",
) -> exp.Expression:
    """:func:`draw` as a sqlglot expression over column expressions (or literals).

    Strings and ints become text literals; pass ``exp.column("visitor_id")`` and the
    like for columns. Render once at the edge with ``.sql(dialect)``.

    Parameters
    ----------
    dialect
        ``"duckdb"`` or ``"spark"``; the only difference is the hex-to-integer step
        (``('0x' || h)::BIGINT`` versus ``CAST(CONV(h, 16, 10) AS BIGINT)``).

    >>> from sqlglot import exp
    >>> e = draw_sql(exp.column("seed"), exp.column("visitor_id"), exp.column("page_view_id"),
    ...              "t1", dialect="spark")
    >>> "CONV(SUBSTRING(MD5(" in e.sql("spark")
    True
    """
    parts = [_as_text(x) for x in (seed, visitor_id, page_view_id, trigger_id)]
    return _u_from_key_sql(_concat(parts), dialect)


def sample_draw_sql(visitor_id: SqlArg, seed: SqlArg, dialect: str = "duckdb") -> exp.Expression:
    """:func:`sample_draw` as a sqlglot expression.

    >>> import duckdb
    >>> sql = sample_draw_sql("v1", "42").sql("duckdb")
    >>> duckdb.connect().execute("select " + sql).fetchone()[0] == sample_draw("v1", "42")
    True
    """
    parts = [_as_text(seed), exp.Literal.string(SAMPLE_TAG), _as_text(visitor_id)]
    return _u_from_key_sql(_concat(parts), dialect)


def in_sample_sql(
    visitor_id: SqlArg,
    fraction: float | exp.Expression,
    seed: SqlArg,
    dialect: str = "duckdb",
) -> exp.Expression:
    """The predicate ``sample_draw < fraction`` as a sqlglot expression.

    ``fraction`` may be a number (checked, rendered as a DOUBLE) or an expression such
    as a placeholder ``exp.Placeholder(this="fraction")`` for rebinding.

    >>> from sqlglot import exp
    >>> in_sample_sql(exp.column("visitor_id"), 0.25, "42").sql("duckdb").count("MD5")
    1
    """
    if isinstance(fraction, exp.Expression):
        bound = fraction
    else:
        # Text to DOUBLE is correctly rounded in both engines: the same double as Python's.
        bound = exp.cast(exp.Literal.string(repr(_check_fraction(fraction))), "DOUBLE")
    return exp.LT(this=sample_draw_sql(visitor_id, seed, dialect), expression=bound)
