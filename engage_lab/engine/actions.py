"""The decisions at one instant, compiled: shared by the replay pass and the recorder.

:func:`fixed_point` runs the configured triggers of one page view at instant ``t``
(docs/semantics.md, "Configured triggers"): passes over the entry's slots in list
order, each seeing the chat state left by the ones before, repeated while a pass changed
the chat state; a slot activates when it is a candidate on the page, not yet activated
there, not blocked ("no other trigger", "once per visit", the per-visitor cap, the
minimum delay) and its conditions hold for the chat state in force; a gated slot asks
``p`` of its policy (:func:`engage_lab.availability.policy_kernel.policy_p`) in the
availability state the driver gives for ``t`` and draws ``u``
(:func:`engage_lab.engine.ids.page_draw`); then its actions run (:func:`execute`).

State lives in small arrays the drivers own: ``chat = [shown, opened]``, ``items``
(visible catalog items), per global trigger the visit's and the visitor's counters.
Everything newly shown is also written to ``shows`` (``item``, or ``-2`` for the chat,
with its mode) for a driver that answers offers (the world generator's recorder).
"""

from __future__ import annotations

import numba
import numpy as np

from engage_lab.availability.policy_kernel import policy_p
from engage_lab.engine.ids import page_draw
from engage_lab.events import DECISION_EVENTS
from engage_lab.kpis.coded import ITEM_SHIFT, MODE_SHIFT, STAGE_SHIFT, TRIGGER_SHIFT, code_of

__all__ = [
    "ACT_CHAT",
    "ACT_ITEM",
    "ACT_OPEN_CHAT",
    "CHAT_SHOW",
    "code",
    "emit",
    "fixed_point",
    "may_activate",
]

ACT_ITEM, ACT_CHAT, ACT_OPEN_CHAT = 1, 2, 3
#: ``shows`` entry for the chat window (items are their index)
CHAT_SHOW = -2
_ACTIVATED, _EXECUTED, _ITEM, _BUTTON, _INVITATION, _CHAT = (code_of(e) for e in DECISION_EVENTS)
_CONFIGURED = 3
_ONLINE, _OFFLINE = 1, 2


@numba.njit(cache=True, inline="always")
def code(ev, stage, trigger, item, mode):
    """An event's codes packed as :func:`engage_lab.kpis.coded.pack` packs them
    (``trigger``: global trigger index, ``item``: item index, -1 for none)."""
    return (
        np.int32(ev) | (np.int32(stage) << STAGE_SHIFT) | (np.int32(mode) << MODE_SHIFT)
        | (np.int32(trigger + 1) << TRIGGER_SHIFT) | (np.int32(item + 1) << ITEM_SHIFT)
    )  # fmt: skip


@numba.njit(cache=True, inline="always")
def emit(o_t, o_pc, n, pvi, t, packed):
    """Append one event: instant; page view and packed code."""
    if n < o_t.shape[0]:
        o_t[n] = t
        o_pc[n, 0] = pvi
        o_pc[n, 1] = packed
    return n + 1


# rows of the state arrays the drivers own
#: per slot (``sstate[row, slot]``): candidate index on the page (-1: none), activated,
#: the conditions' mask in force, the chat-state criteria's mask
ON_PAGE, ACTIVATED, CUR_MASK, CHAT_MASK = 0, 1, 2, 3
#: per page view (``pstate``): chat shown, chat opened, "no other trigger" count, then
#: one flag per catalog item (visible)
SHOWN, OPENED, NO_OTHER_COUNT, ITEMS = 0, 1, 2, 3
#: per global trigger (``ctr[row, gid]``): executions in the visit, by the visitor, last
#: execution instant, executed once, blocks the others ("no other trigger")
EXEC_VISIT, EXEC_TOTAL, LAST_EXEC, HAS_EXEC, NO_OTHER = 0, 1, 2, 3, 4
#: slot integer parameters (``sint[slot, column]``); ``S_OFFLINE_LOOK``: a refusal shows
#: the offline look (live chat; in messaging every mode is online)
(S_GID, S_GATED, S_ONCE, S_NO_OTHER, S_MAX_EXEC, S_MIN_MS, S_HIDES, S_PROG_LEN, S_OFF_LEN,
 S_POL_KIND, S_POL_PARAM, S_POL_OVER, S_POL_LO, S_POL_HI, S_KEY_LO, S_KEY_HI,
 S_OFFLINE_LOOK) = range(17)  # fmt: skip
N_SINT = 17


@numba.njit(cache=True, inline="always")
def _show_item(it, g, mode, page, t, pstate, item_is_button, o_t, o_pc, n, shows, n_shows):
    if pstate[ITEMS + it]:
        return n, n_shows  # already visible: not shown again
    pstate[ITEMS + it] = 1
    kind = _BUTTON if item_is_button[it] else _INVITATION
    n = emit(o_t, o_pc, n, page, t, code(_ITEM, _CONFIGURED, g, it, mode))
    n = emit(o_t, o_pc, n, page, t, code(kind, _CONFIGURED, g, it, mode))
    if n_shows < shows.shape[0]:
        shows[n_shows, 0] = it
        shows[n_shows, 1] = mode
        shows[n_shows, 2] = g
    return n, n_shows + 1


@numba.njit(cache=True, inline="always")
def may_activate(lo_slot, hi_slot, sstate):
    """Whether a slot of ``lo_slot:hi_slot`` could activate now: a candidate, not yet
    activated, whose conditions hold in some chat state. When none can,
    :func:`fixed_point` has nothing to do, and the drivers skip the call (passing its
    arrays costs more than most fixed points)."""
    for j in range(lo_slot, hi_slot):
        if (
            sstate[ON_PAGE, j] >= 0
            and not sstate[ACTIVATED, j]
            and sstate[CUR_MASK, j] & sstate[CHAT_MASK, j]
        ):
            return True
    return False


@numba.njit(cache=True, inline="always")
def fixed_point(page, t, lo_slot, hi_slot, state, slots, gating, out, n):
    """Run the slots ``lo_slot:hi_slot`` of page view ``page`` at instant ``t``; return
    ``(n, n_shows)`` (events written, shows recorded in ``shows``).

    ``state``: an :class:`~engage_lab.engine.kernel_inputs.InstantState` (see the row
    constants); ``slots``: a :class:`~engage_lab.engine.kernel_inputs.SlotInputs`;
    ``gating``: an :class:`~engage_lab.engine.kernel_inputs.InstantGating`, the
    availability step of ``steps_*`` in force at ``t`` (all zero before the first),
    looked up at the first gated activation only (a driver with a live pool passes its
    one current state), the draw's seed and id buffers, the page's visitor code; ``out``:
    an :class:`~engage_lab.engine.kernel_inputs.InstantOutput`. The arrays come in named
    tuples: numba passes a call's separate array arguments at a cost that was most of a
    fixed point's."""
    sstate, pstate, ctr, scratch = state.sstate, state.pstate, state.ctr, state.scratch
    sint, prog, off_item, item_is_button = (
        slots.sint,
        slots.prog,
        slots.off_item,
        slots.item_is_button,
    )
    fixed_missing, pol_xp, key_data = slots.fixed_missing, slots.pol_xp, slots.key_data
    steps_t, steps_cap = gating.steps_t, gating.steps_cap
    steps_busy, steps_wait = gating.steps_busy, gating.steps_wait
    seed, v_data, v_off, visitor = gating.seed, gating.v_data, gating.v_off, gating.visitor
    p_data, p_at = gating.p_data, gating.p_at
    o_t, o_pc, shows = out.t, out.pc, out.shows
    state_known = False
    capacity = in_progress = waiting = np.int64(0)
    n_shows = 0
    changed = True
    while changed:
        # Passes repeat while a pass changed the chat state: blocking only grows within
        # an instant, so only a chat-state criterion can turn true again (the reference
        # repeats until a pass activates nothing, which then comes to the same).
        before_shown, before_opened = pstate[SHOWN], pstate[OPENED]
        for j in range(lo_slot, hi_slot):
            if sstate[ON_PAGE, j] < 0 or sstate[ACTIVATED, j]:
                continue
            g = sint[j, S_GID]
            if pstate[NO_OTHER_COUNT] - ctr[NO_OTHER, g] > 0:
                continue
            if sint[j, S_ONCE] and ctr[EXEC_VISIT, g] > 0:
                continue
            cap = sint[j, S_MAX_EXEC]
            if cap >= 0 and ctr[EXEC_TOTAL, g] >= cap:
                continue
            minimum = sint[j, S_MIN_MS]
            if minimum >= 0 and ctr[HAS_EXEC, g] and t - ctr[LAST_EXEC, g] < minimum:
                continue
            state = 2 * pstate[SHOWN] + pstate[OPENED]
            if not ((sstate[CUR_MASK, j] & sstate[CHAT_MASK, j]) >> state) & 1:
                continue
            sstate[ACTIVATED, j] = 1
            online = True
            if sint[j, S_GATED]:
                if not state_known:
                    state_known = True
                    step = np.searchsorted(steps_t, t, side="right") - 1
                    if step >= 0:
                        capacity = steps_cap[step]
                        in_progress = steps_busy[step]
                        waiting = steps_wait[step]
                lo, hi = sint[j, S_POL_LO], sint[j, S_POL_HI]
                p = policy_p(sint[j, S_POL_KIND], sint[j, S_POL_PARAM], sint[j, S_POL_OVER] != 0,
                             pol_xp[0, lo:hi], pol_xp[1, lo:hi], capacity, in_progress,
                             waiting)  # fmt: skip
                u = page_draw(seed, v_data, v_off, visitor, p_data, p_at, page,
                              key_data[sint[j, S_KEY_LO] : sint[j, S_KEY_HI]], scratch)  # fmt: skip
                online = u < p
            mode = _OFFLINE if not online and sint[j, S_OFFLINE_LOOK] else _ONLINE
            n = emit(o_t, o_pc, n, page, t, code(_ACTIVATED, _CONFIGURED, g, -1, mode))
            if fixed_missing[sstate[ON_PAGE, j]]:
                continue  # a fixed button without its placeholder: activated, not executed
            if not online:
                if sint[j, S_OFF_LEN] > 0:
                    n = emit(o_t, o_pc, n, page, t, code(_EXECUTED, _CONFIGURED, g, -1, _OFFLINE))
                    for a in range(sint[j, S_OFF_LEN]):
                        n, n_shows = _show_item(off_item[j, a], g, _OFFLINE, page, t, pstate,
                                                item_is_button, o_t, o_pc, n, shows, n_shows)  # fmt: skip
                continue
            n = emit(o_t, o_pc, n, page, t, code(_EXECUTED, _CONFIGURED, g, -1, _ONLINE))
            ctr[EXEC_VISIT, g] += 1
            ctr[EXEC_TOTAL, g] += 1
            ctr[LAST_EXEC, g] = t
            ctr[HAS_EXEC, g] = 1
            if sint[j, S_NO_OTHER] and not ctr[NO_OTHER, g]:
                ctr[NO_OTHER, g] = 1
                pstate[NO_OTHER_COUNT] += 1
            if sint[j, S_HIDES]:
                pstate[ITEMS:] = 0
            for a in range(sint[j, S_PROG_LEN]):
                action = prog[j, a, 0]
                if action == ACT_ITEM:
                    n, n_shows = _show_item(prog[j, a, 1], g, _ONLINE, page, t, pstate,
                                            item_is_button, o_t, o_pc, n, shows, n_shows)  # fmt: skip
                else:
                    if not pstate[SHOWN]:
                        pstate[SHOWN] = 1
                        n = emit(o_t, o_pc, n, page, t, code(_CHAT, _CONFIGURED, g, -1, 0))
                        if n_shows < shows.shape[0]:
                            shows[n_shows, 0] = CHAT_SHOW
                            shows[n_shows, 1] = _ONLINE
                            shows[n_shows, 2] = g
                        n_shows += 1
                    if action == ACT_OPEN_CHAT:
                        pstate[OPENED] = 1
        changed = pstate[SHOWN] != before_shown or pstate[OPENED] != before_opened
    return n, n_shows
