"""Typed values and record-level checks, as set-based SQL that yields problem rows.

From ``_stage_<type>`` (text + kind of each raw field, see :mod:`.readers`) this builds
``_typed_<type>``: one typed column per raw schema column plus an ``ok`` flag, and adds to
``_problems`` the problems found in each record alone — wrong JSON type, unparseable
timestamp, missing required field, unknown or repeated field, unknown enum value,
a number below its minimum, a variable name without its prefix, instants out of order.

Timestamps: ISO 8601 with a zone (``Z``, ``+hh:mm``, ``+hhmm`` or ``+hh``; ``T`` or a
space between date and time; seconds optional), or integer epoch milliseconds (a JSON
integer, a CSV cell of digits, or an integer Parquet column). Digits below the
millisecond are truncated (toward the past); a time without a zone is refused, because
guessing a zone shifts every event.

A number always means epoch milliseconds: its unit is never guessed from its magnitude.
Instead every timestamp must lie in ``[2000-01-01, 2100-01-01)`` UTC (``PLAUSIBLE``):
epoch *seconds* read as milliseconds land in January 1970 and microseconds or
nanoseconds in the far future, so a wrong unit is refused with the file, line and field,
and the message says which unit the number looks like. Guessing would also accept
seconds silently in one file and milliseconds in the next; refusing keeps one meaning.
"""

from __future__ import annotations

import functools

import duckdb

from engage_lab.data import schema
from engage_lab.data.readers import did_you_mean, raw_fields, stage_table
from engage_lab.data.sqltext import Sql, ident, join, literal, literal_list, sql
from engage_lab.timezones import known_timezones

__all__ = ["type_records", "typed_table"]

_DATE_TIME = r"\s*\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*"
#: A UTC offset that exists: from -12:00 to +14:00, minutes below 60.
REAL_ZONE = r"(Z|z|\+(0\d|1[0-3])(:?[0-5]\d)?|\+14(:?00)?|-(0\d|1[01])(:?[0-5]\d)?|-12(:?00)?)"
ISO_WITH_ZONE = _DATE_TIME + REAL_ZONE + r"\s*"
#: Any offset of the ISO shape, real or not (``+99:99``): to say what is wrong.
ISO_WITH_ANY_OFFSET = _DATE_TIME + r"[+-]\d{2}(:?\d{2})?\s*"
ISO_WITHOUT_ZONE = r"\s*\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*"
EPOCH_MS_TEXT = r"\s*-?\d{1,15}\s*"
#: Epoch milliseconds of 0001-01-01 and 9999-12-31T23:59:59.999.
EPOCH_MS_RANGE = (-62135596800000, 253402300799999)
#: Instants a recorded history can hold, as ISO dates, from (included) to (excluded).
PLAUSIBLE = ("2000-01-01", "2100-01-01")
#: The same bounds in epoch milliseconds.
PLAUSIBLE_MS = (946_684_800_000, 4_102_444_800_000)
_DIGITS = r"\s*-?\d+\s*"
_ISO_MS = "%Y-%m-%dT%H:%M:%S.%gZ"

_KIND_NAME = (
    "CASE {k} WHEN 'VARCHAR' THEN 'string' WHEN 'TEXT' THEN 'string' "
    "WHEN 'BIGINT' THEN 'integer' WHEN 'UBIGINT' THEN 'integer' WHEN 'DOUBLE' THEN 'number' "
    "WHEN 'BOOLEAN' THEN 'boolean' WHEN 'ARRAY' THEN 'list' WHEN 'OBJECT' THEN 'object' "
    "ELSE lower({k}) END"
)
#: A raw value as a message shows it: 60 characters at most. A string is quoted; a list
#: or an object is cut as text (its JSON type would make DuckDB parse the cut text).
_DISPLAY = (
    "CASE WHEN {k} IN ('VARCHAR', 'TEXT') THEN CAST(to_json(left({t}, 60)) AS VARCHAR) "
    "ELSE left({t}, 60) || CASE WHEN length({t}) > 60 THEN '...' ELSE '' END END"
)


def typed_table(record_type: str) -> Sql:
    """The typed staging table of a record type."""
    return ident(f"_typed_{record_type}")


def _value_expr(column: schema.Column, t: Sql, k: Sql) -> Sql:
    """The typed value of a raw field (NULL when absent or not convertible)."""
    kind = column.sql_type
    if kind == "VARCHAR":
        return sql("CASE WHEN {k} IN ('VARCHAR', 'TEXT') THEN {t} END", t=t, k=k)
    if kind in ("BIGINT", "INTEGER", "DOUBLE"):
        kinds = (
            "('BIGINT', 'UBIGINT', 'TEXT')"
            if kind != "DOUBLE"
            else ("('BIGINT', 'UBIGINT', 'DOUBLE', 'TEXT')")
        )
        value = sql(
            "CASE WHEN {k} IN " + kinds + " THEN TRY_CAST(trim({t}) AS {ty}) END",
            t=t,
            k=k,
            ty=Sql(kind),
        )
        if kind == "DOUBLE":  # NaN, Infinity, 1e400: DuckDB reads them, no engine can use them
            return sql("CASE WHEN isfinite({v}) THEN {v} END", v=value)
        return value
    if kind == "BOOLEAN":
        return sql(
            "CASE WHEN {k} = 'BOOLEAN' THEN {t} = 'true' WHEN {k} = 'TEXT' THEN "
            "CASE lower(trim({t})) WHEN 'true' THEN TRUE WHEN 'false' THEN FALSE END END",
            t=t,
            k=k,
        )
    if kind == "TIMESTAMP":
        return sql(
            "CASE WHEN {k} IN ('VARCHAR', 'TEXT') AND regexp_full_match({t}, {iso}) "
            "THEN date_trunc('millisecond', timezone('UTC', TRY_CAST(trim({t}) AS TIMESTAMPTZ))) "
            "WHEN ({k} IN ('BIGINT', 'UBIGINT') OR ({k} = 'TEXT' AND regexp_full_match({t}, {ms}))) "
            "AND TRY_CAST(trim({t}) AS BIGINT) BETWEEN {lo} AND {hi} "
            "THEN epoch_ms(TRY_CAST(trim({t}) AS BIGINT)) END",
            t=t,
            k=k,
            iso=literal(ISO_WITH_ZONE),
            ms=literal(EPOCH_MS_TEXT),
            lo=literal(EPOCH_MS_RANGE[0]),
            hi=literal(EPOCH_MS_RANGE[1]),
        )
    if kind == "VARCHAR[]":
        return sql(
            "CASE WHEN ({k} = 'ARRAY' OR ({k} = 'TEXT' AND json_valid({t}) "
            "AND json_type({t}) = 'ARRAY')) AND coalesce(list_bool_and(list_transform("
            "json_extract({t}, '$[*]'), lambda x: json_type(x) = 'VARCHAR')), TRUE) "
            "THEN json_extract_string({t}, '$[*]') END",
            t=t,
            k=k,
        )
    if kind == "JSON":
        # A number must be finite: NaN, Infinity and 1e400 pass DuckDB's JSON reader but
        # are not JSON, and no engine can compare them.
        return sql(
            "CASE WHEN {k} = 'VARCHAR' THEN to_json({t}) "
            "WHEN {k} = 'BOOLEAN' THEN CAST({t} AS JSON) "
            "WHEN {k} IN ('BIGINT', 'UBIGINT', 'DOUBLE') THEN "
            "CASE WHEN isfinite(TRY_CAST({t} AS DOUBLE)) THEN CAST({t} AS JSON) END "
            "WHEN {k} = 'TEXT' THEN CASE WHEN json_valid({t}) AND json_type({t}) "
            "IN ('BIGINT', 'UBIGINT', 'DOUBLE') THEN CASE WHEN isfinite(TRY_CAST({t} AS DOUBLE)) "
            "THEN CAST({t} AS JSON) END "
            "WHEN json_valid({t}) AND json_type({t}) NOT IN ('ARRAY', 'OBJECT') "
            "THEN CAST({t} AS JSON) ELSE to_json({t}) END END",
            t=t,
            k=k,
        )
    raise AssertionError(f"no conversion for {kind}")  # pragma: no cover - schema bug


_EXPECTED = {
    "VARCHAR": ("a string", "not a string"),
    "BIGINT": ("an integer", "not an integer"),
    "INTEGER": ("an integer", "not an integer (or out of range)"),
    "DOUBLE": ("a number", "not a finite number"),
    "BOOLEAN": ("a boolean", "not a boolean (true or false)"),
    "TIMESTAMP": ("a timestamp (ISO 8601 with zone, or epoch milliseconds)", "not a timestamp"),
    "VARCHAR[]": ("a list of strings", "not a list of strings"),
    "JSON": ("a string, number, boolean or null", "not a JSON scalar (or not a finite number)"),
}
_ACCEPTED_KINDS = {
    "VARCHAR": ("VARCHAR", "TEXT"),
    "BIGINT": ("BIGINT", "UBIGINT", "TEXT"),
    "INTEGER": ("BIGINT", "UBIGINT", "TEXT"),
    "DOUBLE": ("BIGINT", "UBIGINT", "DOUBLE", "TEXT"),
    "BOOLEAN": ("BOOLEAN", "TEXT"),
    "TIMESTAMP": ("VARCHAR", "BIGINT", "UBIGINT", "TEXT"),
    "VARCHAR[]": ("ARRAY", "TEXT"),
    "JSON": ("VARCHAR", "BIGINT", "UBIGINT", "DOUBLE", "BOOLEAN", "NULL", "TEXT"),
}


def _field_problems(
    table: schema.Table, column: schema.Column, t: Sql, k: Sql, v: Sql
) -> list[tuple[str, Sql, Sql]]:
    """(field, condition, message) of each check of one column of one record.

    The message expression is NULL unless the condition holds.
    """
    field = f"{table.record_type}.{schema.raw_field(table, column)}"
    expected, not_it = _EXPECTED[column.sql_type]
    display = sql(_DISPLAY, t=t, k=k)
    kind_name = sql(_KIND_NAME, k=k)
    out: list[tuple[str, Sql, Sql]] = []
    type_problem = sql(
        "CASE WHEN {t} IS NOT NULL AND {k} NOT IN ({ok}) THEN {exp} || {kn} || ' ' || {d} "
        "WHEN {t} IS NOT NULL AND {v} IS NULL THEN {nope} || {d} END",
        t=t,
        k=k,
        v=v,
        kn=kind_name,
        d=display,
        ok=join(literal(x) for x in _ACCEPTED_KINDS[column.sql_type]),
        exp=literal(f"expected {expected}, got "),
        nope=literal(f"{not_it}: "),
    )
    if column.sql_type == "TIMESTAMP":
        number = _timestamp_number(t, k)
        type_problem = sql(
            "CASE WHEN {t} IS NOT NULL AND {v} IS NULL AND {k} IN ('VARCHAR', 'TEXT') "
            "AND regexp_full_match({t}, {nozone}) "
            "THEN 'timestamp without a time zone (add Z or +hh:mm): ' || {d} "
            "WHEN {t} IS NOT NULL AND {v} IS NULL AND {k} IN ('VARCHAR', 'TEXT') "
            "AND regexp_full_match({t}, {any_offset}) THEN 'not a real UTC offset "
            "(offsets lie from -12:00 to +14:00, minutes below 60): ' || {d} "
            "WHEN {v} IS NULL AND NOT ({n} >= {lo} AND {n} < {hi}) THEN NULL "
            "WHEN {t} IS NOT NULL AND {v} IS NULL AND {k} = 'VARCHAR' "
            "AND regexp_full_match({t}, {digits}) THEN 'digits in a string are not a "
            "timestamp (write epoch milliseconds as a JSON number, or ISO 8601): ' || {d} "
            "ELSE {p} END",
            t=t,
            v=v,
            k=k,
            n=number,
            digits=literal(_DIGITS),
            lo=literal(PLAUSIBLE_MS[0]),
            hi=literal(PLAUSIBLE_MS[1]),
            nozone=literal(ISO_WITHOUT_ZONE),
            any_offset=literal(ISO_WITH_ANY_OFFSET),
            d=display,
            p=type_problem,
        )
    out.append((field, sql("{t} IS NOT NULL AND {v} IS NULL", t=t, v=v), type_problem))
    if column.sql_type == "TIMESTAMP":
        out.append(_range_problem(field, t, k, v, display))
    if column.required:
        out.append(
            (
                field,
                sql("{t} IS NULL", t=t),
                sql("CASE WHEN {t} IS NULL THEN 'missing required field' END", t=t),
            )
        )
    if column.name == table.id_column:
        out.append(
            (
                field,
                sql("trim({v}) = ''", v=v),
                sql("CASE WHEN trim({v}) = '' THEN 'empty id' END", v=v),
            )
        )
    allowed = schema.ENUMS.get((table.name, column.name))
    if allowed:
        out.append(
            (
                field,
                sql("NOT list_contains({a}, {v})", v=v, a=literal_list(allowed)),
                sql(
                    "CASE WHEN {v} IS NOT NULL AND NOT list_contains({a}, {v}) THEN {msg} || to_json({v}) "
                    "|| {tail} END",
                    v=v,
                    a=literal_list(allowed),
                    msg=literal(f"unknown {column.name} "),
                    tail=literal(f" (expected one of {', '.join(allowed)})"),
                ),
            )
        )
    if (table.name, column.name) == ("source", "timezone"):
        # only zones both engines read alike (engage_lab.timezones)
        zones = literal_list(sorted(known_timezones()))
        out.append(
            (
                field,
                sql("NOT list_contains({z}, {v})", v=v, z=zones),
                sql(
                    "CASE WHEN {v} IS NOT NULL AND NOT list_contains({z}, {v}) "
                    "THEN 'unknown timezone ' || to_json({v}) || {tail} END",
                    v=v,
                    z=zones,
                    tail=literal("; use an IANA name such as UTC or Europe/Paris"),
                ),
            )
        )
    minimum = schema.MINIMUMS.get((table.name, column.name))
    if minimum is not None:
        out.append(
            (
                field,
                sql("{v} < {m}", v=v, m=literal(minimum)),
                sql(
                    "CASE WHEN {v} < {m} THEN {msg} || {v} END",
                    v=v,
                    m=literal(minimum),
                    msg=literal(f"must be >= {minimum}, got "),
                ),
            )
        )
    bounds = schema.BOUNDS.get((table.name, column.name))
    if bounds is not None:
        outside = sql(
            "({v} < {lo} OR {v} > {hi})", v=v, lo=literal(bounds[0]), hi=literal(bounds[1])
        )
        out.append(
            (
                field,
                outside,
                sql(
                    "CASE WHEN {outside} THEN {msg} || {v} END",
                    outside=outside,
                    v=v,
                    msg=literal(f"must lie from {bounds[0]} to {bounds[1]}, got "),
                ),
            )
        )
    prefix = schema.PREFIXES.get((table.name, column.name))
    if prefix is not None:
        out.append(
            (
                field,
                sql("NOT starts_with({v}, {p})", v=v, p=literal(prefix)),
                sql(
                    "CASE WHEN {v} IS NOT NULL AND NOT starts_with({v}, {p}) THEN {msg} || to_json({v}) END",
                    v=v,
                    p=literal(prefix),
                    msg=literal(f"must start with {prefix!r}: "),
                ),
            )
        )
    return out


def _timestamp_number(t: Sql, k: Sql) -> Sql:
    """The raw field as a number when it was given as one (else NULL)."""
    return sql(
        "CASE WHEN {k} IN ('BIGINT', 'UBIGINT') OR ({k} = 'TEXT' AND regexp_full_match({t}, {d})) "
        "THEN TRY_CAST(trim({t}) AS DOUBLE) END",
        t=t,
        k=k,
        d=literal(_DIGITS),
    )


def _range_problem(field: str, t: Sql, k: Sql, v: Sql, display: Sql) -> tuple[str, Sql, Sql]:
    """A timestamp outside ``PLAUSIBLE``; for a number, the unit it looks like.

    The condition reads the typed value only (cheap on every record); a number too large
    for a timestamp has no typed value and is already a problem, worded here.
    """
    lo, hi = (sql("TIMESTAMP {d}", d=literal(d)) for d in PLAUSIBLE)
    ms_lo, ms_hi = (literal(x) for x in PLAUSIBLE_MS)
    n = _timestamp_number(t, k)
    fits = "({x} >= {lo} AND {x} < {hi})"
    unit_hint = sql(
        "CASE WHEN {n} IS NULL THEN '' "
        "WHEN " + fits.format(x="{n} * 1000", lo="{lo}", hi="{hi}") + " THEN "
        "'; numbers are epoch milliseconds, this looks like epoch seconds (multiply by 1000)' "
        "WHEN " + fits.format(x="{n} / 1000", lo="{lo}", hi="{hi}") + " THEN "
        "'; numbers are epoch milliseconds, this looks like epoch microseconds (divide by 1000)' "
        "WHEN " + fits.format(x="{n} / 1000000", lo="{lo}", hi="{hi}") + " THEN "
        "'; numbers are epoch milliseconds, this looks like epoch nanoseconds "
        "(divide by 1000000)' "
        "ELSE '; numbers are epoch milliseconds' END",
        n=n,
        lo=ms_lo,
        hi=ms_hi,
    )
    outside = sql("({v} < {lo} OR {v} >= {hi})", v=v, lo=lo, hi=hi)
    message = sql(
        "CASE WHEN {outside} OR ({v} IS NULL AND NOT " + fits + ") THEN "
        "{msg} || {d} || CASE WHEN {v} IS NOT NULL AND {n} IS NOT NULL "
        "THEN ' (' || strftime({v}, {iso}) || ')' ELSE '' END || {hint} END",
        outside=outside,
        v=v,
        x=n,
        lo=ms_lo,
        hi=ms_hi,
        n=n,
        msg=literal(f"timestamp outside {PLAUSIBLE[0]} .. {PLAUSIBLE[1]}: "),
        d=display,
        iso=literal(_ISO_MS),
        hint=unit_hint,
    )
    return field, outside, message


def _order_problems(table: schema.Table) -> list[tuple[str, Sql, Sql]]:
    out = []
    lo, hi = (sql("TIMESTAMP {d}", d=literal(d)) for d in PLAUSIBLE)
    for name, earlier, later in schema.ORDER_RULES:
        if name != table.name:
            continue
        # An instant outside PLAUSIBLE is refused on its own: its order is not news.
        out.append(
            (
                f"{table.record_type}.{later}",
                sql("{b} < {a}", a=ident(earlier), b=ident(later)),
                sql(
                    "CASE WHEN {b} < {a} AND {a} >= {lo} AND {b} >= {lo} AND {a} < {hi} "
                    "AND {b} < {hi} THEN {msg} || strftime({b}, '%Y-%m-%dT%H:%M:%S.%gZ') || ' < ' "
                    "|| strftime({a}, '%Y-%m-%dT%H:%M:%S.%gZ') || ')' END",
                    a=ident(earlier),
                    b=ident(later),
                    lo=lo,
                    hi=hi,
                    msg=literal(f"{later} before {earlier} ("),
                ),
            )
        )
    return out


def create_empty_typed(con: duckdb.DuckDBPyConnection, table: schema.Table) -> None:
    """An empty ``_typed_<type>`` for a record type the load does not carry."""
    cols = join(
        sql("{n} {t}", n=ident(c.name), t=Sql(c.sql_type)) for c in schema.raw_columns(table)
    )
    con.execute(
        sql(
            "CREATE TEMP TABLE {typed} (file_no INTEGER, line_no BIGINT, {cols}, ok BOOLEAN)",
            typed=typed_table(table.record_type),
            cols=cols,
        )
    )


def type_records(con: duckdb.DuckDBPyConnection, table: schema.Table) -> None:
    """Build ``_typed_<type>`` from ``_stage_<type>`` and add its problems to ``_problems``.

    The typed table carries an ``ok`` flag (no problem in the record); the messages are
    built in a second pass over the records that are not ok only, so a clean load does
    not pay for them.
    """
    typed_statement, problems_statement = _typed_sql(table.record_type)
    con.execute(typed_statement)
    row = con.execute(
        sql("SELECT 1 FROM {t} WHERE NOT ok LIMIT 1", t=typed_table(table.record_type))
    ).fetchone()
    if row is not None:
        con.execute(problems_statement)
        _suggest_field_names(con, table)


def _suggest_field_names(con: duckdb.DuckDBPyConnection, table: schema.Table) -> None:
    """Add "did you mean ...?" to the unknown fields close to a known one.

    Unknown names are few (a file has one misspelling on every line): the suggestion is
    made once per name, then set on all its problems.
    """
    prefix = f"{table.record_type}."
    rows = con.execute(
        "SELECT DISTINCT field FROM _problems WHERE message = 'unknown field' "
        "AND starts_with(field, ?)",
        [prefix],
    ).fetchall()
    known = raw_fields(table)
    for (field,) in rows:
        hint = did_you_mean(field.removeprefix(prefix), known)
        if hint:
            con.execute(
                "UPDATE _problems SET message = ? WHERE message = 'unknown field' AND field = ?",
                [f"unknown field; {hint}", field],
            )


@functools.cache
def _typed_sql(record_type: str) -> tuple[Sql, Sql]:
    """The statements that build ``_typed_<type>`` and its problems (built once)."""
    table = schema.RECORD_TYPES[record_type]
    columns = schema.raw_columns(table)
    values, problems = [], []
    elements = []
    for i, column in enumerate(columns, start=1):
        # Each list element is extracted once, into its own column: the checks refer to
        # it many times.
        t, k = ident(f"_t{i}"), ident(f"_k{i}")
        elements.append(sql("t[{i}] AS {t}, k[{i}] AS {k}", i=literal(i), t=t, k=k))
        v = _value_expr(column, t, k)
        values.append(sql("{v} AS {n}", v=v, n=ident(column.name)))
        problems += _field_problems(table, column, t, k, ident(column.name))
    problems += _order_problems(table)
    elements = join(elements)
    known = literal_list(["type", *raw_fields(table)])
    structs = join(sql("{{'f': {f}, 'm': {m}}}", f=literal(f), m=m) for f, _, m in problems)
    any_problem = join((sql("({c})", c=c) for _, c, _ in problems), " OR ")
    all_clear = sql("NOT coalesce({a}, FALSE)", a=any_problem)
    # A JSON object has no unknown and no repeated field exactly when its keys are `type`
    # plus the known fields found in it (list functions over the keys cost more than the
    # JSON parse; this is arithmetic). The problem pass then says which field is wrong.
    present = join(
        (
            sql("CAST({k} IS NOT NULL AS INTEGER)", k=ident(f"_k{i}"))
            for i in range(1, len(columns) + 1)
        ),
        " + ",
    )
    prefix = literal(f"{table.record_type}.")
    typed = typed_table(table.record_type)
    stage = stage_table(table.record_type)
    typed_statement = sql(
        """
        CREATE TEMP TABLE {typed} AS
        SELECT file_no, line_no, {cols},
               {all_clear} AND (keys IS NULL OR len(keys) = 1 + {present}) AS ok
        FROM (SELECT *, {values} FROM (SELECT file_no, line_no, keys, {elements} FROM {stage}))
        """,
        typed=typed,
        elements=elements,
        cols=join(ident(c.name) for c in columns),
        all_clear=all_clear,
        present=present,
        values=join(values),
        stage=stage,
    )
    problems_statement = sql(
        """
        INSERT INTO _problems
        SELECT file_no, line_no, p.f, p.m FROM (
            SELECT file_no, line_no, unnest(list_concat(
                   list_filter([{structs}], lambda x: x.m IS NOT NULL),
                   CASE WHEN keys IS NOT NULL THEN list_transform(
                       list_filter(keys, lambda x: NOT list_contains({known}, x)),
                       lambda x: {{'f': {prefix} || x, 'm': 'unknown field'}}) END,
                   CASE WHEN len(keys) <> len(list_distinct(keys)) THEN list_transform(
                       list_filter(list_distinct(keys),
                                   lambda x: len(list_filter(keys, lambda y: y = x)) > 1),
                       lambda x: {{'f': {prefix} || x, 'm': 'field given more than once'}}) END
               )) AS p
            FROM (SELECT *, {values} FROM (
                  SELECT s.file_no, s.line_no, s.keys, {elements}
                  FROM {stage} s
                  SEMI JOIN (SELECT file_no, line_no FROM {typed} WHERE NOT ok) b
                    ON b.file_no = s.file_no AND b.line_no = s.line_no))
        )
        """,
        elements=elements,
        structs=structs,
        known=known,
        prefix=prefix,
        values=join(values),
        stage=stage,
        typed=typed,
    )
    return typed_statement, problems_statement
