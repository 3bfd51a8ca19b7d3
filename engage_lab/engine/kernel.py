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

Inputs are flat numpy arrays grouped in tuples (see :mod:`engage_lab.engine.inputs`);
the output is flat event arrays. ``run_pass.py_func`` is the same code in Python.
"""

from __future__ import annotations

import numba
import numpy as np

from engage_lab.engine.ids import page_draw
from engage_lab.engine.steps import slot_steps, sort_by_time
from engage_lab.kpis.coded import (
    ITEM_SHIFT,
    MODE_SHIFT,
    STAGE_SHIFT,
    TRIGGER_SHIFT,
    code_of,
)

__all__ = ["EVENT_NAMES", "STAGE_NAMES", "run_pass"]

EVENT_NAMES = (
    "trigger_activated",
    "trigger_executed",
    "item_shown",
    "button_shown",
    "invitation_shown",
    "chat_shown",
    "chat_engaged",
)
STAGE_NAMES = ("embedded", "continuation", "messaging", "configured", "engagement")
# event codes: those of the shared vocabulary (engage_lab.kpis.coded), packed as it packs
_ACTIVATED, _EXECUTED, _ITEM, _BUTTON, _INVITATION, _CHAT, _ENGAGED = (
    code_of(e) for e in EVENT_NAMES
)
_EMBEDDED, _CONTINUATION, _MESSAGING, _CONFIGURED, _ENGAGEMENT = range(5)
_ONLINE, _OFFLINE = 1, 2
_NEVER = np.int64(9_000_000_000_000_000)
ACT_ITEM, ACT_CHAT, ACT_OPEN_CHAT = 1, 2, 3

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
def _code(ev, stage, trigger, item, mode):
    """An event's codes packed as :func:`engage_lab.kpis.coded.pack` packs them
    (``trigger``: global trigger index, ``item``: item index, -1 for none)."""
    return (
        np.int32(ev) | (np.int32(stage) << STAGE_SHIFT) | (np.int32(mode) << MODE_SHIFT)
        | (np.int32(trigger + 1) << TRIGGER_SHIFT) | (np.int32(item + 1) << ITEM_SHIFT)
    )  # fmt: skip


@numba.njit(cache=True, inline="always")
def _emit(o_t, o_pc, n, pvi, t, code):
    """Append one event: instant; page view and packed code."""
    if n < o_t.shape[0]:
        o_t[n] = t
        o_pc[n, 0] = pvi
        o_pc[n, 1] = code
    return n + 1


@numba.njit(cache=True, inline="always")
def _probability(steps_t, steps_p, slot, t):
    k = np.searchsorted(steps_t, t, side="right") - 1
    return steps_p[slot, max(k, 0)]


@numba.njit(cache=True, nogil=True)
def run_pass(pages, leaves, slots, entries, gating, engagements, bounds, page_lo, page_hi,
             out, shared):  # fmt: skip
    """Run the visitors of page views ``page_lo:page_hi`` (whole visitors); write events to
    ``out = (t, pc)`` (``pc``: page view and packed code; sized by the caller from an
    upper bound) and the honoured engagements to ``shared = (honoured, pvi, variant)``
    (rows of these visitors only, so chunks may run in parallel). Returns the event
    count. A gated activation's ``p`` and ``u`` are not kept: they are functions of the
    instant and ids, recomputed for the events frame."""
    (visitor, visit, start, limit, vstart, idx, active, embedded, carries, entry,
     open_thread, id_at, signed_at, _pos) = pages  # fmt: skip
    (leaf_kind, leaf_d, leaf_ge, leaf_r, tab_lo, tab_hi, tab_t, tab_v,
     row_lo, row_hi, row_pvi, row_t, row_v) = leaves  # fmt: skip
    (slot_gid, slot_leaf_lo, slot_leaf_hi, cand_lo, cand_hi, cand_pvi, cand_act,
     cand_fixed_missing, chat_lo, chat_hi, chat_code, chat_back, chat_which, chat_r,
     gated, once, no_other, max_exec, min_ms, hides, prog_code, prog_item, prog_len,
     off_item, off_len, item_is_button, slot_key_data, slot_key_lo, slot_key_hi) = slots  # fmt: skip
    (entry_slot_lo, entry_slot_hi, entry_embedded, entry_delay) = entries
    (seed, v_data, v_off, p_data, p_off, longest, steps_t, steps_p) = gating
    scratch = np.empty(longest + 2, np.uint8)
    (eng_lo, eng_hi, eng_t, eng_stop) = engagements
    (max_breakpoints, n_gid, n_items, messaging) = bounds

    n_pages = start.shape[0]
    n_slots = slot_gid.shape[0]
    (o_t, o_pc) = out
    (honoured, honoured_pvi, honoured_variant) = shared
    final_shown = np.zeros(n_pages, np.bool_)
    final_opened = np.zeros(n_pages, np.bool_)
    n = 0
    # per global trigger id
    exec_visit = np.zeros(n_gid, np.int64)
    exec_total = np.zeros(n_gid, np.int64)
    last_exec = np.full(n_gid, -_NEVER, np.int64)
    has_exec = np.zeros(n_gid, np.bool_)
    no_other_set = np.zeros(n_gid, np.bool_)
    # per slot
    cand_ptr = cand_lo.copy()
    for j in range(n_slots):
        cand_ptr[j] = cand_lo[j] + np.searchsorted(cand_pvi[cand_lo[j] : cand_hi[j]], page_lo)
    row_ptr = row_lo.copy()
    for leaf in range(row_lo.shape[0]):
        row_ptr[leaf] = row_lo[leaf] + np.searchsorted(
            row_pvi[row_lo[leaf] : row_hi[leaf]], page_lo
        )
    on_page = np.full(n_slots, -1, np.int64)  # candidate index on the current page, or -1
    cur_mask = np.zeros(n_slots, np.int64)
    chat_masks = np.zeros(n_slots, np.int64)
    activated = np.zeros(n_slots, np.bool_)
    # per page scratch
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
    leaf_values = np.empty(max(leaf_kind.shape[0], 1), np.int64)
    items = np.zeros(n_items + 1, np.bool_)
    prev_items = np.zeros(n_items + 1, np.bool_)

    k = page_lo
    while k < page_hi:
        k_end = k
        while k_end < page_hi and visitor[k_end] == visitor[k]:
            k_end += 1
        exec_total[:] = 0
        has_exec[:] = False
        has_eng = False
        last_e = np.int64(0)
        last_visit = np.int64(-1)
        last_stop = _NEVER
        cur_visit = np.int64(-1)
        n_no_other = 0
        prev_shown = False
        prev_opened = False
        prev_items[:] = False
        ep = eng_lo[k]
        ep_end = eng_hi[k]
        for page in range(k, k_end):
            if visit[page] != cur_visit:
                cur_visit = visit[page]
                exec_visit[:] = 0
                no_other_set[:] = False
                n_no_other = 0
            shown = False
            opened = False
            items[:] = False
            if carries[page]:
                shown, opened = prev_shown, prev_opened
                items[:] = prev_items
            s = start[page]
            lim = limit[page]
            c = entry[page]
            if not active[page] or c < 0:
                while ep < ep_end and eng_t[ep] < lim:
                    ep += 1
                prev_shown, prev_opened = False, False
                prev_items[:] = False
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
                if not shown:
                    shown = True
                    n = _emit(o_t, o_pc, n, page, s, _code(_CHAT, stage, -1, -1, 0))
                opened = True
            frozen = stage != _CONFIGURED
            while ep < ep_end and eng_t[ep] < s:
                ep += 1
            # ---- the slots of this page's entry: candidates, step functions, chat masks
            n_pg = 0
            lo_slot = entry_slot_lo[c]
            hi_slot = entry_slot_hi[c]
            for j in range(lo_slot, hi_slot):
                on_page[j] = -1
                activated[j] = False
                cp = cand_ptr[j]
                ch = cand_hi[j]
                while cp < ch and cand_pvi[cp] < page:
                    cp += 1
                cand_ptr[j] = cp
                if frozen or s >= lim or cp >= ch or cand_pvi[cp] != page:
                    continue
                on_page[j] = cp
                cur_mask[j] = 0
                chat_masks[j] = _chat_mask(
                    chat_lo[j], chat_hi[j], chat_code, chat_back, chat_which, chat_r,
                    idx[page], page, final_shown, final_opened,
                )  # fmt: skip
                n_st = slot_steps(
                    slot_leaf_lo[j], slot_leaf_hi[j], cand_act[cp], page, s, lim,
                    vstart[page], id_at[visitor[page]], signed_at[visitor[page]],
                    leaf_kind, leaf_d, leaf_ge, leaf_r, tab_lo, tab_hi, tab_t, tab_v,
                    row_ptr, row_hi, row_pvi, row_t, row_v, buf_t, buf_l, buf_v, st_t, st_m,
                    leaf_values, order,
                )  # fmt: skip
                for q in range(n_st):
                    pg_t[n_pg] = st_t[q]
                    pg_s[n_pg] = j
                    pg_m[n_pg] = st_m[q]
                    n_pg += 1
                if min_ms[j] >= 0 and has_exec[slot_gid[j]]:
                    wake = last_exec[slot_gid[j]] + min_ms[j]
                    if s < wake < lim:
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
                        cur_mask[pg_s[q]] = pg_m[q]
                    r += 1
                if not frozen:
                    # Passes repeat while a pass changed the chat state: blocking only
                    # grows within an instant, so only a chat-state criterion can turn
                    # true again (the reference repeats until a pass activates nothing,
                    # which then comes to the same).
                    changed = True
                    while changed:
                        changed = False
                        chat_before = (shown, opened)
                        for j in range(lo_slot, hi_slot):
                            if on_page[j] < 0 or activated[j]:
                                continue
                            g = slot_gid[j]
                            if n_no_other - (1 if no_other_set[g] else 0) > 0:
                                continue
                            if once[j] and exec_visit[g] > 0:
                                continue
                            if max_exec[j] >= 0 and exec_total[g] >= max_exec[j]:
                                continue
                            if min_ms[j] >= 0 and has_exec[g] and t - last_exec[g] < min_ms[j]:
                                continue
                            state = (2 if shown else 0) + (1 if opened else 0)
                            if not ((cur_mask[j] & chat_masks[j]) >> state) & 1:
                                continue
                            activated[j] = True
                            online = True
                            if gated[j]:
                                p = _probability(steps_t, steps_p, j, t)
                                u = page_draw(seed, v_data, v_off, visitor[page], p_data, p_off,
                                              page, slot_key_data[slot_key_lo[j]:slot_key_hi[j]],
                                              scratch)  # fmt: skip
                                online = u < p
                            mode = _ONLINE if online else _OFFLINE
                            n = _emit(
                                o_t, o_pc, n, page, t, _code(_ACTIVATED, _CONFIGURED, g, -1, mode)
                            )
                            if cand_fixed_missing[on_page[j]]:
                                continue
                            if not online:
                                if off_len[j] > 0:
                                    n = _emit(
                                        o_t,
                                        o_pc,
                                        n,
                                        page,
                                        t,
                                        _code(_EXECUTED, _CONFIGURED, g, -1, _OFFLINE),
                                    )
                                    for a in range(off_len[j]):
                                        it = off_item[j, a]
                                        if items[it]:
                                            continue
                                        items[it] = True
                                        kind = _BUTTON if item_is_button[it] else _INVITATION
                                        n = _emit(
                                            o_t,
                                            o_pc,
                                            n,
                                            page,
                                            t,
                                            _code(_ITEM, _CONFIGURED, g, it, _OFFLINE),
                                        )
                                        n = _emit(
                                            o_t,
                                            o_pc,
                                            n,
                                            page,
                                            t,
                                            _code(kind, _CONFIGURED, g, it, _OFFLINE),
                                        )
                                continue
                            n = _emit(
                                o_t, o_pc, n, page, t, _code(_EXECUTED, _CONFIGURED, g, -1, _ONLINE)
                            )
                            exec_visit[g] += 1
                            exec_total[g] += 1
                            last_exec[g] = t
                            has_exec[g] = True
                            if no_other[j] and not no_other_set[g]:
                                no_other_set[g] = True
                                n_no_other += 1
                            if hides[j]:
                                items[:] = False
                            for a in range(prog_len[j]):
                                code = prog_code[j, a]
                                if code == ACT_ITEM:
                                    it = prog_item[j, a]
                                    if items[it]:
                                        continue
                                    items[it] = True
                                    kind = _BUTTON if item_is_button[it] else _INVITATION
                                    n = _emit(
                                        o_t,
                                        o_pc,
                                        n,
                                        page,
                                        t,
                                        _code(_ITEM, _CONFIGURED, g, it, _ONLINE),
                                    )
                                    n = _emit(
                                        o_t,
                                        o_pc,
                                        n,
                                        page,
                                        t,
                                        _code(kind, _CONFIGURED, g, it, _ONLINE),
                                    )
                                else:
                                    if not shown:
                                        shown = True
                                        n = _emit(
                                            o_t,
                                            o_pc,
                                            n,
                                            page,
                                            t,
                                            _code(_CHAT, _CONFIGURED, g, -1, 0),
                                        )
                                    if code == ACT_OPEN_CHAT:
                                        opened = True
                        changed = (shown, opened) != chat_before
                # ---- an engagement at t (after the decisions of t)
                while ep < ep_end and eng_t[ep] == t:
                    engaged = (
                        has_eng and last_visit == visit[page] and (messaging or not last_stop <= t)
                    )
                    visible = shown
                    if not visible:
                        for it in range(n_items):
                            if items[it]:
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
                        shown = True
                        opened = True
                        frozen = True
                        n = _emit(o_t, o_pc, n, page, t, _code(_ENGAGED, _ENGAGEMENT, -1, -1, 0))
                    ep += 1
            prev_shown, prev_opened = shown, opened
            prev_items[:] = items
            final_shown[page] = shown
            final_opened[page] = opened
        k = k_end
    return n
