"""The inputs of the compiled passes, declared once as named tuples of arrays.

numba takes ``typing.NamedTuple`` instances as arguments (a named tuple is a tuple to
it: no cost over a plain one), so the replay's pass (:func:`engage_lab.engine.kernel.
run_pass`), the static steps (:func:`~engage_lab.engine.kernel.static_steps`) and the
world generator's recorder (:func:`engage_lab.world.record_kernel.record_pass`) read
their inputs by field name: two arrays of one dtype cannot be swapped silently by a
position. Each bundle is built in one place (:func:`engage_lab.engine.replay.prepare`
and :func:`~engage_lab.engine.replay.run_fast`).

Arrays are indexed by ``pvi`` (the kept page views in the engine's order: visitor code,
start, page view id), by slot (one enabled trigger of one configuration entry), by leaf
(a dynamic criterion of a slot, see :mod:`engage_lab.engine.steps`) or by configuration
entry, as each field says.

>>> import numpy as np
>>> b = PassBounds(max_breakpoints=4, n_gid=2, n_items=0, messaging=False)
>>> b.n_gid
2
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = [
    "EngagementInputs",
    "EntryInputs",
    "GatingInputs",
    "Honoured",
    "InstantGating",
    "InstantOutput",
    "InstantState",
    "LeafInputs",
    "PageInputs",
    "PassBounds",
    "PassOutput",
    "SlotInputs",
    "StaticSteps",
]


class PageInputs(NamedTuple):
    """Per pvi, the page-view facts (:class:`engage_lab.engine.pages.Pages`)."""

    visitor: np.ndarray  #: visitor code (int32), ascending
    visit: np.ndarray  #: visit number, global (int32)
    start: np.ndarray  #: start instant, ms (int64)
    limit: np.ndarray  #: end, or the next page view's start if earlier (int64)
    vstart: np.ndarray  #: the visit's start (int64)
    idx: np.ndarray  #: 1-based index of the page view in its visit (int32)
    active: np.ndarray  #: the chat manager runs on the page (bool)
    embedded: np.ndarray  #: the embedded container is shown (bool)
    carries: np.ndarray  #: single-page-application change: the chat state carries over
    entry: np.ndarray  #: configuration entry in force (int16; -1 none)
    open_thread: np.ndarray  #: the visitor has an open messaging thread (bool)
    id_at: np.ndarray  #: per visitor code: first identity instant (NEVER: none)
    signed_at: np.ndarray  #: per visitor code: first signed identity instant


class LeafInputs(NamedTuple):
    """Per dynamic leaf, its kind and data (:class:`engage_lab.engine.leaves.LeafArrays`)."""

    kind: np.ndarray  #: THRESHOLD_PAGE … EXPR (engage_lab.engine.steps)
    d: np.ndarray  #: a threshold's duration, ms
    ge: np.ndarray  #: a threshold's direction (true: at or after)
    r: np.ndarray  #: the test's results (bits: not found, false, true)
    tab_lo: np.ndarray  #: a clock leaf's range in ``tab_t`` / ``tab_v``
    tab_hi: np.ndarray
    tab_t: np.ndarray  #: clock tables: instants where the value changes
    tab_v: np.ndarray  #: clock tables: the values (4-bit masks)
    row_lo: np.ndarray  #: a variable / expression leaf's range in the rows
    row_hi: np.ndarray
    row_pvi: np.ndarray  #: rows: page view (ascending within a leaf)
    row_t: np.ndarray  #: rows: instant
    row_v: np.ndarray  #: rows: value (a variable's test result, an expression's mask)


class SlotInputs(NamedTuple):
    """Per slot: parameters, leaves, candidates, chat-state criteria and actions
    (:class:`engage_lab.engine.inputs.SlotArrays`, the candidates of
    :class:`engage_lab.engine.static.Candidates`)."""

    sint: np.ndarray  #: (slots, N_SINT) integer parameters (engage_lab.engine.actions.S_*)
    leaf_lo: np.ndarray  #: the slot's dynamic leaves: ``leaf_lo:leaf_hi``
    leaf_hi: np.ndarray
    cand_lo: np.ndarray  #: the slot's candidates: ``cand_lo:cand_hi``
    cand_hi: np.ndarray
    cand_pvi: np.ndarray  #: candidates: page view (ascending within a slot)
    cand_act: np.ndarray  #: candidates: bits of the leaves active on the page
    fixed_missing: np.ndarray  #: candidates: a fixed button without its placeholder
    chat_lo: np.ndarray  #: the slot's chat-state criteria: ``chat_lo:chat_hi``
    chat_hi: np.ndarray
    chat_code: np.ndarray  #: chat criteria: position code (engage_lab.engine.kernel.POS_*)
    chat_back: np.ndarray  #: chat criteria: (first, last) pages back
    chat_which: np.ndarray  #: chat criteria: 0 chat shown, 1 chat opened
    chat_r: np.ndarray  #: chat criteria: the test's results (bits: not found, false, true)
    prog: np.ndarray  #: (slots, width, 2) actions: code, item
    off_item: np.ndarray  #: (slots, width) offline items
    item_is_button: np.ndarray  #: per catalog item (+1): a fixed button
    pol_xp: np.ndarray  #: (2, points) gating policies' curves: xs, ps
    key_data: np.ndarray  #: the trigger ids' UTF-8 bytes (the draw's last component)


class EntryInputs(NamedTuple):
    """Per configuration entry (a configuration of a history, from its instant on)."""

    slot_lo: np.ndarray  #: the entry's slots: ``slot_lo:slot_hi``
    slot_hi: np.ndarray
    embedded: np.ndarray  #: messaging with the embedded display (bool)
    delay: np.ndarray  #: index of its impossibility delay among the engagements' variants


class PassBounds(NamedTuple):
    """Sizes the pass allocates by."""

    max_breakpoints: int  #: the most step-function breakpoints of a slot on a page view
    n_gid: int  #: global triggers (at least 1)
    n_items: int  #: catalog items
    messaging: bool  #: the source's mode is messaging


class GatingInputs(NamedTuple):
    """What a gated activation reads: the draw's key bytes and the availability steps."""

    seed: np.ndarray  #: the seed's UTF-8 bytes
    v_data: np.ndarray  #: visitor ids' bytes (by visitor code) …
    v_off: np.ndarray  #: … and their offsets
    p_data: np.ndarray  #: page view ids' bytes (scan order) …
    p_at: np.ndarray  #: … and per pvi its (start, end) byte range
    longest: int  #: the longest id, bytes (scratch size)
    steps_t: np.ndarray  #: availability steps: instants (ascending) …
    steps_cap: np.ndarray  #: … capacity, in progress, waiting at each
    steps_busy: np.ndarray
    steps_wait: np.ndarray


class EngagementInputs(NamedTuple):
    """The recorded engagements, per visitor code ``lo:hi`` into the rows (by instant)."""

    lo: np.ndarray
    hi: np.ndarray
    t: np.ndarray  #: the engagement's instant
    stop: np.ndarray  #: (delay variants, rows) the instant its chat ends


class PassOutput(NamedTuple):
    """Where a pass writes its events."""

    t: np.ndarray  #: instant (int64)
    pc: np.ndarray  #: (events, 2) int32: page view, packed code (engage_lab.kpis.coded)


class Honoured(NamedTuple):
    """Per recorded engagement: whether the replay honoured it, where, with which delay."""

    honoured: np.ndarray  #: bool
    pvi: np.ndarray  #: the page view it was honoured on (-1)
    variant: np.ndarray  #: the entry's delay variant


class InstantState(NamedTuple):
    """The state :func:`engage_lab.engine.actions.fixed_point` reads and updates (rows:
    the constants of :mod:`engage_lab.engine.actions`)."""

    sstate: np.ndarray  #: (4, slots): candidate on the page, activated, masks
    pstate: np.ndarray  #: the page view's chat state, "no other trigger" count, items
    ctr: np.ndarray  #: (5, global triggers): executions, last execution, blocks
    scratch: np.ndarray  #: uint8 room for the draw's key


class InstantGating(NamedTuple):
    """What a gated activation at one instant reads."""

    steps_t: np.ndarray  #: availability steps (one step for a driver with a live pool) …
    steps_cap: np.ndarray  #: … capacity …
    steps_busy: np.ndarray  #: … in progress …
    steps_wait: np.ndarray  #: … waiting
    seed: np.ndarray  #: the draw's key: the seed's bytes …
    v_data: np.ndarray  #: … visitor ids' bytes and offsets …
    v_off: np.ndarray
    visitor: int  #: … the page's visitor code …
    p_data: np.ndarray  #: … page view ids' bytes and per pvi byte ranges
    p_at: np.ndarray


class InstantOutput(NamedTuple):
    """Where :func:`~engage_lab.engine.actions.fixed_point` writes."""

    t: np.ndarray  #: event instants
    pc: np.ndarray  #: (events, 2): page view, packed code
    shows: np.ndarray  #: (room, 3): what was newly shown (item or CHAT_SHOW, mode, trigger)


class StaticSteps(NamedTuple):
    """:func:`engage_lab.engine.kernel.static_steps`: per page view ``lo:hi`` into the
    step rows ``(t, slot, mask)``, sorted by time within a page view."""

    lo: np.ndarray
    hi: np.ndarray
    t: np.ndarray
    slot: np.ndarray
    mask: np.ndarray
