"""Arrivals: when visits start, with a daily and weekly cycle in each visitor's zone.

Visit starts follow a nonhomogeneous Poisson process over the span: the span is cut into
UTC hours; a visit of a visitor living in zone ``z`` falls in hour ``h`` with probability
proportional to ``hour_weights[local hour of h in z] * weekday_weights[local weekday of h
in z]``, then uniformly within the hour (millisecond resolution). Daylight-saving changes
are honoured (the span's local days can last 23 or 25 hours).

>>> from engage_lab.world.params import WorldParams
>>> span = Span.of(WorldParams(), days=7)
>>> span.start_iso, span.hours
('2026-03-01T23:00:00Z', 168)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from engage_lab.world.params import WorldParams

__all__ = ["HOUR_MS", "Span", "local_midnight_ms", "sample_starts"]

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


def local_midnight_ms(day: date, timezone: str) -> int:
    """UTC milliseconds of local midnight of ``day`` in ``timezone``.

    >>> local_midnight_ms(date(2026, 3, 2), "Europe/Paris")
    1772406000000
    """
    local = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(timezone))
    return int(local.timestamp()) * 1000


@dataclass(frozen=True, slots=True)
class Span:
    """The generated period: ``days`` local days of the source zone, cut into UTC hours."""

    start_ms: int
    end_ms: int
    days: int
    first_day: date

    @classmethod
    def of(cls, params: WorldParams, days: int) -> Span:
        first = date.fromisoformat(params.start_date)
        start = local_midnight_ms(first, params.timezone)
        end = local_midnight_ms(first + timedelta(days=days), params.timezone)
        return cls(start, end, days, first)

    @property
    def hours(self) -> int:
        return (self.end_ms - self.start_ms) // HOUR_MS

    @property
    def start_iso(self) -> str:
        return datetime.fromtimestamp(self.start_ms / 1000, ZoneInfo("UTC")).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )

    def hour_starts(self) -> np.ndarray:
        """UTC millisecond start of every hour of the span."""
        return self.start_ms + np.arange(self.hours, dtype=np.int64) * HOUR_MS

    def local_hour_weekday(self, timezone: str) -> tuple[np.ndarray, np.ndarray]:
        """Local hour (0–23) and weekday (Monday 0) of each hour start in ``timezone``."""
        zone = ZoneInfo(timezone)
        hours = np.empty(self.hours, dtype=np.int8)
        weekdays = np.empty(self.hours, dtype=np.int8)
        for i, ms in enumerate(self.hour_starts().tolist()):
            local = datetime.fromtimestamp(ms // 1000, zone)
            hours[i] = local.hour
            weekdays[i] = local.weekday()
        return hours, weekdays

    def hour_weights(self, params: WorldParams, timezone: str) -> np.ndarray:
        """Arrival intensity of each UTC hour of the span for visitors living in ``timezone``."""
        hours, weekdays = self.local_hour_weekday(timezone)
        return np.asarray(params.hour_weights)[hours] * np.asarray(params.weekday_weights)[weekdays]


def sample_starts(
    rng: np.random.Generator,
    span: Span,
    params: WorldParams,
    zone_of_visit: np.ndarray,
    zones: tuple[str, ...],
) -> np.ndarray:
    """Draw one start (UTC ms) per visit; ``zone_of_visit`` indexes ``zones``.

    Draws zone by zone in ``zones`` order, so the result depends only on the generator
    and the inputs.
    """
    starts = np.empty(len(zone_of_visit), dtype=np.int64)
    hour_starts = span.hour_starts()
    for z, zone in enumerate(zones):
        idx = np.flatnonzero(zone_of_visit == z)
        if len(idx) == 0:
            continue
        weights = span.hour_weights(params, zone)
        cdf = np.cumsum(weights)
        cdf /= cdf[-1]
        hour = np.searchsorted(cdf, rng.random(len(idx)), side="right")
        hour = np.minimum(hour, len(cdf) - 1)
        starts[idx] = hour_starts[hour] + rng.integers(0, HOUR_MS, len(idx))
    return starts
