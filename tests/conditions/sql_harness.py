"""Run compiled conditions in DuckDB on table rows, many conditions per query.

Row representation (see engage_lab.conditions.compiler):
* expressions: a JSON column ``attributes``;
* criteria: one LIST column per (criterion, kind), named ``criterion:kind``, holding the
  visit's values oldest first: strings for string/day/time kinds, doubles, booleans.
Each distinct condition is compiled once, with its own parameter prefix, so one query
carries them all: ``SELECT id, CASE cond WHEN 0 THEN <cond 0> … END FROM rows``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from engage_lab.conditions import nodes as n
from engage_lab.conditions.compiler import DuckDBCompiler
from engage_lab.conditions.criteria import read_page_value
from engage_lab.conditions.evaluator import parse_criteria_for_pages
from engage_lab.conditions.expressions import parse_expression

ARROW_TYPES = {
    "string": pa.string(),
    "day": pa.string(),
    "time": pa.string(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
}


@dataclass(frozen=True)
class KindColumns:
    """Criteria resolver of the tests: column ``criterion:kind``."""

    def criterion_values(self, criterion: str, kind: str) -> exp.Expression:
        return exp.column(f"{criterion}:{kind}", quoted=True)

    def attributes(self) -> exp.Expression:
        return exp.column("attributes", quoted=True)


def _distinct(trees: Sequence[n.Node]) -> tuple[list[n.Node], list[int]]:
    index: dict[n.Node, int] = {}
    ids = [index.setdefault(tree, len(index)) for tree in trees]
    return list(index), ids


def _run(con: duckdb.DuckDBPyConnection, compiled: list) -> list[bool]:
    case = exp.Case(
        this=exp.column("cond"),
        ifs=[exp.If(this=exp.Literal.number(k), true=c.expression) for k, c in enumerate(compiled)],
    )
    query = exp.select(exp.column("id"), exp.alias_(case, "result")).from_("rows").order_by("id")
    params: dict[str, Any] = {}
    for c in compiled:
        params.update(c.params)
    rows = con.execute(query.sql("duckdb"), params).fetchall()
    con.close()
    return [r[1] for r in rows]


def run_expressions(
    pairs: Sequence[tuple[Any, Any]], saved_groups: Mapping[str, Any] | None = None
) -> list[bool]:
    """Evaluate (condition, attributes) pairs in DuckDB, one query for all."""
    trees, ids = _distinct([parse_expression(cond, strict=False) for cond, _ in pairs])
    compiled = [
        DuckDBCompiler(KindColumns(), saved_groups, param_prefix=f"c{k}_").compile(tree)
        for k, tree in enumerate(trees)
    ]
    attributes = [json.dumps(a) for _, a in pairs]
    table = pa.table({"id": list(range(len(pairs))), "cond": ids, "attributes": attributes})
    con = duckdb.connect()
    con.register("arrow_rows", table)
    con.execute(
        "CREATE TEMP VIEW rows AS "
        "SELECT id, cond, CAST(attributes AS JSON) AS attributes FROM arrow_rows"
    )
    return _run(con, compiled)


def _column_value(value: Any, kind: str) -> Any:
    if kind in ("day", "time"):
        return value if isinstance(value, str) else None
    read = read_page_value(value, kind)
    return float(read) if kind == "number" and read is not None else read


def run_criteria(
    cases: Sequence[tuple[Any, Sequence[Mapping[str, Any]]]],
    custom_variables: Mapping[str, str] | None = None,
) -> list[bool]:
    """Evaluate (criteria, pages) pairs in DuckDB, one query for all."""
    trees = [
        parse_criteria_for_pages(criteria, pages, custom_variables) for criteria, pages in cases
    ]
    distinct, ids = _distinct(trees)
    columns: dict[str, str] = {}
    for tree in trees:
        for node in n.walk(tree):
            if isinstance(node, n.Criterion):
                columns[f"{node.criterion}:{node.kind}"] = node.kind
    data: dict[str, list[Any]] = {"id": list(range(len(cases))), "cond": ids}
    for name, kind in columns.items():
        criterion = name.rsplit(":", 1)[0]
        data[name] = [
            [_column_value(page.get(criterion), kind) for page in pages] for _, pages in cases
        ]
    schema = pa.schema(
        [("id", pa.int64()), ("cond", pa.int64())]
        + [(name, pa.list_(ARROW_TYPES[kind])) for name, kind in columns.items()]
    )
    table = pa.table(data, schema=schema)
    compiled = [
        DuckDBCompiler(KindColumns(), None, param_prefix=f"c{k}_").compile(tree)
        for k, tree in enumerate(distinct)
    ]
    con = duckdb.connect()
    con.register("arrow_rows", table)
    con.execute("CREATE TEMP VIEW rows AS SELECT * FROM arrow_rows")
    return _run(con, compiled)
