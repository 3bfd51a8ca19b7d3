"""The order-dependent part of a replay: one compiled pass over sorted arrays.

Everything that depends on the order of events runs here, visitor by visitor, page view
by page view, instant by instant (docs/semantics.md): the stage at the start of each page
view (embedded, continuation, messaging, configured), the fixed point at one instant
(triggers in list order, each seeing the chat state left by the ones before), blocking
("no other trigger", "once per visit", the per-visitor cap), gating (``u < p`` with ``p``
and ``u`` computed beforehand for the instant and page view), fixed-button placeholders,
offline items, the actions (hide, items, chat; idempotent), SPA carry-over, and the
engagements (honoured when the chat or an item is visible and the visitor is not engaged).

Inputs are flat numpy arrays; the output is flat event arrays. ``run_pass`` is compiled by
numba (``cache=True``); ``run_pass.py_func`` is the same code in Python, for debugging.
"""

from __future__ import annotations

import numba
import numpy as np

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
_ACTIVATED, _EXECUTED, _ITEM, _BUTTON, _INVITATION, _CHAT, _ENGAGED = range(7)
_EMBEDDED, _CONTINUATION, _MESSAGING, _CONFIGURED, _ENGAGEMENT = range(5)
_NONE = -1
_ONLINE, _OFFLINE = 1, 2
_NEVER = np.int64(9_000_000_000_000_000)


@numba.njit(cache=True)
def _emit(out_t, out_pvi, out_ev, out_stage, out_trig, out_item, out_mode, out_p, out_u,
          n, pvi, t, ev, stage, trig, item, mode, p, u):  # fmt: skip
    if n < out_t.shape[0]:
        out_t[n] = t
        out_pvi[n] = pvi
        out_ev[n] = ev
        out_stage[n] = stage
        out_trig[n] = trig
        out_item[n] = item
        out_mode[n] = mode
        out_p[n] = p
        out_u[n] = u
    return n + 1


@numba.njit(cache=True)
def run_pass(
    visitor, visit, start, limit, active, embedded, carries, open_thread, fixed_missing,
    row_start, row_end, row_t, row_mask, row_p, row_u,
    eng_start, eng_end, eng_t, eng_stop,
    gated, once, no_other, max_exec, hides, prog_code, prog_item, prog_len,
    off_item, off_len, item_is_button,
    display_embedded, messaging, capacity,
):  # fmt: skip
    """Run every visitor; return ``(n_events, event arrays…, honoured engagement flags)``.

    Page arrays are indexed by ``pvi`` (sorted by visitor, start, id); the mask rows of
    page ``k`` are ``row_start[k]:row_end[k]``; the engagement instants of the visitor of
    page ``k`` are ``eng_start[k]:eng_end[k]`` (``eng_stop``: conversation end, or never).
    When more than ``capacity`` events would be emitted, the count is returned and the
    caller runs again with room for them.
    """
    n_pages = start.shape[0]
    n_trig = gated.shape[0]
    out_t = np.empty(capacity, np.int64)
    out_pvi = np.empty(capacity, np.int64)
    out_ev = np.empty(capacity, np.int8)
    out_stage = np.empty(capacity, np.int8)
    out_trig = np.empty(capacity, np.int16)
    out_item = np.empty(capacity, np.int16)
    out_mode = np.empty(capacity, np.int8)
    out_p = np.empty(capacity, np.float64)
    out_u = np.empty(capacity, np.float64)
    honoured = np.zeros(eng_t.shape[0], np.bool_)
    honoured_pvi = np.full(eng_t.shape[0], -1, np.int64)
    n = 0
    exec_visit = np.zeros(n_trig, np.int64)
    exec_total = np.zeros(n_trig, np.int64)
    nan = np.nan
    k = 0
    while k < n_pages:
        # ---- one visitor: pages k .. k_end-1
        k_end = k
        while k_end < n_pages and visitor[k_end] == visitor[k]:
            k_end += 1
        exec_total[:] = 0
        has_eng = False
        last_e = np.int64(0)
        last_visit = np.int64(-1)
        last_stop = _NEVER
        cur_visit = np.int64(-1)
        no_other_by = np.int64(0)
        prev_shown = False
        prev_opened = False
        prev_items = np.int64(0)
        ep = eng_start[k] if k < n_pages else 0
        ep_end = eng_end[k] if k < n_pages else 0
        for page in range(k, k_end):
            if visit[page] != cur_visit:
                cur_visit = visit[page]
                exec_visit[:] = 0
                no_other_by = 0
            shown = False
            opened = False
            items = np.int64(0)
            if carries[page]:
                shown, opened, items = prev_shown, prev_opened, prev_items
            s = start[page]
            lim = limit[page]
            if not active[page]:
                while ep < ep_end and eng_t[ep] < lim:
                    ep += 1
                prev_shown, prev_opened, prev_items = False, False, np.int64(0)
                continue
            # ---- stage at the start
            stage = _CONFIGURED
            if display_embedded:
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
                    n = _emit(out_t, out_pvi, out_ev, out_stage, out_trig, out_item,
                              out_mode, out_p, out_u, n, page, s, _CHAT, stage, -1, -1, 0,
                              nan, nan)  # fmt: skip
                opened = True
            frozen = stage != _CONFIGURED
            # engagements before this page are dropped
            while ep < ep_end and eng_t[ep] < s:
                ep += 1
            activated = np.int64(0)
            r = row_start[page]
            r_end = row_end[page]
            cur = -1
            while r < r_end or (ep < ep_end and eng_t[ep] < lim):
                t = _NEVER
                if r < r_end:
                    t = row_t[r]
                if ep < ep_end and eng_t[ep] < lim and eng_t[ep] < t:
                    t = eng_t[ep]
                if r < r_end and row_t[r] == t:
                    cur = r
                    r += 1
                if not frozen and cur >= 0:
                    changed = True
                    while changed:
                        changed = False
                        for j in range(n_trig):
                            bit = np.int64(1) << j
                            if activated & bit:
                                continue
                            if no_other_by & ~bit:
                                continue
                            if once[j] and exec_visit[j] > 0:
                                continue
                            if max_exec[j] >= 0 and exec_total[j] >= max_exec[j]:
                                continue
                            state = (2 if shown else 0) + (1 if opened else 0)
                            if not (row_mask[cur, j] >> state) & 1:
                                continue
                            activated |= bit
                            changed = True
                            p = nan
                            u = nan
                            online = True
                            if gated[j]:
                                p = row_p[cur, j]
                                u = row_u[cur, j]
                                online = u < p
                            mode = _ONLINE if online else _OFFLINE
                            n = _emit(out_t, out_pvi, out_ev, out_stage, out_trig,
                                      out_item, out_mode, out_p, out_u, n, page, t, _ACTIVATED,
                                      _CONFIGURED, j, -1, mode, p, u)  # fmt: skip
                            if fixed_missing[page] & bit:
                                continue
                            if not online:
                                if off_len[j] > 0:
                                    n = _emit(out_t, out_pvi, out_ev, out_stage,
                                              out_trig, out_item, out_mode, out_p, out_u, n,
                                              page, t, _EXECUTED, _CONFIGURED, j, -1, _OFFLINE,
                                              p, u)  # fmt: skip
                                    for a in range(off_len[j]):
                                        it = off_item[j, a]
                                        ib = np.int64(1) << it
                                        if items & ib:
                                            continue
                                        items |= ib
                                        kind = _BUTTON if item_is_button[it] else _INVITATION
                                        n = _emit(out_t, out_pvi, out_ev, out_stage,
                                                  out_trig, out_item, out_mode, out_p, out_u,
                                                  n, page, t, _ITEM, _CONFIGURED, j, it,
                                                  _OFFLINE, p, u)  # fmt: skip
                                        n = _emit(out_t, out_pvi, out_ev, out_stage,
                                                  out_trig, out_item, out_mode, out_p, out_u,
                                                  n, page, t, kind, _CONFIGURED, j, it,
                                                  _OFFLINE, p, u)  # fmt: skip
                                continue
                            n = _emit(out_t, out_pvi, out_ev, out_stage, out_trig,
                                      out_item, out_mode, out_p, out_u, n, page, t, _EXECUTED,
                                      _CONFIGURED, j, -1, _ONLINE, p, u)  # fmt: skip
                            exec_visit[j] += 1
                            exec_total[j] += 1
                            if no_other[j]:
                                no_other_by |= bit
                            if hides[j]:
                                items = np.int64(0)
                            for a in range(prog_len[j]):
                                code = prog_code[j, a]
                                if code == 1:
                                    it = prog_item[j, a]
                                    ib = np.int64(1) << it
                                    if items & ib:
                                        continue
                                    items |= ib
                                    kind = _BUTTON if item_is_button[it] else _INVITATION
                                    n = _emit(out_t, out_pvi, out_ev, out_stage,
                                              out_trig, out_item, out_mode, out_p, out_u, n,
                                              page, t, _ITEM, _CONFIGURED, j, it, _ONLINE, p,
                                              u)  # fmt: skip
                                    n = _emit(out_t, out_pvi, out_ev, out_stage,
                                              out_trig, out_item, out_mode, out_p, out_u, n,
                                              page, t, kind, _CONFIGURED, j, it, _ONLINE, p,
                                              u)  # fmt: skip
                                else:
                                    if not shown:
                                        shown = True
                                        n = _emit(out_t, out_pvi, out_ev, out_stage,
                                                  out_trig, out_item, out_mode, out_p, out_u,
                                                  n, page, t, _CHAT, _CONFIGURED, j, -1, 0, p,
                                                  u)  # fmt: skip
                                    if code == 3:
                                        opened = True
                # ---- an engagement at t (after the fixed point)
                while ep < ep_end and eng_t[ep] == t:
                    engaged = (
                        has_eng and last_visit == visit[page] and (messaging or not last_stop <= t)
                    )
                    if not engaged and (shown or items != 0):
                        has_eng = True
                        last_e = t
                        last_visit = visit[page]
                        last_stop = eng_stop[ep]
                        honoured[ep] = True
                        honoured_pvi[ep] = page
                        shown = True
                        opened = True
                        frozen = True
                        n = _emit(out_t, out_pvi, out_ev, out_stage, out_trig,
                                  out_item, out_mode, out_p, out_u, n, page, t, _ENGAGED,
                                  _ENGAGEMENT, -1, -1, 0, nan, nan)  # fmt: skip
                    ep += 1
            prev_shown, prev_opened, prev_items = shown, opened, items
        k = k_end
    return (
        n, out_t, out_pvi, out_ev, out_stage, out_trig, out_item, out_mode, out_p, out_u,
        honoured, honoured_pvi,
    )  # fmt: skip
