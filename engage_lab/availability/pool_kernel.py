"""The agent pool of :mod:`~engage_lab.availability.pool` compiled with numba.

:class:`~engage_lab.availability.pool.AgentPool` is the specification: the same rules,
the same order of what happens at one instant (conversations end, presence changes apply,
background conversations start, new conversations join the queue; then the queue is
served; then patience and closing timers fire), the same least-loaded choice and the same
FIFO queue, so the same records and the same availability states. This version holds no
Python object: its state is a tuple of int64 arrays, and its operations are
``numba.njit`` functions, callable from Python or from other compiled code (a world
generator stepping every visitor in global time order).

Agents are indices ``0 .. A-1`` **in the pool's tie order**: :class:`AgentPool` breaks
ties between equally loaded agents by ``agent_id`` string order (``min`` over
``(load, agent_id)``), not by insertion order, so pass the agents sorted by ``str``
(:func:`build_pool_from_tables` does, and returns the ids in that order). Web chats are
indices ``0, 1, ...`` in submission order.

Codes and sentinels (what :meth:`AgentPool.records` gives as None):

* instants are int64 milliseconds; :data:`~engage_lab.availability.state.NEVER`
  (``int64`` max) stands for None: ``started_at`` of a chat never served, ``ended_at``
  of a chat still waiting, an open-ended background conversation;
* agent index ``-1``: no agent (unserved, closed or still waiting);
* outcome :data:`SERVED` 0, :data:`UNSERVED` 1, :data:`CLOSED_BY_VISITOR` 2,
  :data:`NO_OUTCOME` -1 (still waiting). As in :class:`AgentPool`, a served chat gets
  its outcome, agent and ``ended_at`` (start + service) when it starts;
* ``patience_ms`` / ``closes_after_ms`` of ``-1``: none (waits forever / never closes).

Instants plus durations must stay below ``NEVER`` (int64 arithmetic, no overflow check).

State layout (:class:`PoolState`, a named tuple: ``state.name`` or ``state[k]``, every
entry a 1-d int64 array):

====  ============  ================================================================
 k    name          content
====  ============  ================================================================
 0    counters      scalars: ``[NOW, SEQ, HEAP_N, DIRTY, N_CHATS, Q_HEAD, WAITING]``
 1    limit         per agent: soft limit
 2    available     per agent: 1 while available, else 0 (no change yet: 0)
 3    load          per agent: conversations in progress, all channels
 4-7  heap          pending events, a binary min-heap on ``(t, key)`` with
                    ``key = priority << 56 | seq`` (seq: push order, so ties are
                    deterministic): ``heap_t, heap_key, heap_a, heap_b``; payload
                    ``a, b``: END agent, -; PRESENCE agent, available; BACKGROUND
                    agent, end; TIMER chat, outcome
 8-13 chats         per web chat: ``queued_at, service_ms, started_at, ended_at,
                    agent, outcome``
====  ============  ================================================================

``counters``: ``NOW`` the pool's instant (starts at ``-2**62`` like :attr:`AgentPool.now`),
``SEQ`` the next sequence number, ``HEAP_N`` the heap size, ``DIRTY`` 1 when something
may let the queue be served, ``N_CHATS`` the chats submitted, ``Q_HEAD`` the first chat
that may still be waiting, ``WAITING`` the queue length.

The queue needs no array of its own: a chat joins it when submitted (its arrival is the
first event at its instant, as :meth:`AgentPool.submit` processes everything up to it
first), so the FIFO queue is the chats still waiting (outcome -1) in submission order,
from ``Q_HEAD`` on; a timer removes a chat by giving it its outcome.

Capacity: the chat arrays hold ``max_chats`` chats (the heap is sized from it: at most
three pending events per chat, one per presence change or background conversation).
The caller sizes it; :func:`pool_submit` raises :class:`~engage_lab.errors.EngineError`
when it is full, and :func:`pool_grow` returns a larger copy (also from compiled code:
``if pool_room(state) == 0: state = pool_grow(state, 2 * n)``).

>>> state = build_pool(np.array([1]), np.array([0]), np.array([0]), np.array([True]),
...                    np.array([], np.int64), np.array([], np.int64),
...                    np.array([], np.int64), max_chats=4)
>>> pool_submit(state, 10, 100, -1, -1), pool_submit(state, 20, 50, 30, -1)
(0, 1)
>>> pool_state(state, 25)
(1, 1, 1)
>>> queued, started, ended, agent, outcome = pool_finish(state)
>>> started.tolist() == [10, NEVER], ended.tolist(), agent.tolist(), outcome.tolist()
(True, [110, 50], [0, -1], [0, 1])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

import numba
import numpy as np
import pandas as pd

from engage_lab.availability.pool import BACKGROUND, END, PRESENCE, TIMER, _agents_mapping
from engage_lab.availability.state import NEVER, TimeLike, presence_changes, to_ms_array
from engage_lab.errors import EngineError
from engage_lab.tiers import tiered

__all__ = [
    "CLOSED_BY_VISITOR",
    "NEVER",
    "NO_OUTCOME",
    "OUTCOME_NAMES",
    "SERVED",
    "UNSERVED",
    "PoolState",
    "build_pool",
    "build_pool_from_tables",
    "pool_advance",
    "pool_current_state",
    "pool_finish",
    "pool_grow",
    "pool_n_chats",
    "pool_now",
    "pool_record",
    "pool_records",
    "pool_room",
    "pool_state",
    "pool_submit",
]


class PoolState(NamedTuple):
    """The pool's state: 14 one-dimensional int64 arrays (see the module docstring)."""

    counters: np.ndarray  #: [NOW, SEQ, HEAP_N, DIRTY, N_CHATS, Q_HEAD, WAITING]
    limit: np.ndarray  #: per agent: soft limit
    available: np.ndarray  #: per agent: 1 while available
    load: np.ndarray  #: per agent: conversations in progress, all channels
    heap_t: np.ndarray  #: pending events: instant …
    heap_key: np.ndarray  #: … priority << 56 | seq …
    heap_a: np.ndarray  #: … payload a …
    heap_b: np.ndarray  #: … payload b
    queued_at: np.ndarray  #: per web chat: submission instant …
    service_ms: np.ndarray  #: … service duration …
    started_at: np.ndarray  #: … service start (NEVER: none) …
    ended_at: np.ndarray  #: … end (NEVER: none) …
    agent: np.ndarray  #: … agent (-1: none) …
    outcome: np.ndarray  #: … outcome code (-1: none yet)


SERVED, UNSERVED, CLOSED_BY_VISITOR, NO_OUTCOME = 0, 1, 2, -1
#: Outcome names by code (those of :class:`AgentPool`); code -1 is None.
OUTCOME_NAMES = ("served", "unserved", "closed_by_visitor")

# counters slots
_NOW, _SEQ, _HEAP_N, _DIRTY, _N_CHATS, _Q_HEAD, _WAITING = 0, 1, 2, 3, 4, 5, 6
_N_COUNTERS = 7
_START = -(2**62)  # AgentPool.now before anything happened
_PRIO_SHIFT = 56
_SEQ_MASK = (1 << _PRIO_SHIFT) - 1
_EVENTS_PER_CHAT = 3  # two timers and the end of service


# ------------------------------------------------------------------ heap


@numba.njit(cache=True)
def _push(state, t, priority, a, b):
    # callers pass np.int64(...) arguments: a literal constant (a priority, 0) would make
    # numba compile one specialization per combination (six, 3 s on a fresh install)
    counters, heap_t, heap_key, heap_a, heap_b = (
        state.counters,
        state.heap_t,
        state.heap_key,
        state.heap_a,
        state.heap_b,
    )
    n = counters[_HEAP_N]
    if n >= heap_t.shape[0]:
        raise EngineError("agent pool kernel: event heap full")
    key = (priority << _PRIO_SHIFT) | counters[_SEQ]
    counters[_SEQ] += 1
    i = n
    while i > 0:
        p = (i - 1) >> 1
        if heap_t[p] < t or (heap_t[p] == t and heap_key[p] < key):
            break
        heap_t[i], heap_key[i], heap_a[i], heap_b[i] = heap_t[p], heap_key[p], heap_a[p], heap_b[p]
        i = p
    heap_t[i], heap_key[i], heap_a[i], heap_b[i] = t, key, a, b
    counters[_HEAP_N] = n + 1


@numba.njit(cache=True)
def _pop(state):
    """Remove the smallest event: ``(t, priority, a, b)``."""
    counters, heap_t, heap_key, heap_a, heap_b = (
        state.counters,
        state.heap_t,
        state.heap_key,
        state.heap_a,
        state.heap_b,
    )
    top_t, top_key, top_a, top_b = heap_t[0], heap_key[0], heap_a[0], heap_b[0]
    n = counters[_HEAP_N] - 1
    counters[_HEAP_N] = n
    if n > 0:
        t, key, a, b = heap_t[n], heap_key[n], heap_a[n], heap_b[n]
        i = 0
        while True:
            m = 2 * i + 1
            if m >= n:
                break
            r = m + 1
            if r < n and (
                heap_t[r] < heap_t[m] or (heap_t[r] == heap_t[m] and heap_key[r] < heap_key[m])
            ):
                m = r
            if heap_t[m] < t or (heap_t[m] == t and heap_key[m] < key):
                heap_t[i], heap_key[i] = heap_t[m], heap_key[m]
                heap_a[i], heap_b[i] = heap_a[m], heap_b[m]
                i = m
            else:
                break
        heap_t[i], heap_key[i], heap_a[i], heap_b[i] = t, key, a, b
    return top_t, top_key >> _PRIO_SHIFT, top_a, top_b


# ------------------------------------------------------------------ construction


@numba.njit(cache=True)
def _allocate(limits, n_fixed_events, max_chats):
    n_agents = limits.shape[0]
    heap_size = n_fixed_events + _EVENTS_PER_CHAT * max_chats + 1
    counters = np.zeros(_N_COUNTERS, np.int64)
    counters[_NOW] = _START
    limit = np.empty(n_agents, np.int64)
    for a in range(n_agents):  # a loop: a slice assignment compiles a shape check
        limit[a] = limits[a]
    started = np.empty(max_chats, np.int64)
    started[:] = NEVER
    ended = np.empty(max_chats, np.int64)
    ended[:] = NEVER
    agent = np.empty(max_chats, np.int64)
    agent[:] = -1
    outcome = np.empty(max_chats, np.int64)
    outcome[:] = NO_OUTCOME
    return PoolState(
        counters=counters,
        limit=limit,
        available=np.zeros(n_agents, np.int64),
        load=np.zeros(n_agents, np.int64),
        heap_t=np.zeros(heap_size, np.int64),
        heap_key=np.zeros(heap_size, np.int64),
        heap_a=np.zeros(heap_size, np.int64),
        heap_b=np.zeros(heap_size, np.int64),
        queued_at=np.zeros(max_chats, np.int64),
        service_ms=np.zeros(max_chats, np.int64),
        started_at=started,
        ended_at=ended,
        agent=agent,
        outcome=outcome,
    )


@numba.njit(cache=True)
def _new_state(
    limits, presence_agent, presence_t, presence_available, bg_agent, bg_start, bg_end, max_chats
):
    state = _allocate(limits, presence_t.shape[0] + bg_start.shape[0], max_chats)
    # AgentPool pushes the presence changes first, then the background conversations.
    for i in range(presence_t.shape[0]):
        _push(
            state,
            np.int64(presence_t[i]),
            np.int64(PRESENCE),
            np.int64(presence_agent[i]),
            np.int64(presence_available[i]),
        )
    for i in range(bg_start.shape[0]):
        _push(
            state,
            np.int64(bg_start[i]),
            np.int64(BACKGROUND),
            np.int64(bg_agent[i]),
            np.int64(bg_end[i]),
        )
    return state


def _int_array(values: object, name: str) -> np.ndarray:
    out = np.asarray(values)
    if out.ndim != 1:
        raise EngineError(f"build_pool: {name} is not one-dimensional")
    if out.size == 0:
        return np.zeros(0, np.int64)
    return out.astype(np.int64)


def build_pool(
    agent_soft_limits: Sequence[int] | np.ndarray,
    presence_agent: Sequence[int] | np.ndarray,
    presence_t: Sequence[int] | np.ndarray,
    presence_available: Sequence[bool] | np.ndarray,
    bg_agent: Sequence[int] | np.ndarray,
    bg_start: Sequence[int] | np.ndarray,
    bg_end: Sequence[int] | np.ndarray,
    max_chats: int,
) -> PoolState:
    """A new pool (nothing happened yet: :func:`pool_now` is ``-2**62``).

    Parameters
    ----------
    agent_soft_limits
        Soft limit per agent, agents in the tie order (sorted ``agent_id`` strings to
        mirror :class:`AgentPool`).
    presence_agent, presence_t, presence_available
        Presence changes: agent index, instant (ms), whether the new status is
        ``"available"``. Any order across instants (sorted stably here); at one instant
        the given order is the order of application, so the **last** change of an agent
        wins — give them sorted by ``(changed_at, presence_id)`` to mirror a presence
        table. Changes at ``NEVER`` or of an agent index outside ``0 .. A-1`` are
        ignored.
    bg_agent, bg_start, bg_end
        Background conversations (other channels): agent index, start, end (``NEVER``:
        open-ended; an end before the start is clamped to it). Rows starting at
        ``NEVER`` or with an agent index outside ``0 .. A-1`` (e.g. -1) are ignored.
    max_chats
        How many web chats the arrays hold (see :func:`pool_grow`).

    Returns
    -------
    PoolState
        The state tuple (see the module docstring).
    """
    limits = _int_array(agent_soft_limits, "agent_soft_limits")
    n_agents = len(limits)
    p_agent = _int_array(presence_agent, "presence_agent")
    p_t = _int_array(presence_t, "presence_t")
    p_av = _int_array(presence_available, "presence_available")
    b_agent = _int_array(bg_agent, "bg_agent")
    b_start = _int_array(bg_start, "bg_start")
    b_end = _int_array(bg_end, "bg_end")
    if not len(p_agent) == len(p_t) == len(p_av):
        raise EngineError("build_pool: presence arrays differ in length")
    if not len(b_agent) == len(b_start) == len(b_end):
        raise EngineError("build_pool: background arrays differ in length")
    if int(max_chats) < 0:
        raise EngineError(f"build_pool: max_chats = {max_chats} is negative")
    # Presence: drop what AgentPool drops, then keep the last change of each agent at each
    # instant (changes of one instant apply together: no dispatch between them).
    keep = (p_t != NEVER) & (p_agent >= 0) & (p_agent < n_agents)
    p_agent, p_t, p_av = p_agent[keep], p_t[keep], (p_av[keep] != 0).astype(np.int64)
    order = np.lexsort((np.arange(len(p_t)), p_agent, p_t))  # by t, agent, given order
    p_agent, p_t, p_av = p_agent[order], p_t[order], p_av[order]
    last = np.ones(len(p_t), dtype=bool)
    last[:-1] = (p_t[1:] != p_t[:-1]) | (p_agent[1:] != p_agent[:-1])
    p_agent, p_t, p_av = p_agent[last], p_t[last], p_av[last]
    keep = (b_start != NEVER) & (b_agent >= 0) & (b_agent < n_agents)
    return tiered(_new_state)(
        limits, p_agent, p_t, p_av, b_agent[keep], b_start[keep], b_end[keep], int(max_chats)
    )


def build_pool_from_tables(
    agents: Mapping[str, int] | pd.DataFrame,
    presence: pd.DataFrame | Iterable[tuple[str, TimeLike, str]] = (),
    background: pd.DataFrame | None = None,
    max_chats: int = 1024,
) -> tuple[list[str], PoolState]:
    """A pool from :class:`AgentPool`'s own inputs, read the way it reads them.

    Parameters
    ----------
    agents, presence, background
        As for :class:`AgentPool` (``{agent_id: soft_limit}`` or the ``agents`` table;
        the ``presence`` table or ``(agent_id, changed_at, status)`` tuples; the
        background conversations frame or None).
    max_chats
        Capacity of the chat arrays.

    Returns
    -------
    agent_ids, state
        The agent ids in index order (``agent_id`` string order, the pool's tie order)
        and the state.

    >>> ids, state = build_pool_from_tables({"b": 1, "a": 2}, [("b", 0, "available")])
    >>> ids, pool_state(state, 0)
    (['a', 'b'], (1, 0, 0))
    """
    limits = _agents_mapping(agents)
    agent_ids = sorted(limits)
    index = {a: i for i, a in enumerate(agent_ids)}
    # Like AgentPool: the changes in the order they apply, the agent looked up as given.
    kept = [r for r in presence_changes(presence) if r[2] in limits]
    p_agent = [index[r[2]] for r in kept]
    p_t = [r[0] for r in kept]
    p_av = [r[3] == "available" for r in kept]
    b_agent: list[int] = []
    b_start: list[int] = []
    b_end: list[int] = []
    if background is not None:
        started = to_ms_array(background["started_at"])
        ended = to_ms_array(background["ended_at"])
        for i, agent_id in enumerate(background["agent_id"].tolist()):
            if pd.isna(agent_id) or started[i] == NEVER or agent_id not in limits:
                continue
            b_agent.append(index[agent_id])
            b_start.append(int(started[i]))
            b_end.append(int(ended[i]))
    state = build_pool(
        [limits[a] for a in agent_ids], p_agent, p_t, p_av, b_agent, b_start, b_end, max_chats
    )
    return agent_ids, state


@numba.njit(cache=True)
def pool_grow(state: PoolState, max_chats: int) -> PoolState:
    """A copy of the pool with room for ``max_chats`` web chats (at least the current).

    Parameters
    ----------
    state
        The pool (left unchanged; keep using the returned one).
    max_chats
        The new capacity of the chat arrays.

    Returns
    -------
    PoolState
        The larger pool, same simulation.
    """
    old = state.queued_at.shape[0]
    if max_chats < old:
        max_chats = old
    grown = _allocate(state.limit, state.heap_t.shape[0] - _EVENTS_PER_CHAT * old - 1, max_chats)
    # every field but the limits (copied by _allocate); loops, not slice assignments:
    # those compile numba's shape check (seconds)
    for k in (0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13):
        src = state[k]
        dst = grown[k]
        for i in range(src.shape[0]):
            dst[i] = src[i]
    return grown


# ------------------------------------------------------------------ time


@numba.njit(cache=True)
def _dispatch(state):
    """Serve the head of the queue while an available agent has a free slot."""
    counters, limit, available, load = state.counters, state.limit, state.available, state.load
    service, started, ended, agent, outcome = (
        state.service_ms,
        state.started_at,
        state.ended_at,
        state.agent,
        state.outcome,
    )
    counters[_DIRTY] = 0
    now = counters[_NOW]
    n_agents = limit.shape[0]
    while counters[_WAITING] > 0:
        best = -1
        for j in range(n_agents):  # least loaded first, ties by index (agent_id order)
            if available[j] != 0 and load[j] < limit[j] and (best < 0 or load[j] < load[best]):
                best = j
        if best < 0:
            return
        c = counters[_Q_HEAD]
        while outcome[c] != NO_OUTCOME:  # chats that left the queue on a timer
            c += 1
        counters[_Q_HEAD] = c + 1
        counters[_WAITING] -= 1
        started[c], agent[c] = now, best
        ended[c], outcome[c] = now + service[c], SERVED
        load[best] += 1
        _push(state, np.int64(ended[c]), np.int64(END), np.int64(best), np.int64(0))


@numba.njit(cache=True)
def _handle(state, priority, a, b):
    counters, available, load = state.counters, state.available, state.load
    if priority == END:
        load[a] -= 1
        counters[_DIRTY] = 1
    elif priority == PRESENCE:
        available[a] = b
        counters[_DIRTY] = 1
    elif priority == BACKGROUND:
        load[a] += 1
        if b != NEVER:
            # An end before its start would free a slot never taken: clamp to the start.
            _push(
                state,
                np.int64(max(b, counters[_NOW])),
                np.int64(END),
                np.int64(a),
                np.int64(0),
            )
    elif priority == TIMER:
        ended, outcome = state.ended_at, state.outcome
        if outcome[a] == NO_OUTCOME:  # still waiting: leaves the queue
            ended[a], outcome[a] = counters[_NOW], b
            counters[_WAITING] -= 1


@numba.njit(cache=True)
def _run(state, until):
    counters, heap_t, heap_key = state.counters, state.heap_t, state.heap_key
    while True:
        if counters[_HEAP_N] > 0 and heap_t[0] <= until:
            t, priority = heap_t[0], heap_key[0] >> _PRIO_SHIFT
            if counters[_DIRTY] != 0 and (t > counters[_NOW] or priority >= TIMER):
                _dispatch(state)  # everything before the timers at this instant is done
                continue
            t, priority, a, b = _pop(state)
            counters[_NOW] = t
            _handle(state, priority, a, b)
        elif counters[_DIRTY] != 0:
            _dispatch(state)  # may schedule ends, hence the loop
        else:
            break
    counters[_NOW] = max(counters[_NOW], until)


@numba.njit(cache=True)
def pool_advance(state: PoolState, t: int) -> None:
    """Apply everything that happens at or before ``t`` (:meth:`AgentPool.advance_to`).

    Raises :class:`~engage_lab.errors.EngineError` if ``t`` is before :func:`pool_now`.
    """
    if t < state.counters[_NOW]:
        raise EngineError("agent pool kernel: time went back")
    _run(state, t)


@numba.njit(cache=True)
def pool_now(state: PoolState) -> int:
    """The pool's instant (:attr:`AgentPool.now`)."""
    return state.counters[_NOW]


@numba.njit(cache=True)
def pool_current_state(state: PoolState) -> tuple[int, int, int]:
    """``(capacity, in_progress, waiting)`` at :func:`pool_now` (:meth:`AgentPool.state`)."""
    limit, available, load = state.limit, state.available, state.load
    capacity = 0
    in_progress = 0
    for j in range(limit.shape[0]):
        if available[j] != 0:
            capacity += limit[j]
            in_progress += load[j]
    return capacity, in_progress, state.counters[_WAITING]


@numba.njit(cache=True)
def pool_state(state: PoolState, t: int) -> tuple[int, int, int]:
    """Advance to ``t`` and return ``(capacity, in_progress, waiting)`` there
    (:meth:`AgentPool.state_at`)."""
    pool_advance(state, t)
    return pool_current_state(state)


@numba.njit(cache=True)
def pool_submit(
    state: PoolState, t: int, service_ms: int, patience_ms: int, closes_after_ms: int
) -> int:
    """A web chat engaged at ``t`` (:meth:`AgentPool.submit`): served at once if a slot
    is free, else queued.

    Parameters
    ----------
    state
        The pool.
    t
        Instant of the engagement, not before :func:`pool_now`.
    service_ms
        Service time once started (>= 0).
    patience_ms
        Ends it unserved if still waiting after this delay; -1: waits forever.
    closes_after_ms
        Ends it closed_by_visitor if still waiting after this delay; -1: never. At an
        equal instant patience wins.

    Returns
    -------
    int
        The chat's index (submission order).
    """
    counters = state.counters
    if service_ms < 0 or patience_ms < -1 or closes_after_ms < -1:
        raise EngineError("agent pool kernel: a negative duration")
    c = counters[_N_CHATS]
    if c >= state.queued_at.shape[0]:
        raise EngineError("agent pool kernel: chat arrays full (see pool_grow)")
    pool_advance(state, t)
    counters[_N_CHATS] = c + 1
    state.queued_at[c], state.service_ms[c] = t, service_ms
    # Its ARRIVAL would be the first event left at t (everything up to t was applied, and
    # nothing else is pushed at t before it): handled at once, it joins the queue.
    counters[_WAITING] += 1
    counters[_DIRTY] = 1
    counters[_SEQ] += 1  # the sequence number AgentPool gives the arrival
    # Patience before closing at an equal instant: the impossibility message wins.
    if patience_ms >= 0 and (closes_after_ms < 0 or patience_ms <= closes_after_ms):
        _push(state, np.int64(t + patience_ms), np.int64(TIMER), np.int64(c), np.int64(UNSERVED))
        if closes_after_ms >= 0:
            _push(
                state,
                np.int64(t + closes_after_ms),
                np.int64(TIMER),
                np.int64(c),
                np.int64(CLOSED_BY_VISITOR),
            )
    elif closes_after_ms >= 0:
        _push(
            state,
            np.int64(t + closes_after_ms),
            np.int64(TIMER),
            np.int64(c),
            np.int64(CLOSED_BY_VISITOR),
        )
        if patience_ms >= 0:
            _push(
                state, np.int64(t + patience_ms), np.int64(TIMER), np.int64(c), np.int64(UNSERVED)
            )
    _run(state, t)
    return c


@numba.njit(cache=True)
def pool_n_chats(state: PoolState) -> int:
    """How many web chats were submitted."""
    return state.counters[_N_CHATS]


@numba.njit(cache=True)
def pool_room(state: PoolState) -> int:
    """How many more web chats the arrays hold (0: :func:`pool_grow` before submitting)."""
    return state.queued_at.shape[0] - state.counters[_N_CHATS]


@numba.njit(cache=True)
def pool_record(state: PoolState, chat: int) -> tuple[int, int, int, int, int]:
    """One web chat's record as it stands (what ``recording._pool_record`` reads).

    Returns
    -------
    tuple
        ``(queued_at, started_at, ended_at, agent, outcome)``: ``NEVER`` for a missing
        instant, agent -1 for none, outcome -1 while waiting. A served chat has its
        outcome, agent and ``ended_at`` from the instant it starts.
    """
    if chat < 0 or chat >= state.counters[_N_CHATS]:
        raise EngineError("agent pool kernel: no such chat")
    return (
        state.queued_at[chat],
        state.started_at[chat],
        state.ended_at[chat],
        state.agent[chat],
        state.outcome[chat],
    )


@numba.njit(cache=True)
def pool_records(
    state: PoolState,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every web chat's record as it stands (:meth:`AgentPool.records`), as copies.

    Returns
    -------
    tuple of arrays
        ``queued_at, started_at, ended_at, agent, outcome`` in submission order (codes as
        in :func:`pool_record`).
    """
    n = state.counters[_N_CHATS]
    return (
        state.queued_at[:n].copy(),
        state.started_at[:n].copy(),
        state.ended_at[:n].copy(),
        state.agent[:n].copy(),
        state.outcome[:n].copy(),
    )


@numba.njit(cache=True)
def pool_finish(
    state: PoolState,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run every remaining event (:meth:`AgentPool.finish`) and return :func:`pool_records`.

    Chats still waiting then (no patience, no closing, no agent ever free) keep outcome
    -1, agent -1 and ``NEVER`` instants, like AgentPool's None.
    """
    _run(state, NEVER - 1)
    return pool_records(state)
