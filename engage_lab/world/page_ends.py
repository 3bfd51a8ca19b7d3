"""Page ends the loader will derive, and whether a recording pass saw the right ones.

A generated page view whose end was not recorded gets, from the loader, the instant of
its last variable change or chat event (:mod:`engage_lab.data.derive`); every page view
the Chat Manager runs on gets a ``started`` event at its start. The chat-event step
(:mod:`engage_lab.world.recording`) therefore runs on the ends the loader will derive
from what it records, repeating while an outcome event moves an end in a way a decision
could see (:meth:`PageEnds.moves_matter`).

Everything here is vectorized over the world's page views: the configuration and the
source status are step functions of time, evaluated once per breakpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from engage_lab.conditions import nodes
from engage_lab.config import Config, ConfigHistory
from engage_lab.data import schema
from engage_lab.reference import History, config_resolver
from engage_lab.world.chat import WorldView

__all__ = ["PageEnds", "last_event_per_page", "reads_past_page_ends"]

_INACTIVE = ("inactive", "maintenance")


def _ms(series: pd.Series) -> np.ndarray:
    return series.astype("datetime64[ms, UTC]").astype("int64").to_numpy()


def _step_values(points: np.ndarray, fn: Callable[[int], Any], at: np.ndarray) -> np.ndarray:
    """``fn`` at each instant of ``at``, for a right-continuous step function ``fn``
    whose steps are all at ``points``: evaluated once per step."""
    pts = np.unique(np.asarray(points, np.int64))
    k = np.searchsorted(pts, at, side="right") - 1
    values = [fn(int(p)) for p in pts.tolist()]
    if len(at) and (k < 0).any():
        values.append(fn(int(at[k < 0].min())))  # before the first step: one value
    table = np.array(values, dtype=object) if values else np.zeros(0, object)
    return table[np.where(k >= 0, k, len(pts))] if len(at) else np.zeros(0, object)


def reads_past_page_ends(configs: list[Config]) -> bool:
    """Whether a configuration reads a past page's final state that its end could change
    (a criterion whose registry facts say the end matters — a duration, a variable, an
    identity, the clock, the chat state — at a non-current position), or has an
    expression (not analysed: assumed to)."""
    for config in configs:
        for trigger in config.triggers:
            parsed = config.conditions(trigger)
            if parsed.expression not in (None, nodes.And(())):  # an empty one reads nothing
                return True
            if any(c.position != "current" and c.facts.end_matters for c in parsed.criteria):
                return True
    return False


def last_event_per_page(events: pd.DataFrame) -> pd.Series:
    """The last event instant (ms) per page view id of recorded chat events."""
    if not len(events):
        return pd.Series(dtype="int64")
    ms = pd.Series(_ms(events["event_at"]))
    return ms.groupby(events["page_view_id"].to_numpy()).max()


class PageEnds:
    """The page ends of one world under one configuration (see the module docstring)."""

    def __init__(self, world: WorldView, config: Config | ConfigHistory) -> None:
        self.world = world
        pv = world.tables["page_views"]
        self.ids = pv["page_view_id"].to_numpy(object)
        self.start = _ms(pv["started_at"])
        self.recorded = pv["ended_at"].notna().to_numpy()
        self.end = np.where(self.recorded, _ms(pv["ended_at"].fillna(pv["started_at"])), self.start)
        vc = world.tables["var_changes"]
        self.var_page = vc["page_view_id"].to_numpy(object)
        self.var_at = _ms(vc["changed_at"])
        last_var = pd.Series(self.var_at).groupby(self.var_page).max() if len(vc) else None
        self.last_var = self._per_page(last_var)
        config_at = config_resolver(config)
        status = History.from_frames({"source_status": world.tables["source_status"]})
        entries = [] if isinstance(config, Config) else [e.effective_at_ms for e in config.history]
        changes = [t for t, _, _ in status.status_changes]
        self.runs = _step_values(
            np.array([*entries, *changes], np.int64),
            lambda t: config_at(t) is not None and status.status_at(t) not in _INACTIVE,
            self.start,
        ).astype(bool)

        def idle(t: int) -> int:
            cfg = config_at(t)
            return cfg.source.visit_idle_ms if cfg is not None else schema.DEFAULT_VISIT_IDLE_MS

        self.idle = _step_values(np.array(entries, np.int64), idle, self.start).astype(np.int64)
        keys = pa.table(
            {
                "v": pa.array(pv["visitor_id"], pa.string(), from_pandas=True),
                "s": self.start,
                "p": pa.array(pv["page_view_id"], pa.string(), from_pandas=True),
            }
        )
        self.order = pc.sort_indices(
            keys, sort_keys=[("v", "ascending"), ("s", "ascending"), ("p", "ascending")]
        ).to_numpy()
        visitor = keys.column("v").take(pa.array(self.order))
        self.visit_head = np.ones(len(self.order), bool)  # first page view of its visitor
        if len(self.order) > 1:
            self.visit_head[1:] = ~pc.equal(visitor[1:], visitor[:-1]).to_numpy(
                zero_copy_only=False
            )
        last = np.ones(len(visitor), bool)
        last[:-1] = self.visit_head[1:]
        self.followed = set(self.ids[self.order[~last]].tolist())

    def _per_page(self, by_id: pd.Series | np.ndarray | None) -> np.ndarray:
        """A per-page-view-id series as an array over the page views (NaN: none); an
        array is already one."""
        if isinstance(by_id, np.ndarray):
            return by_id.astype(np.float64)
        if by_id is None or not len(by_id):
            return np.full(len(self.ids), np.nan)
        return by_id.reindex(self.ids).to_numpy(np.float64)

    def ends(self, event_ends: pd.Series | np.ndarray | None = None) -> pd.Series:
        """Page ends as the loader will derive them (ms), given the last chat event per
        page view (by id, or per ``page_views`` row; the ``started`` events included:
        pages that run end no earlier than their start)."""
        events = self._per_page(event_ends)
        candidates = np.vstack([self.last_var, events, np.where(self.runs, self.start, np.nan)])
        have = ~np.isnan(candidates).all(axis=0)
        last = np.nanmax(np.where(np.isnan(candidates), -np.inf, candidates), axis=0)
        derived = np.where(
            have, np.maximum(last, self.start), self.start + schema.INFERRED_PAGE_LENGTH_MS
        ).astype(np.int64)
        out = np.where(self.recorded, self.end, derived)
        return pd.Series(out, index=self.world.tables["page_views"].index)

    def visit_starts(self, ends: np.ndarray) -> np.ndarray:
        """Per page view (table order): does it start a visit, under these ends."""
        o = self.order
        s, e, idle = self.start[o], np.asarray(ends, np.int64)[o], self.idle[o]
        group = np.cumsum(self.visit_head)
        latest = pd.Series(e).groupby(group).cummax().to_numpy()
        before = np.empty_like(latest)
        before[1:] = latest[:-1]
        first = self.visit_head.copy()
        first[~self.visit_head] = (s - before > idle)[~self.visit_head]
        out = np.empty(len(o), bool)
        out[o] = first
        return out

    def moves_matter(
        self, reads_past_ends: bool, events: pd.DataFrame, used: pd.Series, loaded: pd.Series
    ) -> bool:
        """Whether the loaded page ends differ from the ones the run used in a way the Chat
        Manager could see (else the run stands, without another pass).

        An end moves only when an outcome event lands after it. That cannot change a
        decision when the page ran no configured trigger after its old end (an
        engagement was honoured on it, or its stage was continuation / messaging /
        embedded), no variable change sits at or after its old end (it would stay on the
        page instead of moving to the next) and the visits derived from the ends stay
        the same.
        """
        moved = used.to_numpy() != loaded.to_numpy()
        if not moved.any():
            return False
        if reads_past_ends:
            return True  # past pages are read by their final state: their end matters
        moved_ids = set(self.ids[moved].tolist())
        mine = events[events["page_view_id"].isin(moved_ids)]
        frozen = set(mine.loc[mine["event"] == "chat_engaged", "page_view_id"])
        staged = mine[(mine["event"] == "chat_shown") & mine["trigger_id"].isna()]
        frozen |= set(staged["page_view_id"])
        if moved_ids - frozen:
            return True
        if len(self.var_page):
            # a change at or after the old end moved to the visitor's next page view in this
            # run and stays on its page in the loaded history: it matters if there is one
            old_end = dict(
                zip(self.ids[moved].tolist(), used.to_numpy()[moved].tolist(), strict=True)
            )
            on_moved = np.flatnonzero(pd.Series(self.var_page).isin(moved_ids).to_numpy())
            late = {
                p
                for p, t in zip(self.var_page[on_moved], self.var_at[on_moved], strict=True)
                if t >= old_end[p]
            }
            if late & self.followed:
                return True
        return not np.array_equal(
            self.visit_starts(used.to_numpy()), self.visit_starts(loaded.to_numpy())
        )
