"""Where each trigger's conditions hold on a page view: step functions from leaves.

A trigger of one configuration entry (a *slot*) is, on one page view, the AND of its
*dynamic leaves* (the static ones were decided per page view by SQL, see
:mod:`engage_lab.engine.static`). Each dynamic leaf is a step function of time over the
page view ``[s, lim)``:

===========  ==============================================================================
kind         value at ``t``
===========  ==============================================================================
THRESHOLD    ``t >= base + d`` (``ge``) or ``t < base + d`` (``le``); ``base`` the page
             start (``PAGE_BASE``) or the visit start (``VISIT_BASE``)
CLOCK        a global table of UTC instants where the leaf's clock test changes
IDENTITY     ``r_true`` from the visitor's first identity (or signed identity) on, else
             ``r_false``
VAR          rows ``(pvi, t, value)`` of the variable's changes on the page (a change
             before the start applies at the start); ``not_found`` before the first
EXPR         rows ``(pvi, t, mask)`` of an expression evaluated at its breakpoints, with a
             4-bit mask over the chat state (``2 * shown + opened``)
===========  ==============================================================================

Values are 4-bit masks (a scalar leaf is 0 or 15). :func:`slot_steps` merges the leaves
active on a page view into the slot's own step function: ``(t, mask)`` changes, the first
at ``s``. Everything here is compiled by numba and called by the pass.
"""

from __future__ import annotations

import numba
import numpy as np

from engage_lab.engine.sorting import stable_argsort

__all__ = [
    "CLOCK",
    "EXPR",
    "IDENTITY",
    "SIGNED",
    "THRESHOLD_PAGE",
    "THRESHOLD_VISIT",
    "VAR",
    "slot_steps",
    "sort_by_time",
]

THRESHOLD_PAGE, THRESHOLD_VISIT, CLOCK, IDENTITY, SIGNED, VAR, EXPR = 1, 2, 3, 4, 5, 6, 7
ALL = np.int64(15)


@numba.njit(cache=True)
def sort_by_time(t, n, order):
    """``order[:n]``: a stable sort of ``t[:n]`` (insertion sort while ``n`` is small)."""
    if n > 64:
        by_time = stable_argsort(t[:n])
        for i in range(n):
            order[i] = by_time[i]
        return
    for i in range(n):
        x = i
        m = i - 1
        while m >= 0 and t[order[m]] > t[x]:
            order[m + 1] = order[m]
            m -= 1
        order[m + 1] = x


@numba.njit(cache=True, inline="always")
def slot_steps(
    leaf_lo, leaf_hi, act, pvi, s, lim, vstart, id_at, signed_at, leaves,
    row_ptr, buf_t, buf_l, buf_v, out_t, out_m, values, order,
):  # fmt: skip
    """The step function of one slot on page view ``pvi`` (leaves ``leaf_lo:leaf_hi`` of
    ``leaves``, a :class:`~engage_lab.engine.kernel_inputs.LeafInputs`; ``act`` the bits
    of the leaves active on the page). Writes ``(t, mask)`` changes to
    ``out_t`` / ``out_m`` (first at ``s``) and returns their count; ``row_ptr`` (per
    leaf, into the row arrays) is advanced past the page. Scratch ``buf_*`` and outputs
    must hold every breakpoint (the caller sizes them from
    :attr:`~engage_lab.engine.leaves.LeafArrays.max_breakpoints`); ``values`` and
    ``order`` are scratch of at least the slot's leaf count and breakpoint count.
    """
    leaf_kind, leaf_d, leaf_ge, leaf_r = leaves.kind, leaves.d, leaves.ge, leaves.r
    tab_lo, tab_hi, tab_t, tab_v = leaves.tab_lo, leaves.tab_hi, leaves.tab_t, leaves.tab_v
    row_hi, row_pvi, row_t, row_v = leaves.row_hi, leaves.row_pvi, leaves.row_t, leaves.row_v
    n_leaves = leaf_hi - leaf_lo
    nb = 0
    for b in range(n_leaves):
        leaf = leaf_lo + b
        values[b] = ALL
        if not (act >> b) & 1:
            continue  # decided statically on this page (true there)
        kind = leaf_kind[leaf]
        if kind in (THRESHOLD_PAGE, THRESHOLD_VISIT):
            base = s if kind == THRESHOLD_PAGE else vstart
            cross = base + leaf_d[leaf]
            ge = leaf_ge[leaf]
            if cross <= s:
                values[b] = ALL if ge else 0
            else:
                values[b] = 0 if ge else ALL
                if cross < lim:
                    buf_t[nb] = cross
                    buf_l[nb] = b
                    buf_v[nb] = ALL if ge else 0
                    nb += 1
        elif kind == CLOCK:
            lo = tab_lo[leaf]
            hi = tab_hi[leaf]
            k = lo + np.searchsorted(tab_t[lo:hi], s, side="right") - 1
            values[b] = tab_v[k] if k >= lo else tab_v[lo]
            k += 1
            while k < hi and tab_t[k] < lim:
                buf_t[nb] = tab_t[k]
                buf_l[nb] = b
                buf_v[nb] = tab_v[k]
                nb += 1
                k += 1
        elif kind in (IDENTITY, SIGNED):
            at = id_at if kind == IDENTITY else signed_at
            r_true = ALL if (leaf_r[leaf] >> 1) & 1 else 0
            r_false = ALL if leaf_r[leaf] & 1 else 0
            if at <= s:
                values[b] = r_true
            else:
                values[b] = r_false
                if at < lim:
                    buf_t[nb] = at
                    buf_l[nb] = b
                    buf_v[nb] = r_true
                    nb += 1
        else:  # VAR / EXPR rows
            values[b] = (ALL if leaf_r[leaf] else 0) if kind == VAR else 0
            r = row_ptr[leaf]
            hi = row_hi[leaf]
            while r < hi and row_pvi[r] < pvi:
                r += 1
            while r < hi and row_pvi[r] == pvi:
                t = row_t[r]
                v = row_v[r]
                if kind == VAR:
                    v = ALL if v else 0
                if t <= s:
                    values[b] = v
                elif t < lim:
                    buf_t[nb] = t
                    buf_l[nb] = b
                    buf_v[nb] = v
                    nb += 1
                r += 1
            row_ptr[leaf] = r
    mask = ALL
    for b in range(n_leaves):
        mask &= values[b]
    out_t[0] = s
    out_m[0] = mask
    n_out = 1
    if nb == 0:
        return n_out
    sort_by_time(buf_t, nb, order)
    i = 0
    while i < nb:
        t = buf_t[order[i]]
        while i < nb and buf_t[order[i]] == t:
            values[buf_l[order[i]]] = buf_v[order[i]]
            i += 1
        mask = ALL
        for b in range(n_leaves):
            mask &= values[b]
        if mask != out_m[n_out - 1]:
            out_t[n_out] = t
            out_m[n_out] = mask
            n_out += 1
    return n_out
