"""The dynamic leaves of every slot, as the arrays :func:`~engage_lab.engine.steps.slot_steps`
reads (see that module for the kinds).

* thresholds: the crossing offset in ms (``gte X``: the least ``d`` with ``d / 1000 >= X``,
  true from ``base + d``; ``lte X``: true until ``base + d`` with ``d`` the least with
  ``d / 1000 > X``), relative to the page or the visit start;
* clock tests: a table of UTC instants where the test's value changes, evaluated with the
  reference evaluator on each 15-minute slot of the replayed span (zone offsets in use
  are whole quarters of an hour, so a slot is one local reading);
* identity tests: the test's value on ``true`` and on ``false``;
* variable tests: rows ``(pvi, c, holds)`` from SQL, one per change of the variable on a
  page view, and the test's value before the first (not found);
* the expression: rows ``(pvi, t, mask)`` (:mod:`engage_lab.engine.expressions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import numba
import numpy as np
import pandas as pd
import pyarrow as pa
from sqlglot import exp

from engage_lab.conditions import nodes
from engage_lab.conditions.criteria import read_page_value
from engage_lab.conditions.evaluator import test_value
from engage_lab.conditions.vocabulary import DAY_NAMES
from engage_lab.conditions.walking import QUARTER_MS, first_ms_above, first_ms_at_least
from engage_lab.engine.pages import Pages
from engage_lab.engine.plan import Leaf, Plan
from engage_lab.engine.sqlvalues import (
    LeafCompiler,
    aliased,
    coerce_json,
    col,
    deep_sql,
    normalized,
    num,
)
from engage_lab.engine.static import Candidates
from engage_lab.engine.steps import (
    CLOCK,
    EXPR,
    IDENTITY,
    SIGNED,
    THRESHOLD_PAGE,
    THRESHOLD_VISIT,
    VAR,
)
from engage_lab.errors import EngineError, translate_duckdb
from engage_lab.tiers import tiered

__all__ = ["LeafArrays", "clock_table", "leaf_arrays"]


@dataclass
class LeafArrays:
    """Flat arrays over all slots' dynamic leaves (``slot_lo[j]:slot_hi[j]``: slot ``j``)."""

    slot_lo: np.ndarray
    slot_hi: np.ndarray
    kind: np.ndarray
    d: np.ndarray
    ge: np.ndarray
    r: np.ndarray
    tab_lo: np.ndarray
    tab_hi: np.ndarray
    tab_t: np.ndarray
    tab_v: np.ndarray
    row_lo: np.ndarray
    row_hi: np.ndarray
    row_pvi: np.ndarray
    row_t: np.ndarray
    row_v: np.ndarray
    #: an upper bound of one slot's breakpoints on one page view
    max_breakpoints: int


def clock_table(
    node: nodes.Criterion, timezone: str, t0: int, t1: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(instants, values)`` of a clock criterion's current test over ``[t0, t1]``: the
    first instant at or before ``t0``, then every quarter where the value changes."""
    q0 = (t0 // QUARTER_MS) * QUARTER_MS
    q1 = max(q0, (t1 // QUARTER_MS) * QUARTER_MS)
    quarters = np.arange(q0, q1 + QUARTER_MS, QUARTER_MS, dtype=np.int64)
    local = pd.to_datetime(quarters, unit="ms", utc=True).tz_convert(timezone)
    hours = np.asarray(local.hour, np.int64)
    minutes = np.asarray(local.minute, np.int64)
    days = np.asarray(local.day_of_week, np.int64)
    keys = (days * 24 + hours) * 60 + minutes
    cache: dict[int, bool] = {}
    values = np.empty(len(quarters), np.int64)
    for k, key in enumerate(keys.tolist()):
        if key not in cache:
            minute, hour, day = key % 60, (key // 60) % 24, key // 1440
            raw: Any = {  # the reading the registry names
                "time": f"{hour:02d}:{minute:02d}",
                "hour": hour,
                "day_of_week": DAY_NAMES[day],
            }[node.facts.reads]
            cache[key] = test_value(node.test, read_page_value(raw, node.kind), node.kind)
        values[k] = 15 if cache[key] else 0
    keep = np.ones(len(values), np.bool_)
    keep[1:] = values[1:] != values[:-1]
    return quarters[keep], values[keep]


def _boolean_outcomes(node: nodes.Criterion) -> int:
    """Bit 1: the test on ``true``; bit 0: on ``false``."""
    on_true = test_value(node.test, True, "boolean")
    on_false = test_value(node.test, False, "boolean")
    return (2 if on_true else 0) | (1 if on_false else 0)


#: slots whose variable leaves one query reads (one selection bit each)
_SLOTS_PER_QUERY = 60


@numba.njit(cache=True, nogil=True)
def _selection(vc_pvi, keep, cand_pvi, cand_lo, cand_hi, slots, n_pages, bits):
    """Per ``var_changes`` row (scan order): bit ``b`` (``bits[b]``, of the mask's type)
    set when the row is kept and its page view is a candidate of slot ``slots[b]``."""
    mask = np.zeros(n_pages, bits.dtype)
    for b in range(slots.shape[0]):
        j = slots[b]
        for q in range(cand_lo[j], cand_hi[j]):
            mask[cand_pvi[q]] |= bits[b]
    out = np.zeros(vc_pvi.shape[0], bits.dtype)
    for r in range(vc_pvi.shape[0]):
        if keep[r]:
            out[r] = mask[vc_pvi[r]]
    return out


def _var_rows(
    con: duckdb.DuckDBPyConnection,
    plan: Plan,
    pages: Pages,
    cand: Candidates | None,
    scope: str,
    cache: dict[str, Any],
) -> dict[tuple[int, int], tuple[np.ndarray, ...]]:
    """``(pvi, c, holds)`` per variable leaf ``(slot, leaf)``: its variable's changes on the
    slot's candidate page views, sorted. One scan of ``var_changes`` serves up to
    :data:`_SLOTS_PER_QUERY` slots: a selection column (positional, one bit per slot)
    keeps the rows of the candidates, each leaf's test is one column."""
    leaves = [
        (j, k, leaf)
        for j, slot in enumerate(plan.slots)
        for k, leaf in enumerate(slot.dynamic_leaves)
        if leaf.source == "var"
    ]
    out: dict[tuple[int, int], tuple[np.ndarray, ...]] = {}
    slots = sorted({j for j, _, _ in leaves})
    for first in range(0, len(slots), _SLOTS_PER_QUERY):
        chunk = slots[first : first + _SLOTS_PER_QUERY]
        chosen = [(j, k, leaf) for j, k, leaf in leaves if j in chunk]
        out.update(_var_rows_of(con, pages, cand, chunk, chosen, scope, cache))
    return out


def _var_rows_of(
    con: duckdb.DuckDBPyConnection,
    pages: Pages,
    cand: Candidates | None,
    slots: list[int],
    leaves: list[tuple[int, int, Leaf]],
    scope: str,
    cache: dict[str, Any],
) -> dict[tuple[int, int], tuple[np.ndarray, ...]]:
    # the rows depend on the leaves' tests and the candidates (the SQL is made from them
    # alone, so the key needs no SQL text: building it is most of a remembered call)
    key = f"{scope}|{slots}|{[(j, k, repr(leaf.node)) for j, k, leaf in leaves]!r}"
    if key not in cache:
        cache[key] = _var_rows_query(con, pages, cand, slots, leaves)
    return cache[key]


def _var_rows_query(
    con: duckdb.DuckDBPyConnection,
    pages: Pages,
    cand: Candidates | None,
    slots: list[int],
    leaves: list[tuple[int, int, Leaf]],
) -> dict[tuple[int, int], tuple[np.ndarray, ...]]:
    # the candidates' changes of these variables; each distinct (name, value) tested once
    params: dict[str, Any] = {}
    names: list[exp.Expression] = []
    tests: list[exp.Expression] = []
    outputs: list[exp.Expression] = [col("pvi", "r"), col("c", "r")]
    for q, (j, _, leaf) in enumerate(leaves):
        compiler = LeafCompiler(param_prefix=f"vr{q}_p")
        if leaf.node.kind == "string" and type(leaf.node.test) in compiler.STRING_TESTS:
            # the value normalized once (``ns``), not once per entry of the test's list
            test = compiler.test(leaf.node, col("s"), col("ns"))
        else:
            test = compiler.test(leaf.node, coerce_json(col("value"), leaf.node.kind))
        params.update(compiler.params())
        params[f"vr{q}_name"] = leaf.criterion
        name = exp.Placeholder(this=f"vr{q}_name")
        names.append(name)
        tests.append(
            exp.Case(ifs=[exp.If(this=col("name").eq(name.copy()), true=test)]).as_(
                f"t{q}", copy=False
            )
        )
        bit = exp.BitwiseAnd(this=col("sel", "r"), expression=num(1 << slots.index(j)))
        mine = exp.and_(
            exp.NEQ(this=exp.Paren(this=bit), expression=num(0)), col("name", "r").eq(name.copy())
        )
        outputs += [mine.as_(f"m{q}", copy=False), col(f"t{q}", "d")]
    rows = (
        exp.select(
            col("pvi", "m"), col("c", "m"), col("sel", "s"), col("name", "v"), col("value", "v")
        )
        .from_(aliased("var_changes", "v"))
        .join(exp.Join(this=aliased("_el_vcmap", "m"), method="POSITIONAL"))
        .join(exp.Join(this=aliased("_el_vsel", "s"), method="POSITIONAL"))
        .where(
            exp.and_(
                exp.NEQ(this=col("sel", "s"), expression=num(0)),
                exp.In(this=col("name", "v"), expressions=names),
            )
        )
    )
    distinct = exp.select("name", "value").distinct().from_("r")
    text = coerce_json(col("value"), "string")
    distinct = exp.select(
        "name", "value", text.as_("s"), normalized(text.copy()).as_("ns", copy=False)
    ).from_(distinct.subquery("dd", copy=False), copy=False)
    # (no copies: the tests are big, and a copy per builder step made 2,000 criteria slow)
    tested = exp.select("name", "value", *tests).from_(distinct.subquery("dv"), copy=False)
    same_value = exp.NullSafeEQ(this=col("value", "r"), expression=col("value", "d"))
    query = (
        exp.select(*outputs)
        .from_(aliased("r", "r"), copy=False)
        .join(
            aliased("d", "d"),
            on=exp.and_(col("name", "r").eq(col("name", "d")), same_value),
            copy=False,
        )
        .order_by(col("pvi", "r"), col("c", "r"), copy=False)
        .with_("r", as_=rows, copy=False)
        .with_("d", as_=tested, copy=False)
    )
    with deep_sql():
        sql = query.sql("duckdb")
    vcmap = pages._tables["vcmap"]
    bits = np.array([1 << b for b in range(len(slots))], np.uint8 if len(slots) <= 8 else np.uint64)
    if cand is None:
        every = np.arange(len(pages), dtype=np.int64)
        cand_pvi = np.concatenate([every] * len(slots)) if slots else every[:0]
        cand_lo = np.zeros(max(slots, default=-1) + 1, np.int64)
        cand_hi = np.zeros_like(cand_lo)
        for b, j in enumerate(slots):
            cand_lo[j], cand_hi[j] = b * len(pages), (b + 1) * len(pages)
    else:
        cand_pvi, cand_lo, cand_hi = cand.pvi, cand.lo, cand.hi
    sel = tiered(_selection)(
        vcmap.column("pvi").to_numpy(), vcmap.column("keep").to_numpy(zero_copy_only=False),
        cand_pvi, cand_lo, cand_hi, np.array(slots, np.int64), len(pages), bits,
    )  # fmt: skip
    con.register("_el_vsel", pa.table({"sel": sel}))
    what = ", ".join(sorted({leaf.criterion for _, _, leaf in leaves}))
    try:
        with translate_duckdb(EngineError, f"fast engine: evaluating {what} failed"):
            rows = con.execute(sql, params).fetchnumpy()
    finally:
        con.unregister("_el_vsel")
    pvi = np.asarray(rows["pvi"], np.int64)
    c = np.asarray(rows["c"], np.int64)
    found = {}
    for q, (j, k, _) in enumerate(leaves):
        mine = np.asarray(rows[f"m{q}"], np.bool_)
        holds = np.ma.getdata(rows[f"t{q}"])[mine].astype(np.int64)
        found[(j, k)] = (pvi[mine], c[mine], holds)
    return found


def leaf_arrays(
    con: duckdb.DuckDBPyConnection,
    plan: Plan,
    pages: Pages,
    expression_rows: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None,
    cache: dict[str, Any] | None = None,
    cand: Candidates | None = None,
    scope: str = "",
) -> LeafArrays:
    """The :class:`LeafArrays` of ``plan`` over ``pages`` (``expression_rows``: per slot
    with an expression, its ``(pvi, t, mask)`` rows sorted by ``(pvi, t)``; ``cand``: the
    candidates, whose page views alone need variable rows, ``scope`` their cache key)."""
    kinds: list[int] = []
    ds: list[int] = []
    ges: list[int] = []
    rs: list[int] = []
    tabs: list[tuple[np.ndarray, np.ndarray]] = []
    rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    slot_lo, slot_hi = [], []
    t0 = int(pages.start.min()) if len(pages) else 0
    t1 = int(pages.limit.max()) if len(pages) else 0
    longest = int((pages.limit - pages.start).max()) if len(pages) else 0
    cache = {} if cache is None else cache
    bound = 0
    var_rows = _var_rows(con, plan, pages, cand, scope, cache)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    no_rows = (np.zeros(0, np.int64),) * 3
    for j, slot in enumerate(plan.slots):
        slot_lo.append(len(kinds))
        slot_bound = 0
        for k, leaf in enumerate(slot.dynamic_leaves):
            node = leaf.node
            table, leaf_rows = empty, no_rows
            d = ge = r = 0
            if leaf.source == "duration":
                kind = THRESHOLD_PAGE if node.facts.reads == "page" else THRESHOLD_VISIT
                if isinstance(node.test, nodes.Gte):
                    d, ge = first_ms_at_least(node.test.value), 1
                else:
                    d, ge = first_ms_above(node.test.value), 0
                slot_bound += 1
            elif leaf.source == "clock":
                kind = CLOCK
                clock_key = f"clock|{node!r}|{slot.config.source.timezone}|{t0}|{t1}"
                if clock_key not in cache:  # a tuning replay moves other leaves
                    cache[clock_key] = clock_table(node, slot.config.source.timezone, t0, t1)
                table = cache[clock_key]
                slot_bound += longest // QUARTER_MS + 2
            elif leaf.source == "identity":
                kind = IDENTITY if node.facts.reads == "identity" else SIGNED
                r = _boolean_outcomes(node)
                slot_bound += 1
            elif leaf.source == "var":
                kind = VAR
                r = int(type(node.test).not_found)
                leaf_rows = var_rows[(j, k)]
                slot_bound += _max_per_page(leaf_rows[0])
            else:  # a registered source this engine does not replay: never a variable
                raise EngineError(f"fast engine: no dynamic leaf for {leaf.criterion!r}")
            kinds.append(kind)
            ds.append(d)
            ges.append(ge)
            rs.append(r)
            tabs.append(table)
            rows.append(leaf_rows)
        if slot.expression is not None:
            if expression_rows is None or j not in expression_rows:
                raise EngineError(f"fast engine: no expression rows for trigger {slot.id!r}")
            kinds.append(EXPR)
            ds.append(0)
            ges.append(0)
            rs.append(0)
            tabs.append(empty)
            rows.append(expression_rows[j])
            slot_bound += _max_per_page(expression_rows[j][0])
        slot_hi.append(len(kinds))
        bound = max(bound, slot_bound)
    tab_lo, tab_hi, tab_t, tab_v = _concat([t for t in tabs], 2)
    row_lo, row_hi, row_pvi, row_t, row_v = _concat(rows, 3)
    return LeafArrays(
        slot_lo=np.array(slot_lo, np.int64),
        slot_hi=np.array(slot_hi, np.int64),
        kind=np.array(kinds, np.int64),
        d=np.array(ds, np.int64),
        ge=np.array(ges, np.int64),
        r=np.array(rs, np.int64),
        tab_lo=tab_lo,
        tab_hi=tab_hi,
        tab_t=tab_t,
        tab_v=tab_v,
        row_lo=row_lo,
        row_hi=row_hi,
        row_pvi=row_pvi,
        row_t=row_t,
        row_v=row_v,
        max_breakpoints=bound + 2,
    )


def _max_per_page(pvi: np.ndarray) -> int:
    """The most rows one page view has (``pvi`` sorted)."""
    if len(pvi) == 0:
        return 0
    starts = np.flatnonzero(np.diff(pvi, prepend=pvi[0] - 1))
    return int(np.diff(np.append(starts, len(pvi))).max())


def _concat(parts: list[tuple[np.ndarray, ...]], width: int) -> tuple[np.ndarray, ...]:
    lengths = np.array([len(p[0]) for p in parts], np.int64)
    hi = np.cumsum(lengths) if len(parts) else np.zeros(0, np.int64)
    lo = hi - lengths
    columns = [
        np.concatenate([p[c] for p in parts]).astype(np.int64) if parts else np.zeros(0, np.int64)
        for c in range(width)
    ]
    return (lo.astype(np.int64), hi.astype(np.int64), *columns)
