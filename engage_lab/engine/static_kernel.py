"""Compiled passes of :mod:`engage_lab.engine.static`: the page-test columns and the scan
that turns them into candidates.

The scan runs over page-view ranges in parallel threads (the functions release the GIL):
a first pass counts each range's candidates per slot, a second writes them at offsets
that keep every slot's candidates in page-view order. ``f.py_func`` of each function is
the same code in Python, for debugging.
"""

from __future__ import annotations

import numba
import numpy as np

from engage_lab.engine.kernel import _range

__all__ = ["fill_from_codes", "fill_rows", "scan_range"]


@numba.njit(cache=True, nogil=True)
def fill_from_codes(table, column, codes, truth, not_found):
    """``table[k, column]`` = the test's truth of page view ``k``'s value (``codes[k]``
    indexes ``truth``; ``-1``, no value: ``not_found``)."""
    for k in range(codes.shape[0]):
        code = codes[k]
        table[k, column] = truth[code] if code >= 0 else not_found


@numba.njit(cache=True, nogil=True)
def fill_rows(table, column, rows, values):
    """``table[rows[r], column] = values[r]``."""
    for r in range(rows.shape[0]):
        table[rows[r], column] = values[r]


@numba.njit(cache=True)
def _leaf_state(table, col_, page_leaf, code, back_first, back_last, nf, page, n):
    """0 false, 1 true (decided on this page), 2 active (the current part decides)."""
    first, last = _range(code, back_first, back_last, n)
    if first > last:
        return 1 if nf else 0
    past = False
    for j in range(first, min(last, n - 1) + 1):
        if table[page - (n - j), col_]:
            past = True
            break
    if past:
        return 1
    if last != n:
        return 0
    if page_leaf:
        return 1 if table[page, col_] else 0
    return 2


@numba.njit(cache=True, nogil=True)
def scan_range(table, fixed_missing, idx, entry, active, entry_of, slot_lo, leaf_col, leaf_page,
               leaf_bit, leaf_pos, leaf_nf, expr_bit, p_lo, p_hi, at, cand_pvi, cand_act,
               cand_fixed, fill):  # fmt: skip
    """The candidates among page views ``p_lo:p_hi``: counted into ``at[j]`` per slot
    (``fill`` false), or written from ``at[j]`` on (``fill``; ``at`` advances). Leaves are
    flattened over the slots (``slot_lo``); arrays are passed one by one, as numba then
    keeps no reference count per call."""
    for p in range(p_lo, p_hi):
        if not active[p] or entry[p] < 0:
            continue
        for j in range(entry_of.shape[0]):
            if entry_of[j] != entry[p]:
                continue
            ok = True
            act = np.int64(0)
            for leaf in range(slot_lo[j], slot_lo[j + 1]):
                st = _leaf_state(table, leaf_col[leaf], leaf_page[leaf], leaf_pos[leaf, 0],
                                 leaf_pos[leaf, 1], leaf_pos[leaf, 2], leaf_nf[leaf], p, idx[p])  # fmt: skip
                if st == 0:
                    ok = False
                    break
                if st == 2:
                    act |= np.int64(1) << leaf_bit[leaf]
            if not ok:
                continue
            if not fill:
                at[j] += 1
                continue
            if expr_bit[j] >= 0:
                act |= np.int64(1) << expr_bit[j]
            q = at[j]
            cand_pvi[q] = p
            cand_act[q] = act
            cand_fixed[q] = fixed_missing[p, j]
            at[j] = q + 1
