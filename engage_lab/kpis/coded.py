"""Events and page views as integer codes: what every KPI is computed from.

Both engines meet here. The fast engine hands over its arrays as they are; a frame of
events (:mod:`engage_lab.events` schema) and of page views is coded once by
:meth:`CodedEvents.from_frames`. Strings (ids) are only looked up for the few rows a
table shows.

* :class:`PageTable`: the replayed page views, with dense visit and visitor codes (in
  order of first page view), start and end in ms; ids on demand;
* :class:`CodedEvents`: one row per event: the page view (index into the page table,
  ``-1`` for a page view that was not replayed), the instant, and one 31-bit ``code``
  packing event, stage, mode, trigger and item (:func:`pack`; 16 bytes an event in all,
  so a 10 M page-view replay's 45 M events stay small).

>>> import pandas as pd
>>> from engage_lab.events import EventRecord, events_to_frame
>>> pages = pd.DataFrame({"page_view_id": ["p1", "p2"], "visitor_id": ["v", "v"],
...                       "visit_id": ["a", "b"], "started_at": [0, 5]})
>>> ev = events_to_frame([EventRecord("v", "b", "p2", 7, "chat_shown", "messaging")])
>>> coded, table = CodedEvents.from_frames(ev, pages)
>>> coded.pvi.tolist(), table.visit.tolist(), EVENTS[coded.event[0]]
([1], [0, 1], 'chat_shown')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from engage_lab.availability.state import to_ms_array
from engage_lab.events import EVENT_COLUMNS, EVENT_RANK, STAGES

__all__ = [
    "EVENTS",
    "MAX_ITEMS",
    "MAX_TRIGGERS",
    "MODES",
    "CodedEvents",
    "PageTable",
    "code_of",
    "decode",
    "pack",
]

#: The event vocabulary (codes index it).
EVENTS: tuple[str, ...] = tuple(EVENT_RANK)
#: Mode codes: 0 none, 1 online, 2 offline.
MODES = (None, "online", "offline")
_EVENT_CODE = {e: k for k, e in enumerate(EVENTS)}
_STAGE_CODE = {s: k for k, s in enumerate(STAGES)}


#: bit layout of a packed code: event (4 bits), stage (3), mode (2), trigger + 1 (11),
#: item + 1 (11)
STAGE_SHIFT, MODE_SHIFT, TRIGGER_SHIFT, ITEM_SHIFT = 4, 7, 9, 20
MAX_TRIGGERS = MAX_ITEMS = (1 << 11) - 2


def pack(event: Any, stage: Any, mode: Any, trigger: Any, item: Any) -> Any:
    """Pack codes (arrays or ints; trigger / item ``-1``: null) into one int32 code.

    >>> unpacked = CodedEvents(np.array([0]), np.array([5]), np.array([pack(2, 3, 1, 0, -1)]),
    ...                        ("t",), ())
    >>> [int(x[0]) for x in (unpacked.event, unpacked.stage, unpacked.mode, unpacked.trigger)]
    [2, 3, 1, 0]
    """
    code = (
        np.asarray(event, np.int64)
        | (np.asarray(stage, np.int64) << STAGE_SHIFT)
        | (np.asarray(mode, np.int64) << MODE_SHIFT)
        | ((np.asarray(trigger, np.int64) + 1) << TRIGGER_SHIFT)
        | ((np.asarray(item, np.int64) + 1) << ITEM_SHIFT)
    )
    return code.astype(np.int32)


def decode(
    values: Sequence[str | None] | pa.Array | pa.ChunkedArray, codes: Any, *, text: bool = False
) -> Any:
    """The values that ``codes`` index; a negative code (or a None value) is null.

    The one decoding of codes to names (events, stages, modes, trigger and item ids, page
    ids). ``text=False``: an object array, None for null (small frames). ``text=True``: a
    pandas ``str`` Series, NaN for null, built with one Arrow take (the fast engine's
    events frame, tens of millions of rows).

    >>> decode(["a", "b"], np.array([1, -1, 0])).tolist()
    ['b', None, 'a']
    >>> decode(["a", "b"], np.array([1, -1])).tolist(), str(decode(["a"], [0], text=True).dtype)
    (['b', None], 'str')
    """
    codes = np.asarray(codes, np.int64)
    if not text:
        table = np.array([*values, None], dtype=object)
        return table[np.where(codes >= 0, codes, len(table) - 1)]
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    array = values if isinstance(values, pa.Array) else pa.array(values, pa.string())
    array = pa.concat_arrays([array.cast(pa.string()), pa.nulls(1, pa.string())])
    taken = array.take(pa.array(np.where(codes >= 0, codes, len(array) - 1)))
    return pd.Series(taken.to_pandas(types_mapper=_STR.get))


_STR = {pa.string(): pd.StringDtype("pyarrow", na_value=np.nan)}


def code_of(name: str) -> int:
    """The code of an event name.

    >>> EVENTS[code_of("trigger_executed")]
    'trigger_executed'
    """
    return _EVENT_CODE[name]


@dataclass
class PageTable:
    """The replayed page views (the KPIs' denominators).

    ``visit`` and ``visitor`` are dense codes per page view, numbered in order of first
    page view; ``start`` / ``end`` are ms. The id getters return string arrays (page view
    ids per page view, visit and visitor ids per code), computed on first use.
    """

    visit: np.ndarray
    visitor: np.ndarray
    start: np.ndarray
    end: np.ndarray
    n_visits: int
    n_visitors: int
    page_view_ids: Callable[[], np.ndarray]
    visit_ids: Callable[[], np.ndarray]
    visitor_ids: Callable[[], np.ndarray]
    paths: Callable[[], np.ndarray] | None = None
    _memo: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.start)

    def ids(self, what: str) -> np.ndarray:
        """``page_view``, ``visit``, ``visitor`` or ``path`` strings (remembered)."""
        if what not in self._memo:
            getter = {
                "page_view": self.page_view_ids,
                "visit": self.visit_ids,
                "visitor": self.visitor_ids,
                "path": self.paths,
            }[what]
            if getter is None:
                raise KeyError(f"the page table has no {what}")
            self._memo[what] = np.asarray(getter(), dtype=object)
        return self._memo[what]

    def remembered(self, name: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """``compute()`` of these page views, computed once (per-visit facts that every
        replay over the same page views reads)."""
        key = f"derived:{name}"
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    @classmethod
    def from_frame(cls, pages: pd.DataFrame) -> PageTable:
        """A page table from a frame with ``page_view_id, visitor_id, visit_id`` and
        optionally ``started_at``, ``ended_at``, ``path``."""
        visit_codes, visit_ids = pd.factorize(pages["visit_id"].astype(str), sort=False)
        visitor_codes, visitor_ids = pd.factorize(pages["visitor_id"].astype(str), sort=False)
        start = (
            to_ms_array(pages["started_at"].reset_index(drop=True))
            if "started_at" in pages
            else np.zeros(len(pages), np.int64)
        )
        end = (
            to_ms_array(pages["ended_at"].reset_index(drop=True)) if "ended_at" in pages else start
        )
        page_ids = pages["page_view_id"].to_numpy(dtype=object)
        paths = pages["path"].to_numpy(dtype=object) if "path" in pages else None
        return cls(
            visit=visit_codes.astype(np.int64),
            visitor=visitor_codes.astype(np.int64),
            start=np.asarray(start, np.int64),
            end=np.asarray(end, np.int64),
            n_visits=len(visit_ids),
            n_visitors=len(visitor_ids),
            page_view_ids=lambda: page_ids,
            visit_ids=lambda: np.asarray(visit_ids, dtype=object),
            visitor_ids=lambda: np.asarray(visitor_ids, dtype=object),
            paths=(lambda: paths) if paths is not None else None,
        )


@dataclass
class CodedEvents:
    """Events as codes (see the module docstring); ``trigger_ids`` / ``item_ids`` are the
    vocabularies the packed trigger and item index (``-1``: null). The unpacked fields
    (:attr:`event`, :attr:`stage`, :attr:`mode`, :attr:`trigger`, :attr:`item`) are
    computed when read."""

    pvi: np.ndarray
    t: np.ndarray
    code: np.ndarray
    trigger_ids: tuple[str, ...]
    item_ids: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.t)

    @property
    def event(self) -> np.ndarray:
        return (self.code & 0xF).astype(np.int8)

    @property
    def stage(self) -> np.ndarray:
        return ((self.code >> STAGE_SHIFT) & 0x7).astype(np.int8)

    @property
    def mode(self) -> np.ndarray:
        return ((self.code >> MODE_SHIFT) & 0x3).astype(np.int8)

    @property
    def trigger(self) -> np.ndarray:
        return (((self.code >> TRIGGER_SHIFT) & 0x7FF) - 1).astype(np.int32)

    @property
    def item(self) -> np.ndarray:
        return (((self.code >> ITEM_SHIFT) & 0x7FF) - 1).astype(np.int32)

    def where(self, mask: np.ndarray) -> CodedEvents:
        """The events where ``mask`` holds (or at the positions ``mask`` lists)."""
        return CodedEvents(
            self.pvi[mask], self.t[mask], self.code[mask], self.trigger_ids, self.item_ids
        )

    def recoded(self, trigger_ids: Sequence[str], item_ids: Sequence[str]) -> CodedEvents:
        """The same events under other vocabularies (which must hold every id used)."""
        tmap = np.array([list(trigger_ids).index(t) for t in self.trigger_ids] + [-1], np.int64)
        imap = np.array([list(item_ids).index(i) for i in self.item_ids] + [-1], np.int64)
        base = self.code & ((1 << TRIGGER_SHIFT) - 1)
        code = pack(
            base & 0xF,
            (base >> STAGE_SHIFT) & 0x7,
            (base >> MODE_SHIFT) & 0x3,
            tmap[self.trigger],
            imap[self.item],
        )
        return CodedEvents(self.pvi, self.t, code, tuple(trigger_ids), tuple(item_ids))

    def names(self) -> dict[str, np.ndarray]:
        """The codes as names (object arrays, None for null): ``event``, ``stage``,
        ``trigger_id``, ``item_id``, ``mode``.

        >>> c = CodedEvents(np.array([0]), np.array([5]), np.array([pack(2, 3, 1, 0, -1)]),
        ...                 ("t",), ())
        >>> {k: v.tolist() for k, v in c.names().items()}  # doctest: +NORMALIZE_WHITESPACE
        {'event': ['trigger_executed'], 'stage': ['configured'], 'trigger_id': ['t'],
         'item_id': [None], 'mode': ['online']}
        """
        return {
            "event": decode(EVENTS, self.event),
            "stage": decode(STAGES, self.stage),
            "trigger_id": decode(self.trigger_ids, self.trigger),
            "item_id": decode(self.item_ids, self.item),
            "mode": decode(MODES, self.mode),
        }

    def frame(self, table: PageTable) -> pd.DataFrame:
        """The events as an events frame (:mod:`engage_lab.events` columns) over the
        page table their ``pvi`` index, sorted by visitor, instant and page view; the
        codes hold no item kinds nor gating values (null)."""
        order = np.lexsort((self.pvi, self.t, table.visitor[self.pvi])) if len(self) else []
        c = self.where(np.asarray(order, np.int64)) if len(self) else self
        data = {
            "visitor_id": table.ids("visitor")[table.visitor[c.pvi]],
            "visit_id": table.ids("visit")[table.visit[c.pvi]],
            "page_view_id": table.ids("page_view")[c.pvi],
            "event_at": pd.to_datetime(c.t, unit="ms", utc=True).astype("datetime64[ms, UTC]"),
            **c.names(),
            "item_type": None,
            "server_probability": np.nan,
            "draw": np.nan,
        }
        return pd.DataFrame(data)[list(EVENT_COLUMNS)]

    def is_event(self, *names: str) -> np.ndarray:
        """Rows whose event is one of ``names``."""
        return np.isin(self.code & 0xF, [code_of(n) for n in names])

    @classmethod
    def from_frames(
        cls,
        events: pd.DataFrame,
        pages: pd.DataFrame,
        trigger_ids: Sequence[str] | None = None,
    ) -> tuple[CodedEvents, PageTable]:
        """Code an events frame against a page-views frame (events of page views missing
        from ``pages`` get ``pvi`` codes from ``len(pages)`` on, one per page view id)."""
        table = PageTable.from_frame(pages)
        index = pd.Index(pages["page_view_id"].astype(str))
        ids = events["page_view_id"].astype(str)
        pvi = index.get_indexer(ids)
        unknown = pvi < 0
        if unknown.any():
            extra, _ = pd.factorize(ids[unknown], sort=False)
            pvi = pvi.copy()
            pvi[unknown] = len(pages) + extra
        triggers = list(trigger_ids or ())
        trig_col = events["trigger_id"].astype(object)
        for value in pd.unique(trig_col.dropna()):
            if value not in triggers:
                triggers.append(str(value))
        trigger_code = {t: k for k, t in enumerate(triggers)}
        item_col = events["item_id"].astype(object)
        items = [str(v) for v in pd.unique(item_col.dropna())]
        item_code = {t: k for k, t in enumerate(items)}
        if len(triggers) > MAX_TRIGGERS or len(items) > MAX_ITEMS:
            raise ValueError(f"at most {MAX_TRIGGERS} triggers and {MAX_ITEMS} items are coded")
        code = pack(
            events["event"].map(_EVENT_CODE).to_numpy(dtype=np.int64),
            events["stage"].map(_STAGE_CODE).to_numpy(dtype=np.int64),
            events["mode"]
            .astype(object)
            .map({"online": 1, "offline": 2})
            .fillna(0)
            .to_numpy(np.int64),
            trig_col.map(trigger_code).fillna(-1).to_numpy(dtype=np.int64),
            item_col.map(item_code).fillna(-1).to_numpy(dtype=np.int64),
        )
        t = to_ms_array(events["event_at"].reset_index(drop=True)).astype(np.int64)
        return cls(np.asarray(pvi, np.int64), t, code, tuple(triggers), tuple(items)), table
