"""Global time order across visitors: a heap ordered by ``(time, priority, seq)``.

Needed when availability depends on other visitors (the world generator's agent pool
fed by engagements): every visitor session is resumed in increasing time; at one
instant, agent-side work (``before_instant(t)``, priority 0: e.g. advancing the agent
pool to ``t``) runs before any visitor's trigger evaluations (priority 1), and visitors
at one instant go in the order they were added (their rank): ties are deterministic,
never random, and do not depend on which other instants a visitor stopped at before
(so an implementation that skips a visitor's instants where nothing can happen resumes
the others in the same order).

>>> order = []
>>> def visitor(name, times):
...     for t in times:
...         yield t
...         order.append((t, name))
>>> s = Scheduler(before_instant=lambda t: order.append((t, "agents")))
>>> s.add(visitor("a", [5, 10])); s.add(visitor("b", [5, 7])); s.add(visitor("c", [3, 10]))
>>> s.run()
>>> order
[(3, 'agents'), (3, 'c'), (5, 'agents'), (5, 'a'), (5, 'b'), (7, 'agents'), (7, 'b'), (10, 'agents'), (10, 'a'), (10, 'c')]
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator

from engage_lab.errors import EngineError

__all__ = ["AGENT_PRIORITY", "VISITOR_PRIORITY", "Scheduler"]

AGENT_PRIORITY = 0
VISITOR_PRIORITY = 1


class Scheduler:
    """Resume generators of instants (:meth:`VisitorSession.steps`) in global time order.

    Parameters
    ----------
    before_instant
        Called once per distinct instant, before the first visitor step at it.
    """

    def __init__(self, before_instant: Callable[[int], None] | None = None) -> None:
        self.before_instant = before_instant
        self._heap: list[tuple[int, int, int, Iterator[int]]] = []
        self._added = 0
        self._last_agent_instant: int | None = None
        self.now: int | None = None

    def add(self, steps: Iterator[int]) -> None:
        """Add a generator: it yields an instant, and processes it when resumed; at one
        instant, generators go in the order they were added."""
        rank = self._added
        self._added += 1
        first = next(steps, None)
        if first is not None:
            heapq.heappush(self._heap, (first, VISITOR_PRIORITY, rank, steps))

    def run(self) -> None:
        """Run until every generator is exhausted."""
        while self._heap:
            t, priority, rank, steps = heapq.heappop(self._heap)
            if self.now is not None and t < self.now:
                raise EngineError(f"scheduler: time went back from {self.now} to {t}")
            self.now = t
            # The agent side's turn at t (priority AGENT_PRIORITY): once, before the first
            # visitor step at t; the heap pops instants in order, so this is that step.
            if self.before_instant is not None and t != self._last_agent_instant:
                self._last_agent_instant = t
                self.before_instant(t)
            following = next(steps, None)
            if following is not None:
                heapq.heappush(self._heap, (following, priority, rank, steps))
