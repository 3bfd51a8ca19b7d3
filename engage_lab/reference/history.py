"""An in-memory, per-visitor view of the history tables, in integer milliseconds (UTC).

The reference Chat Manager reads a visitor's page views, custom-variable changes,
identities, threads and recorded chat events from here. Build it from the tables of a
loaded database (:meth:`History.from_connection`) or from DataFrames with the schema's
columns (:meth:`History.from_frames`, what the world generator holds).

Two rules are applied once, here, so the Chat Manager never has to think about them:

* a variable change at or after its page view's ``ended_at`` belongs to the next page view
  of the visitor (and, before that page starts, is part of its initial state); with no
  next page view it is dropped;
* visits: a visit is a run of page views (in ``(started_at, page_view_id)`` order) in which
  no page view starts more than the visit idle duration after the latest end before it.
  :meth:`History.with_visit_idle` re-derives them when a configuration's ``visit_idle``
  differs from the one the history was loaded with.

>>> import pandas as pd
>>> pv = pd.DataFrame({"page_view_id": ["p1", "p2"], "visitor_id": ["v", "v"],
...                    "started_at": [0, 90_000_000], "ended_at": [1000, 90_001_000],
...                    "url": ["https://s.example/a", "https://s.example/b"]})
>>> h = History.from_frames({"page_views": pv})
>>> [p.visit_id for p in h.visitor("v").page_views]   # 25 h apart: two visits
['p1', 'p2']
>>> [p.visit_id for p in h.with_visit_idle(lambda t: 48 * 3600_000).visitor("v").page_views]
['p1', 'p1']
"""

from __future__ import annotations

import bisect
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from operator import attrgetter
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from sqlglot import exp

from engage_lab.availability.state import NEVER, to_ms_array
from engage_lab.data import schema
from engage_lab.errors import EngineError, one_source_message

__all__ = [
    "History",
    "IdentitySet",
    "PageView",
    "RecordedEvent",
    "Thread",
    "VarChange",
    "VisitorHistory",
    "WebChat",
]

_T = TypeVar("_T")
_TABLES = (
    "source",
    "source_status",
    "page_views",
    "var_changes",
    "identities",
    "threads",
    "chat_events",
    "agents",
    "presence",
    "conversations",
)


@dataclass(frozen=True, slots=True)
class PageView:
    """One page view ``[started_at, ended_at)`` (ms); ``placeholders`` are fixed-button ids."""

    page_view_id: str
    visitor_id: str
    visit_id: str
    started_at: int
    ended_at: int
    url: str | None = None
    path: str | None = None
    title: str | None = None
    referrer: str | None = None
    device: str | None = None
    embedded: bool = False
    page_change: bool = False
    placeholders: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class VarChange:
    """A custom variable set on a page view at ``changed_at`` (value as a Python value)."""

    var_change_id: str
    page_view_id: str
    name: str
    value: Any
    changed_at: int


@dataclass(frozen=True, slots=True)
class IdentitySet:
    """An identity set on a visitor at ``set_at``."""

    identity_id: str
    visitor_id: str
    uuid: str | None
    signed: bool
    set_at: int


@dataclass(frozen=True, slots=True)
class Thread:
    """A messaging thread; open at ``t`` iff opened, not locked and not closed at ``t``."""

    thread_id: str
    identity_id: str
    opened_at: int
    locked_at: int | None = None
    closed_at: int | None = None
    identity_initiated_thread: bool = False

    def is_open(self, t: int) -> bool:
        """Opened at or before ``t`` and neither locked nor closed at ``t``."""
        return (
            self.opened_at <= t
            and (self.locked_at is None or self.locked_at > t)
            and (self.closed_at is None or self.closed_at > t)
        )


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """A recorded chat event (only what the engagement source needs)."""

    chat_event_id: str
    page_view_id: str
    visitor_id: str
    event_at: int
    event: str


@dataclass(frozen=True, slots=True)
class WebChat:
    """A recorded web-chat conversation of a visitor."""

    conversation_id: str
    visitor_id: str
    page_view_id: str | None
    queued_at: int
    started_at: int | None
    ended_at: int | None
    outcome: str | None


@dataclass(frozen=True)
class VisitorHistory:
    """Everything recorded about one visitor, sorted by time."""

    visitor_id: str
    page_views: tuple[PageView, ...]
    #: page_view_id -> changes in ``(changed_at, var_change_id)`` order (after reassignment).
    var_changes: Mapping[str, tuple[VarChange, ...]]
    identities: tuple[IdentitySet, ...]
    recorded_events: tuple[RecordedEvent, ...] = ()
    web_chats: tuple[WebChat, ...] = ()

    def changes(self, page_view_id: str) -> tuple[VarChange, ...]:
        """The variable changes that belong to a page view, in time order."""
        return self.var_changes.get(page_view_id, ())


@dataclass(frozen=True)
class History:
    """The recorded history of one chat source, indexed per visitor (times in ms, UTC).

    Attributes
    ----------
    mode, timezone, seed
        The ``source`` record (``None`` when the history has none).
    visitors
        ``visitor_id -> VisitorHistory``, in visitor id order.
    visit_idle_ms
        The idle duration the visits were derived with.
    frames
        The agent tables (``agents``, ``presence``, ``conversations``) for availability.
    """

    visitors: Mapping[str, VisitorHistory]
    mode: str | None = None
    timezone: str | None = None
    seed: str | None = None
    status_changes: tuple[tuple[int, str, str], ...] = ()
    threads_by_identity: Mapping[str, tuple[Thread, ...]] = field(default_factory=dict)
    identity_keys: Mapping[str, str] = field(default_factory=dict)
    visit_idle_ms: int = schema.DEFAULT_VISIT_IDLE_MS
    frames: Mapping[str, pd.DataFrame] = field(default_factory=dict)

    # ----------------------------------------------------------------- building
    @classmethod
    def from_connection(cls, con: Any) -> History:
        """Read every table of an engage_lab database (a DuckDB connection).

        Var-change values are stored as JSON text there and are decoded.
        """
        frames: dict[str, pd.DataFrame] = {}
        try:
            cursor = con.cursor()  # its own result set: the caller's stays untouched
            for name in _TABLES:
                query = exp.select("*").from_(exp.to_identifier(name, quoted=True))
                frames[name] = cursor.execute(query.sql("duckdb")).df()
            query = exp.select("*").from_(exp.to_identifier(schema.META_TABLE, quoted=True))
            meta = cursor.execute(query.sql("duckdb")).df()
        except Exception as exc:  # duckdb.Error and friends: translate at the boundary
            raise EngineError(f"cannot read the history tables: {exc}") from exc
        idle = schema.DEFAULT_VISIT_IDLE_MS
        rows = meta[meta["key"] == "visit_idle_ms"]["value"].tolist()
        if rows:
            idle = int(rows[0])
        return cls.from_frames(frames, values_are_json=True, visit_idle_ms=idle)

    @classmethod
    def from_frames(
        cls,
        frames: Mapping[str, pd.DataFrame],
        *,
        values_are_json: bool = False,
        visit_idle_ms: int | None = None,
    ) -> History:
        """Build from DataFrames named like the tables (missing tables are empty).

        Times may be datetimes (naive = UTC), strings or epoch milliseconds. A page view
        without ``ended_at`` ends at its last var change, or 30 minutes after its start.
        Without ``visit_id`` the visits are derived with ``visit_idle_ms`` (24 h).
        ``values_are_json``: var-change values are JSON text (as DuckDB stores them).
        """
        idle = schema.DEFAULT_VISIT_IDLE_MS if visit_idle_ms is None else int(visit_idle_ms)
        source = _rows(frames.get("source"))
        if len(source) > 1:  # never one picked by chance: seed and zone would change
            raise EngineError(one_source_message(sorted(str(r.get("source_id")) for r in source)))
        first = source[0] if source else {}
        status = sorted(
            (_ms(r["changed_at"]), str(r.get("source_status_id") or ""), str(r["status"]))
            for r in _rows(frames.get("source_status"))
        )
        changes = [
            VarChange(
                str(r["var_change_id"]),
                str(r["page_view_id"]),
                str(r["name"]),
                _value(r.get("value"), values_are_json),
                _ms(r["changed_at"]),
            )
            for r in _rows(frames.get("var_changes"))
        ]
        last_change: dict[str, int] = {}
        for c in changes:
            last_change[c.page_view_id] = max(
                last_change.get(c.page_view_id, c.changed_at), c.changed_at
            )
        pages = [_page_view(r, last_change) for r in _rows(frames.get("page_views"))]
        derive = any(p.visit_id == "" for p in pages)
        identities = [
            IdentitySet(
                str(r["identity_id"]),
                str(r["visitor_id"]),
                _text(r.get("uuid")),
                bool(_flag(r.get("signed"))),
                _ms(r["set_at"]),
            )
            for r in _rows(frames.get("identities"))
        ]
        keys = {
            i.identity_id: (f"uuid:{i.uuid}" if i.uuid else f"id:{i.identity_id}")
            for i in identities
        }
        threads: dict[str, list[Thread]] = defaultdict(list)
        for r in _rows(frames.get("threads")):
            t = Thread(
                str(r["thread_id"]),
                str(r["identity_id"]),
                _ms(r["opened_at"]),
                _ms_or_none(r.get("locked_at")),
                _ms_or_none(r.get("closed_at")),
                bool(_flag(r.get("identity_initiated_thread"))),
            )
            threads[keys.get(t.identity_id, f"id:{t.identity_id}")].append(t)
        events = [
            RecordedEvent(
                str(r["chat_event_id"]) if r.get("chat_event_id") is not None else str(i),
                str(r["page_view_id"]),
                str(r["visitor_id"]),
                _ms(r["event_at"]),
                str(r["event"]),
            )
            for i, r in enumerate(_rows(frames.get("chat_events")))
        ]
        chats = [
            WebChat(
                str(r["conversation_id"]),
                str(r["visitor_id"]),
                _text(r.get("page_view_id")),
                _ms(r["queued_at"]),
                _ms_or_none(r.get("started_at")),
                _ms_or_none(r.get("ended_at")),
                _text(r.get("outcome")),
            )
            for r in _rows(frames.get("conversations"))
            if r.get("channel") == "web_chat" and _text(r.get("visitor_id")) is not None
        ]
        visitors = _group_visitors(pages, changes, identities, events, chats)
        history = cls(
            visitors=visitors,
            mode=_text(first.get("mode")),
            timezone=_text(first.get("timezone")),
            seed=_text(first.get("seed")),
            status_changes=tuple(status),
            threads_by_identity={
                k: tuple(sorted(v, key=lambda t: (t.opened_at, t.thread_id)))
                for k, v in threads.items()
            },
            identity_keys=keys,
            visit_idle_ms=idle,
            frames={
                name: frames[name]
                for name in ("agents", "presence", "conversations")
                if name in frames
            },
        )
        return history.with_visit_idle(lambda t: idle, force=True) if derive else history

    # ----------------------------------------------------------------- reading
    def visitor(self, visitor_id: str) -> VisitorHistory:
        """One visitor's history (``KeyError`` if unknown)."""
        return self.visitors[visitor_id]

    def status_at(self, t: int) -> str:
        """The source status in force at ``t`` (``active`` before any record)."""
        i = bisect.bisect_right(self.status_changes, (t, "\uffff", "")) - 1
        return "active" if i < 0 else self.status_changes[i][2]

    def threads_of(self, identity: IdentitySet) -> tuple[Thread, ...]:
        """The threads of an identity: those of every identity sharing its uuid, if any."""
        key = f"uuid:{identity.uuid}" if identity.uuid else f"id:{identity.identity_id}"
        return self.threads_by_identity.get(key, ())

    def with_visit_idle(self, idle_at: Callable[[int], int], *, force: bool = False) -> History:
        """The same history with visits re-derived; ``idle_at(started_at)`` is the idle
        duration in force for a page view (the configuration in force at its start).

        Returns ``self`` unchanged when ``idle_at`` always gives :attr:`visit_idle_ms`
        for this history's page views and ``force`` is false.
        """
        if not force and all(
            idle_at(p.started_at) == self.visit_idle_ms
            for v in self.visitors.values()
            for p in v.page_views
        ):
            return self
        visitors = {
            vid: replace(v, page_views=_derive_visits(v.page_views, idle_at))
            for vid, v in self.visitors.items()
        }
        return replace(self, visitors=visitors)

    def page_view_count(self) -> int:
        """Number of page views."""
        return sum(len(v.page_views) for v in self.visitors.values())


# --------------------------------------------------------------------- helpers


def _rows(frame: pd.DataFrame | None) -> list[dict[str, Any]]:
    if frame is None or len(frame) == 0:
        return []
    # Column by column (one conversion per column), then one dict per row.
    columns: dict[str, list[Any]] = {}
    for col in frame.columns:
        if col.endswith("_at"):
            values = to_ms_array(frame[col]).tolist()
            columns[col] = [None if v == NEVER else int(v) for v in values]
        else:
            columns[col] = [None if _missing(v) else _native(v) for v in frame[col].tolist()]
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _native(v: Any) -> Any:
    """A numpy scalar as the Python scalar (what ``DataFrame.to_dict`` gives)."""
    return v.item() if isinstance(v, np.generic) else v


def _missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float | int | str | bool):
        return isinstance(v, float) and v != v
    try:
        return bool(pd.isna(v)) if not hasattr(v, "__len__") else False
    except (TypeError, ValueError):
        return False


def _ms(v: Any) -> int:
    if v is None:
        raise EngineError("a required instant is missing in the history")
    return int(v)


def _ms_or_none(v: Any) -> int | None:
    return None if v is None else int(v)


def _text(v: Any) -> str | None:
    return None if v is None else str(v)


def _flag(v: Any) -> bool:
    return bool(v) if v is not None else False


def _value(v: Any, is_json: bool) -> Any:
    if is_json and isinstance(v, str):
        return json.loads(v)
    if hasattr(v, "item") and not isinstance(v, str):
        return v.item()  # numpy scalar -> Python scalar
    return v


def _page_view(r: dict[str, Any], last_change: Mapping[str, int]) -> PageView:
    pid = str(r["page_view_id"])
    start = _ms(r["started_at"])
    end = r.get("ended_at")
    if end is None:
        last = last_change.get(pid)
        end = max(last, start) if last is not None else start + schema.INFERRED_PAGE_LENGTH_MS
    holders = r.get("placeholders")
    return PageView(
        page_view_id=pid,
        visitor_id=str(r["visitor_id"]),
        visit_id=_text(r.get("visit_id")) or "",
        started_at=start,
        ended_at=int(end),
        url=_text(r.get("url")),
        path=_text(r.get("path")) if r.get("path") is not None else _path_of(r.get("url")),
        title=_text(r.get("title")),
        referrer=_text(r.get("referrer")),
        device=_text(r.get("device")),
        embedded=_flag(r.get("embedded")),
        page_change=_flag(r.get("page_change")),
        placeholders=frozenset(str(x) for x in (holders if holders is not None else ())),
    )


def _path_of(url: Any) -> str | None:
    """The loader's rule: URL without scheme, host and anchor (query kept), starting with /."""
    if url is None:
        return None
    p = re.sub(r"#.*$", "", re.sub(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*", "", str(url)))
    return "/" + p if p == "" or p[0] == "?" else p


def _grouped(items: Iterable[_T], key: Callable[[_T], str]) -> defaultdict[str, list[_T]]:
    """``items`` by ``key``, each group in the order given."""
    groups: defaultdict[str, list[_T]] = defaultdict(list)
    for item in items:
        groups[key(item)].append(item)
    return groups


def _group_visitors(
    pages: Iterable[PageView],
    changes: Iterable[VarChange],
    identities: Iterable[IdentitySet],
    events: Iterable[RecordedEvent],
    chats: Iterable[WebChat],
) -> dict[str, VisitorHistory]:
    by_visitor = _grouped(pages, attrgetter("visitor_id"))
    page_of = {p.page_view_id: p for p in pages}
    changes_by_page = _grouped(changes, attrgetter("page_view_id"))
    ids = _grouped(identities, attrgetter("visitor_id"))
    evs = _grouped(events, attrgetter("visitor_id"))
    wcs = _grouped(chats, attrgetter("visitor_id"))
    out: dict[str, VisitorHistory] = {}
    for vid in sorted(set(by_visitor) | set(ids)):
        ordered = tuple(
            sorted(by_visitor.get(vid, []), key=lambda p: (p.started_at, p.page_view_id))
        )
        out[vid] = VisitorHistory(
            visitor_id=vid,
            page_views=ordered,
            var_changes=_assign_changes(ordered, changes_by_page, page_of),
            identities=tuple(sorted(ids.get(vid, []), key=lambda i: (i.set_at, i.identity_id))),
            recorded_events=tuple(
                sorted(evs.get(vid, []), key=lambda e: (e.event_at, e.chat_event_id))
            ),
            web_chats=tuple(
                sorted(wcs.get(vid, []), key=lambda w: (w.queued_at, w.conversation_id))
            ),
        )
    return out


def _assign_changes(
    ordered: tuple[PageView, ...],
    changes_by_page: Mapping[str, list[VarChange]],
    page_of: Mapping[str, PageView],
) -> dict[str, tuple[VarChange, ...]]:
    """A change at or after its page's end moves to the next page view that has not ended."""
    position = {p.page_view_id: i for i, p in enumerate(ordered)}
    assigned: dict[str, list[VarChange]] = defaultdict(list)
    for pid in position:
        for c in changes_by_page.get(pid, []):
            i = position[pid]
            while i < len(ordered) and c.changed_at >= ordered[i].ended_at:
                i += 1
            if i < len(ordered):
                assigned[ordered[i].page_view_id].append(c)
    return {
        pid: tuple(sorted(cs, key=lambda c: (c.changed_at, c.var_change_id)))
        for pid, cs in assigned.items()
    }


def _derive_visits(
    pages: tuple[PageView, ...], idle_at: Callable[[int], int]
) -> tuple[PageView, ...]:
    out: list[PageView] = []
    latest_end: int | None = None
    visit_id = ""
    for p in pages:
        if latest_end is None or p.started_at - latest_end > idle_at(p.started_at):
            visit_id = p.page_view_id
        out.append(replace(p, visit_id=visit_id))
        latest_end = p.ended_at if latest_end is None else max(latest_end, p.ended_at)
    return tuple(out)
