"""The drawn world in memory (``World``) and how it is drawn (``draw_world``).

Randomness: one ``numpy.random.SeedSequence(seed)`` spawns one child per component, in a
fixed order (visitors, truth, traffic, pages, variables, threads, agents, source, chat);
each component draws from its own ``Generator`` in a fixed order on whole arrays. No
global random state, no string hashing, no set iteration, no clock: the same seed and
arguments give the same world.

Id numbers are 1-based and follow output order: page views by true start time, variable
changes by change time, presence by change time, conversations by queue time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta

import numpy as np

from engage_lab.world.agents import Agents, agent_count, draw_agents
from engage_lab.world.pages import Pages, walk_visits
from engage_lab.world.params import WorldParams
from engage_lab.world.site import Site, build_site
from engage_lab.world.traffic import Span, local_midnight_ms, sample_starts
from engage_lab.world.variables import (
    Identities,
    Threads,
    VarChanges,
    draw_threads,
    draw_variables,
)
from engage_lab.world.visitors import Visitors, draw_visitors, separated_visits

__all__ = ["COMPONENTS", "MODES", "World", "draw_world"]

MODES = ("live_chat", "messaging")
#: SeedSequence children, in spawn order (append only: reordering changes every world).
COMPONENTS = ("visitors", "truth", "traffic", "pages", "variables", "threads", "agents",
              "source", "chat")  # fmt: skip
INFERRED_PAGE_MS = 30 * 60 * 1000


@dataclass(frozen=True)
class World:
    """Everything drawn, before writing (times are true server times in UTC ms)."""

    seed: int
    mode: str
    params: WorldParams
    span: Span
    site: Site
    visitors: Visitors
    #: Per visit (sorted by visitor then start): owner, number within visitor (1-based),
    #: first page start and effective end (end, or inferred end of an unrecorded last page).
    visit_visitor: np.ndarray
    visit_number: np.ndarray
    visit_start_ms: np.ndarray
    visit_end_ms: np.ndarray
    pages: Pages
    #: Page view number (0-based, output order) of every page row.
    page_number: np.ndarray
    var_changes: VarChanges
    identities: Identities
    threads: Threads
    agents: Agents
    maintenance_ms: tuple[int, int]
    chat_rng: np.random.Generator

    @property
    def page_views(self) -> int:
        return len(self.pages)

    @property
    def visits(self) -> int:
        return len(self.visit_visitor)

    @property
    def active_visitors(self) -> np.ndarray:
        """Visitor numbers that have at least one page view."""
        return np.unique(self.visit_visitor)


def _maintenance(rng: np.random.Generator, params: WorldParams, span: Span) -> tuple[int, int]:
    low = span.days // 3
    day = int(rng.integers(low, max(low + 1, (2 * span.days) // 3)))
    midnight = local_midnight_ms(span.first_day + timedelta(days=day), params.timezone)
    start = midnight + int(params.maintenance_local_hour * 3_600_000)
    return start, start + int(rng.uniform(*params.maintenance_minutes) * 60_000)


def draw_world(
    seed: int,
    visitors: int,
    mode: str = "live_chat",
    days: int = 28,
    params: WorldParams | None = None,
    stage: Callable[[str], None] | None = None,
) -> World:
    """Draw a whole world; ``stage(name)`` is called as each stage starts (progress)."""
    params = params or WorldParams()
    note = stage or (lambda _name: None)
    children = np.random.SeedSequence(seed).spawn(len(COMPONENTS))
    rngs = {
        name: np.random.default_rng(child) for name, child in zip(COMPONENTS, children, strict=True)
    }
    span = Span.of(params, days)
    site = build_site(params.host)

    note("visitors")
    people = draw_visitors(rngs["visitors"], rngs["truth"], params, visitors, days)
    visit_visitor = np.repeat(np.arange(visitors, dtype=np.int64), people.visits_drawn)
    zones = tuple(dict.fromkeys(z for _, z, _ in params.countries))
    zone_of_country = np.array([zones.index(z) for _, z, _ in params.countries])
    note("arrivals")
    starts = sample_starts(
        rngs["traffic"], span, params, zone_of_country[people.country[visit_visitor]], zones
    )
    order = np.lexsort((starts, visit_visitor))
    visit_visitor, starts = visit_visitor[order], starts[order]

    note("page views")
    pages = walk_visits(rngs["pages"], params, site, starts, people.device[visit_visitor])
    last = pages.last_of_visit()
    end_eff = np.where(
        pages.end_recorded,
        pages.end_ms,
        np.maximum(pages.end_ms, pages.start_ms + INFERRED_PAGE_MS),
    )[last]
    keep_visit = separated_visits(visit_visitor, starts, end_eff, params.visit_idle_ms)
    maintenance = _maintenance(rngs["source"], params, span)
    in_window = (pages.start_ms >= maintenance[0]) & (pages.start_ms < maintenance[1])
    pages = pages.take(keep_visit[pages.visit] & ~in_window)

    # Renumber the remaining visits 0..V-1 (order kept: visitor, then start).
    kept_ids, new_visit = np.unique(pages.visit, return_inverse=True)
    pages = replace(pages, visit=new_visit.astype(np.int64))
    visit_visitor = visit_visitor[kept_ids]
    first, last = pages.first_of_visit(), pages.last_of_visit()
    visit_start = pages.start_ms[first]
    visit_end = np.where(
        pages.end_recorded,
        pages.end_ms,
        np.maximum(pages.end_ms, pages.start_ms + INFERRED_PAGE_MS),
    )[last]
    new_visitor = np.ones(len(visit_visitor), dtype=bool)
    new_visitor[1:] = visit_visitor[1:] != visit_visitor[:-1]
    visit_number = np.arange(len(visit_visitor)) - np.maximum.accumulate(
        np.where(new_visitor, np.arange(len(visit_visitor)), 0)
    ) + 1  # fmt: skip
    row_visitor = visit_visitor[pages.visit]
    output_order = np.lexsort((pages.seq, row_visitor, pages.start_ms))
    page_number = np.empty(len(pages), dtype=np.int64)
    page_number[output_order] = np.arange(len(pages))

    note("variables and identities")
    changes, identities = draw_variables(
        rngs["variables"], params, site, pages, visit_visitor, people
    )
    if mode == "messaging":
        threads = draw_threads(rngs["threads"], params, identities, span.end_ms)
    else:
        empty = np.zeros(0, dtype=np.int64)
        threads = Threads(empty, empty, empty, empty, np.zeros(0, dtype=bool))

    note("agents")
    n_agents = agent_count(params, len(visit_visitor), days)
    agents = draw_agents(rngs["agents"], params, span, n_agents)
    return World(
        seed=seed,
        mode=mode,
        params=params,
        span=span,
        site=site,
        visitors=people,
        visit_visitor=visit_visitor,
        visit_number=visit_number,
        visit_start_ms=visit_start,
        visit_end_ms=visit_end,
        pages=pages,
        page_number=page_number,
        var_changes=changes,
        identities=identities,
        threads=threads,
        agents=agents,
        maintenance_ms=maintenance,
        chat_rng=rngs["chat"],
    )
