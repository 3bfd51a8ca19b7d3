"""The state of a page view at an instant, as the conditions module reads it.

For criteria, :func:`criteria_pages` gives the visit's pages oldest first, each a dict of
criterion id → value (past pages by their final state, the last one current at ``t``),
ready for :func:`engage_lab.conditions.evaluate_criteria`. For expressions,
:func:`attributes` gives the nested attribute document of
:mod:`engage_lab.conditions.vocabulary` for :func:`engage_lab.conditions.evaluate`.

Definitions (docs/semantics.md):

* ``page_visit_duration(t) = (t - started_at) / 1000`` and ``visit_duration(t) = (t -
  visit start) / 1000`` seconds (doubles); a past page is measured at its end (its
  ``ended_at``, or the visitor's next page view's start when that comes first).
* ``page_visit_count``: 1-based index of the page view in its visit; ``visit_count``:
  1-based index of the visit among the visitor's visits.
* a custom variable's value at ``t`` is the latest change of this page view with
  ``changed_at <= t`` (a page starts with none); a past page keeps its last value.
* ``identity`` / ``signed_identity``: an identity (signed) was set at or before ``t``;
  on a past page, before its end.
* ``time`` (``"HH:MM"``), ``hour`` and ``day_of_week`` are read in the source timezone at
  ``t`` (a past page: at its end).
* ``chat_shown`` / ``chat_opened``: the chat state on the page view at ``t`` (past pages:
  their final state), maintained by the Chat Manager.
* expressions address a custom variable ``custom_plan`` as ``vars.custom_plan`` or
  ``vars.plan``.

>>> from engage_lab.reference.history import PageView
>>> p = PageView("p1", "v1", "p1", 0, 60_000, url="https://s.example/cart", path="/cart")
>>> ctx = PageContext(p, index=1, visit_count=1, visit_start=0, changes=(), identities=(),
...                   timezone="UTC")
>>> values = ctx.values_at(45_000, chat_shown=False, chat_opened=False)
>>> values["page_visit_duration"], values["time"], values["day_of_week"]
(45.0, '00:00', 'Thursday')
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from engage_lab.conditions.vocabulary import DAY_NAMES
from engage_lab.reference.history import IdentitySet, PageView, VarChange

__all__ = ["PageContext", "attributes", "criteria_pages", "local_clock"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def local_clock(t: int, timezone: str) -> tuple[str, int, str]:
    """``("HH:MM", hour, day name)`` of instant ``t`` (ms) in ``timezone``.

    >>> local_clock(0, "Europe/Paris")
    ('01:00', 1, 'Thursday')
    """
    # Zone offsets in use are whole minutes: the clock reading is that of the UTC minute.
    return _clock_of_minute(t // 60_000, timezone)


@functools.lru_cache(maxsize=65536)
def _clock_of_minute(minute: int, timezone: str) -> tuple[str, int, str]:
    local = (_EPOCH + dt.timedelta(minutes=minute)).astimezone(_zone(timezone))
    return f"{local.hour:02d}:{local.minute:02d}", local.hour, DAY_NAMES[local.weekday()]


_ZONES: dict[str, zoneinfo.ZoneInfo] = {}


def _zone(name: str) -> zoneinfo.ZoneInfo:
    if name not in _ZONES:
        _ZONES[name] = zoneinfo.ZoneInfo(name)
    return _ZONES[name]


@dataclass(frozen=True)
class PageContext:
    """The static facts of one page view within its visit; values at any instant.

    ``changes`` are the page view's variable changes in time order; ``identities`` the
    visitor's identities in ``set_at`` order.
    """

    page: PageView
    index: int
    visit_count: int
    visit_start: int
    changes: tuple[VarChange, ...]
    identities: tuple[IdentitySet, ...]
    timezone: str
    #: values_at results by (t, chat shown, chat opened)
    _values_memo: dict[tuple[int, bool, bool], dict[str, Any]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def variables_at(self, t: int) -> dict[str, Any]:
        """``name -> value`` of the latest change at or before ``t`` (ties: greater id)."""
        out: dict[str, Any] = {}
        for change in self.changes:  # sorted by (changed_at, var_change_id)
            if change.changed_at <= t:
                out[change.name] = change.value
        return out

    def identity_at(self, t: int) -> tuple[bool, bool]:
        """``(identity, signed_identity)`` at ``t`` (set at or before ``t``)."""
        identity = signed = False
        for i in self.identities:  # sorted by set_at
            if i.set_at > t:
                break
            identity, signed = True, signed or i.signed
        return identity, signed

    def _values(
        self, clock_t: int, duration_t: int, state_t: int, shown: bool, opened: bool
    ) -> dict[str, Any]:
        hhmm, hour, day = local_clock(clock_t, self.timezone)
        identity, signed = self.identity_at(state_t)
        values: dict[str, Any] = {
            "chat_opened": opened,
            "chat_shown": shown,
            "day_of_week": day,
            "time": hhmm,
            "hour": hour,
            "identity": identity,
            "signed_identity": signed,
            "page_path": self.page.path,
            "page_url": self.page.url,
            "page_title": self.page.title,
            "page_visit_count": self.index,
            "visit_count": self.visit_count,
            "page_visit_duration": (duration_t - self.page.started_at) / 1000,
            "visit_duration": (duration_t - self.visit_start) / 1000,
        }
        values.update(self.variables_at(state_t))
        return values

    def values_at(self, t: int, *, chat_shown: bool, chat_opened: bool) -> dict[str, Any]:
        """The criteria values of this page as the current page at ``t`` (remembered:
        the same dict for the same arguments; read it, do not change it)."""
        key = (t, chat_shown, chat_opened)
        memo = self._values_memo
        if key not in memo:
            memo[key] = self._values(t, t, t, chat_shown, chat_opened)
        return memo[key]

    def final_values(
        self, *, chat_shown: bool, chat_opened: bool, end: int | None = None
    ) -> dict[str, Any]:
        """The criteria values of this page as a past page: its final state, at its end
        (``end``: where it stopped, the visitor's next page view's start when that
        comes before ``ended_at``; default ``ended_at``)."""
        end = self.page.ended_at if end is None else end
        return self._values(end, end, end - 1, chat_shown, chat_opened)


def criteria_pages(past: Sequence[dict[str, Any]], current: dict[str, Any]) -> list[dict[str, Any]]:
    """The visit's pages oldest first, the current one last (for ``evaluate_criteria``)."""
    return [*past, current]


def attributes(
    ctx: PageContext,
    t: int,
    *,
    chat_shown: bool,
    chat_opened: bool,
    visit_pages: Sequence[PageView],
) -> dict[str, Any]:
    """The expression attributes at ``t`` (``visit_pages``: the visit's pages so far,
    the current one last).

    >>> from engage_lab.reference.history import PageView
    >>> p = PageView("p1", "v1", "p1", 0, 9_000, url="https://s.example/a", path="/a")
    >>> ctx = PageContext(p, 1, 1, 0, (), (), "UTC")
    >>> a = attributes(ctx, 1500, chat_shown=True, chat_opened=False, visit_pages=[p])
    >>> a["page"]["duration"], a["visit"]["paths"], a["chat"]
    (1.5, ['/a'], {'shown': True, 'opened': False})
    """
    hhmm, hour, day = local_clock(t, ctx.timezone)
    identity, signed = ctx.identity_at(t)
    variables: dict[str, Any] = {}
    for name, value in ctx.variables_at(t).items():
        variables[name] = value
        if name.startswith("custom_"):
            variables.setdefault(name[len("custom_") :], value)
    page = ctx.page
    return {
        "page": {
            "url": page.url,
            "path": page.path,
            "title": page.title,
            "referrer": page.referrer,
            "device": page.device,
            "count": ctx.index,
            "duration": (t - page.started_at) / 1000,
        },
        "visit": {
            "count": ctx.visit_count,
            "duration": (t - ctx.visit_start) / 1000,
            "urls": [p.url for p in visit_pages],
            "paths": [p.path for p in visit_pages],
        },
        "visitor": {"id": page.visitor_id, "identity": identity, "signed_identity": signed},
        "time": {"day_of_week": day, "time": hhmm, "hour": hour},
        "chat": {"shown": chat_shown, "opened": chat_opened},
        "vars": variables,
    }
