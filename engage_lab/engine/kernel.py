"""The order-dependent part of a replay: one compiled pass over the page views.

Everything that depends on the order of events runs here, visitor by visitor, page view
by page view, instant by instant (docs/semantics.md): the stage at the start of each page
view (embedded, continuation, messaging, configured), each trigger's step function on
the page (:func:`engage_lab.engine.steps.slot_steps`), the chat-state criteria (the
current page's chat state and the final states of the visit's earlier pages), the fixed
point at one instant (triggers in list order, each seeing the chat state left by the ones
before), blocking ("no other trigger", "once per visit", the per-visitor cap, the minimum
delay between executions), gating (``u < p``: ``p`` from the availability timeline and
the trigger's policy, ``u`` the md5 draw), fixed-button placeholders, offline items, the
actions (hide, items, chat; idempotent), single-page-application carry-over and the
recorded engagements (honoured when the chat or an item is visible and the visitor is
not engaged).

The decisions at one instant are :func:`engage_lab.engine.actions.fixed_point`, shared
with the world generator's recorder. Inputs are flat numpy arrays grouped in named tuples
(:mod:`engage_lab.engine.kernel_inputs`, built by :mod:`engage_lab.engine.replay`); the output is packed event arrays.
``run_pass.py_func`` is the same code in Python.
"""

from __future__ import annotations

import numba
import numpy as np

from engage_lab.availability.state import NEVER
from engage_lab.engine.actions import (
    ACTIVATED,
    CHAT_MASK,
    CUR_MASK,
    HAS_EXEC,
    ITEMS,
    LAST_EXEC,
    NO_OTHER_COUNT,
    ON_PAGE,
    OPENED,
    S_GATED,
    S_GID,
    S_MIN_MS,
    SHOWN,
    code,
    emit,
    fixed_point,
    may_activate,
)
from engage_lab.engine.borrow import borrowed_all
from engage_lab.engine.kernel_inputs import (
    InstantGating,
    InstantOutput,
    InstantState,
    StaticSteps,
)
from engage_lab.engine.steps import slot_steps, sort_by_time
from engage_lab.events import DECISION_EVENTS, STAGES
from engage_lab.kpis.coded import code_of

__all__ = [
    "EVENT_NAMES",
    "STAGE_NAMES",
    "keep_alive",
    "move_left",
    "open_slot",
    "run_pass",
    "slot_wake",
    "static_steps",
]

#: The events the pass writes: the decisions and the engagement.
EVENT_NAMES = (*DECISION_EVENTS, "chat_engaged")
STAGE_NAMES = STAGES
# event codes: those of the shared vocabulary (engage_lab.kpis.coded), packed as it packs
_ACTIVATED, _EXECUTED, _ITEM, _BUTTON, _INVITATION, _CHAT, _ENGAGED = (
    code_of(e) for e in EVENT_NAMES
)
_EMBEDDED, _CONTINUATION, _MESSAGING, _CONFIGURED, _ENGAGEMENT = range(5)
_ONLINE, _OFFLINE = 1, 2
_NEVER = np.int64(NEVER)

# position codes of chat-state criteria (see engage_lab.conditions.vocabulary.position_range)
POS_ANY, POS_ANY_PREVIOUS, POS_FIRST, POS_BACK = 0, 1, 2, 3


@numba.njit(cache=True)
def _range(code, back_first, back_last, n):
    """``position_range``: the 1-based page range of a position on page ``n``."""
    if code == POS_ANY:
        return 1, n
    if code == POS_ANY_PREVIOUS:
        return 1, n - 1
    if code == POS_FIRST:
        return 1, min(1, n)
    first = max(n - back_first, 1)
    last = n - back_last
    if last >= first:
        return first, last
    return 1, 0


@numba.njit(cache=True, inline="always")
def _chat_mask(c_lo, c_hi, chat_code, chat_back, chat_which, chat_r, n, pvi, final_shown,
               final_opened):  # fmt: skip
    """The 4-bit mask (bit ``2 * shown + opened``) of a slot's chat-state criteria on
    page ``n`` of its visit (``pvi`` its page view; earlier pages are ``pvi - 1`` …)."""
    mask = np.int64(15)
    for c in range(c_lo, c_hi):
        first, last = _range(chat_code[c], chat_back[c, 0], chat_back[c, 1], n)
        r = chat_r[c]  # bits: 0 not found, 1 false, 2 true
        if first > last:
            if not r & 1:
                mask = 0
            continue
        bits = np.int64(0)
        past_hit = False
        for j in range(first, min(last, n - 1) + 1):
            page = pvi - (n - j)
            value = final_shown[page] if chat_which[c] == 0 else final_opened[page]
            if (r >> (2 if value else 1)) & 1:
                past_hit = True
                break
        if past_hit:
            bits = 15
        elif last == n:
            for state in range(4):
                value = (state >> 1) & 1 if chat_which[c] == 0 else state & 1
                if (r >> (2 if value else 1)) & 1:
                    bits |= np.int64(1) << state
        mask &= bits
    return mask


@numba.njit(cache=True, inline="always")
def open_slot(j, cp, page, sstate, sint, chat_lo, chat_hi, chat_code, chat_back, chat_which,
              chat_r, idx, final_shown, final_opened):  # fmt: skip
    """Slot ``j`` is a candidate on ``page`` (candidate ``cp``, page ``idx`` of its visit):
    not activated, no condition held yet, its chat-state criteria's mask from the final
    chat states of the visit's earlier pages. Returns whether the slot is gated."""
    sstate[ON_PAGE, j] = cp
    sstate[ACTIVATED, j] = 0
    sstate[CUR_MASK, j] = 0
    sstate[CHAT_MASK, j] = _chat_mask(
        chat_lo[j], chat_hi[j], chat_code, chat_back, chat_which, chat_r, idx, page,
        final_shown, final_opened,
    )  # fmt: skip
    return sint[j, S_GATED] != 0


@numba.njit(cache=True, inline="always")
def slot_wake(j, s, lim, sint, ctr):
    """The instant inside ``(s, lim)`` where slot ``j``'s minimum delay since its
    trigger's last execution ends (an instant to evaluate at), else ``NEVER``."""
    g = sint[j, S_GID]
    if sint[j, S_MIN_MS] >= 0 and ctr[HAS_EXEC, g]:
        wake = ctr[LAST_EXEC, g] + sint[j, S_MIN_MS]
        if s < wake < lim:
            return wake
    return _NEVER


@numba.njit(cache=True, nogil=True)
def static_steps(pages, leaves, slots, entries, bounds, page_lo, page_hi):
    """The step functions of every candidate slot on the page views ``page_lo:page_hi``
    (pvi order), as CSR: per page ``(lo, hi)`` into ``(t, slot, mask)`` sorted by time.
    What the world generator's recorder reads: it visits page views in global time
    order, not pvi order, so it cannot advance the pointers :func:`slot_steps` needs."""
    visitor, start, limit, vstart = pages.visitor, pages.start, pages.limit, pages.vstart
    active, entry, id_at, signed_at = pages.active, pages.entry, pages.id_at, pages.signed_at
    row_lo, row_hi, row_pvi = leaves.row_lo, leaves.row_hi, leaves.row_pvi
    slot_leaf_lo, slot_leaf_hi = slots.leaf_lo, slots.leaf_hi
    cand_lo, cand_hi, cand_pvi, cand_act = (
        slots.cand_lo,
        slots.cand_hi,
        slots.cand_pvi,
        slots.cand_act,
    )
    entry_slot_lo, entry_slot_hi = entries.slot_lo, entries.slot_hi
    max_breakpoints = bounds.max_breakpoints
    n_slots = slot_leaf_lo.shape[0]
    cand_ptr = cand_lo.copy()
    for j in range(n_slots):
        cand_ptr[j] = cand_lo[j] + np.searchsorted(cand_pvi[cand_lo[j] : cand_hi[j]], page_lo)
    row_ptr = row_lo.copy()
    for leaf in range(row_lo.shape[0]):
        row_ptr[leaf] = row_lo[leaf] + np.searchsorted(
            row_pvi[row_lo[leaf] : row_hi[leaf]], page_lo
        )
    cap_b = max_breakpoints + 4
    buf_t = np.empty(cap_b, np.int64)
    buf_l = np.empty(cap_b, np.int64)
    buf_v = np.empty(cap_b, np.int64)
    st_t = np.empty(cap_b, np.int64)
    st_m = np.empty(cap_b, np.int64)
    cap_p = cap_b * max(n_slots, 1) + 8
    pg_t = np.empty(cap_p, np.int64)
    pg_s = np.empty(cap_p, np.int64)
    pg_m = np.empty(cap_p, np.int64)
    order = np.empty(cap_p, np.int64)
    leaf_values = np.empty(max(leaves.kind.shape[0], 1), np.int64)
    n_pages = page_hi - page_lo
    lo = np.zeros(n_pages, np.int64)
    hi = np.zeros(n_pages, np.int64)
    cap = max(16, 2 * n_pages)
    out_t = np.empty(cap, np.int64)
    out_s = np.empty(cap, np.int32)
    out_m = np.empty(cap, np.int8)
    n = 0
    for page in range(page_lo, page_hi):
        lo[page - page_lo] = n
        hi[page - page_lo] = n
        c = entry[page]
        s = start[page]
        lim = limit[page]
        if not active[page] or c < 0 or s >= lim:
            continue
        n_pg = 0
        for j in range(entry_slot_lo[c], entry_slot_hi[c]):
            cp = cand_ptr[j]
            ch = cand_hi[j]
            while cp < ch and cand_pvi[cp] < page:
                cp += 1
            cand_ptr[j] = cp
            if cp >= ch or cand_pvi[cp] != page:
                continue
            n_st = slot_steps(
                slot_leaf_lo[j], slot_leaf_hi[j], cand_act[cp], page, s, lim,
                vstart[page], id_at[visitor[page]], signed_at[visitor[page]], leaves,
                row_ptr, buf_t, buf_l, buf_v, st_t, st_m, leaf_values, order,
            )  # fmt: skip
            for q in range(n_st):
                pg_t[n_pg] = st_t[q]
                pg_s[n_pg] = j
                pg_m[n_pg] = st_m[q]
                n_pg += 1
        sort_by_time(pg_t, n_pg, order)
        if n + n_pg > cap:
            cap = max(2 * cap, n + n_pg)
            out_t = _grown(out_t, cap, n)
            out_s = _grown(out_s, cap, n)
            out_m = _grown(out_m, cap, n)
        for q in range(n_pg):
            out_t[n] = pg_t[order[q]]
            out_s[n] = pg_s[order[q]]
            out_m[n] = pg_m[order[q]]
            n += 1
        hi[page - page_lo] = n
    return StaticSteps(lo, hi, out_t[:n].copy(), out_s[:n].copy(), out_m[:n].copy())


@numba.njit(cache=True, inline="always")
def _grown(a, cap, n):
    out = np.empty(cap, a.dtype)
    for k in range(n):  # a loop: a slice assignment compiles a shape check (seconds)
        out[k] = a[k]
    return out


@numba.njit(cache=True, nogil=True)
def run_pass(pages, leaves, slots, entries, gating, engagements, bounds, page_lo, page_hi,
             out, shared):  # fmt: skip
    """Run the visitors of page views ``page_lo:page_hi`` (whole visitors); write events to
    ``out = (t, pc)`` (``pc``: page view and packed code; sized by the caller from an
    upper bound) and the honoured engagements to ``shared = (honoured, pvi, variant)``
    (rows of these visitors only, so chunks may run in parallel). Returns the event
    count. A gated activation's ``p`` and ``u`` are not kept: they are functions of the
    instant and ids, recomputed for the events frame."""
    # Every array below is a borrowed view (engage_lab.engine.borrow): the inputs live in
    # the caller; the work arrays are kept alive by ``work`` until the pass returns.
    pages, leaves, slots = borrowed_all(pages), borrowed_all(leaves), borrowed_all(slots)
    entries, gating = borrowed_all(entries), borrowed_all(gating)
    engagements, out, shared = borrowed_all(engagements), borrowed_all(out), borrowed_all(shared)
    visitor, visit, start, limit = pages.visitor, pages.visit, pages.start, pages.limit
    vstart, idx, active, embedded = pages.vstart, pages.idx, pages.active, pages.embedded
    carries, entry, open_thread = pages.carries, pages.entry, pages.open_thread
    id_at, signed_at = pages.id_at, pages.signed_at
    row_lo, row_hi, row_pvi = leaves.row_lo, leaves.row_hi, leaves.row_pvi
    sint, slot_leaf_lo, slot_leaf_hi = slots.sint, slots.leaf_lo, slots.leaf_hi
    cand_lo, cand_hi, cand_pvi, cand_act = (
        slots.cand_lo,
        slots.cand_hi,
        slots.cand_pvi,
        slots.cand_act,
    )
    chat_lo, chat_hi, chat_code = slots.chat_lo, slots.chat_hi, slots.chat_code
    chat_back, chat_which, chat_r = slots.chat_back, slots.chat_which, slots.chat_r
    entry_slot_lo, entry_slot_hi = entries.slot_lo, entries.slot_hi
    entry_embedded, entry_delay = entries.embedded, entries.delay
    seed, v_data, v_off, p_data, p_at = (
        gating.seed,
        gating.v_data,
        gating.v_off,
        gating.p_data,
        gating.p_at,
    )
    longest = gating.longest
    steps_t, steps_cap = gating.steps_t, gating.steps_cap
    steps_busy, steps_wait = gating.steps_busy, gating.steps_wait
    eng_lo, eng_hi, eng_t, eng_stop = (
        engagements.lo,
        engagements.hi,
        engagements.t,
        engagements.stop,
    )
    max_breakpoints, n_gid = bounds.max_breakpoints, bounds.n_gid
    n_items, messaging = bounds.n_items, bounds.messaging

    n_pages = start.shape[0]
    n_slots = sint.shape[0]
    o_t, o_pc = out.t, out.pc
    honoured, honoured_pvi, honoured_variant = shared.honoured, shared.pvi, shared.variant
    n = 0
    cap_b = max_breakpoints + 4
    cap_p = cap_b * max(n_slots, 1) + 8
    work = (
        np.zeros(n_pages, np.bool_), np.zeros(n_pages, np.bool_),  # final chat shown, opened
        np.zeros((5, n_gid), np.int64), np.zeros((4, n_slots), np.int64),  # ctr, sstate
        np.zeros(ITEMS + n_items, np.int64), np.zeros(ITEMS + n_items, np.int64),  # pstate, prev
        np.zeros((0, 3), np.int64),  # shows: a replay answers no offers
        np.empty(longest + 2, np.uint8), cand_lo.copy(), row_lo.copy(),  # scratch, pointers
        np.empty(cap_b, np.int64), np.empty(cap_b, np.int64), np.empty(cap_b, np.int64),
        np.empty(cap_b, np.int64), np.empty(cap_b, np.int64),  # buf_t, buf_l, buf_v, st_t, st_m
        np.empty(cap_p, np.int64), np.empty(cap_p, np.int64), np.empty(cap_p, np.int64),
        np.empty(cap_p, np.int64),  # pg_t, pg_s, pg_m, order
        np.empty(max(leaves.kind.shape[0], 1), np.int64),  # leaf values
    )  # fmt: skip
    (final_shown, final_opened, ctr, sstate, pstate, prev, shows, scratch, cand_ptr, row_ptr,
     buf_t, buf_l, buf_v, st_t, st_m, pg_t, pg_s, pg_m, order,
     leaf_values) = borrowed_all(work)  # fmt: skip
    for j in range(n_slots):
        cand_ptr[j] = cand_lo[j] + np.searchsorted(cand_pvi[cand_lo[j] : cand_hi[j]], page_lo)
    for leaf in range(row_lo.shape[0]):
        row_ptr[leaf] = row_lo[leaf] + np.searchsorted(
            row_pvi[row_lo[leaf] : row_hi[leaf]], page_lo
        )
    k = page_lo
    while k < page_hi:
        k_end = k
        while k_end < page_hi and visitor[k_end] == visitor[k]:
            k_end += 1
        ctr[:, :] = 0
        has_eng = False
        last_e = np.int64(0)
        last_visit = np.int64(-1)
        last_stop = _NEVER
        cur_visit = np.int64(-1)
        prev[:] = 0
        ep = eng_lo[visitor[k]]
        ep_end = eng_hi[visitor[k]]
        for page in range(k, k_end):
            if visit[page] != cur_visit:
                cur_visit = visit[page]
                ctr[0, :] = 0  # executions in the visit
                ctr[4, :] = 0  # "no other trigger" blocks
                prev[NO_OTHER_COUNT] = 0
            no_other_count = prev[NO_OTHER_COUNT]
            if carries[page]:
                for q in range(pstate.shape[0]):  # not pstate[:] = prev: see _grown
                    pstate[q] = prev[q]
            else:
                pstate[:] = 0
            pstate[NO_OTHER_COUNT] = no_other_count
            s = start[page]
            lim = limit[page]
            c = entry[page]
            if not active[page] or c < 0:
                while ep < ep_end and eng_t[ep] < lim:
                    ep += 1
                prev[:] = 0
                prev[NO_OTHER_COUNT] = no_other_count
                final_shown[page] = False
                final_opened[page] = False
                continue
            # ---- stage at the start
            stage = _CONFIGURED
            if entry_embedded[c]:
                stage = _EMBEDDED if embedded[page] else -1
            elif (
                has_eng
                and last_visit == visit[page]
                and last_e < s
                and (messaging or not last_stop <= s)
            ):
                stage = _CONTINUATION
            elif messaging and open_thread[page]:
                stage = _MESSAGING
            if stage in (_EMBEDDED, _CONTINUATION, _MESSAGING):
                if not pstate[SHOWN]:
                    pstate[SHOWN] = 1
                    n = emit(o_t, o_pc, n, page, s, code(_CHAT, stage, -1, -1, 0))
                pstate[OPENED] = 1
            frozen = stage != _CONFIGURED
            while ep < ep_end and eng_t[ep] < s:
                ep += 1
            # ---- the slots of this page's entry: candidates, step functions, chat masks
            n_pg = 0
            lo_slot = entry_slot_lo[c]
            hi_slot = entry_slot_hi[c]
            any_gated = False
            for j in range(lo_slot, hi_slot):
                sstate[ON_PAGE, j] = -1
                sstate[ACTIVATED, j] = 0
                cp = cand_ptr[j]
                ch = cand_hi[j]
                while cp < ch and cand_pvi[cp] < page:
                    cp += 1
                cand_ptr[j] = cp
                if frozen or s >= lim or cp >= ch or cand_pvi[cp] != page:
                    continue
                gated = open_slot(
                    j, cp, page, sstate, sint, chat_lo, chat_hi, chat_code, chat_back,
                    chat_which, chat_r, idx[page], final_shown, final_opened,
                )  # fmt: skip
                any_gated = any_gated or gated
                n_st = slot_steps(
                    slot_leaf_lo[j], slot_leaf_hi[j], cand_act[cp], page, s, lim,
                    vstart[page], id_at[visitor[page]], signed_at[visitor[page]], leaves,
                    row_ptr, buf_t, buf_l, buf_v, st_t, st_m, leaf_values, order,
                )  # fmt: skip
                for q in range(n_st):
                    pg_t[n_pg] = st_t[q]
                    pg_s[n_pg] = j
                    pg_m[n_pg] = st_m[q]
                    n_pg += 1
                wake = slot_wake(j, s, lim, sint, ctr)
                if wake != _NEVER:
                    pg_t[n_pg] = wake
                    pg_s[n_pg] = -1
                    pg_m[n_pg] = 0
                    n_pg += 1
            sort_by_time(pg_t, n_pg, order)
            r = 0
            # ---- the instants of the page view
            while r < n_pg or (ep < ep_end and eng_t[ep] < lim):
                t = _NEVER
                if r < n_pg:
                    t = pg_t[order[r]]
                if ep < ep_end and eng_t[ep] < lim and eng_t[ep] < t:
                    t = eng_t[ep]
                while r < n_pg and pg_t[order[r]] == t:
                    q = order[r]
                    if pg_s[q] >= 0:
                        sstate[CUR_MASK, pg_s[q]] = pg_m[q]
                    r += 1
                if not frozen and may_activate(lo_slot, hi_slot, sstate):
                    n, _ = fixed_point(
                        page, t, lo_slot, hi_slot,
                        InstantState(sstate=sstate, pstate=pstate, ctr=ctr, scratch=scratch),
                        slots,
                        InstantGating(
                            steps_t=steps_t, steps_cap=steps_cap, steps_busy=steps_busy,
                            steps_wait=steps_wait, seed=seed, v_data=v_data, v_off=v_off,
                            visitor=visitor[page], p_data=p_data, p_at=p_at,
                        ),
                        InstantOutput(t=o_t, pc=o_pc, shows=shows), n,
                    )  # fmt: skip
                # ---- an engagement at t (after the decisions of t)
                while ep < ep_end and eng_t[ep] == t:
                    engaged = (
                        has_eng and last_visit == visit[page] and (messaging or not last_stop <= t)
                    )
                    visible = pstate[SHOWN] != 0
                    if not visible:
                        for it in range(n_items):
                            if pstate[ITEMS + it]:
                                visible = True
                                break
                    if not engaged and visible:
                        has_eng = True
                        last_e = t
                        last_visit = visit[page]
                        last_stop = eng_stop[entry_delay[c], ep]
                        honoured[ep] = True
                        honoured_pvi[ep] = page
                        honoured_variant[ep] = entry_delay[c]
                        pstate[SHOWN] = 1
                        pstate[OPENED] = 1
                        frozen = True
                        n = emit(o_t, o_pc, n, page, t, code(_ENGAGED, _ENGAGEMENT, -1, -1, 0))
                    ep += 1
            for q in range(prev.shape[0]):
                prev[q] = pstate[q]
            final_shown[page] = pstate[SHOWN] != 0
            final_opened[page] = pstate[OPENED] != 0
        k = k_end
    keep_alive(work)
    return n


@numba.njit(cache=True, nogil=True)
def move_left(t, pc, dst, src, count):
    """Move events ``src:src + count`` of ``(t, pc)`` to ``dst <= src`` (overlapping: a
    forward copy, where numpy's slice assignment would buffer the whole block)."""
    for k in range(count):
        t[dst + k] = t[src + k]
        pc[dst + k, 0] = pc[src + k, 0]
        pc[dst + k, 1] = pc[src + k, 1]


@numba.njit(cache=True)
def keep_alive(arrays):
    """Keeps ``arrays`` (a tuple) alive to this point: their borrowed views are used
    before (:mod:`engage_lab.engine.borrow`)."""
    return len(arrays)
