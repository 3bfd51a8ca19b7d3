"""Which slots can activate on which page views: the page-fixed part of the conditions.

For every leaf that needs it, one SQL query evaluates the leaf's test on each page
view's *page value* (path, title, counts: the same all page long) or *final value*
(durations at the page's end, the clock at its end, the identity and the variables set
before its end: how later pages remember it). A compiled pass then resolves positions
over the visit's earlier page views and, per page view and slot:

* a page leaf holds or not (past part OR current part; a position that selects no page
  reads as not found);
* a dynamic leaf (duration, clock, identity, variable) is decided by its past part when
  that holds, else it is *active*: its current part decides at each instant (see
  :mod:`engage_lab.engine.steps`);

A slot is a *candidate* on a page view when the source is active, the slot's entry is in
force and none of its leaves is decided false; the candidate records which dynamic
leaves are active (``act`` bits) and whether a fixed button's placeholder is missing.
Chat-state criteria are the pass's (:mod:`engage_lab.engine.kernel`).
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
from sqlglot import exp

from engage_lab.engine.ahead import ENGINE_THREADS
from engage_lab.engine.pages import Pages, dictionary_read
from engage_lab.engine.pages_kernel import NEVER, position_type
from engage_lab.engine.plan import Leaf, Plan, UnsupportedByFastEngineError
from engage_lab.engine.sqlvalues import (
    LeafCompiler,
    aliased,
    coerce_json,
    col,
    deep_sql,
    local_clock,
    normalized,
    num,
)
from engage_lab.engine.static_kernel import fill_from_codes, fill_rows, scan_range
from engage_lab.errors import EngineError, translate_duckdb
from engage_lab.tiers import carried, tiered

__all__ = ["Candidates", "ahead_reads", "candidates", "candidates_key"]


@dataclass
class Candidates:
    """Per slot (CSR over slots): candidate page views, active-leaf bits, fixed flag."""

    lo: np.ndarray
    hi: np.ndarray
    pvi: np.ndarray
    act: np.ndarray
    fixed_missing: np.ndarray


def _page_timezone(
    plan: Plan, started_ms: exp.Expression, params: dict[str, Any]
) -> exp.Expression:
    """The timezone a page's clock is read in: its own configuration's, the one in force at
    its start (UTC before the first entry), as the reference reads a past page."""
    zones = [e.config.source.timezone for e in plan.entries]
    starts = [e.effective_at for e in plan.entries]
    if starts[0] > -NEVER:
        zones, starts = ["UTC", *zones], [-NEVER, *starts]
    name_of = {zone: f"tz_{k}" for k, zone in enumerate(dict.fromkeys(zones))}
    params.update({name: zone for zone, name in name_of.items()})
    if len(name_of) == 1:
        return exp.Placeholder(this=name_of[zones[0]])
    ifs = [  # the latest entry in force first
        exp.If(
            this=exp.GTE(this=started_ms, expression=num(starts[k])),
            true=exp.Placeholder(this=name_of[zones[k]]),
        )
        for k in range(len(zones) - 1, 0, -1)
    ]
    return exp.Case(ifs=ifs, default=exp.Placeholder(this=name_of[zones[0]]))


def _final_value(leaf: Leaf, var_alias: str | None, tz: exp.Expression) -> exp.Expression:
    """The leaf criterion's value on a page as a past page (its final state) or, for page
    criteria, at any instant; ``tz`` the page's timezone (:func:`_page_timezone`).

    Dispatched on the criterion's source and what it reads in the registry
    (:mod:`engage_lab.conditions.registry`); a registered criterion this function does not
    know is an error, never a variable read."""
    facts = leaf.node.facts
    source, reads = facts.source, facts.reads
    s = exp.func("epoch_ms", col("started_at", "p"))
    # its end: where it stopped (the visitor's next page view's start when that comes
    # before its ``ended_at``: two tabs)
    e = col("lim", "f")
    if facts.page_column is not None:
        return col(facts.page_column, "p")
    if source == "page" and reads in _PAGE_COUNTS:
        return exp.cast(col(_PAGE_COUNTS[reads], "f"), "DOUBLE")
    if source == "duration":
        start = s if reads == "page" else col("vstart", "f")
        return exp.Div(
            this=exp.cast(exp.Sub(this=e, expression=start), "DOUBLE"), expression=num(1000)
        )
    if source == "clock":
        return local_clock(e, reads, tz)
    if source == "identity":
        at = col("id_at" if reads == "identity" else "signed_at", "ids")
        return exp.func(
            "coalesce", exp.LTE(this=at, expression=exp.Sub(this=e, expression=num(1))), exp.false()
        )
    if source == "var":
        assert var_alias is not None
        return coerce_json(col("value", var_alias), leaf.node.kind)
    raise EngineError(f"fast engine: no final value for the criterion {leaf.criterion!r}")


#: page criteria that count (registry ``reads``) -> their column of the page facts scan
_PAGE_COUNTS = {"page_index": "idx", "visit_index": "vcount"}


def _needs_column(leaf: Leaf) -> bool:
    return leaf.source != "chat" and (leaf.source == "page" or not leaf.current_only)


def _in_sql(leaf: Leaf) -> bool:
    """Leaves whose page test needs the SQL query (past final values); page leaves are
    tested once per distinct page value (:func:`_page_tests`)."""
    return _needs_column(leaf) and leaf.source != "page"


def _query(plan: Plan) -> tuple[str, dict[str, Any], list[tuple[int, int, int]], list[int]]:
    """The static query of the leaves that read past pages' final values: ``pvi`` and one
    boolean column ``t<k>`` per distinct test. Values are computed once in an inner query
    (``v<k>``: a criterion's final value, normalized for string tests). Returns the SQL,
    its parameters, ``(slot, leaf, column)`` per test and (no longer) fixed slots."""
    compiler = LeafCompiler(param_prefix="st_p")
    inner = exp.select(col("pvi", "f")).from_(aliased("page_views", "p"))
    scan = aliased("_el_scan", "f")
    inner = inner.join(exp.Join(this=scan, method="POSITIONAL"))
    params: dict[str, Any] = {}
    tests: list[tuple[int, int, int]] = []
    fixed: list[int] = []
    outer_columns: list[exp.Expression] = []
    values: dict[str, exp.Expression] = {}  # value SQL -> its column in the inner query
    seen: dict[str, int] = {}
    var_aliases: dict[str, str] = {}
    needs_ids = False
    page_tz: exp.Expression | None = None

    def value_column(expression: exp.Expression) -> exp.Expression:
        text = expression.sql("duckdb")
        if text not in values:
            name = f"v{len(values)}"
            values[text] = col(name)
            inner.select(expression.as_(name), copy=False)
        return values[text]

    normal_of: dict[str, exp.Expression] = {}  # value column -> its normalized column
    column_of: dict[Any, int] = {}  # (value column, kind, test) -> its test column

    for j, slot in enumerate(plan.slots):
        for li, leaf in enumerate(slot.leaves):
            if not _in_sql(leaf):
                continue
            if leaf.source == "identity":
                needs_ids = True
            if leaf.source == "clock" and page_tz is None:
                page_tz = _page_timezone(plan, exp.func("epoch_ms", col("started_at", "p")), params)
            alias = None
            if leaf.source == "var":
                alias = var_aliases.setdefault(leaf.criterion, f"fv{len(var_aliases)}")
            final = _final_value(leaf, alias, page_tz)
            raw = value_column(final)
            key = (raw.name, leaf.node.kind, leaf.node.test)  # equal tests: one column
            if key not in column_of:
                normal = None
                if leaf.node.kind == "string" and type(leaf.node.test) in compiler.STRING_TESTS:
                    if raw.name not in normal_of:  # normalized once per value, not per test
                        normal_of[raw.name] = value_column(normalized(final))
                    normal = normal_of[raw.name].copy()
                test = compiler.test(leaf.node, raw.copy(), normal)
                text = test.sql("duckdb")
                if text not in seen:
                    seen[text] = len(seen)
                    outer_columns.append(test.as_(f"t{seen[text]}", copy=False))
                column_of[key] = seen[text]
            tests.append((j, li, column_of[key]))
    if needs_ids:
        ids = (
            exp.select(
                "visitor_id",
                exp.func("min", exp.func("epoch_ms", col("set_at"))).as_("id_at"),
                exp.func(
                    "min",
                    exp.Case(
                        ifs=[exp.If(this=col("signed"), true=exp.func("epoch_ms", col("set_at")))]
                    ),
                ).as_("signed_at"),
            )
            .from_("identities")
            .group_by("visitor_id")
        )
        inner = inner.join(
            ids.subquery("ids"),
            on=col("visitor_id", "ids").eq(col("visitor_id", "p")),
            join_type="left",
        )
    for name, alias in var_aliases.items():
        params[f"var_{alias}"] = name
        # The last change, null included: a variable cleared last reads as not found
        # (arg_max would skip the null and read the value before it).
        last = (
            exp.select(
                col("pvi", "vc"),
                exp.func("arg_max_null", col("value", "vc"), col("c", "vc")).as_("value"),
            )
            .from_(aliased("_el_vc", "vc"))
            .join(aliased("_el_pv", "pl"), on=col("pvi", "pl").eq(col("pvi", "vc")))
            .where(
                exp.and_(
                    col("name", "vc").eq(exp.Placeholder(this=f"var_{alias}")),
                    exp.LT(this=col("c", "vc"), expression=col("lim", "pl")),
                )
            )
            .group_by(col("pvi", "vc"))
        )
        inner = inner.join(
            last.subquery(alias), on=col("pvi", alias).eq(col("pvi", "f")), join_type="left"
        )
    inner = inner.where(exp.GTE(this=col("pvi", "f"), expression=num(0)))
    # no copies of the (big) columns: one per builder step made thousands of criteria slow
    outer = exp.select(col("pvi"), *outer_columns).from_(
        inner.subquery("pv", copy=False), copy=False
    )
    params.update(compiler.params())
    with deep_sql():
        sql = outer.sql("duckdb")
    return sql, params, tests, fixed


def candidates_key(plan: Plan) -> str:
    """What the candidates depend on: each slot's entry, page-fixed tests, positions of the
    other leaves, whether it has an expression, its fixed buttons (not the thresholds of
    current dynamic leaves, which a tuning slider moves)."""
    parts = []
    for slot in plan.slots:
        leaves = [
            repr(leaf.node) if _needs_column(leaf) else f"{leaf.source}@{leaf.node.position}"
            for leaf in slot.leaves
            if leaf.source != "chat"
        ]
        tz = slot.config.source.timezone
        parts.append((slot.entry, tz, leaves, slot.expression is not None, slot.fixed_items))
    return repr(parts)


def _page_tests(
    con: duckdb.DuckDBPyConnection, plan: Plan, pages: Pages
) -> tuple[dict[tuple[int, int], int], list[tuple[np.ndarray, np.ndarray, bool]]]:
    """Each page leaf's test, evaluated once per distinct page value (the compiled test
    over a small table of values). Returns ``(slot, leaf) -> column`` and per column
    ``(codes, truth, not_found)``: page view ``k`` holds ``truth[codes[k]]``, or
    ``not_found`` where it has no value (``codes[k] == -1``).

    Equal tests of one criterion are one column, and the tests on one page column run in
    one query that normalizes each distinct value once: 2,000 criteria on one column
    are one query, not 2,000."""
    out: list[tuple[np.ndarray, np.ndarray, bool]] = []
    column_of: dict[tuple[int, int], int] = {}
    # values table -> (codes, the distinct tests: test key -> (column, node))
    groups: dict[str, tuple[np.ndarray, pa.Table, dict[Any, tuple[int, Any]]]] = {}
    for j, slot in enumerate(plan.slots):
        for li, leaf in enumerate(slot.leaves):
            if leaf.source != "page":
                continue
            column = leaf.node.facts.page_column
            source = column if column is not None else _PAGE_COUNTS[leaf.node.facts.reads]
            if source not in groups:
                if column is not None:
                    values, codes = pages.dictionary(con, column)
                    table = pa.table({"v": values})
                else:  # counts: the values are small integers, their own codes
                    codes = getattr(pages, source)
                    top = int(codes.max()) if len(codes) else 0
                    table = pa.table({"v": np.arange(top + 1, dtype=np.float64)})
                groups[source] = (codes, table, {})
            codes, _, tests = groups[source]
            key = (leaf.criterion, leaf.node.kind, leaf.node.test)  # what the truth reads
            if key not in tests:
                tests[key] = (len(out), leaf.node)
                out.append((codes, np.zeros(0, np.bool_), bool(type(leaf.node.test).not_found)))
            column_of[(j, li)] = tests[key][0]
    for codes, table, tests in groups.values():
        truths = _truth_per_value(con, table, [node for _, node in tests.values()])
        for (c, _), truth in zip(tests.values(), truths, strict=True):
            out[c] = (codes, truth, out[c][2])
    return column_of, out


def _truth_per_value(
    con: duckdb.DuckDBPyConnection, table: pa.Table, leaves: list[Any]
) -> list[np.ndarray]:
    """Each leaf's test on every value of ``table`` (column ``v``), in one query; string
    tests read the values normalized once (column ``nv``)."""
    compiler = LeafCompiler(param_prefix="pg_p")
    inner = exp.select(col("k"), col("v"))
    normal = None
    if any(leaf.kind == "string" and type(leaf.test) in compiler.STRING_TESTS for leaf in leaves):
        inner = inner.select(normalized(col("v")).as_("nv", copy=False), copy=False)
        normal = col("nv")
    tests = [
        compiler.test(leaf, col("v"), None if normal is None else normal.copy()).as_(
            f"t{i}", copy=False
        )
        for i, leaf in enumerate(leaves)
    ]
    values = inner.from_("_el_values", copy=False).subquery("vals", copy=False)
    query = exp.select(col("k"), *tests).from_(values, copy=False)
    numbered = table.append_column("k", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    con.register("_el_values", numbered)
    try:
        with deep_sql():
            sql = query.sql("duckdb")
        with translate_duckdb(EngineError, "fast engine: evaluating a page criterion failed"):
            rows = con.execute(sql, compiler.params()).fetchnumpy()
    finally:
        con.unregister("_el_values")
    k = rows["k"].astype(np.int64)
    truths = []
    for i in range(len(leaves)):
        truth = np.zeros(table.num_rows, np.bool_)
        truth[k] = rows[f"t{i}"].astype(np.bool_)
        truths.append(truth)
    return truths


def ahead_reads(plan: Plan, n_scan: int) -> list[tuple[Any, Any]]:
    """The history reads :func:`candidates` makes for ``plan``, to start ahead
    (:mod:`engage_lab.engine.ahead`): the page columns its page tests code, the
    placeholders of its fixed buttons."""
    columns = dict.fromkeys(
        leaf.node.facts.page_column
        for slot in plan.slots
        for leaf in slot.leaves
        if leaf.node.facts.page_column is not None
    )
    reads = [(("dict", c), dictionary_read(c, n_scan)) for c in columns]
    fixed = _fixed_read(plan)
    return reads if fixed is None else [*reads, fixed]


def _fixed_read(plan: Plan) -> tuple[Any, Any] | None:
    """``(key, read)``: per ``page_views`` row (scan order), whether its placeholders hold
    every fixed button of a slot (one ``list_has_all`` column ``f<slot>`` per slot with
    fixed buttons); None without fixed buttons."""
    fixed = [(j, slot.fixed_items) for j, slot in enumerate(plan.slots) if slot.fixed_items]
    if not fixed:
        return None
    carried = exp.func(
        "coalesce", exp.column("placeholders"), exp.cast(exp.Array(expressions=[]), "VARCHAR[]")
    )
    params = {f"fixed_{j}": list(items) for j, items in fixed}
    query = exp.select(
        *(
            exp.func("list_has_all", carried.copy(), exp.Placeholder(this=f"fixed_{j}")).as_(
                f"f{j}"
            )
            for j, _ in fixed
        )
    ).from_("page_views")
    sql = query.sql("duckdb")

    def read(con: duckdb.DuckDBPyConnection) -> dict[str, np.ndarray]:
        with translate_duckdb(EngineError, "fast engine: reading the placeholders failed"):
            return con.execute(sql, params).fetchnumpy()

    return ("fixed", sql, repr(sorted(params.items()))), read


def _fixed_missing(con: duckdb.DuckDBPyConnection, plan: Plan, pages: Pages) -> np.ndarray:
    """Per page view and slot: a fixed button of the slot has no placeholder there."""
    out = np.zeros((len(pages), max(len(plan.slots), 1)), np.bool_)
    fixed = _fixed_read(plan)
    if fixed is None:
        return out
    rows = pages.read(con, *fixed)
    for j, slot in enumerate(plan.slots):
        if slot.fixed_items:
            out[:, j] = ~np.asarray(rows[f"f{j}"], np.bool_)[pages.pos]
    return out


def candidates(con: duckdb.DuckDBPyConnection, plan: Plan, pages: Pages) -> Candidates:
    """The :class:`Candidates` of every slot of ``plan`` on ``pages``."""
    n = len(pages)
    n_slots = len(plan.slots)
    page_columns, page_specs = _page_tests(con, plan, pages)
    sql, params, tests, _ = _query(plan)
    n_sql = len({c for _, _, c in tests})
    table = np.zeros((n, max(len(page_specs) + n_sql, 1)), np.bool_)
    for c, (codes, truth, not_found) in enumerate(page_specs):
        tiered(fill_from_codes)(table, c, codes, truth, not_found)
    if n_sql:
        pages.scan_table(con)
        with translate_duckdb(EngineError, "fast engine: evaluating the page criteria failed"):
            rows = con.execute(sql, params).fetchnumpy()
        pvi = np.asarray(rows["pvi"], np.int64)
        for c in range(n_sql):
            values = np.asarray(np.ma.getdata(rows[f"t{c}"]), np.bool_)
            fill_rows(table, len(page_specs) + c, pvi, values)
    fixed_missing = _fixed_missing(con, plan, pages)
    tests = [(j, li, c + len(page_specs)) for j, li, c in tests]
    tests += [(j, li, c) for (j, li), c in page_columns.items()]
    # leaves of the scan, flattened (chat leaves are the pass's)
    leaf_slot, leaf_col, leaf_page, leaf_bit, leaf_pos, leaf_nf = [], [], [], [], [], []
    column_of = {(j, li): c for j, li, c in tests}
    for j, slot in enumerate(plan.slots):
        bit = 0
        for li, leaf in enumerate(slot.leaves):
            if leaf.source == "chat":
                continue
            code, back_first, back_last = leaf.position
            leaf_slot.append(j)
            leaf_col.append(column_of.get((j, li), -1))
            leaf_page.append(leaf.source == "page")
            leaf_bit.append(-1 if leaf.source == "page" else bit)
            leaf_pos.append((code, back_first, back_last))
            leaf_nf.append(type(leaf.node.test).not_found)
            if leaf.source != "page":
                bit += 1
        if slot.expression is not None:
            bit += 1  # the expression leaf: active on every candidate page
        if bit > 62:
            raise UnsupportedByFastEngineError(
                f"fast engine: trigger {slot.id!r} has more than 62 criteria that change during"
                " a page view (durations, the clock, identities, custom variables; its"
                " expression counts as one) once equal reads are merged; replay it with the"
                " reference engine (--engine reference)"
            )
    slot_lo = np.zeros(n_slots + 1, np.int64)
    for j in leaf_slot:
        slot_lo[j + 1] += 1
    slot_lo = np.cumsum(slot_lo)
    expr_bit = np.array(
        [
            (
                sum(1 for leaf in s.leaves if leaf.source not in ("page", "chat"))
                if s.expression is not None
                else -1
            )
            for s in plan.slots
        ],
        np.int64,
    )
    entry_of = np.array([s.entry for s in plan.slots], np.int64)
    leaves = (
        np.array(leaf_col, np.int64),
        np.array(leaf_page, np.bool_),
        np.array(leaf_bit, np.int64),
        np.array(leaf_pos, np.int64).reshape(-1, 3),
        np.array(leaf_nf, np.bool_),
    )
    lo, hi, cand_pvi, cand_act, cand_fixed = _scan(
        table, fixed_missing, (pages.idx, pages.entry, pages.active),
        (entry_of, slot_lo, expr_bit), leaves,
    )  # fmt: skip
    return Candidates(lo, hi, cand_pvi, cand_act, cand_fixed)


def _scan(
    table: np.ndarray,
    fixed_missing: np.ndarray,
    page_arrays: tuple[np.ndarray, ...],
    slot_arrays: tuple[np.ndarray, ...],
    leaves: tuple[np.ndarray, ...],
) -> tuple[np.ndarray, ...]:
    """The candidates, CSR over slots, each slot's in page-view order: a count over page
    ranges in parallel threads, then each range writes from its offsets."""
    n = table.shape[0]
    n_slots = slot_arrays[0].shape[0]
    workers = max(1, min(_THREADS, n // _PAGES_PER_THREAD))
    cuts = [n * w // workers for w in range(workers + 1)]
    ranges = list(itertools.pairwise(cuts))

    # candidate page views, active-leaf bits, fixed flag (none: the counting pass's)
    pvi_type = position_type(n)
    none = (np.zeros(0, pvi_type), np.zeros(0, np.int64), np.zeros(0, np.bool_))

    def scan(w: int, at: np.ndarray, out: tuple[np.ndarray, ...], fill: bool) -> np.ndarray:
        tiered(scan_range)(table, fixed_missing, *page_arrays, *slot_arrays[:2], *leaves,
                   slot_arrays[2], ranges[w][0], ranges[w][1], at, *out, fill)  # fmt: skip
        return at

    with ThreadPoolExecutor(max_workers=workers) as pool:
        counted = pool.map(
            carried(lambda w: scan(w, np.zeros(n_slots, np.int64), none, False)), range(workers)
        )
        counts = np.array(list(counted), np.int64).reshape(workers, n_slots)
        per_slot = counts.sum(axis=0)
        lo = np.cumsum(per_slot) - per_slot
        hi = lo + per_slot
        starts = lo + np.cumsum(counts, axis=0) - counts  # range w of slot j starts here
        total = int(per_slot.sum())
        out = (np.empty(total, pvi_type), np.empty(total, np.int64), np.empty(total, np.bool_))
        list(pool.map(carried(lambda w: scan(w, starts[w].copy(), out, True)), range(workers)))
    return (lo, hi, *out)


#: threads of the scan, and the fewest page views worth a thread
_THREADS = ENGINE_THREADS
_PAGES_PER_THREAD = 200_000
