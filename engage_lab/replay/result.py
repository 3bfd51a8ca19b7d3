""":class:`ReplayResult`: what one replay gives, frames built only when asked for.

The KPIs are computed at once from coded events (:mod:`engage_lab.kpis.coded`), the
fidelity from per-page-view sums (the recording's kept with the page facts, so a tuning
replay only sums its own events); the events frame, the page views frame, the recorded
events and the mismatch tables are built on first access (the fast engine's events frame
of a 10 M page-view replay is a large object that a tuning loop never needs).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from engage_lab import tiers
from engage_lab.availability.state import Timeline, to_ms
from engage_lab.config import Config, ConfigHistory
from engage_lab.kpis import (
    CodedEvents,
    Comparison,
    PageTable,
    funnel_frame,
    jsonable,
    occupancy_over_time,
    offers,
)

__all__ = ["ReplayResult", "flatten", "iso"]


def iso(ms: int) -> str:
    """``2026-03-02T07:01:10.000Z`` (milliseconds always shown).

    >>> iso(1_772_435_270_000)
    '2026-03-02T07:07:50.000Z'
    """
    return pd.Timestamp(ms, unit="ms", tz="UTC").strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def flatten(kpis: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested KPIs with dotted names (``displays_by_stage.configured``).

    >>> flatten({"visits": 3, "displays_by_stage": {"configured": 2}})
    {'visits': 3, 'displays_by_stage.configured': 2}
    """
    out: dict[str, Any] = {}
    for key, value in kpis.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


class ReplayResult:
    """The outcome of one replay.

    Attributes
    ----------
    kpis
        Every KPI (:mod:`engage_lab.kpis`); ``fidelity`` among them when the history holds
        recorded chat events.
    events
        Replayed events, :mod:`engage_lab.events` schema, canonical order (built on first
        access).
    pages
        The replayed page views (``page_view_id, visitor_id, visit_id, started_at,
        ended_at, path, embedded``): the denominators of the KPIs.
    codes, page_table
        The same events and page views as integer codes (what the KPIs read).
    comparison
        Replay versus recording (:class:`~engage_lab.kpis.Comparison`; ``None`` without
        recorded chat events).
    recorded
        The recorded events of the replayed page views in the events schema (or ``None``).
    mismatches
        The first mismatching page views with both sides' decision events (or ``None``).
    """

    def __init__(
        self,
        *,
        config: Config | ConfigHistory,
        config_label: str,
        engine: str,
        seed: str | None,
        restrictions: dict[str, Any],
        kpis: dict[str, Any],
        codes: CodedEvents,
        page_table: PageTable,
        events: Callable[[], pd.DataFrame],
        pages: Callable[[], pd.DataFrame],
        recorded: Callable[[], pd.DataFrame] | None,
        comparison: Comparison | None,
        timezone: str,
        timeline: Timeline | None,
        mismatch_rows: int,
        elapsed_s: float,
    ) -> None:
        self.config = config
        self.config_label = config_label
        self.engine = engine
        self.seed = seed
        self.restrictions = restrictions
        self.kpis = kpis
        self.codes = codes
        self.page_table = page_table
        self.comparison = comparison
        self.timezone = timezone
        self.timeline = timeline
        self.elapsed_s = elapsed_s
        self._getters = {"events": events, "pages": pages, "recorded": recorded}
        self._mismatch_rows = mismatch_rows
        self._memo: dict[str, Any] = {}
        # what is built later (events, pages, mismatches, tables) runs in the replay's
        # kernel tier (engage_lab.tiers)
        self._tier_run = tiers.current()

    def __repr__(self) -> str:
        return (
            f"ReplayResult(engine={self.engine!r}, config={self.config_label!r}, "
            f"page_views={self.kpis.get('page_views')}, fidelity={self.fidelity})"
        )

    @tiers.resuming
    def _lazy(self, name: str) -> Any:
        if name not in self._memo:
            getter = self._getters[name]
            self._memo[name] = None if getter is None else getter()
        return self._memo[name]

    @property
    def events(self) -> pd.DataFrame:
        return self._lazy("events")

    @property
    def pages(self) -> pd.DataFrame:
        return self._lazy("pages")

    @property
    def recorded(self) -> pd.DataFrame | None:
        return self._lazy("recorded")

    @property
    @tiers.resuming
    def mismatches(self) -> pd.DataFrame | None:
        if self.comparison is None:
            return None
        if "mismatches" not in self._memo:
            self._memo["mismatches"] = self.comparison.table(self._mismatch_rows)
        return self._memo["mismatches"]

    @property
    def fidelity(self) -> float | None:
        """Share of replayed page views whose decision events match the recording."""
        return None if self.comparison is None else float(self.comparison.fidelity)

    @tiers.resuming
    def funnel(self) -> pd.DataFrame:
        """The funnel questions Q1–Q5 per visit (:func:`engage_lab.kpis.funnel_by_visit`)."""
        return funnel_frame(self.codes, self.page_table)

    @tiers.resuming
    def offers(self, *, online: bool = True) -> pd.DataFrame:
        """Offers (or refusals) with page path and local hour / day of week."""
        return offers(self.events, self.pages, self.timezone, online=online)

    @tiers.resuming
    def occupancy(self, freq: str = "1h") -> pd.DataFrame:
        """Agent occupancy per time bin over the replayed span (empty without pages)."""
        table = self.page_table
        if self.timeline is None or len(table) == 0:
            return pd.DataFrame(columns=["bin_start", "capacity", "load", "occupancy"])
        return occupancy_over_time(
            self.timeline, int(table.start.min()), int(table.end.max()), freq
        )

    @tiers.resuming
    def kpi_table(self) -> pd.DataFrame:
        """The KPIs as a two-column frame (``kpi``, ``value``); nested KPIs are flattened
        (``displays_by_stage.configured``)."""
        rows = list(flatten(self.kpis).items())
        return pd.DataFrame(rows, columns=["kpi", "value"], dtype=object)

    @tiers.resuming
    def to_dict(self, *, mismatch_rows: int = 50) -> dict[str, Any]:
        """A JSON-ready dict: config, engine, seed, restrictions, kpis, fidelity and the
        first mismatch rows (no timings, so the same replay gives the same bytes)."""
        out: dict[str, Any] = {
            "config": self.config_label,
            "config_sha256": hashlib.sha256(self.config.to_json().encode()).hexdigest(),
            "engine": self.engine,
            "seed": self.seed,
            "restrictions": self.restrictions,
            "kpis": self.kpis,
            "fidelity": self.fidelity,
        }
        if self.comparison is not None:
            out["mismatched_page_views"] = len(self.comparison.mismatched_pvi)
            rows = []
            if len(self.comparison.mismatched_pvi):
                assert self.mismatches is not None
                head = self.mismatches.head(mismatch_rows).astype(object)
                head["event_at"] = [iso(to_ms(t)) for t in head["event_at"]]
                rows = head.where(head.notna(), None).to_dict("records")
            out["first_mismatches"] = rows
        return jsonable(out)

    def to_json(self, *, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)
