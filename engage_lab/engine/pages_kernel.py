"""Compiled passes over the page views (see :mod:`engage_lab.engine.pages`).

Arrays given per ``page_views`` scan position, with ``order`` the scan positions in the
engine's order (visitor code, start, page view id). ``f.py_func`` of each function is the
same code in Python, for debugging.
"""

from __future__ import annotations

import numba
import numpy as np

from engage_lab.availability.state import NEVER
from engage_lab.engine.sorting import stable_argsort

__all__ = [
    "NEVER",
    "assign_var_changes",
    "dense_codes",
    "derive_pages",
    "page_records",
    "position_type",
    "radix_argsort",
    "shared_instants",
    "visitor_time_order",
]


def position_type(n: int) -> type[np.signedinteger]:
    """The integer type of positions among ``n`` rows: int32 below 2**31 (half the memory
    and memory traffic of int64), else int64."""
    return np.int32 if n < 2**31 else np.int64


@numba.njit(cache=True, nogil=True)
def radix_argsort(key, bits, index):
    """A stable argsort of non-negative integer keys below ``2**bits`` (LSD radix sort,
    11-bit digits: the digit counts in one pass, then one scatter per digit). ``index``
    holds ``0, 1, …, n - 1`` in the dtype of the result (consumed; int32 halves the
    memory traffic when it fits). Returns the order and the sorted keys."""
    n = key.shape[0]
    digits = max(1, (bits + 10) // 11)
    counts = np.zeros((digits, 2049), np.int64)
    for i in range(n):
        k = key[i]
        for d in range(digits):
            counts[d, ((k >> (11 * d)) & 0x7FF) + 1] += 1
    k0 = key.copy()
    k1 = np.empty_like(key)
    i0 = index
    i1 = np.empty_like(index)
    for d in range(digits):
        if counts[d, 1] == n:  # every key has digit 0 here: already in order
            continue
        at = counts[d]
        for b in range(2048):
            at[b + 1] += at[b]
        shift = 11 * d
        for i in range(n):
            b = (k0[i] >> shift) & 0x7FF
            q = at[b]
            k1[q] = k0[i]
            i1[q] = i0[i]
            at[b] = q + 1
        k0, k1 = k1, k0
        i0, i1 = i1, i0
    return i0, k0


@numba.njit(cache=True, nogil=True)
def visitor_time_order(code, start, index):
    """A stable argsort by ``(code, start)`` (``code >= -1``): a radix sort by visitor
    code only, then each visitor's run sorted by start where it is not already (histories
    are mostly written in time order, so most runs are), and the ``[a, b)`` runs
    of equal ``(code, start)`` of length > 1 (page view ids order them). ``index``: an
    array of ``n`` integers of the result's dtype (overwritten)."""
    n = code.shape[0]
    shifted = code + 1
    top = 0
    for i in range(n):
        top = max(top, shifted[i])
    bits = 1
    while (1 << bits) <= top:
        bits += 1
    for i in range(n):
        index[i] = i
    order, sorted_code = radix_argsort(shifted, bits, index)
    # the starts in that order, read once (the loop below then reads memory in order)
    at = np.empty(n, np.int64)
    for k in range(n):
        at[k] = start[order[k]]
    ties = np.empty((n // 2 + 1, 2), np.int64)
    m = 0
    i = 0
    while i < n:
        c = sorted_code[i]
        j = i + 1
        in_order = True
        while j < n and sorted_code[j] == c:
            if at[j] < at[j - 1]:
                in_order = False
            j += 1
        if not in_order:
            by_start = stable_argsort(at[i:j])
            run_order = order[i:j][by_start]
            run_at = at[i:j][by_start]
            for q in range(j - i):  # a loop: a slice assignment compiles a shape check
                order[i + q] = run_order[q]
                at[i + q] = run_at[q]
        k = i
        while k < j:
            e = k + 1
            while e < j and at[e] == at[k]:
                e += 1
            if e - k > 1:
                ties[m, 0] = k
                ties[m, 1] = e
                m += 1
            k = e
        i = j
    return order, ties[:m]


@numba.njit(cache=True, nogil=True)
def _step_value(at, values, t, default):
    """The value of a step function at ``t`` (``at`` sorted; before the first: ``default``)."""
    k = np.searchsorted(at, t, side="right") - 1
    return default if k < 0 else values[k]


@numba.njit(cache=True, nogil=True)
def page_records(code, start, end, page_change, embedded, seg):
    """Per scan position one record ``(code, start, end, flags)``: the pass reads page views
    in the engine's order, a random walk over scan positions, so one cache line a page
    view instead of one per array (flags: embedded, page change, segment)."""
    n = code.shape[0]
    rec = np.empty((n, 4), np.int64)
    for p in range(n):
        rec[p, 0] = code[p]
        rec[p, 1] = start[p]
        rec[p, 2] = end[p]
        rec[p, 3] = (
            np.int64(embedded[p]) | (np.int64(page_change[p]) << 1) | (np.int64(seg[p]) << 2)
        )
    return rec


@numba.njit(cache=True, nogil=True)
def derive_pages(
    order, rec, in_sample, lo, hi, idle_at, idle_values, entry_at,
    status_t, status_off,
):  # fmt: skip
    """Visits, the kept page views and their facts.

    ``rec`` holds the page views' :func:`page_records`. Returns ``(n_kept, pos, visitor, visit, visit_pos, start, end, limit, vstart, idx,
    vcount, embedded, carries, active, entry, seq_pvi)``: arrays over the kept page views
    (only the first ``n_kept`` entries are meaningful), ``visit_pos`` the scan position of
    the visit's first page view, ``seq_pvi`` per position of ``order`` the kept index (-1).
    """
    n = order.shape[0]
    # per page view of the current visitor: its visit and the position of the visit's first
    seq_visit = np.empty(16, np.int64)
    seq_first = np.empty(16, np.int64)
    o_pos = np.empty(n, order.dtype)  # scan positions: int32 below 2**31 page views
    o_visitor = np.empty(n, np.int32)
    o_visit = np.empty(n, np.int32)
    o_visit_pos = np.empty(n, order.dtype)
    o_start = np.empty(n, np.int64)
    o_end = np.empty(n, np.int64)
    o_limit = np.empty(n, np.int64)
    o_vstart = np.empty(n, np.int64)
    o_idx = np.empty(n, np.int32)
    o_vcount = np.empty(n, np.int32)
    o_embedded = np.empty(n, np.bool_)
    o_carries = np.zeros(n, np.bool_)
    o_active = np.empty(n, np.bool_)
    o_entry = np.empty(n, np.int16)
    seq_pvi = np.full(n, -1, np.int32)
    first_idle = idle_values[0]
    status_code = status_off.astype(np.int64)
    visits = np.int64(-1)
    m = 0
    i = 0
    while i < n:
        j = i
        c = rec[order[i], 0]
        while j < n and rec[order[j], 0] == c:
            j += 1
        if j - i > seq_visit.shape[0]:
            seq_visit = np.empty(2 * (j - i), np.int64)
            seq_first = np.empty(2 * (j - i), np.int64)
        # ---- visits over all the visitor's page views
        latest = np.int64(0)
        started = False
        current_first = np.int64(-1)
        for k in range(i, j):
            p = order[k]
            s, e = rec[p, 1], rec[p, 2]
            idle = (
                first_idle
                if len(idle_values) == 1
                else _step_value(idle_at, idle_values, s, first_idle)
            )
            if not started or s - latest > idle:
                visits += 1
                current_first = k
            seq_visit[k - i] = visits
            seq_first[k - i] = current_first
            latest = e if not started else max(latest, e)
            started = True
        # ---- the kept page views of this visitor
        keep_visitor = c >= 0 and in_sample[c]
        prev = np.int64(-1)  # previous kept page view (output index)
        n_visits = np.int64(0)
        page_in_visit = np.int64(0)
        for k in range(i, j):
            p = order[k]
            s, e, flags = rec[p, 1], rec[p, 2], rec[p, 3]
            if not (keep_visitor and (flags >> 2) & 1 and lo <= s < hi):
                continue
            if prev < 0 or o_visit[prev] != seq_visit[k - i]:
                n_visits += 1
                page_in_visit = 0
                o_vstart[m] = s
            else:
                o_vstart[m] = o_vstart[prev]
            page_in_visit += 1
            o_pos[m] = p
            o_visitor[m] = c
            o_visit[m] = seq_visit[k - i]
            o_visit_pos[m] = order[seq_first[k - i]]
            o_start[m] = s
            o_end[m] = e
            o_limit[m] = e
            o_idx[m] = page_in_visit
            o_vcount[m] = n_visits
            o_embedded[m] = flags & 1
            if prev >= 0:
                o_limit[prev] = min(o_end[prev], s)
                o_carries[m] = (flags >> 1) & 1 and o_visit[prev] == seq_visit[k - i]
            off = _step_value(status_t, status_code, s, 0) if status_t.shape[0] else 0
            o_active[m] = off == 0
            o_entry[m] = (
                0
                if entry_at.shape[0] == 1 and entry_at[0] <= s
                else (np.searchsorted(entry_at, s, side="right") - 1)
            )
            seq_pvi[k] = m
            prev = m
            m += 1
        i = j
    return (
        m, o_pos, o_visitor, o_visit, o_visit_pos, o_start, o_end, o_limit, o_vstart, o_idx,
        o_vcount, o_embedded, o_carries, o_active, o_entry, seq_pvi,
    )  # fmt: skip


@numba.njit(cache=True, nogil=True)
def assign_var_changes(ppos, changed, order, rec, seq_pvi):
    """The kept page view (pvi) each variable change belongs to (-1: none).

    A change belongs to its own page view (scan position ``ppos``) while it is before that
    page's end; at or after the end it moves to the visitor's next page view (in the
    segment) that has not ended by then. Page views are walked in ``order``; ``rec`` holds
    their :func:`page_records`.
    """
    n_pages = order.shape[0]
    seq_of = np.empty(n_pages, np.int64)
    for k in range(n_pages):
        seq_of[order[k]] = k
    out = np.full(ppos.shape[0], -1, np.int32)
    for r in range(ppos.shape[0]):
        p = ppos[r]
        if p < 0 or not (rec[p, 3] >> 2) & 1:
            continue
        c = changed[r]
        k = seq_of[p]
        if c < rec[p, 2]:
            out[r] = seq_pvi[k]
            continue
        j = k + 1
        while j < n_pages and rec[order[j], 0] == rec[p, 0]:
            q = order[j]
            if (rec[q, 3] >> 2) & 1 and rec[q, 2] > c:
                out[r] = seq_pvi[j]
                break
            j += 1
    return out


@numba.njit(cache=True, nogil=True)
def shared_instants(pvi, changed, name_hash, n_pages):
    """The rows (ascending) whose ``(pvi, changed, name_hash)`` another row shares, among
    the rows with ``pvi >= 0``: the candidates of same-variable, same-instant ties (the
    names themselves decide). Rows are bucketed by page view (a counting sort), then
    compared within their page view."""
    n = pvi.shape[0]
    start = np.zeros(n_pages + 1, np.int32)
    for r in range(n):
        if pvi[r] >= 0:
            start[pvi[r] + 1] += 1
    for k in range(n_pages):
        start[k + 1] += start[k]
    rows = np.empty(start[n_pages], np.int32)
    fill = start[:-1].copy()
    for r in range(n):
        p = pvi[r]
        if p >= 0:
            rows[fill[p]] = r
            fill[p] += 1
    tied = np.zeros(n, np.bool_)
    for p in range(n_pages):
        a, b = start[p], start[p + 1]
        if b - a < 2:
            continue
        if b - a <= 16:  # the usual case: compare the pairs
            for x in range(a, b):
                for y in range(x + 1, b):
                    rx, ry = rows[x], rows[y]
                    if changed[rx] == changed[ry] and name_hash[rx] == name_hash[ry]:
                        tied[rx] = True
                        tied[ry] = True
            continue
        page_rows = rows[a:b]
        by_instant = page_rows[stable_argsort(changed[page_rows])]
        x = 0
        while x < by_instant.shape[0]:
            y = x + 1
            while y < by_instant.shape[0] and changed[by_instant[y]] == changed[by_instant[x]]:
                y += 1
            if y - x > 1:
                run = by_instant[x:y]
                by_name = run[stable_argsort(name_hash[run])]
                for z in range(1, by_name.shape[0]):
                    if name_hash[by_name[z]] == name_hash[by_name[z - 1]]:
                        tied[by_name[z]] = True
                        tied[by_name[z - 1]] = True
            x = y
    return np.flatnonzero(tied)


@numba.njit(cache=True, nogil=True)
def dense_codes(visit, visitor):
    """Visit and visitor codes numbered 0, 1, … in order (runs of equal values of
    ``visit`` / ``visitor``), and the first index of each code's run."""
    n = visit.shape[0]
    dense_visit = np.empty(n, np.int32)
    dense_visitor = np.empty(n, np.int32)
    first_visit = np.empty(n, np.int64)
    first_visitor = np.empty(n, np.int64)
    a = np.int64(-1)
    b = np.int64(-1)
    for k in range(n):
        if k == 0 or visit[k] != visit[k - 1]:
            a += 1
            first_visit[a] = k
        if k == 0 or visitor[k] != visitor[k - 1]:
            b += 1
            first_visitor[b] = k
        dense_visit[k] = a
        dense_visitor[k] = b
    return dense_visit, dense_visitor, first_visit[: a + 1], first_visitor[: b + 1]
