"""Compiled passes over the ordered page views (see :mod:`engage_lab.engine.pages`).

Inputs are arrays in the engine's order: visitor code, then start, then page view id.
``run.py_func`` of each function is the same code in Python, for debugging.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["NEVER", "assign_var_changes", "derive_pages"]

#: Stands for "never" (an instant after every other); also minus it for "always".
NEVER = 9_000_000_000_000_000


@numba.njit(cache=True)
def _step_value(at: np.ndarray, values: np.ndarray, t: np.int64, default: np.int64) -> np.int64:
    """The value of a step function at ``t`` (``at`` sorted; before the first: ``default``)."""
    k = np.searchsorted(at, t, side="right") - 1
    return default if k < 0 else values[k]


@numba.njit(cache=True)
def derive_pages(
    code, start, end, page_change, embedded, seg, rederive_on_segment, in_sample, lo, hi,
    idle_at, idle_values, entry_at, status_t, status_off,
):  # fmt: skip
    """Visits, the kept page views and their facts (arrays over the whole sequence).

    Returns ``(kept, visit, visit_first, idx, vcount, vstart, limit, carries, active,
    entry)``; only the kept positions are meaningful, ``visit_first`` is the sequence
    position of the visit's first page view.
    """
    n = start.shape[0]
    kept = np.zeros(n, np.bool_)
    visit = np.full(n, -1, np.int64)
    visit_first = np.zeros(n, np.int64)
    idx = np.zeros(n, np.int64)
    vcount = np.zeros(n, np.int64)
    vstart = np.zeros(n, np.int64)
    limit = np.zeros(n, np.int64)
    carries = np.zeros(n, np.bool_)
    active = np.zeros(n, np.bool_)
    entry = np.full(n, -1, np.int64)
    first_idle = idle_values[0]
    status_code = status_off.astype(np.int64)
    visits = np.int64(-1)
    i = 0
    while i < n:
        j = i
        while j < n and code[j] == code[i]:
            j += 1
        # ---- visits over the derivation base (the segment when it re-derives, else all)
        latest = np.int64(0)
        started = False
        current_first = np.int64(-1)
        for k in range(i, j):
            if rederive_on_segment and not seg[k]:
                continue
            idle = _step_value(idle_at, idle_values, start[k], first_idle)
            if not started or start[k] - latest > idle:
                visits += 1
                current_first = k
            visit[k] = visits
            visit_first[k] = current_first
            latest = end[k] if not started else max(latest, end[k])
            started = True
        # ---- the kept page views of this visitor
        keep_visitor = in_sample[code[i]]
        prev = np.int64(-1)
        n_visits = np.int64(0)
        page_in_visit = np.int64(0)
        for k in range(i, j):
            if not (keep_visitor and seg[k] and lo <= start[k] < hi) or visit[k] < 0:
                continue
            kept[k] = True
            if prev < 0 or visit[prev] != visit[k]:
                n_visits += 1
                page_in_visit = 0
                vstart[k] = start[k]
            else:
                vstart[k] = vstart[prev]
            page_in_visit += 1
            idx[k] = page_in_visit
            vcount[k] = n_visits
            limit[k] = end[k]
            if prev >= 0:
                limit[prev] = min(end[prev], start[k])
                carries[k] = page_change[k] and visit[prev] == visit[k]
            off = _step_value(status_t, status_code, start[k], 0)
            active[k] = off == 0
            entry[k] = np.searchsorted(entry_at, start[k], side="right") - 1
            prev = k
        i = j
    return kept, visit, visit_first, idx, vcount, vstart, limit, carries, active, entry


@numba.njit(cache=True)
def assign_var_changes(own, changed, code, end, universe):
    """The sequence position each variable change belongs to (-1: none).

    A change belongs to its own page view (``own``) while it is before that page's end;
    at or after the end it moves to the visitor's next page view (in the ``universe``)
    that has not ended by then.
    """
    n = own.shape[0]
    n_pages = end.shape[0]
    out = np.full(n, -1, np.int64)
    for r in range(n):
        k = own[r]
        if k < 0 or not universe[k]:
            continue
        c = changed[r]
        if c < end[k]:
            out[r] = k
            continue
        j = k + 1
        while j < n_pages and code[j] == code[k]:
            if universe[j] and end[j] > c:
                out[r] = j
                break
            j += 1
    return out
