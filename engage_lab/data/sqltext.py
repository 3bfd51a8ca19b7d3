"""Safe SQL text: identifiers and literals from our own schema, rendered by sqlglot.

Values that come from outside (file paths, ids, load ids, durations) are never put into
SQL text: they are bound as ``?`` parameters. What *is* put into the text is a table or
column name, or a constant of the schema module (an enum list, a field name), and each
of those goes through sqlglot's quoting. :func:`sql` only accepts :class:`Sql` fragments
for its placeholders, so a plain string cannot slip in by accident.

>>> str(sql("select {c} from {t}", c=ident("started_at"), t=ident("page_views")))
'select "started_at" from "page_views"'
>>> str(literal("it's"))
"'it''s'"
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlglot import exp

__all__ = ["Sql", "ident", "join", "literal", "literal_list", "sql"]


class Sql(str):
    """A piece of SQL text built from trusted parts (not a value from the outside)."""

    __slots__ = ()


def ident(name: str) -> Sql:
    """A quoted identifier.

    >>> str(ident("select"))
    '"select"'
    """
    return Sql(exp.to_identifier(name, quoted=True).sql("duckdb"))


def literal(value: str | int | float | bool | None) -> Sql:
    """A SQL literal of a constant from our own code (never of input data)."""
    if value is None:
        return Sql("NULL")
    if isinstance(value, bool):
        return Sql("TRUE" if value else "FALSE")
    if isinstance(value, int | float):
        return Sql(exp.Literal.number(value).sql("duckdb"))
    return Sql(exp.Literal.string(value).sql("duckdb"))


def literal_list(values: Iterable[str]) -> Sql:
    """A ``[...]`` list literal of constant strings (``VARCHAR[]`` even when empty)."""
    items = [exp.Literal.string(v) for v in values]
    if not items:
        return Sql("CAST([] AS VARCHAR[])")
    return Sql(exp.Array(expressions=items).sql("duckdb"))


def join(parts: Iterable[Sql], sep: str = ", ") -> Sql:
    """Join trusted fragments."""
    parts = list(parts)
    for part in parts:
        if not isinstance(part, Sql):
            raise TypeError(f"not a trusted SQL fragment: {part!r}")
    return Sql(sep.join(parts))


def sql(template: str, **parts: Sql) -> Sql:
    """Fill ``{name}`` placeholders of a constant template with trusted fragments."""
    for name, part in parts.items():
        if not isinstance(part, Sql):
            raise TypeError(f"{name}: not a trusted SQL fragment: {part!r}")
    return Sql(template.format(**parts))
