"""Readers: JSON Lines, CSV and Parquet files into one staging shape per record type.

DuckDB reads every file (no Python loop over records). Whatever the format, the records
of a type are read through a temporary view ``_stage_<type>(file_no, line_no, t, k, keys)``
(JSON Lines fields are extracted from ``_lines`` as the view is read; CSV and Parquet
rows are copied into ``_stage_rows_<type>``):

* ``t`` — the value of each raw field as text, in schema order (``raw_columns``);
* ``k`` — what kind of value it was: a JSON type name (``VARCHAR``, ``BIGINT``,
  ``UBIGINT``, ``DOUBLE``, ``BOOLEAN``, ``ARRAY``, ``OBJECT``, ``NULL``) for JSON Lines
  and typed Parquet columns, or ``TEXT`` for CSV / Parquet strings, which are parsed
  according to the column's type;
* ``keys`` — the field names the JSON object carried (to find unknown fields).

JSON Lines keep their line numbers: the file is read as lines of text with ``read_csv``
(one VARCHAR column, no quote, escape, or delimiter that can occur in JSON text) ``WITH
ORDINALITY``, which numbers the lines in file order, blank lines included. Structural
problems (malformed JSON, a line that is not an object, a missing or unknown ``type``)
go to the ``_problems`` table; the typed checks are in :mod:`engage_lab.data.validate`.
"""

from __future__ import annotations

import csv
import difflib
import json
import re
from pathlib import Path

import duckdb

from engage_lab.data import schema
from engage_lab.data.files import LINE_READER_DELIMITER, FileReadError, SourceFile, exact_path
from engage_lab.data.lines import READER_MAX_LINE_SIZE, csv_record_lines
from engage_lab.data.sqltext import Sql, ident, join, literal, literal_list, sql
from engage_lab.errors import duckdb_message

__all__ = [
    "add_problems",
    "create_staging",
    "did_you_mean",
    "json_syntax_problem",
    "probe_file",
    "stage_file",
    "stage_jsonl_records",
    "stage_table",
    "unreadable_problem",
]

_CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")


def stage_table(record_type: str) -> Sql:
    """The staging table of a record type."""
    return ident(f"_stage_{record_type}")


def _stage_rows(record_type: str) -> Sql:
    """The table of a record type's CSV / Parquet rows (part of its staging view)."""
    return ident(f"_stage_rows_{record_type}")


def raw_fields(table: schema.Table) -> list[str]:
    """The raw field names of a table's record, in schema order."""
    return [schema.raw_field(table, c) for c in schema.raw_columns(table)]


def create_staging(con: duckdb.DuckDBPyConnection) -> None:
    """The temporary tables of one load call (dropped with its transaction)."""
    con.execute(
        "CREATE TEMP TABLE _problems "
        "(file_no INTEGER, line_no BIGINT, field VARCHAR, message VARCHAR)"
    )
    con.execute(
        "CREATE TEMP TABLE _lines "
        "(file_no INTEGER, line_no BIGINT, line VARCHAR, state VARCHAR, rtype VARCHAR)"
    )
    for table in schema.TABLES:
        con.execute(
            sql(
                "CREATE TEMP TABLE {t} (file_no INTEGER, line_no BIGINT, "
                "t VARCHAR[], k VARCHAR[], keys VARCHAR[])",
                t=_stage_rows(table.record_type),
            )
        )
        # JSON Lines records are not copied: the view extracts their fields from `_lines`
        # when the typing statement reads it (multi-path extraction: measured faster than
        # one extraction followed by per-element lambdas).
        paths = literal_list(f"$.{name}" for name in raw_fields(table))
        con.execute(
            sql(
                """
            CREATE TEMP VIEW {stage} AS
            SELECT file_no, line_no, t, k, keys FROM {rows}
            UNION ALL
            SELECT file_no, line_no, json_extract_string(line, {paths}),
                   json_type(line, {paths}), json_keys(line)
            FROM _lines WHERE state = 'ok' AND rtype = {rtype}
                """,
                stage=stage_table(table.record_type),
                rows=_stage_rows(table.record_type),
                paths=paths,
                rtype=literal(table.record_type),
            )
        )


def _problem(
    con: duckdb.DuckDBPyConnection, source: SourceFile, line: int, field: str, message: str
) -> None:
    con.execute("INSERT INTO _problems VALUES (?, ?, ?, ?)", [source.file_no, line, field, message])


def add_problems(con: duckdb.DuckDBPyConnection, problems: list[tuple[int, int, str, str]]) -> None:
    """Add ``(file_no, line, field, message)`` rows to ``_problems`` in one statement.

    (``executemany`` runs one insert per row: 10,000 problems took 30 s.)
    """
    if not problems:
        return
    columns = [list(column) for column in zip(*problems, strict=True)]
    con.execute("INSERT INTO _problems SELECT unnest(?), unnest(?), unnest(?), unnest(?)", columns)


def stage_file(con: duckdb.DuckDBPyConnection, source: SourceFile) -> None:
    """Read one file into ``_lines`` (JSON Lines) or its record type's staging table.

    DuckDB reads the file through :func:`~engage_lab.data.files.exact_path`: never its
    name, which it would take as a pattern when it holds ``*``, ``?`` or ``[``.
    """
    with exact_path(source) as path:
        if source.fmt == "jsonl":
            _read_jsonl_lines(con, source, path)
        elif source.fmt == "csv":
            _stage_csv(con, source, path)
        else:
            _stage_parquet(con, source, path)


def _read_jsonl_lines(con: duckdb.DuckDBPyConnection, source: SourceFile, path: str) -> None:
    # One parse of the whole line (its `type`); lines without a string `type` are rare and
    # are parsed again to say what is wrong with them.
    con.execute(
        """
        INSERT INTO _lines
        SELECT ?, ordinality, line,
               CASE WHEN blank THEN 'blank'
                    WHEN type_json IS NULL THEN
                        CASE WHEN NOT json_valid(line) THEN 'malformed'
                             WHEN json_type(line) <> 'OBJECT' THEN 'not_object:' || json_type(line)
                             ELSE 'no_type' END
                    WHEN type_json = 'null' THEN 'no_type'
                    WHEN json_type(type_json) <> 'VARCHAR' THEN 'type_kind:' || json_type(type_json)
                    ELSE 'ok'
               END AS state,
               CASE WHEN state = 'ok' THEN type_json ->> '$' END
        FROM (
            SELECT ordinality, line, line IS NULL OR trim(line) = '' AS blank,
                   CASE WHEN NOT blank THEN try(json_extract(line, '$.type')) END AS type_json
            FROM read_csv(?, columns = {'line': 'VARCHAR'}, header = false, delim = ?,
                          quote = '', escape = '', auto_detect = false, max_line_size = ?)
                 WITH ORDINALITY
        )
        """,
        [source.file_no, path, LINE_READER_DELIMITER, READER_MAX_LINE_SIZE],
    )


def stage_jsonl_records(con: duckdb.DuckDBPyConnection, jsonl_files: list[SourceFile]) -> None:
    """Structural problems of the JSON lines read, then split records by type."""
    if not jsonl_files:
        return
    known = literal_list(schema.RECORD_TYPES)
    con.execute(
        sql(
            """
        INSERT INTO _problems
        SELECT file_no, line_no,
               CASE WHEN state IN ('ok') OR state LIKE 'type_kind:%' OR state = 'no_type'
                    THEN 'type' ELSE 'record' END,
               CASE WHEN state LIKE 'not_object:%'
                        THEN 'not a JSON object (' || lower(split_part(state, ':', 2)) || ')'
                    WHEN state = 'no_type' THEN 'missing record type'
                    WHEN state LIKE 'type_kind:%'
                        THEN 'expected a string, got ' || lower(split_part(state, ':', 2))
                    ELSE 'unknown record type ' || to_json(rtype)
                         || ' (expected one of ' || array_to_string({known}, ', ') || ')'
               END
        FROM _lines
        WHERE state NOT IN ('blank', 'malformed')
          AND (state <> 'ok' OR NOT list_contains({known}, rtype))
            """,
            known=known,
        )
    )
    _malformed_problems(con)
    _suggest_record_types(con)
    # Files without any record are refused: an empty export is more often a failed one.
    for source in jsonl_files:
        (count,) = con.execute(
            "SELECT count(*) FROM _lines WHERE file_no = ? AND state <> 'blank'",
            [source.file_no],
        ).fetchone()
        if count == 0 and not source.needs_copy:  # else its lines were refused already
            _problem(con, source, 1, "file", "empty file (no records)")


#: Malformed lines explained one by one (Python's parser says where and why); past this
#: many, the rest are counted with a short message (the problem list keeps fewer anyway).
MAX_EXPLAINED_LINES = 10_000


def json_syntax_problem(line: str) -> str:
    """Why a line is not JSON: the column (1-based, in characters) and the reason.

    >>> json_syntax_problem('{"type": "agent", "id": "a9", "soft_limit": 2')
    "malformed JSON at column 46: expecting ',' delimiter (at the end of the line)"
    >>> json_syntax_problem('{"type": "agent", "soft_limit": 2 3}')
    "malformed JSON at column 35: expecting ',' delimiter (near '3}')"
    """

    def refuse_constant(name: str) -> None:
        raise ValueError(name)

    try:
        json.loads(line, parse_constant=refuse_constant)
    except json.JSONDecodeError as exc:
        reason, column = exc.msg[0].lower() + exc.msg[1:], exc.colno
    except ValueError as exc:  # NaN, Infinity: Python reads them, JSON has no such value
        column = _constant_column(line, str(exc))
        reason = f"{exc} is not a JSON value"
    except RecursionError:
        return f"malformed JSON: nested {_nesting_depth(line):,} levels deep (a record needs 2)"
    else:  # DuckDB refused what Python reads (a rare extension): say it plainly
        return "malformed JSON (not strict JSON)"
    near = line[max(column - 1, 0) : column + 9]
    near = f" (near {near!r})" if near.strip() else " (at the end of the line)"
    return f"malformed JSON at column {column}: {reason}{near}"


def _nesting_depth(line: str) -> int:
    """How deep the arrays and objects of a line nest (strings skipped).

    >>> _nesting_depth('{"a": [[1], "]]]"], "b": {}}')
    3
    """
    brackets = re.sub(r'"(?:[^"\\]|\\.)*"?', "", line)
    depth = deepest = 0
    for char in re.findall(r"[\[\]{}]", brackets):
        depth = depth + 1 if char in "[{" else max(depth - 1, 0)
        deepest = max(deepest, depth)
    return deepest


def _constant_column(line: str, name: str) -> int:
    """The column of a bare constant (``NaN``) outside strings, 1 if not found."""
    found = re.search(r"(?<![\w\"])" + re.escape(name) + r"(?![\w\"])", line)
    return found.start() + 1 if found else 1


def _malformed_problems(con: duckdb.DuckDBPyConnection) -> None:
    """One problem per malformed line, with its column and reason."""
    rows = con.execute(
        "SELECT file_no, line_no, line FROM _lines WHERE state = 'malformed' "
        "ORDER BY file_no, line_no LIMIT ?",
        [MAX_EXPLAINED_LINES],
    ).fetchall()
    if not rows:
        return
    add_problems(
        con,
        [
            (file_no, line_no, "record", json_syntax_problem(line))
            for file_no, line_no, line in rows
        ],
    )
    con.execute(
        """
        INSERT INTO _problems
        SELECT file_no, line_no, 'record', 'malformed JSON' FROM _lines
        WHERE state = 'malformed' ORDER BY file_no, line_no OFFSET ?
        """,
        [MAX_EXPLAINED_LINES],
    )


def _suggest_record_types(con: duckdb.DuckDBPyConnection) -> None:
    """Add "did you mean ...?" to unknown record types close to a known one."""
    rows = con.execute(
        "SELECT DISTINCT rtype FROM _lines WHERE state = 'ok' AND NOT list_contains(?, rtype)",
        [list(schema.RECORD_TYPES)],
    ).fetchall()
    for (rtype,) in rows:
        hint = did_you_mean(rtype, list(schema.RECORD_TYPES))
        if hint:
            con.execute(
                """
                UPDATE _problems p SET message = 'unknown record type ' || to_json(l.rtype)
                                                 || '; ' || ?
                FROM _lines l
                WHERE p.file_no = l.file_no AND p.line_no = l.line_no AND p.field = 'type'
                  AND l.state = 'ok' AND l.rtype = ?
                """,
                [hint, rtype],
            )


def did_you_mean(name: str, known: list[str]) -> str | None:
    """``"did you mean X?"`` for the known name closest to ``name``, if one is close.

    >>> did_you_mean("soft_limt", ["id", "soft_limit"])
    'did you mean soft_limit?'
    >>> did_you_mean("shift", ["id", "soft_limit"]) is None
    True
    """
    close = difflib.get_close_matches(name, known, n=1)
    return f"did you mean {close[0]}?" if close else None


def _header_problems(
    con, source: SourceFile, table: schema.Table, columns: list[str], kind: str
) -> bool:
    """Unknown and missing columns; True when the rows can be staged."""
    fields = raw_fields(table)
    ok = True
    for name in columns:
        if name not in fields:
            hint = did_you_mean(name, fields)
            message = f"unknown {kind} column" + (f"; {hint}" if hint else "")
            _problem(con, source, 1, f"{table.record_type}.{name}", message)
    for column in schema.raw_columns(table):
        field = schema.raw_field(table, column)
        if column.required and field not in columns:
            _problem(
                con, source, 1, f"{table.record_type}.{field}", f"missing required {kind} column"
            )
            ok = False
    return ok


def _first_line(exc: duckdb.Error) -> str:
    return duckdb_message(exc, first_line=True)


#: CSV: the header names the columns (read by Python's csv module), every cell is text.
_CSV_OPTIONS = sql(
    "header = true, auto_detect = false, columns = ?, delim = ',', quote = '\"', escape = '\"', "
    "max_line_size = {n}",
    n=literal(READER_MAX_LINE_SIZE),
)


def probe_file(source: SourceFile) -> list[tuple[int, str, str]]:
    """Check that DuckDB can parse a CSV / Parquet file; note its columns.

    Runs on a scratch in-memory connection before the load's transaction: a DuckDB error
    inside a transaction aborts it, and we want to go on and list every other problem.
    Returns problems as ``(line, field, message)``.
    """
    if source.fmt == "jsonl":
        return []
    if source.fmt == "csv":
        return _probe_csv(source)
    scratch = duckdb.connect()
    try:
        with exact_path(source) as path:
            described = scratch.execute("DESCRIBE SELECT * FROM read_parquet(?)", [path]).fetchall()
            source.columns = {row[0]: row[1] for row in described}
            scratch.execute("SELECT count(*) FROM read_parquet(?)", [path]).fetchone()
    except duckdb.Error as exc:
        return [(1, "file", f"not a readable Parquet file: {_first_line(exc)}")]
    finally:
        scratch.close()
    return []


def _probe_csv(source: SourceFile) -> list[tuple[int, str, str]]:
    with exact_path(source) as path, open(path, encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh), [])
    header = [name.strip() for name in header]
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        return [(1, "file", f"CSV column given more than once: {', '.join(repeated)}")]
    source.columns = dict.fromkeys(header, "VARCHAR")
    scratch = duckdb.connect()
    try:
        with exact_path(source) as path:
            scratch.execute(
                # count(row): every column is parsed, so every bad row is found (count(*)
                # alone lets the reader skip the cells).
                sql(
                    "SELECT count(_r) FROM read_csv(?, {o}, store_rejects = true) _r",
                    o=_CSV_OPTIONS,
                ),
                [path, source.columns],
            ).fetchall()  # fetchall: the rejects table is written when the query completes
        rejects = scratch.execute(
            "SELECT line, column_name, error_message FROM reject_errors ORDER BY line"
        ).fetchall()
    except duckdb.Error as exc:
        found = _CSV_LINE.search(str(exc))
        line = _physical_lines(source, [int(found.group(1))])[0] if found else 1
        return [(line, "record", f"CSV error: {_first_line(exc)}")]
    finally:
        scratch.close()
    prefix = f"{source.record_type}." if source.record_type else ""
    lines = _physical_lines(source, [line for line, _, _ in rejects])
    return [
        (line, f"{prefix}{column}" if column else "record", f"CSV error: {message}")
        for line, (_, column, message) in zip(lines, rejects, strict=True)
    ]


def _physical_lines(source: SourceFile, records: list[int], path: str | None = None) -> list[int]:
    """The lines where DuckDB's CSV records (its error numbering) start.

    ``path``: the file's :func:`~engage_lab.data.files.exact_path` name when the caller
    holds one, else the file is opened through it here.
    """
    if not source.csv_irregular or not records:
        return records
    if path is None:
        with exact_path(source) as name:
            return _physical_lines(source, records, name)
    starts, _ = csv_record_lines(Path(path))
    return [int(starts[n - 1]) if 0 < n <= len(starts) else n for n in records]


def unreadable_problem(source: SourceFile, error: duckdb.Error) -> str:
    """``file:line: record: ...`` for a file DuckDB's reader stopped on.

    The byte pass leaves nothing the readers refuse; should one still stop, the problem
    names the file, its format and the line DuckDB gave, in place of "CSV Error on Line"
    (JSON Lines are read with DuckDB's CSV reader).
    """
    text = str(error)
    found = _CSV_LINE.search(text)
    line = int(found.group(1)) if found else 1
    if source.fmt == "csv":
        try:
            line = _physical_lines(source, [line])[0]
        except FileReadError as exc:  # changed since: that is the problem to report
            return f"{source.name}:1: file: {exc}"
    skipped = ("Original Line", "Possible Solution", "LINE ")
    reasons = [
        part.strip()
        for part in text.splitlines()[1:]
        if part.strip() and not part.startswith(skipped)
    ]
    reason = reasons[0] if reasons else _first_line(error)
    kind = {"jsonl": "JSON Lines", "csv": "CSV", "parquet": "Parquet"}[source.fmt]
    return f"{source.name}:{line}: record: {kind} line not readable: {reason}"


def _renumber_csv_rows(
    con: duckdb.DuckDBPyConnection, source: SourceFile, rows: Sql, path: str
) -> None:
    """Staged rows numbered by record (``ordinality + 1``) get their physical line.

    ``path``: the file's :func:`~engage_lab.data.files.exact_path` name.
    """
    _, kept = csv_record_lines(Path(path))
    # kept[n]: the line of the n-th row read (kept[0] is the header's).
    con.execute(
        sql(
            "UPDATE {rows} SET line_no = m.line_no FROM "
            "(SELECT unnest(range(2, len(?) + 1)) AS record, unnest(?[2:]) AS line_no) m "
            "WHERE {rows}.file_no = ? AND {rows}.line_no = m.record",
            rows=rows,
        ),
        [kept.tolist(), kept.tolist(), source.file_no],
    )


def _stage_csv(con: duckdb.DuckDBPyConnection, source: SourceFile, path: str) -> None:
    table = schema.table_for_record_type(source.record_type)
    columns = list(source.columns or {})
    if not _header_problems(con, source, table, columns, "CSV"):
        return
    texts, kinds = [], []
    for name in raw_fields(table):
        texts.append(ident(name) if name in columns else Sql("NULL"))
        kinds.append(literal("TEXT"))
    con.execute(
        sql(
            """
        INSERT INTO {stage}
        SELECT ?, ordinality + 1, [{texts}], [{kinds}], NULL
        FROM read_csv(?, {o}) WITH ORDINALITY
            """,
            stage=_stage_rows(table.record_type),
            texts=join(texts),
            kinds=join(kinds),
            o=_CSV_OPTIONS,
        ),
        [source.file_no, path, source.columns],
    )
    if source.csv_irregular:
        _renumber_csv_rows(con, source, _stage_rows(table.record_type), path)
    (count,) = con.execute(
        sql("SELECT count(*) FROM {s} WHERE file_no = ?", s=_stage_rows(table.record_type)),
        [source.file_no],
    ).fetchone()
    if count == 0:
        _problem(con, source, 1, "file", "empty file (no records)")


_INTEGER_TYPES = {
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
}
_FLOAT_TYPES = {"FLOAT", "DOUBLE"}


def _parquet_kind(parquet_type: str) -> str | None:
    """The staging kind of a Parquet column type (None: not a type we read)."""
    if parquet_type == "VARCHAR":
        return "TEXT"
    if parquet_type in _INTEGER_TYPES:
        return "BIGINT"
    if parquet_type in _FLOAT_TYPES or parquet_type.startswith("DECIMAL"):
        return "DOUBLE"
    if parquet_type == "BOOLEAN":
        return "BOOLEAN"
    if parquet_type.startswith("TIMESTAMP"):
        return "TIMESTAMPTZ" if "TIME ZONE" in parquet_type else "TIMESTAMP"
    if parquet_type == "VARCHAR[]":
        return "ARRAY"
    return None


#: Which staging kinds of a Parquet column each column type accepts.
_PARQUET_ACCEPTS = {
    "VARCHAR": {"TEXT"},
    "TIMESTAMP": {"TIMESTAMP", "TIMESTAMPTZ", "BIGINT", "TEXT"},
    "BIGINT": {"BIGINT"},
    "INTEGER": {"BIGINT"},
    "DOUBLE": {"BIGINT", "DOUBLE"},
    "BOOLEAN": {"BOOLEAN"},
    "VARCHAR[]": {"ARRAY"},
    "JSON": {"TEXT", "BIGINT", "DOUBLE", "BOOLEAN"},
}


def _parquet_text(name: str, kind: str) -> Sql:
    col = ident(name)
    if kind == "TEXT":
        return col
    if kind == "TIMESTAMP":  # a zone-less Parquet timestamp is taken as UTC
        return sql("strftime(CAST({c} AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S.%gZ')", c=col)
    if kind == "TIMESTAMPTZ":
        return sql("strftime(timezone('UTC', {c}), '%Y-%m-%dT%H:%M:%S.%gZ')", c=col)
    if kind == "ARRAY":
        return sql("CAST(to_json({c}) AS VARCHAR)", c=col)
    return sql("CAST({c} AS VARCHAR)", c=col)


def _stage_parquet(con: duckdb.DuckDBPyConnection, source: SourceFile, path: str) -> None:
    table = schema.table_for_record_type(source.record_type)
    types = dict(source.columns or {})
    if not _header_problems(con, source, table, list(types), "Parquet"):
        return
    texts, kinds = [], []
    ok = True
    for column in schema.raw_columns(table):
        field = schema.raw_field(table, column)
        if field not in types:
            texts.append(Sql("NULL"))
            kinds.append(Sql("NULL"))
            continue
        kind = _parquet_kind(types[field])
        if kind not in _PARQUET_ACCEPTS[column.sql_type]:
            _problem(
                con,
                source,
                1,
                f"{table.record_type}.{field}",
                f"Parquet column of type {types[field]}, expected {column.sql_type}",
            )
            ok = False
            continue
        texts.append(_parquet_text(field, kind))
        kinds.append(literal("VARCHAR" if kind.startswith("TIMESTAMP") else kind))
    if not ok:
        return
    con.execute(
        sql(
            """
        INSERT INTO {stage}
        SELECT ?, file_row_number + 1, [{texts}], [{kinds}], NULL
        FROM read_parquet(?, file_row_number = true)
            """,
            stage=_stage_rows(table.record_type),
            texts=join(texts),
            kinds=join(kinds),
        ),
        [source.file_no, path],
    )
    (count,) = con.execute(
        sql("SELECT count(*) FROM {s} WHERE file_no = ?", s=_stage_rows(table.record_type)),
        [source.file_no],
    ).fetchone()
    if count == 0:
        _problem(con, source, 1, "file", "empty file (no records)")
