"""The slots of a plan as the arrays the compiled code reads (replay pass and recorder).

:func:`slot_arrays` packs, per slot (one enabled trigger of one configuration entry):
the integer parameters of :data:`engage_lab.engine.actions.S_GID` … (global trigger,
gating, options, caps, program length, policy, the trigger id's bytes for the draw),
the action program, the offline items, the gating policy's curve points, and the
chat-state criteria (position, which state, the test's value on true / false / not
found).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engage_lab.availability.policy_kernel import policy_spec
from engage_lab.conditions.evaluator import test_value
from engage_lab.engine import actions as A
from engage_lab.engine.plan import Plan

__all__ = ["SlotArrays", "slot_arrays"]


@dataclass(frozen=True)
class SlotArrays:
    """See the module docstring."""

    sint: np.ndarray  # (n_slots, N_SINT) int64
    prog: np.ndarray  # (n_slots, width, 2): action code, item
    off_item: np.ndarray  # (n_slots, width)
    pol_xp: np.ndarray  # (2, points): curve xs, ps
    key_data: np.ndarray  # trigger ids, UTF-8
    chat_lo: np.ndarray
    chat_hi: np.ndarray
    chat_code: np.ndarray
    chat_back: np.ndarray
    chat_which: np.ndarray
    chat_r: np.ndarray
    item_is_button: np.ndarray


def slot_arrays(plan: Plan) -> SlotArrays:
    """The :class:`SlotArrays` of ``plan``."""
    n = max(len(plan.slots), 1)
    width = max([len(s.program) for s in plan.slots] + [1])
    off_width = max([len(s.offline_items) for s in plan.slots] + [1])
    sint = np.zeros((n, A.N_SINT), np.int64)
    sint[:, A.S_MAX_EXEC] = -1
    sint[:, A.S_MIN_MS] = -1
    prog = np.zeros((n, width, 2), np.int64)
    prog[:, :, 1] = -1
    off_item = np.full((n, off_width), -1, np.int64)
    xs: list[float] = []
    ps: list[float] = []
    chat_lo, chat_hi, chat_code, chat_back, chat_which, chat_r = [], [], [], [], [], []
    keys = b""
    for j, slot in enumerate(plan.slots):
        tr = slot.trigger
        row = sint[j]
        row[A.S_GID] = slot.gid
        row[A.S_GATED] = tr.gated
        row[A.S_ONCE] = tr.once_per_visit
        row[A.S_NO_OTHER] = tr.no_other_trigger_after
        ext = tr.extensions
        if ext is not None and ext.max_executions_per_visitor is not None:
            row[A.S_MAX_EXEC] = ext.max_executions_per_visitor
        if ext is not None and ext.min_ms_between_executions is not None:
            row[A.S_MIN_MS] = ext.min_ms_between_executions
        row[A.S_HIDES] = slot.hides
        for a, (action, item) in enumerate(slot.program):
            prog[j, a] = (action, item)
        row[A.S_PROG_LEN] = len(slot.program)
        for a, item in enumerate(slot.offline_items):
            off_item[j, a] = item
        row[A.S_OFF_LEN] = len(slot.offline_items)
        row[A.S_OFFLINE_LOOK] = slot.config.source.mode == "live_chat"
        if tr.gated:
            kind, param, over, cx, cp = policy_spec(slot.config.policy(tr))
            row[A.S_POL_KIND], row[A.S_POL_PARAM], row[A.S_POL_OVER] = kind, param, over
            row[A.S_POL_LO] = len(xs)
            xs.extend(cx.tolist())
            ps.extend(cp.tolist())
            row[A.S_POL_HI] = len(xs)
        chat_lo.append(len(chat_code))
        for leaf in slot.leaves:
            if leaf.source != "chat":
                continue
            code, back_first, back_last = leaf.position
            r = (
                (4 if test_value(leaf.node.test, True, "boolean") else 0)
                | (2 if test_value(leaf.node.test, False, "boolean") else 0)
                | (1 if type(leaf.node.test).not_found else 0)
            )
            chat_code.append(code)
            chat_back.append((back_first, back_last))
            chat_which.append(0 if leaf.node.facts.reads == "shown" else 1)
            chat_r.append(r)
        chat_hi.append(len(chat_code))
        row[A.S_KEY_LO] = len(keys)
        keys += tr.id.encode("utf-8")
        row[A.S_KEY_HI] = len(keys)
    return SlotArrays(
        sint=sint,
        prog=prog,
        off_item=off_item,
        pol_xp=np.array([xs or [0.0], ps or [0.0]], np.float64),
        key_data=np.frombuffer(keys, np.uint8).copy() if keys else np.zeros(1, np.uint8),
        chat_lo=np.array(chat_lo or [0], np.int64),
        chat_hi=np.array(chat_hi or [0], np.int64),
        chat_code=np.array(chat_code, np.int64),
        chat_back=np.array(chat_back, np.int64).reshape(-1, 2),
        chat_which=np.array(chat_which, np.int64),
        chat_r=np.array(chat_r, np.int64),
        item_is_button=np.array([k == "button" for _, k in plan.items] + [False], np.bool_),
    )
