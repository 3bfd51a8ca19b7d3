"""SQL for the values criteria read and the tests on them (sqlglot expressions).

* :func:`coerce_json` reads a variable's JSON value as a criterion kind (the reference's
  ``read_page_value``); :func:`normalized` normalizes text (strip, compatibility folds,
  accents, lowercase) with an ASCII fast path;
* :func:`local_clock` gives the wall clock of an instant in the source timezone;
* :class:`LeafCompiler` compiles one criterion's test on one value (the page's value of
  that criterion, not a list of pages): the engine resolves positions itself.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlglot import exp

from engage_lab.conditions import nodes
from engage_lab.conditions.compiler import DuckDBCompiler, placeholder_names
from engage_lab.conditions.sql_common import _Ctx
from engage_lab.conditions.vocabulary import DAYS

__all__ = [
    "LeafCompiler",
    "aliased",
    "coerce_json",
    "col",
    "deep_sql",
    "local_clock",
    "normalized",
    "num",
]


def col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


def aliased(table: str, alias: str) -> exp.Table:
    """``table AS alias``."""
    return exp.Table(
        this=exp.to_identifier(table), alias=exp.TableAlias(this=exp.to_identifier(alias))
    )


def num(value: int | float) -> exp.Expression:
    return exp.Literal.number(value)


def local_clock(t: exp.Expression, what: str, tz: exp.Expression | None = None) -> exp.Expression:
    """The local ``time`` ("HH:MM"), ``hour`` (double) or ``day_of_week`` (lowercase
    name) of instant ``t`` (ms) in timezone ``tz`` (default: the parameter ``$tz``)."""
    seconds = exp.cast(exp.IntDiv(this=t, expression=num(1000)), "DOUBLE")
    zone = exp.Placeholder(this="tz") if tz is None else tz
    local = exp.func("timezone", zone, exp.func("to_timestamp", seconds))
    if what == "time":
        return exp.func("strftime", local, exp.Literal.string("%H:%M"))
    if what == "hour":
        return exp.cast(exp.func("hour", local), "DOUBLE")
    return exp.Lower(this=exp.func("strftime", local, exp.Literal.string("%A")))


def coerce_json(value: exp.Expression, kind: str) -> exp.Expression:
    """A JSON variable value read as ``kind`` (the reference's ``read_page_value``)."""
    jtype = exp.func("json_type", value)
    text = exp.func("json_extract_string", value, exp.Literal.string("$"))
    numeric = [exp.Literal.string(x) for x in ("BIGINT", "UBIGINT", "DOUBLE", "HUGEINT")]
    is_number = exp.In(this=jtype, expressions=numeric)
    is_text = exp.EQ(this=jtype, expression=exp.Literal.string("VARCHAR"))
    is_bool = exp.EQ(this=jtype, expression=exp.Literal.string("BOOLEAN"))
    if kind == "number":
        parsed = exp.TryCast(this=exp.func("trim", text), to=exp.DataType.build("DOUBLE"))
        finite = exp.func("isfinite", parsed)
        return exp.Case(
            ifs=[
                exp.If(this=is_number, true=exp.cast(text, "DOUBLE")),
                exp.If(this=exp.and_(is_text, finite), true=parsed),
            ],
            default=exp.null(),
        )
    if kind == "boolean":
        low = exp.Lower(this=exp.func("trim", text))
        return exp.Case(
            ifs=[
                exp.If(this=is_bool, true=exp.cast(text, "BOOLEAN")),
                exp.If(
                    this=exp.and_(
                        is_text,
                        exp.In(
                            this=low,
                            expressions=[exp.Literal.string("true"), exp.Literal.string("false")],
                        ),
                    ),
                    true=exp.EQ(this=low, expression=exp.Literal.string("true")),
                ),
            ],
            default=exp.null(),
        )
    # string: numbers as JavaScript writes them (integral doubles without ".0")
    as_double = exp.cast(text, "DOUBLE")
    integral = exp.and_(
        exp.EQ(this=as_double, expression=exp.func("trunc", as_double)),
        exp.LT(this=exp.func("abs", as_double), expression=num(1e21)),
    )
    number_text = exp.Case(
        ifs=[exp.If(this=integral, true=exp.cast(exp.cast(as_double, "HUGEINT"), "VARCHAR"))],
        default=exp.cast(as_double, "VARCHAR"),
    )
    return exp.Case(
        ifs=[
            exp.If(this=is_text, true=text),
            exp.If(this=is_bool, true=text),
            exp.If(this=is_number, true=number_text),
        ],
        default=exp.null(),
    )


_NORMALIZER = DuckDBCompiler()


def normalized(value: exp.Expression) -> exp.Expression:
    """``normalize(value)``; ASCII text (as many bytes as characters) has no compatibility
    fold nor accent, so it only needs the trim and lowercase (the folds cost ~1 ms a row)."""
    ascii_only = exp.EQ(this=exp.func("strlen", value), expression=exp.func("length", value))
    trimmed = exp.func("trim", value, exp.Literal.string(_ASCII_SPACE))
    return exp.Case(
        ifs=[exp.If(this=ascii_only, true=exp.Lower(this=trimmed))],
        default=_NORMALIZER.normalize(value),
    )


#: the ASCII characters Python's ``str.strip`` removes
_ASCII_SPACE = "".join(c for c in map(chr, range(128)) if c.isspace())


class LeafCompiler(DuckDBCompiler):
    """Compiles one criterion test on one raw value (never NULL: not found is the test's
    ``not_found``). String values are normalized once here, before the string tests."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._used: set[str] = set()  # the parameters of the tests handed out

    def test(
        self, node: nodes.Criterion, value: exp.Expression, normal: exp.Expression | None = None
    ) -> exp.Expression:
        """``node.test`` on ``value`` (a page's raw value of ``node.criterion``);
        ``normal``: the value already normalized, if the caller has it."""
        kind = node.kind
        string_test = kind == "string" and type(node.test) in self.STRING_TESTS
        if string_test:
            value = normalized(value) if normal is None else normal
        elif kind == "day":
            value = exp.Case(
                this=value,
                ifs=[exp.If(this=exp.Literal.string(d), true=num(k)) for k, d in enumerate(DAYS)],
                default=exp.null(),
            )
        elif kind == "time":
            value = self.exact_time_slot(value)
        ctx = _Ctx(value=value, kind=kind, normalized=string_test)
        test = exp.func("COALESCE", self.visit(node.test, ctx), exp.false())
        self._used |= placeholder_names(test)
        return test

    def params(self) -> dict[str, Any]:
        """The parameters of the tests compiled so far (each value of a criterion is
        bound, never written into the SQL text)."""
        return {k: v for k, v in self._params.items() if k in self._used}

    def exact_time_slot(self, x: exp.Expression) -> exp.Expression:
        """The 15-minute slot (minutes) of an exact ``"HH:MM"`` (the engine's clock
        readings; no regex)."""
        hours = exp.cast(exp.Substring(this=x, start=num(1), length=num(2)), "INT")
        minutes = exp.cast(exp.Substring(this=x, start=num(4), length=num(2)), "INT")
        total = exp.Add(this=exp.Mul(this=hours, expression=num(60)), expression=minutes)
        return exp.Sub(
            this=total, expression=exp.Mod(this=exp.Paren(this=total), expression=num(15))
        )


@contextmanager
def deep_sql() -> Iterator[None]:
    """Room for sqlglot's recursive generator: normalization nests deeply."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)
