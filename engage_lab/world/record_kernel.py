"""The chat-event step compiled: every visitor's Chat Manager in global time order.

The same run as :func:`engage_lab.world.recording.record_chat` (the reference Chat
Manager per visitor under :class:`~engage_lab.reference.Scheduler`, a live agent pool,
the hidden behaviour), as one numba loop. Visitors are state machines resumed from a
binary heap ordered by ``(instant, visitor rank)`` — the scheduler's order: the agent
pool is advanced once per instant before any visitor, and visitors at one instant go in
the order of their ids. A visitor stops only where something can happen: a page view's
start (its stage, the continuation check that reads the pool), an instant where a
trigger's conditions change (:func:`engage_lab.engine.kernel.static_steps`, computed
beforehand in pvi order), the end of a minimum delay between executions, and an
engagement instant drawn when something was shown. The decisions at one instant are
:func:`engage_lab.engine.actions.fixed_point`, shared with the replay's pass.

The hidden behaviour (``engage_lab.world.truth``) is evaluated with the same doubles as
the Python recorder: md5 draws of the same keys (:func:`engage_lab.engine.md5.md5_u52`
over bytes assembled here), ``math.log1p`` / ``math.exp`` (the C library) and the
compiled :func:`engage_lab.engine.normal.lognormal_ms`. The agent pool is
:mod:`engage_lab.availability.pool_kernel`, the same rules as
:class:`~engage_lab.availability.AgentPool`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np

from engage_lab.availability.pool_kernel import (
    CLOSED_BY_VISITOR,
    NEVER,
    SERVED,
    UNSERVED,
    pool_advance,
    pool_finish,
    pool_grow,
    pool_now,
    pool_record,
    pool_room,
    pool_state,
    pool_submit,
)
from engage_lab.engine.actions import (
    ACTIVATED,
    CHAT_SHOW,
    CUR_MASK,
    EXEC_VISIT,
    ITEMS,
    NO_OTHER,
    NO_OTHER_COUNT,
    ON_PAGE,
    OPENED,
    S_OFF_LEN,
    S_PROG_LEN,
    SHOWN,
    code,
    emit,
    fixed_point,
    may_activate,
)
from engage_lab.engine.borrow import borrowed, borrowed_all
from engage_lab.engine.kernel import keep_alive as _keep
from engage_lab.engine.kernel import open_slot, slot_wake
from engage_lab.engine.kernel_inputs import InstantGating, InstantOutput, InstantState
from engage_lab.engine.md5 import md5_u52
from engage_lab.engine.normal import lognormal_ms
from engage_lab.engine.sorting import copy_into
from engage_lab.kpis.coded import code_of

__all__ = [
    "KIND_BUTTON",
    "KIND_CHAT",
    "KIND_INVITATION",
    "Behaviour",
    "RecorderIds",
    "TruthParams",
    "record_pass",
]


class RecorderIds(NamedTuple):
    """The draw's key bytes, as for the replay's gating draw."""

    seed: np.ndarray  #: the world's seed, UTF-8
    v_data: np.ndarray  #: visitor ids' bytes (by visitor code) …
    v_off: np.ndarray  #: … and their offsets
    p_data: np.ndarray  #: page view ids' bytes (scan order) …
    p_at: np.ndarray  #: … and per pvi its (start, end) byte range
    longest: int  #: room for the longest key, bytes


class TruthParams(NamedTuple):
    """The :class:`~engage_lab.world.truth.EngagementTruth` numbers the pass reads."""

    base_logit: float
    slope: float  #: time-on-page slope
    returning_effect: float
    delay_median: float  #: engagement delay, median s …
    delay_sigma: float  #: … and log sigma
    live_median: float  #: live chat duration, median s
    messaging_median: float  #: messaging duration, median s
    duration_sigma: float
    patience_median: float  #: patience in the queue, median s …
    patience_sigma: float
    close_after_served: float  #: probability the visitor closes after service
    close_median: float  #: the close delay, median s


class Behaviour(NamedTuple):
    """The hidden behaviour the pass draws engagements from."""

    start: np.ndarray  #: per pvi: the page view's start
    end: np.ndarray  #: per pvi: the page view's end
    category: np.ndarray  #: per pvi: page category code
    returning: np.ndarray  #: per pvi: a returning visit
    effect: np.ndarray  #: per visitor code: the hidden engagement effect
    kind_effect: np.ndarray  #: the logit's effect per offer kind (chat, button, invitation)
    category_effect: np.ndarray  #: the logit's effect per category code
    item_kind: np.ndarray  #: per item: offer kind
    item_key: np.ndarray  #: items' id bytes …
    item_lo: np.ndarray  #: … per item its range
    item_hi: np.ndarray
    params: TruthParams


#: offer kinds (the truth's ``item_kind_effect`` keys, by code)
KIND_CHAT, KIND_BUTTON, KIND_INVITATION = 0, 1, 2

_CHAT_EV, _ENGAGED = code_of("chat_shown"), code_of("chat_engaged")
_EMBEDDED, _CONTINUATION, _MESSAGING, _CONFIGURED, _ENGAGEMENT = range(5)
_OFFLINE = 2
_STATIC, _ENG = 0, 1
_U_MIN = 2.0**-53


def _ascii(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("ascii"), np.uint8).copy()


_B_ENGAGE = _ascii("|engage|")
_B_CHAT = _ascii("|chat|")
_B_CHAT_ITEM = _ascii("chat")
_B_DELAY = _ascii("|delay")
_B_DURATION = _ascii("|duration")
_B_PATIENCE = _ascii("|patience")
_B_CLOSE = _ascii("|close")
_B_CLOSE_DELAY = _ascii("|close delay")


# ---------------------------------------------------------------------------- draw keys
@numba.njit(cache=True, inline="always")
def _put(buf, n, src, lo, hi):
    for i in range(lo, hi):
        buf[n] = src[i]
        n += 1
    return n


@numba.njit(cache=True, inline="always")
def _put_all(buf, n, src):
    return _put(buf, n, src, 0, src.shape[0])


@numba.njit(cache=True)
def _put_int(buf, n, value):
    """``str(value)`` of an int64, as ASCII."""
    if value == 0:
        buf[n] = 48
        return n + 1
    if value < 0:
        buf[n] = 45
        n += 1
        value = -value
    digits = 0
    x = value
    while x > 0:
        digits += 1
        x //= 10
    for d in range(digits - 1, -1, -1):
        buf[n + d] = 48 + value % 10
        value //= 10
    return n + digits


@numba.njit(cache=True, inline="always")
def _u(buf, n):
    """A draw in ``(0, 1)`` of the key ``buf[:n]`` (never exactly 0: recording._u)."""
    return max(md5_u52(buf, 0, n), _U_MIN)


@numba.njit(cache=True)
def _visitor_page_key(buf, seed, word, v_data, v_off, visitor, p_data, p_at, page):
    """``seed|word|visitor_id|page_view_id`` into ``buf`` (``word`` holds its bars; ``p_at``:
    per page view the byte range of its id, :func:`engage_lab.engine.ids.page_ranges`)."""
    n = _put_all(buf, 0, seed)
    n = _put_all(buf, n, word)
    n = _put(buf, n, v_data, v_off[visitor], v_off[visitor + 1])
    buf[n] = 124
    n += 1
    return _put(buf, n, p_data, p_at[page, 0], p_at[page, 1])


# ---------------------------------------------------------------------------- the heap
@numba.njit(cache=True, inline="always")
def _before(t_a, v_a, t_b, v_b):
    return t_a < t_b or (t_a == t_b and v_a < v_b)


@numba.njit(cache=True)
def _heap_push(h_t, h_v, h_k, n, t, v, kind):
    """Push onto the heap of ``n`` entries (the caller grows the arrays)."""
    i = n
    while i > 0:
        parent = (i - 1) // 2
        if not _before(t, v, h_t[parent], h_v[parent]):
            break
        h_t[i], h_v[i], h_k[i] = h_t[parent], h_v[parent], h_k[parent]
        i = parent
    h_t[i], h_v[i], h_k[i] = t, v, kind
    return n + 1


@numba.njit(cache=True)
def _heap_pop(h_t, h_v, h_k, n):
    """Remove the smallest entry (returned by the caller from index 0 beforehand)."""
    n -= 1
    t, v, k = h_t[n], h_v[n], h_k[n]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= n:
            break
        if child + 1 < n and _before(h_t[child + 1], h_v[child + 1], h_t[child], h_v[child]):
            child += 1
        if not _before(h_t[child], h_v[child], t, v):
            break
        h_t[i], h_v[i], h_k[i] = h_t[child], h_v[child], h_k[child]
        i = child
    if n > 0:
        h_t[i], h_v[i], h_k[i] = t, v, k
    return n


@numba.njit(cache=True)
def _grow1(a, n):
    out = np.empty(max(2 * a.shape[0], n), a.dtype)
    copy_into(out, a)  # not a slice assignment: see copy_into
    return out


@numba.njit(cache=True)
def _grow2(a, n):
    out = np.empty((max(2 * a.shape[0], n), a.shape[1]), a.dtype)
    for r in range(a.shape[0]):  # not a slice assignment: see copy_into
        for c in range(a.shape[1]):
            out[r, c] = a[r, c]
    return out


@numba.njit(cache=True)
def _grow_heap(h_t, h_v, h_k, need):
    return _grow1(h_t, need), _grow1(h_v, need), _grow1(h_k, need)


@numba.njit(cache=True)
def _grow_events(o_t, o_pc, o_si, need):
    return _grow1(o_t, need), _grow2(o_pc, need), _grow1(o_si, need)


# ---------------------------------------------------------------------------- the pool
@numba.njit(cache=True)
def _closed_at(pool, chat, close_after):
    """When the visitor closed the live chat (``_Chat.closed_at``), else ``NEVER``."""
    _, _, ended, _, outcome = pool_record(pool, chat)
    if outcome == CLOSED_BY_VISITOR:
        return ended
    if outcome == SERVED and close_after >= 0 and ended != NEVER:
        return ended + close_after
    return NEVER


@numba.njit(cache=True)
def _ended_by(pool, live, chat, close_after, t):
    """``_Chat.ended_by(t)``: a live chat that ended unserved or was closed by ``t``."""
    if not live:
        return False
    pool_advance(pool, max(t, pool_now(pool)))
    _, _, ended, _, outcome = pool_record(pool, chat)
    if outcome == UNSERVED:
        return ended != NEVER and ended <= t
    closed = _closed_at(pool, chat, close_after)
    return closed != NEVER and closed <= t


# ---------------------------------------------------------------------------- the pass
@numba.njit(cache=True)
def record_pass(pages, slots, entries, bounds, steps, ids, behaviour, pool, entry_delay_ms):
    """Run every visitor (see the module docstring).

    ``steps``: :func:`~engage_lab.engine.kernel.static_steps` of all page views.
    ``ids``: :class:`RecorderIds`, as for the replay's gating draw (the world's seed;
    visitor ids by code, page view id byte ranges by pvi). ``behaviour``:
    :class:`Behaviour`, the hidden behaviour.
    ``entry_delay_ms``: the impossibility delay per configuration entry.

    Returns ``(t, pc, state_index, states, chats, counts, pool records)``: the decision
    events (instant; page view and packed code), per event the index of the availability
    state it was decided in (``states``: capacity, in progress, waiting); per honoured
    engagement (submission order) its page view, instant and close delay (-1: none);
    ``counts = [offers online, engagements drawn]``.
    """
    # Borrowed views (engage_lab.engine.borrow: no reference counting in the calls) of the
    # inputs, which live in the caller, and of the fixed-size work arrays, kept in ``work``
    # until the pass returns. The arrays that grow (outputs, heap, pool) stay counted:
    # borrowing them across their replacement read freed memory.
    pages, slots, entries, steps, ids = (
        borrowed_all(pages), borrowed_all(slots), borrowed_all(entries), borrowed_all(steps),
        borrowed_all(ids),
    )  # fmt: skip
    behaviour = borrowed_all(behaviour)
    entry_delay_ms = borrowed(entry_delay_ms)
    visitor, visit, start, limit = pages.visitor, pages.visit, pages.start, pages.limit
    idx, active, embedded = pages.idx, pages.active, pages.embedded
    carries, entry, open_thread = pages.carries, pages.entry, pages.open_thread
    sint, cand_lo, cand_hi, cand_pvi = slots.sint, slots.cand_lo, slots.cand_hi, slots.cand_pvi
    chat_lo, chat_hi, chat_code = slots.chat_lo, slots.chat_hi, slots.chat_code
    chat_back, chat_which, chat_r = slots.chat_back, slots.chat_which, slots.chat_r
    entry_slot_lo, entry_slot_hi, entry_embedded = (
        entries.slot_lo,
        entries.slot_hi,
        entries.embedded,
    )
    n_gid, n_items, messaging = bounds.n_gid, bounds.n_items, bounds.messaging
    st_lo, st_hi, st_t, st_s, st_m = steps.lo, steps.hi, steps.t, steps.slot, steps.mask
    seed, v_data, v_off, p_data, p_at = ids.seed, ids.v_data, ids.v_off, ids.p_data, ids.p_at
    longest = ids.longest
    item_key = behaviour.item_key
    params = behaviour.params
    live_median = params.live_median
    messaging_median, duration_sigma = params.messaging_median, params.duration_sigma
    patience_median, patience_sigma = params.patience_median, params.patience_sigma
    close_after_served, close_median = params.close_after_served, params.close_median
    live = not messaging

    n_pages = start.shape[0]
    n_slots = sint.shape[0]
    n_visitors = 0 if n_pages == 0 else visitor[n_pages - 1] + 1
    width = ITEMS + n_items
    per_instant = 8
    shows_bound = 1
    for j in range(n_slots):
        per_instant += 3 + 2 * (sint[j, S_PROG_LEN] + sint[j, S_OFF_LEN])
        shows_bound += 1 + sint[j, S_PROG_LEN] + sint[j, S_OFF_LEN]
    first_page = np.searchsorted(visitor, np.arange(n_visitors), side="left")
    work = (
        first_page, np.searchsorted(visitor, np.arange(n_visitors), side="right"),
        first_page.astype(np.int64) - 1, np.full(n_visitors, -1, np.int64),  # cur, cur_visit
        np.zeros((n_visitors, 5, n_gid), np.int64),  # ctr
        np.zeros((n_visitors, width), np.int64), np.zeros((n_visitors, width), np.int64),
        np.zeros((n_visitors, 4, max(n_slots, 1)), np.int64),  # sst
        np.full((n_visitors, max(n_slots, 1)), NEVER, np.int64),  # wake
        np.zeros(n_visitors, np.bool_), np.zeros(n_visitors, np.bool_),  # in_page, frozen
        np.zeros(n_visitors, np.bool_), np.zeros(n_visitors, np.int64),  # gated, rptr
        np.zeros(n_visitors, np.bool_), np.zeros(n_visitors, np.int64),  # has_eng, last_e
        np.full(n_visitors, -1, np.int64), np.full(n_visitors, -1, np.int64),
        np.zeros(n_pages, np.bool_), np.zeros(n_pages, np.bool_),  # final shown, opened
        np.zeros((shows_bound, 3), np.int64),  # shows
        np.full(1, -NEVER, np.int64), np.zeros(1, np.int64), np.zeros(1, np.int64),
        np.zeros(1, np.int64),  # the live state as a one-step timeline
        np.empty(longest + 2, np.uint8),  # scratch
        np.empty(seed.shape[0] + longest + item_key.shape[0] + 96, np.uint8),  # key
    )  # fmt: skip
    (v_lo, v_hi, cur, cur_visit, ctr, prev, pst, sst, wake, in_page, frozen, gated, rptr,
     has_eng, last_e, last_visit, last_chat, final_shown, final_opened, shows, one_t, one_cap,
     one_busy, one_wait, scratch, key) = borrowed_all(work)  # fmt: skip
    # ---- outputs and the heap (grown on demand)
    o_t = np.empty(max(1024, 4 * n_pages), np.int64)
    o_pc = np.empty((o_t.shape[0], 2), np.int32)
    o_si = np.empty(o_t.shape[0], np.int32)
    s_cap, s_busy, s_wait = (
        np.empty(1024, np.int64),
        np.empty(1024, np.int64),
        np.empty(1024, np.int64),
    )
    n_states = 0
    ch_pvi, ch_e, ch_close = (
        np.empty(1024, np.int64),
        np.empty(1024, np.int64),
        np.empty(1024, np.int64),
    )
    n_chats = 0
    offers = 0
    drawn = 0
    # the heap: one static entry per unfinished visitor, one per pending engagement
    h_t = np.empty(max(16, 2 * n_visitors), np.int64)
    h_v = np.empty(h_t.shape[0], np.int64)
    h_k = np.empty(h_t.shape[0], np.int8)
    h_n = 0
    for v in range(n_visitors):
        if v_lo[v] < v_hi[v]:
            h_n = _heap_push(h_t, h_v, h_k, h_n, start[v_lo[v]], v, _STATIC)
    n = 0
    last_instant = -NEVER
    while h_n > 0:
        t = h_t[0]
        v = h_v[0]
        has_static = False
        n_eng = 0
        while h_n > 0 and h_t[0] == t and h_v[0] == v:
            if h_k[0] == _STATIC:
                has_static = True
            else:
                n_eng += 1
            h_n = _heap_pop(h_t, h_v, h_k, h_n)
        if t != last_instant:  # the agent side's turn, once per instant
            pool_advance(pool, t)
            last_instant = t
        if n + per_instant + n_eng + 8 > o_t.shape[0]:
            need = n + per_instant + n_eng + 8
            o_t, o_pc, o_si = _grow_events(o_t, o_pc, o_si, need)
        # ---- the page views that start by t (inactive ones: bookkeeping only)
        k = cur[v]
        while k + 1 < v_hi[v] and start[k + 1] <= t:
            if k >= v_lo[v] and in_page[v]:  # leave the page view that ran
                for q in range(pst.shape[1]):  # a loop: a slice copy compiles a shape check
                    prev[v, q] = pst[v, q]
                final_shown[k] = pst[v, SHOWN] != 0
                final_opened[k] = pst[v, OPENED] != 0
            k += 1
            cur[v] = k
            if visit[k] != cur_visit[v]:
                cur_visit[v] = visit[k]
                ctr[v, EXEC_VISIT, :] = 0
                ctr[v, NO_OTHER, :] = 0
                prev[v, NO_OTHER_COUNT] = 0
            no_other_count = prev[v, NO_OTHER_COUNT]
            if carries[k]:
                for q in range(pst.shape[1]):
                    pst[v, q] = prev[v, q]
            else:
                pst[v, :] = 0
            pst[v, NO_OTHER_COUNT] = no_other_count
            c = entry[k]
            in_page[v] = False
            frozen[v] = True
            if not active[k] or c < 0:
                prev[v, :] = 0
                prev[v, NO_OTHER_COUNT] = no_other_count
                final_shown[k] = False
                final_opened[k] = False
                continue
            in_page[v] = True
            s = start[k]
            lim = limit[k]
            # ---- the stage at the start
            stage = _CONFIGURED
            if entry_embedded[c]:
                stage = _EMBEDDED if embedded[k] else -1
            elif (
                has_eng[v]
                and last_visit[v] == visit[k]
                and last_e[v] < s
                and (
                    messaging or not _ended_by(pool, live, last_chat[v], ch_close[last_chat[v]], s)
                )
            ):
                stage = _CONTINUATION
            elif messaging and open_thread[k]:
                stage = _MESSAGING
            if stage in (_EMBEDDED, _CONTINUATION, _MESSAGING):
                if not pst[v, SHOWN]:
                    pst[v, SHOWN] = 1
                    if n + per_instant + n_eng + 8 > o_t.shape[0]:
                        need = n + per_instant + n_eng + 8
                        o_t, o_pc, o_si = _grow_events(o_t, o_pc, o_si, need)
                    n = emit(o_t, o_pc, n, k, s, code(_CHAT_EV, stage, -1, -1, 0))
                    o_si[n - 1] = -1
                    shows[0, 0] = CHAT_SHOW
                    shows[0, 1] = 0
                    e, offers, drawn = _offer(
                        shows, np.int64(0), k, s, visitor[k], key, ids, behaviour, offers, drawn
                    )
                    if e != NEVER:
                        if h_n >= h_t.shape[0]:
                            h_t, h_v, h_k = _grow_heap(h_t, h_v, h_k, h_n + 1)
                        h_n = _heap_push(h_t, h_v, h_k, h_n, e, v, _ENG)
                pst[v, OPENED] = 1
            frozen[v] = stage != _CONFIGURED
            gated[v] = False
            rptr[v] = st_hi[k]
            for j in range(entry_slot_lo[c], entry_slot_hi[c]):
                sst[v, ON_PAGE, j] = -1
                sst[v, ACTIVATED, j] = 0
                wake[v, j] = NEVER
                if frozen[v] or s >= lim:
                    continue
                lo, hi = cand_lo[j], cand_hi[j]
                cp = lo + np.searchsorted(cand_pvi[lo:hi], k)
                if cp >= hi or cand_pvi[cp] != k:
                    continue
                g = open_slot(
                    j, cp, k, sst[v], sint, chat_lo, chat_hi, chat_code, chat_back, chat_which,
                    chat_r, idx[k], final_shown, final_opened,
                )  # fmt: skip
                gated[v] = gated[v] or g
                wake[v, j] = slot_wake(j, s, lim, sint, ctr[v])
            if not frozen[v]:
                rptr[v] = st_lo[k]
        # ---- the instant t of the current page view
        k = cur[v]
        if k >= v_lo[v] and in_page[v] and start[k] <= t < limit[k]:
            c = entry[k]
            r = rptr[v]
            while r < st_hi[k] and st_t[r] <= t:
                sst[v, CUR_MASK, st_s[r]] = st_m[r]
                r += 1
            rptr[v] = r
            if not frozen[v] and may_activate(entry_slot_lo[c], entry_slot_hi[c], sst[v]):
                if gated[v]:  # the pool's state now: a one-step timeline
                    one_cap[0], one_busy[0], one_wait[0] = pool_state(pool, t)
                else:
                    one_cap[0] = one_busy[0] = one_wait[0] = 0
                if n_states >= s_cap.shape[0]:
                    s_cap, s_busy, s_wait = _grow1(s_cap, 0), _grow1(s_busy, 0), _grow1(s_wait, 0)
                s_cap[n_states], s_busy[n_states], s_wait[n_states] = (
                    one_cap[0],
                    one_busy[0],
                    one_wait[0],
                )
                n0 = n
                n, n_shows = fixed_point(
                    k, t, entry_slot_lo[c], entry_slot_hi[c],
                    InstantState(sstate=sst[v], pstate=pst[v], ctr=ctr[v], scratch=scratch),
                    slots,
                    InstantGating(
                        steps_t=one_t, steps_cap=one_cap, steps_busy=one_busy,
                        steps_wait=one_wait, seed=seed, v_data=v_data, v_off=v_off,
                        visitor=visitor[k], p_data=p_data, p_at=p_at,
                    ),
                    InstantOutput(t=o_t, pc=o_pc, shows=shows), n,
                )  # fmt: skip
                if n > o_t.shape[0]:
                    raise ValueError("record_pass: the event room per instant was too small")
                if n > n0:
                    o_si[n0:n] = n_states
                    n_states += 1
                for q in range(min(n_shows, shows.shape[0])):
                    if shows[q, 1] == _OFFLINE:
                        continue  # the offline form: a message left, not a web chat
                    e, offers, drawn = _offer(
                        shows, q, k, t, visitor[k], key, ids, behaviour, offers, drawn
                    )
                    if e != NEVER:
                        if h_n >= h_t.shape[0]:
                            h_t, h_v, h_k = _grow_heap(h_t, h_v, h_k, h_n + 1)
                        h_n = _heap_push(h_t, h_v, h_k, h_n, e, v, _ENG)
            # ---- engagements at t, after the decisions of t
            for _ in range(n_eng):
                engaged = (
                    has_eng[v]
                    and last_visit[v] == visit[k]
                    and (
                        messaging
                        or not _ended_by(pool, live, last_chat[v], ch_close[last_chat[v]], t)
                    )
                )
                visible = pst[v, SHOWN] != 0
                if not visible:
                    for it in range(n_items):
                        if pst[v, ITEMS + it]:
                            visible = True
                            break
                if engaged or not visible:
                    continue
                # engage(): the conversation's draws, then the pool
                kn = _visitor_page_key(
                    key, seed, _B_CHAT, v_data, v_off, visitor[k], p_data, p_at, k
                )
                key[kn] = 124
                kn = _put_int(key, kn + 1, t)
                service = lognormal_ms(
                    _u(key, _put_all(key, kn, _B_DURATION)),
                    messaging_median if messaging else live_median, duration_sigma,
                )  # fmt: skip
                patience = lognormal_ms(
                    _u(key, _put_all(key, kn, _B_PATIENCE)), patience_median, patience_sigma
                )
                close_after = np.int64(-1)
                if live and _u(key, _put_all(key, kn, _B_CLOSE)) < close_after_served:
                    close_after = lognormal_ms(
                        _u(key, _put_all(key, kn, _B_CLOSE_DELAY)), close_median, 1.0
                    )
                if pool_room(pool) == 0:
                    pool = pool_grow(pool, 2 * (n_chats + 1))
                chat = pool_submit(
                    pool, t, service, entry_delay_ms[c] if live else -1, patience if live else -1
                )
                if n_chats >= ch_pvi.shape[0]:
                    ch_pvi, ch_e, ch_close = _grow1(ch_pvi, 0), _grow1(ch_e, 0), _grow1(ch_close, 0)
                ch_pvi[n_chats], ch_e[n_chats], ch_close[n_chats] = k, t, close_after
                n_chats += 1
                has_eng[v] = True
                last_e[v] = t
                last_visit[v] = visit[k]
                last_chat[v] = chat
                pst[v, SHOWN] = 1
                pst[v, OPENED] = 1
                frozen[v] = True
                n = emit(o_t, o_pc, n, k, t, code(_ENGAGED, _ENGAGEMENT, -1, -1, 0))
                o_si[n - 1] = -1
        # ---- the visitor's next instant (its pending engagements are in the heap)
        if has_static:
            nxt = NEVER
            k = cur[v]
            if k >= v_lo[v] and in_page[v] and not frozen[v]:
                if rptr[v] < st_hi[k]:
                    nxt = st_t[rptr[v]]
                for j in range(entry_slot_lo[entry[k]], entry_slot_hi[entry[k]]):
                    if t < wake[v, j] < nxt:
                        nxt = wake[v, j]
            if k + 1 < v_hi[v] and start[k + 1] < nxt:
                nxt = start[k + 1]
            if nxt != NEVER:
                if h_n >= h_t.shape[0]:
                    h_t, h_v, h_k = _grow_heap(h_t, h_v, h_k, h_n + 1)
                h_n = _heap_push(h_t, h_v, h_k, h_n, nxt, v, _STATIC)
    records = pool_finish(pool)  # copies
    counts = np.array([offers, drawn], np.int64)
    _keep(work)
    return (
        o_t[:n].copy(), o_pc[:n].copy(), o_si[:n].copy(),
        (s_cap[:n_states].copy(), s_busy[:n_states].copy(), s_wait[:n_states].copy()),
        (ch_pvi[:n_chats].copy(), ch_e[:n_chats].copy(), ch_close[:n_chats].copy()),
        counts, records,
    )  # fmt: skip


@numba.njit(cache=True)
def _offer(shows, q, page, t, visitor, key, ids, behaviour, offers, drawn):
    """``_Behaviour.offered`` for show ``q``: the engagement instant, else ``NEVER``;
    with the updated counters (``ids``: :class:`RecorderIds`, ``behaviour``:
    :class:`Behaviour`)."""
    seed, v_data, v_off, p_data, p_at = ids.seed, ids.v_data, ids.v_off, ids.p_data, ids.p_at
    started, ended = behaviour.start[page], behaviour.end[page]
    category, returning, effect = behaviour.category, behaviour.returning, behaviour.effect
    kind_effect, category_effect = behaviour.kind_effect, behaviour.category_effect
    item_kind, item_key = behaviour.item_kind, behaviour.item_key
    item_lo, item_hi = behaviour.item_lo, behaviour.item_hi
    params = behaviour.params
    base_logit, slope, returning_effect = params.base_logit, params.slope, params.returning_effect
    delay_median, delay_sigma = params.delay_median, params.delay_sigma
    offers += 1
    item = shows[q, 0]
    kind = 0 if item == CHAT_SHOW else item_kind[item]
    n = _visitor_page_key(key, seed, _B_ENGAGE, v_data, v_off, visitor, p_data, p_at, page)
    key[n] = 124
    n += 1
    if kind == 0:
        n = _put_all(key, n, _B_CHAT_ITEM)  # the kind ...
        key[n] = 124
        n += 1
        n = _put_all(key, n, _B_CHAT_ITEM)  # ... and "chat" for the missing item
    else:
        n = _put_kind(key, n, kind)
        key[n] = 124
        n += 1
        n = _put(key, n, item_key, item_lo[item], item_hi[item])
    key[n] = 124
    n += 1
    n = _put_int(key, n, t)
    seconds = (t - started) / 1000.0
    logit = (
        base_logit
        + kind_effect[kind]
        + category_effect[category[page]]
        + slope * math.log1p(seconds / 30.0)
        + returning_effect * (1.0 if returning[page] else 0.0)
        + effect[visitor]
    )
    p = 1.0 / (1.0 + math.exp(-logit))
    if _u(key, n) >= p:
        return NEVER, offers, drawn
    delay = lognormal_ms(_u(key, _put_all(key, n, _B_DELAY)), delay_median, delay_sigma)
    e = t + delay
    if e >= ended:
        return NEVER, offers, drawn  # the visitor left the page before writing
    return e, offers, drawn + 1


_B_BUTTON = _ascii("button")
_B_INVITATION = _ascii("invitation")


@numba.njit(cache=True, inline="always")
def _put_kind(key, n, kind):
    if kind == KIND_BUTTON:
        return _put_all(key, n, _B_BUTTON)
    return _put_all(key, n, _B_INVITATION)
