"""Expressions (GrowthBook-style conditions) as rows: evaluated in SQL at their breakpoints.

A trigger's ``expression`` is one more dynamic leaf of its slot (:mod:`~.engine.steps`,
kind ``EXPR``): rows ``(pvi, t, mask)`` sorted by ``(pvi, t)``, ``mask`` bit
``2 * shown + opened`` set iff the expression holds at ``t`` under that chat state (an
expression that does not read ``chat`` has mask 0 or 15). Per candidate page view
``[s, lim)`` the rows start at ``s``, then sit at every *breakpoint*: an instant in
``(s, lim)`` where something the expression reads may change,

* a change of a variable it reads (``vars.<name>`` reads the variables ``<name>`` and
  ``custom_<name>``), from ``_el_vc`` (a change at or before ``s`` applies from ``s``);
* the visitor's first identity / signed identity, when it reads ``visitor.identity`` /
  ``visitor.signed_identity``;
* ``s + d`` and ``visit start + d`` for the duration thresholds of
  :func:`~engage_lab.conditions.walking.time_reads`;
* the clock boundaries (multiples of its clock step, UTC) when it reads ``time``.

Between two breakpoints nothing it reads changes, so the value of the last row holds.

Each row's inputs are reduced to integer codes (page strings and variable values by
dictionary, ``visit.urls`` / ``visit.paths`` by the visit's sequence so far, durations by
the interval between the threshold crossings they fall in, the clock by its UTC minute,
identities as booleans, counts): rows with equal codes give equal results, so the
expression is evaluated once per distinct input, in one SQL query over a registered
Arrow table (``_el_xb``). There a JSON attribute document is built per row with just the
paths the expression reads, as :func:`engage_lab.reference.state.attributes` builds it
(key order, nulls, ``vars.<name>``: the variable ``<name>`` if set, else
``custom_<name>``), and :class:`~engage_lab.conditions.compiler.DuckDBCompiler` compiles
the expression over it. ``chat`` fields are decided per chat state first (by the
reference evaluator; the tree is then simplified), and each distinct remaining tree is
compiled once. Thresholds are bound parameters (prefix ``x<slot>t<tree>p``); values
never enter the SQL text. The SQL is remembered per expression, the rows by SQL text,
parameters and candidate page views.

What an expression reads and its SQL are in :mod:`engage_lab.engine.expression_sql`;
this module builds and evaluates the rows.

Refused (:class:`~engage_lab.engine.plan.UnsupportedByFastEngineError`): reads whose
changes the reference's candidate instants do not follow (a duration with a test other
than ``$gt`` / ``$gte`` / ``$lt`` / ``$lte``; durations, the clock or the chat read
through a saved group), whole ``page``, ``visit`` or ``vars`` objects, and what the
compiler refuses.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import duckdb
import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from engage_lab.conditions.walking import MINUTE_MS, TimeReads, time_reads
from engage_lab.engine.expression_sql import (
    LISTS,
    PAGE_FIELDS,
    TABLE,
    Reads,
    collect_reads,
    expression_query,
    trees_by_chat_state,
)
from engage_lab.engine.pages import Pages
from engage_lab.engine.plan import Plan, Slot, UnsupportedByFastEngineError
from engage_lab.engine.sqlvalues import col
from engage_lab.engine.static import Candidates
from engage_lab.errors import EngineError, translate_duckdb

__all__ = ["expression_rows"]

# ----------------------------------------------------------------------------- facts


def _codes(values: pa.Array) -> np.ndarray:
    """Dictionary codes of ``values`` (equal codes iff equal values; null: -1)."""
    encoded = pc.dictionary_encode(values)
    return np.asarray(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False), np.int64)


def _page_column(
    con: duckdb.DuckDBPyConnection, pages: Pages, name: str
) -> tuple[pa.Array, np.ndarray]:
    """A ``page_views`` column's distinct values and, per ``pvi``, the index of its value
    (-1: null): :meth:`~engage_lab.engine.pages.Pages.dictionary`."""
    with translate_duckdb(EngineError, "fast engine: reading the page views failed"):
        values, codes = pages.dictionary(con, name)
    return values, np.asarray(codes, np.int64)


def _take(values: pa.Array, codes: np.ndarray) -> pa.Array:
    """``values[codes]``, null where the code is -1."""
    return values.take(pa.array(codes, mask=codes < 0))


def _sequence_ids(codes: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Per ``pvi``, an id of the sequence ``codes[pvi - idx + 1 .. pvi]`` (the visit so
    far; equal ids iff equal sequences), built one visit position at a time."""
    n = len(codes)
    ids = np.zeros(n, np.int64)
    if n == 0:
        return ids
    c = codes - codes.min()
    width = int(c.max()) + 1
    order = np.argsort(idx, kind="stable")
    bounds = np.searchsorted(idx[order], np.arange(1, int(idx.max()) + 2), side="left")
    offset = 0
    for level in range(len(bounds) - 1):
        at = order[bounds[level] : bounds[level + 1]]
        if len(at) == 0:
            continue
        previous = ids[at - 1] + 1 if level > 0 else np.zeros(len(at), np.int64)
        group, first = _unique(previous * width + c[at])
        ids[at] = offset + group
        offset += len(first)
    return ids


def _visit_lists(
    values: pa.Array, codes: np.ndarray, row_pvi: np.ndarray, idx: np.ndarray
) -> pa.Array:
    """Per row, the visit's values so far (page views ``pvi - idx + 1 .. pvi``, in order)."""
    lengths = idx[row_pvi].astype(np.int64)
    offsets = np.zeros(len(row_pvi) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    first = np.repeat(row_pvi - lengths + 1, lengths)
    within = np.arange(offsets[-1], dtype=np.int64) - np.repeat(offsets[:-1], lengths)
    items = _take(values, codes[first + within])
    return pa.LargeListArray.from_arrays(pa.array(offsets), items)


def _changes(
    con: duckdb.DuckDBPyConnection, pages: Pages, name: str, cache: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, pa.Array, np.ndarray]:
    """One variable's changes ``(pvi, c, value JSON text, value codes)`` by ``(pvi, c)``."""
    key = f"expr-var|{pages.key!r}|{name}"
    if key not in cache:
        query = (
            exp.select("pvi", "c", exp.cast(col("value"), "VARCHAR").as_("v"))
            .from_("_el_vc")
            .where(col("name").eq(exp.Placeholder(this="name")))
            .order_by("pvi", "c")
        )
        with translate_duckdb(EngineError, "fast engine: reading variable changes failed"):
            table = con.sql(query.sql("duckdb"), params={"name": name}).to_arrow_table()
        texts = table.column("v").combine_chunks().cast(pa.large_string())
        cache[key] = (
            np.asarray(table.column("pvi").to_numpy(), np.int64),
            np.asarray(table.column("c").to_numpy(), np.int64),
            texts,
            _codes(texts),
        )
    return cache[key]


@numba.njit(cache=True)
def _asof(row_p, row_t, ch_p, ch_t):  # pragma: no cover - compiled
    """Per row (sorted by ``(pvi, t)``), the last change of its page view at or before its
    instant (changes sorted by ``(pvi, c)``), or -1."""
    out = np.full(row_p.shape[0], -1, np.int64)
    k = 0
    m = ch_p.shape[0]
    for i in range(row_p.shape[0]):
        p = row_p[i]
        t = row_t[i]
        while k < m and (ch_p[k] < p or (ch_p[k] == p and ch_t[k] <= t)):
            k += 1
        if k > 0 and ch_p[k - 1] == p:
            out[i] = k - 1
    return out


def _variable(
    con: duckdb.DuckDBPyConnection,
    pages: Pages,
    name: str,
    row_p: np.ndarray,
    row_t: np.ndarray,
    cache: dict[str, Any],
) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """``vars.<name>`` per row (the variable ``name`` if set, else ``custom_<name>``):
    value codes (-1: null or unset), and indices (-1: unset) into the JSON texts."""
    code = np.full(len(row_p), -1, np.int64)
    index = np.full(len(row_p), -1, np.int64)
    sources: list[pa.Array] = []
    base = 0
    for actual in (name, f"custom_{name}"):
        ch_p, ch_t, texts, codes = _changes(con, pages, actual, cache)
        at = _asof(row_p, row_t, ch_p, ch_t)
        use = np.nonzero((at >= 0) & (index < 0))[0]
        index[use] = base + at[use]
        found = codes[at[use]]
        code[use] = np.where(found >= 0, found + base, -1)  # per variable: no collision
        sources.append(texts)
        base += len(texts)
    return code, index, pa.concat_arrays(sources) if sources else pa.array([], pa.large_string())


def _breakpoints(
    con: duckdb.DuckDBPyConnection,
    slot: Slot,
    reads: Reads,
    tr: TimeReads,
    pages: Pages,
    pvi: np.ndarray,
    cache: dict[str, Any],
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique ``(pvi, t)``: each page's start, then its breakpoints in ``(s, lim)``."""
    s = pages.start[pvi]
    lim = pages.limit[pvi]
    parts_p, parts_t = [pvi], [s]

    def inside(t: np.ndarray, p: np.ndarray = pvi) -> None:
        keep = (t > pages.start[p]) & (t < pages.limit[p])
        parts_p.append(p[keep])
        parts_t.append(t[keep])

    if reads.reads("page", "duration"):
        for d in tr.page_offsets:
            inside(s + d)
    if reads.reads("visit", "duration"):
        for d in tr.visit_offsets:
            inside(pages.visit_start[pvi] + d)
    code = pages.visitor[pvi].astype(np.int64)
    if reads.reads("visitor", "identity"):
        inside(pages.id_at[code])
    if reads.reads("visitor", "signed_identity"):
        inside(pages.signed_at[code])
    if reads.reads("time"):
        step = tr.clock_step
        if step <= 0:  # pragma: no cover - time_reads gives a step to every time read
            raise UnsupportedByFastEngineError(f"trigger {slot.id!r}: no clock step")
        first = s // step + 1
        count = np.maximum((lim - 1) // step - first + 1, 0)
        starts = np.zeros(len(pvi) + 1, np.int64)
        np.cumsum(count, out=starts[1:])
        within = np.arange(starts[-1], dtype=np.int64) - np.repeat(starts[:-1], count)
        parts_p.append(np.repeat(pvi, count))
        parts_t.append((np.repeat(first, count) + within) * step)
    if reads.variables:
        candidate = np.zeros(len(pages), np.bool_)
        candidate[pvi] = True
        for name in reads.variables:
            for actual in (name, f"custom_{name}"):
                ch_p, ch_t, _, _ = _changes(con, pages, actual, cache)
                keep = candidate[ch_p]
                inside(ch_t[keep], ch_p[keep])
    if len(parts_p) == 1:
        return pvi, s
    row_p = np.concatenate(parts_p)
    row_t = np.concatenate(parts_t)
    # one sort key: pvi, then the offset in the page (when it fits in 63 bits)
    width = int((lim - s).max()) + 1
    if int(row_p.max()) < (1 << 62) // width:
        packed = np.sort(row_p * width + (row_t - pages.start[row_p]))
        new = np.ones(len(packed), np.bool_)
        new[1:] = packed[1:] != packed[:-1]
        packed = packed[new]
        row_p = packed // width
        return row_p, pages.start[row_p] + packed % width
    order = np.lexsort((row_t, row_p))  # pragma: no cover - pages longer than 2^62 / n ms
    row_p, row_t = row_p[order], row_t[order]
    new = np.ones(len(row_p), np.bool_)
    new[1:] = (row_p[1:] != row_p[:-1]) | (row_t[1:] != row_t[:-1])
    return row_p[new], row_t[new]


# ----------------------------------------------------------------------------- groups


def _dense(key: np.ndarray, span: int) -> tuple[np.ndarray, np.ndarray]:
    """``(group, representative)``: group ids ``0..k-1`` of equal keys in ``[0, span)``
    and one row of each group."""
    n = len(key)
    if span <= max(4 * n, 1 << 16):
        present = np.zeros(span, np.bool_)
        present[key] = True
        ids = np.cumsum(present) - 1
        any_row = np.empty(span, np.int64)
        any_row[key] = np.arange(n, dtype=np.int64)
        return ids[key], any_row[present]
    return _unique(key)


def _unique(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(group, first row)`` of equal keys, groups numbered in key order (a sort: faster
    than ``np.unique``'s hash on these sizes)."""
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    new = np.ones(len(key), np.bool_)
    new[1:] = ordered[1:] != ordered[:-1]
    group = np.empty(len(key), np.int64)
    group[order] = np.cumsum(new) - 1
    return group, order[new]


def _groups(columns: list[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows with equal values in every column: ``(group per row, one row per group)``."""
    key = np.zeros(n, np.int64)
    span = 1
    for column in columns:
        c = column - column.min()
        width = int(c.max()) + 1
        if width > (1 << 62) // max(span, 1):
            key, reps = _dense(key, span)
            span = len(reps)
        if width > (1 << 62) // max(span, 1):  # pragma: no cover - n * width beyond 2^62
            c, reps = _dense(c, width)
            width = len(reps)
        key = key * width + c
        span *= width
    return _dense(key, span)


# ----------------------------------------------------------------------------- rows


def _slot_rows(
    con: duckdb.DuckDBPyConnection,
    j: int,
    slot: Slot,
    pages: Pages,
    pvi: np.ndarray,
    cache: dict[str, Any],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    assert slot.expression is not None
    # the compiled SQL depends on the expression, the saved groups and the timezone
    source = json.dumps(
        [j, repr(slot.expression), slot.config.saved_groups, slot.config.source.timezone],
        sort_keys=False,
        default=repr,
    )
    compiled_key = f"expr-sql|{source}"
    if compiled_key not in cache:
        reads = collect_reads(slot.expression, slot.config.saved_groups)
        trees, per_state = trees_by_chat_state(slot, reads)
        sql, params = expression_query(j, slot, reads, trees) if trees else ("", {})
        cache[compiled_key] = (reads, per_state, sql, params)
    reads, per_state, sql, params = cache[compiled_key]
    pvi = pvi[pages.start[pvi] < pages.limit[pvi]]
    digest = hashlib.blake2b(np.ascontiguousarray(pvi).tobytes(), digest_size=16).hexdigest()
    key = f"expr|{pages.key!r}|{sql}|{sorted(params.items())!r}|{per_state!r}|{digest}"
    if key not in cache:
        cache[key] = _evaluate(con, slot, reads, pages, pvi, sql, params, per_state, cache)
    return cache[key]


def _evaluate(
    con: duckdb.DuckDBPyConnection,
    slot: Slot,
    reads: Reads,
    pages: Pages,
    pvi: np.ndarray,
    sql: str,
    params: dict[str, Any],
    per_state: list[int | bool],
    cache: dict[str, Any],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows of one slot on its candidate page views ``pvi`` (see the module docstring)."""
    if len(pvi) == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    if not sql:  # decided by the chat state alone
        mask = sum(1 << state for state, value in enumerate(per_state) if value is True)
        return pvi, pages.start[pvi], np.full(len(pvi), mask, np.int64)
    assert slot.expression is not None
    reads_t = time_reads((), slot.expression)
    row_p, row_t = _breakpoints(con, slot, reads, reads_t, pages, pvi, cache)
    n = len(row_p)
    # ---- each row's inputs as codes: rows with equal codes have equal results
    code = pages.visitor[row_p].astype(np.int64)
    columns: list[np.ndarray] = []
    strings: dict[str, tuple[pa.Array, np.ndarray]] = {}
    for name in PAGE_FIELDS:
        if reads.reads("page", name):
            strings[name] = _page_column(con, pages, name)
            columns.append(strings[name][1][row_p])
    lists: dict[str, tuple[pa.Array, np.ndarray]] = {}
    for name, field_name in LISTS.items():
        if reads.reads("visit", name):
            lists[name] = _page_column(con, pages, field_name)
            seq_key = f"expr-seq|{pages.key!r}|{field_name}"
            if seq_key not in cache:
                cache[seq_key] = _sequence_ids(lists[name][1], pages.idx.astype(np.int64))
            columns.append(cache[seq_key][row_p])
    if reads.reads("page", "count"):
        columns.append(pages.idx[row_p].astype(np.int64))
    # durations are read by thresholds alone: the interval between crossings decides
    if reads.reads("page", "duration"):
        offsets = np.array(reads_t.page_offsets, np.int64)
        columns.append(np.searchsorted(offsets, row_t - pages.start[row_p], side="right"))
    if reads.reads("visit", "count"):
        columns.append(pages.vcount[row_p].astype(np.int64))
    if reads.reads("visit", "duration"):
        offsets = np.array(reads_t.visit_offsets, np.int64)
        columns.append(np.searchsorted(offsets, row_t - pages.visit_start[row_p], side="right"))
    if reads.reads("visitor", "id"):
        columns.append(code)
    if reads.reads("visitor", "identity"):
        columns.append((pages.id_at[code] <= row_t).astype(np.int64))
    if reads.reads("visitor", "signed_identity"):
        columns.append((pages.signed_at[code] <= row_t).astype(np.int64))
    if reads.reads("time"):
        columns.append(row_t // MINUTE_MS)
    texts = []
    for name in reads.variables:
        var_codes, var_index, var_texts = _variable(con, pages, name, row_p, row_t, cache)
        columns.append(var_codes)
        texts.append((var_index, var_texts))
    group, reps = _groups(columns, n)
    # ---- one row per group
    rp = row_p[reps]
    rcode = pages.visitor[rp].astype(np.int64)
    table: dict[str, Any] = {
        "el_r": np.arange(len(reps), dtype=np.int64),
        "el_t": row_t[reps],
        "el_s": pages.start[rp],
        "el_vs": pages.visit_start[rp],
        "el_idx": pages.idx[rp].astype(np.int64),
        "el_vcount": pages.vcount[rp].astype(np.int64),
        "el_ida": pages.id_at[rcode],
        "el_sga": pages.signed_at[rcode],
    }
    for name, (values, codes) in strings.items():
        table[f"el_{name}"] = _take(values, codes[rp])
    for name, (values, codes) in lists.items():
        table[f"el_{name}"] = _visit_lists(values, codes, rp, pages.idx)
    if reads.reads("visitor", "id"):
        table["el_vid"] = pages.visitor_ids(con).take(pa.array(rcode))
    for k, (var_index, var_texts) in enumerate(texts):
        at = var_index[reps]
        table[f"el_var{k}"] = _take(var_texts, at)
    con.register(TABLE, pa.table(table))
    try:
        with translate_duckdb(
            EngineError, f"fast engine: evaluating the expression of trigger {slot.id!r} failed"
        ):
            result = con.execute(sql, params).fetchnumpy()
    finally:
        con.unregister(TABLE)
    r = np.asarray(result["el_r"], np.int64)
    by_group = np.zeros(len(reps), np.int64)
    states = per_state if len(per_state) == 4 else [per_state[0]] * 4
    for state, source in enumerate(states):
        bit = np.int64(1) << state
        if source is True:
            by_group |= bit
        elif source is not False:
            held = np.asarray(result[f"el_m{source}"], np.bool_)
            by_group[r[held]] |= bit
    mask = by_group[group]
    # a page's first row, then the rows where the mask changes
    keep = np.ones(n, np.bool_)
    keep[1:] = (row_p[1:] != row_p[:-1]) | (mask[1:] != mask[:-1])
    return row_p[keep], row_t[keep], mask[keep]


def expression_rows(
    con: duckdb.DuckDBPyConnection,
    plan: Plan,
    pages: Pages,
    cand: Candidates,
    cache: dict[str, Any],
) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per slot with an expression: its ``(pvi, t, mask)`` rows, sorted by ``(pvi, t)``
    (see the module docstring). ``cache`` keeps page columns, variable changes and each
    slot's rows between replays."""
    out: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for j, slot in enumerate(plan.slots):
        if slot.expression is not None:
            pvi = np.asarray(cand.pvi[cand.lo[j] : cand.hi[j]], np.int64)
            out[j] = _slot_rows(con, j, slot, pages, pvi, cache)
    return out
