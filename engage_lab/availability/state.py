"""Availability state at instants, from the agent logs (Python timeline and DuckDB SQL).

Inputs are the tables of :mod:`engage_lab.data.schema`: ``agents(agent_id, soft_limit)``,
``presence(presence_id, agent_id, changed_at, status)`` and ``conversations(agent_id,
channel, queued_at, started_at, ended_at)``. Instant semantics (all half-open):

* a presence change at ``t`` applies from ``t``; an agent with no change at or before
  ``t`` is not available. Two changes of one agent at the same instant: the greatest
  ``presence_id`` wins. Agents missing from ``agents`` are ignored; a NULL soft limit is 0.
* ``capacity(t)`` = sum of the soft limits of agents available at ``t``.
* a conversation is **in progress** on ``[started_at, ended_at)`` (open-ended when
  ``ended_at`` is NULL, never when ``started_at`` is NULL); ``in_progress(t)`` counts
  those of agents available at ``t``, all channels (an agent who goes away keeps their
  conversations, but they stop counting, like their capacity).
* a **web-chat** conversation (``channel = 'web_chat'``) is **waiting** on ``[queued_at,
  coalesce(started_at, ended_at))`` (open-ended when both are NULL).

So every quantity is a step function of time: the :class:`Timeline` holds its steps
(from each instant where something changes, the values in force) and answers ``at(t)``
by binary search; :func:`state_at` is the literal definition (slow, for tests); and
:func:`timeline_sql` / :func:`states_at_sql` build the same steps in DuckDB and attach
them to a table of instants with one ``ASOF LEFT JOIN``.

Times are milliseconds since the epoch (UTC) as ``int``; pandas / numpy datetimes are
accepted anywhere (naive ones are read as UTC).

>>> import pandas as pd
>>> agents = pd.DataFrame({"agent_id": ["a1"], "soft_limit": [2]})
>>> presence = pd.DataFrame({"presence_id": ["p1"], "agent_id": ["a1"],
...                          "changed_at": [1000], "status": ["available"]})
>>> conversations = pd.DataFrame({"agent_id": ["a1", None], "channel": ["email", "web_chat"],
...     "queued_at": [1000, 1500], "started_at": [1200, None], "ended_at": [2000, None]})
>>> tl = Timeline.from_frames(agents, presence, conversations)
>>> tl.at(999), tl.at(1200), tl.at(1500), tl.at(2000)
(AvailabilityState(capacity=0, in_progress=0, waiting=0), \
AvailabilityState(capacity=2, in_progress=1, waiting=0), \
AvailabilityState(capacity=2, in_progress=1, waiting=1), \
AvailabilityState(capacity=2, in_progress=0, waiting=1))
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import sqlglot
from sqlglot import exp

from engage_lab.availability.policies import AvailabilityState
from engage_lab.errors import UnsupportedOperatorError

__all__ = [
    "NEVER",
    "WEB_CHAT",
    "Timeline",
    "state_at",
    "states_at_sql",
    "timeline_sql",
    "to_ms",
    "to_ms_array",
]

#: The one "never" of every package: an instant after every other, in int64 ms (an open
#: end, a start that never happened); minus it stands for "always". Not int64's maximum:
#: an instant plus a duration, or the value through a float64 column, must not overflow.
NEVER = 9_000_000_000_000_000
#: The channel of this source's conversations (the only ones that wait in its queue).
WEB_CHAT = "web_chat"

TimeLike = int | np.integer | dt.datetime | pd.Timestamp | np.datetime64 | str


def to_ms(value: TimeLike) -> int:
    """Milliseconds since the epoch (UTC) of one instant; naive datetimes are UTC.

    >>> to_ms(1500), to_ms("1970-01-01T00:00:01.5Z"), to_ms(pd.Timestamp("1970-01-01 00:00:02"))
    (1500, 1500, 2000)
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    stamp = pd.Timestamp(value)
    if stamp is pd.NaT:
        raise ValueError("to_ms: missing instant")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return int(stamp.as_unit("ns").value // 1_000_000)


def to_ms_array(values: Any) -> np.ndarray:
    """int64 milliseconds of a column of instants; missing values become :data:`NEVER`.

    >>> to_ms_array(pd.Series([5, None])).tolist() == [5, NEVER]
    True
    """
    series = pd.Series(values)
    if series.empty:
        return np.empty(0, dtype=np.int64)
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        missing = series.isna().to_numpy()
        out = series.fillna(0).to_numpy(dtype=np.float64).astype(np.int64)
    else:
        stamps = pd.to_datetime(series, utc=True)
        missing = stamps.isna().to_numpy()
        naive = stamps.dt.tz_localize(None).dt.as_unit("ms")
        out = naive.to_numpy().view(np.int64).copy()
    out[missing] = NEVER
    return out


def presence_changes(
    presence: pd.DataFrame | Iterable[tuple[str, TimeLike, str]],
) -> list[tuple[int, str, Any, str]]:
    """Presence changes ``(instant ms, presence_id, agent_id, status)`` in the order they
    apply: by instant, then presence id (at one instant the greatest id is applied last).

    ``presence`` is a frame (``changed_at, agent_id, status``, optionally
    ``presence_id``) or ``(agent_id, instant, status)`` tuples.

    >>> presence_changes([("a", 20, "away"), ("a", 10, "available")])
    [(10, '', 'a', 'available'), (20, '', 'a', 'away')]
    """
    if isinstance(presence, pd.DataFrame):
        ids = (
            presence["presence_id"].astype(str).tolist()
            if "presence_id" in presence
            else [""] * len(presence)
        )
        rows = list(
            zip(
                to_ms_array(presence["changed_at"]).tolist(),
                ids,
                presence["agent_id"].tolist(),
                presence["status"].tolist(),
                strict=True,
            )
        )
    else:
        rows = [(to_ms(t), "", agent, status) for agent, t, status in presence]
    return sorted(rows, key=lambda r: (r[0], r[1]))


def _text_column(frame: pd.DataFrame, name: str) -> list[Any]:
    return [None if pd.isna(v) else v for v in frame[name].tolist()]


def _available_spans(
    agents: pd.DataFrame, presence: pd.DataFrame
) -> dict[str, list[tuple[int, int]]]:
    """Per agent, the disjoint sorted ``[start, end)`` spans during which they are available."""
    known = dict(zip(_text_column(agents, "agent_id"), agents["soft_limit"].tolist(), strict=True))
    changes: dict[str, dict[int, tuple[str, str]]] = defaultdict(dict)
    rows = zip(
        _text_column(presence, "agent_id"),
        to_ms_array(presence["changed_at"]).tolist(),
        _text_column(presence, "status"),
        _text_column(presence, "presence_id")
        if "presence_id" in presence
        else [""] * len(presence),
        strict=True,
    )
    for agent_id, changed_at, status, presence_id in rows:
        if agent_id not in known or changed_at == NEVER:
            continue
        kept = changes[agent_id].get(changed_at)
        # Same agent, same instant: the greatest presence_id wins (deterministic).
        if kept is None or str(presence_id) > kept[0]:
            changes[agent_id][changed_at] = (str(presence_id), status)
    spans: dict[str, list[tuple[int, int]]] = {}
    for agent_id, by_time in changes.items():
        instants = sorted(by_time)
        agent_spans = []
        for i, start in enumerate(instants):
            if by_time[start][1] == "available":
                end = instants[i + 1] if i + 1 < len(instants) else NEVER
                agent_spans.append((start, end))
        spans[agent_id] = agent_spans
    return spans


def _soft_limits(agents: pd.DataFrame) -> dict[str, int]:
    return {
        agent_id: 0 if pd.isna(limit) else int(limit)
        for agent_id, limit in zip(
            _text_column(agents, "agent_id"), agents["soft_limit"].tolist(), strict=True
        )
    }


@dataclass(frozen=True)
class Timeline:
    """Capacity, in-progress and waiting counts as step functions of time.

    ``valid_from[i]`` is the instant from which ``capacity[i]``, ``in_progress[i]`` and
    ``waiting[i]`` hold (until ``valid_from[i + 1]``); before the first step all are 0.
    Build it with :meth:`from_frames`.
    """

    valid_from: np.ndarray
    capacity: np.ndarray
    in_progress: np.ndarray
    waiting: np.ndarray

    @classmethod
    def from_frames(
        cls, agents: pd.DataFrame, presence: pd.DataFrame, conversations: pd.DataFrame
    ) -> Timeline:
        """Build the steps from the three tables (see the module docstring for semantics)."""
        limits = _soft_limits(agents)
        spans = _available_spans(agents, presence)
        times: list[int] = []
        d_cap: list[int] = []
        d_busy: list[int] = []
        d_wait: list[int] = []

        def add(t: int, cap: int = 0, busy: int = 0, wait: int = 0) -> None:
            if t != NEVER:
                times.append(t)
                d_cap.append(cap)
                d_busy.append(busy)
                d_wait.append(wait)

        for agent_id, agent_spans in spans.items():
            for start, end in agent_spans:
                add(start, cap=limits[agent_id])
                add(end, cap=-limits[agent_id])

        span_ends = {agent: [end for _, end in agent_spans] for agent, agent_spans in spans.items()}
        started = to_ms_array(conversations["started_at"])
        ended = to_ms_array(conversations["ended_at"])
        queued = to_ms_array(conversations["queued_at"])
        agent_ids = _text_column(conversations, "agent_id")
        channels = _text_column(conversations, "channel")
        for i in range(len(conversations)):
            s, e = int(started[i]), int(ended[i])
            agent_spans = spans.get(agent_ids[i], [])
            if s != NEVER and agent_spans:
                # First span that ends after s; spans are disjoint and sorted.
                j = bisect.bisect_right(span_ends[agent_ids[i]], s)
                while j < len(agent_spans) and agent_spans[j][0] < e:
                    lo, hi = max(s, agent_spans[j][0]), min(e, agent_spans[j][1])
                    if lo < hi:
                        add(lo, busy=1)
                        add(hi, busy=-1)
                    j += 1
            if channels[i] == WEB_CHAT and queued[i] != NEVER:
                wait_end = s if s != NEVER else e
                if wait_end > queued[i]:
                    add(int(queued[i]), wait=1)
                    add(wait_end, wait=-1)
        return cls._from_deltas(times, d_cap, d_busy, d_wait)

    @classmethod
    def _from_deltas(cls, times, d_cap, d_busy, d_wait) -> Timeline:
        t = np.asarray(times, dtype=np.int64)
        steps, inverse = np.unique(t, return_inverse=True)
        cumulative = []
        for deltas in (d_cap, d_busy, d_wait):
            summed = np.zeros(len(steps), dtype=np.int64)
            np.add.at(summed, inverse, np.asarray(deltas, dtype=np.int64))
            cumulative.append(np.cumsum(summed))
        return cls(steps, *cumulative)

    def at(self, t: TimeLike) -> AvailabilityState:
        """The state in force at instant ``t`` (changes at ``t`` included).

        >>> Timeline._from_deltas([10, 20], [3, -3], [0, 0], [1, -1]).at(15)
        AvailabilityState(capacity=3, in_progress=0, waiting=1)
        """
        i = int(np.searchsorted(self.valid_from, to_ms(t), side="right")) - 1
        if i < 0:
            return AvailabilityState(0, 0, 0)
        return AvailabilityState(
            int(self.capacity[i]), int(self.in_progress[i]), int(self.waiting[i])
        )

    def at_many(self, times: Any) -> pd.DataFrame:
        """States at many instants: a frame with ``capacity, in_progress, waiting, load``.

        >>> Timeline._from_deltas([10], [3], [1], [0]).at_many([5, 10])["load"].tolist()
        [0, 1]
        """
        idx = np.searchsorted(self.valid_from, to_ms_array(times), side="right") - 1
        found = idx >= 0
        safe = np.where(found, idx, 0)
        out = {}
        for name in ("capacity", "in_progress", "waiting"):
            values = getattr(self, name)
            out[name] = np.where(found, values[safe] if len(values) else 0, 0).astype(np.int64)
        frame = pd.DataFrame(out)
        frame["load"] = frame["in_progress"] + frame["waiting"]
        return frame

    def to_frame(self) -> pd.DataFrame:
        """The steps as a frame ``valid_from`` (datetime64[ms]), ``capacity``, ``in_progress``,
        ``waiting`` — e.g. to plot occupancy over time."""
        return pd.DataFrame(
            {
                "valid_from": self.valid_from.astype("datetime64[ms]"),
                "capacity": self.capacity,
                "in_progress": self.in_progress,
                "waiting": self.waiting,
            }
        )


def state_at(
    t: TimeLike, agents: pd.DataFrame, presence: pd.DataFrame, conversations: pd.DataFrame
) -> AvailabilityState:
    """The literal definition at one instant (slow; the tests' oracle).

    >>> import pandas as pd
    >>> agents = pd.DataFrame({"agent_id": ["a"], "soft_limit": [1]})
    >>> presence = pd.DataFrame({"presence_id": ["p"], "agent_id": ["a"], "changed_at": [0],
    ...                          "status": ["available"]})
    >>> empty = pd.DataFrame(columns=["agent_id", "channel", "queued_at", "started_at", "ended_at"])
    >>> state_at(0, agents, presence, empty)
    AvailabilityState(capacity=1, in_progress=0, waiting=0)
    """
    now = to_ms(t)
    limits = _soft_limits(agents)
    status: dict[str, tuple[int, str, str]] = {}
    presence_ids = (
        _text_column(presence, "presence_id") if "presence_id" in presence else [""] * len(presence)
    )
    for agent_id, changed_at, presence_id, agent_status in zip(
        _text_column(presence, "agent_id"),
        presence["changed_at"].tolist(),
        presence_ids,
        _text_column(presence, "status"),
        strict=True,
    ):
        changed = to_ms(changed_at)
        key = (changed, str(presence_id), agent_status)
        if agent_id not in limits or changed > now:
            continue
        # The latest change at or before now; at one instant the greatest presence_id.
        if agent_id not in status or key[:2] > status[agent_id][:2]:
            status[agent_id] = key
    available = {agent for agent, (_, _, s) in status.items() if s == "available"}
    capacity = sum(limits[a] for a in available)
    in_progress = waiting = 0
    for agent_id, channel, queued_at, started_at, ended_at in zip(
        _text_column(conversations, "agent_id"),
        _text_column(conversations, "channel"),
        conversations["queued_at"].tolist(),
        conversations["started_at"].tolist(),
        conversations["ended_at"].tolist(),
        strict=True,
    ):
        started = None if pd.isna(started_at) else to_ms(started_at)
        ended = None if pd.isna(ended_at) else to_ms(ended_at)
        running = started is not None and started <= now and (ended is None or now < ended)
        if agent_id in available and running:
            in_progress += 1
        if channel == WEB_CHAT and not pd.isna(queued_at) and to_ms(queued_at) <= now:
            wait_end = started if started is not None else ended
            if wait_end is None or now < wait_end:
                waiting += 1
    return AvailabilityState(capacity, in_progress, waiting)


# ------------------------------------------------------------------ SQL (DuckDB)

# A constant template parsed once by sqlglot; table and column names are then replaced in
# the syntax tree (never by string formatting). Placeholder tables: __agents, __presence,
# __conversations, __instants; placeholder column: __instant.
_TIMELINE_TEMPLATE = """
WITH presence_changes AS (
  SELECT agent_id, changed_at, status FROM __presence
  WHERE changed_at IS NOT NULL
  QUALIFY row_number() OVER (PARTITION BY agent_id, changed_at ORDER BY presence_id DESC) = 1
), presence_spans AS (
  SELECT agent_id, status, changed_at AS span_start,
         lead(changed_at) OVER (PARTITION BY agent_id ORDER BY changed_at) AS span_end
  FROM presence_changes
), available_spans AS (
  SELECT s.agent_id, s.span_start, s.span_end, coalesce(a.soft_limit, 0) AS soft_limit
  FROM presence_spans AS s JOIN __agents AS a ON a.agent_id = s.agent_id
  WHERE s.status = 'available'
), busy_spans AS (
  SELECT greatest(c.started_at, s.span_start) AS busy_start,
         CASE WHEN c.ended_at IS NULL THEN s.span_end
              WHEN s.span_end IS NULL THEN c.ended_at
              ELSE least(c.ended_at, s.span_end) END AS busy_end
  FROM __conversations AS c JOIN available_spans AS s
    ON c.agent_id = s.agent_id
   AND (s.span_end IS NULL OR c.started_at < s.span_end)
   AND (c.ended_at IS NULL OR c.ended_at > s.span_start)
  WHERE c.started_at IS NOT NULL
), wait_spans AS (
  SELECT queued_at AS wait_start, coalesce(started_at, ended_at) AS wait_end
  FROM __conversations
  WHERE channel = 'web_chat' AND queued_at IS NOT NULL
    AND (coalesce(started_at, ended_at) IS NULL OR coalesce(started_at, ended_at) > queued_at)
), deltas AS (
  SELECT span_start AS t, soft_limit AS d_cap, 0 AS d_busy, 0 AS d_wait FROM available_spans
  UNION ALL SELECT span_end, -soft_limit, 0, 0 FROM available_spans WHERE span_end IS NOT NULL
  UNION ALL SELECT busy_start, 0, 1, 0 FROM busy_spans
    WHERE busy_end IS NULL OR busy_end > busy_start
  UNION ALL SELECT busy_end, 0, -1, 0 FROM busy_spans
    WHERE busy_end IS NOT NULL AND busy_end > busy_start
  UNION ALL SELECT wait_start, 0, 0, 1 FROM wait_spans
  UNION ALL SELECT wait_end, 0, 0, -1 FROM wait_spans WHERE wait_end IS NOT NULL
), steps AS (
  SELECT t, sum(d_cap) AS d_cap, sum(d_busy) AS d_busy, sum(d_wait) AS d_wait
  FROM deltas GROUP BY t
)
SELECT t AS valid_from,
  CAST(sum(d_cap) OVER (ORDER BY t ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS BIGINT)
    AS capacity,
  CAST(sum(d_busy) OVER (ORDER BY t ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS BIGINT)
    AS in_progress,
  CAST(sum(d_wait) OVER (ORDER BY t ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS BIGINT)
    AS waiting
FROM steps
"""

# Portable form (no ASOF, no inequality join): sort the distinct instants together with the
# steps (steps first at equal times); the running max of step times is the step in force;
# then two equi-joins. Spark reads ASOF as an alias, and inequality LEFT JOINs
# fall back to nested loops in DuckDB.
_STATES_WINDOW_TEMPLATE = """
WITH tl AS (SELECT * FROM __timeline),
marks AS (
  SELECT valid_from AS t, 0 AS kind FROM tl
  UNION ALL
  SELECT DISTINCT __instant AS t, 1 AS kind FROM __instants WHERE __instant IS NOT NULL
), resolved AS (
  SELECT t, kind,
    max(CASE WHEN kind = 0 THEN t END)
      OVER (ORDER BY t, kind ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS step_at
  FROM marks
)
SELECT i.*,
  coalesce(s.capacity, 0) AS capacity,
  coalesce(s.in_progress, 0) AS in_progress,
  coalesce(s.waiting, 0) AS waiting,
  coalesce(s.in_progress, 0) + coalesce(s.waiting, 0) AS load
FROM __instants AS i
LEFT JOIN resolved AS r ON r.kind = 1 AND r.t = i.__instant
LEFT JOIN tl AS s ON s.valid_from = r.step_at
"""

_STATES_TEMPLATE = """
SELECT i.*,
  coalesce(tl.capacity, 0) AS capacity,
  coalesce(tl.in_progress, 0) AS in_progress,
  coalesce(tl.waiting, 0) AS waiting,
  coalesce(tl.in_progress, 0) + coalesce(tl.waiting, 0) AS load
FROM __instants AS i ASOF LEFT JOIN __timeline AS tl ON i.__instant >= tl.valid_from
"""


@functools.cache
def _parsed(template: str) -> exp.Expression:
    return sqlglot.parse_one(template, read="duckdb")


def _table(value: str | exp.Expression) -> exp.Expression:
    if isinstance(value, str):
        return exp.to_table(value)
    if isinstance(value, exp.Select):
        return value.subquery()
    return value


def _substitute(tree: exp.Expression, tables: dict[str, exp.Expression]) -> exp.Expression:
    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and node.name in tables:
            replacement = tables[node.name].copy()
            alias = node.args.get("alias")
            if alias is not None:
                replacement.set("alias", alias.copy())
            return replacement
        return node

    return tree.transform(swap)


def timeline_sql(
    agents: str | exp.Expression = "agents",
    presence: str | exp.Expression = "presence",
    conversations: str | exp.Expression = "conversations",
) -> exp.Select:
    """The timeline steps as a DuckDB query: ``valid_from, capacity, in_progress, waiting``.

    Tables are given by name or as sqlglot expressions (a ``Select`` becomes a subquery).

    >>> "PARTITION BY agent_id" in timeline_sql().sql("duckdb")
    True
    """
    tree = _parsed(_TIMELINE_TEMPLATE).copy()
    tables = {
        "__agents": _table(agents),
        "__presence": _table(presence),
        "__conversations": _table(conversations),
    }
    return _substitute(tree, tables)  # type: ignore[return-value]


def states_at_sql(
    instants: str | exp.Expression,
    time_column: str = "instant",
    *,
    agents: str | exp.Expression = "agents",
    presence: str | exp.Expression = "presence",
    conversations: str | exp.Expression = "conversations",
    method: str = "asof",
    dialect: str = "duckdb",
) -> exp.Select:
    """Every row of ``instants`` with ``capacity, in_progress, waiting, load`` at its instant.

    ``method="asof"`` (DuckDB only): one ``ASOF LEFT JOIN`` of the instants on the
    timeline (``time_column >= valid_from``). ``method="window"`` (portable, the only one
    for ``dialect="spark"``, where ASOF would silently read as an alias): the distinct
    instants sorted with the steps, a running max finds the step in force, then
    equi-joins. Instants before any step get zeros either way. The output columns are added to the instants' own: the instants
    table must not already have columns of those names.

    >>> import duckdb, pandas as pd
    >>> con = duckdb.connect()
    >>> _ = con.execute("create table agents as select 'a' as agent_id, 2 as soft_limit")
    >>> _ = con.execute("create table presence as select 'p' as presence_id, 'a' as agent_id, "
    ...     "timestamp '2026-01-01 08:00' as changed_at, 'available' as status")
    >>> _ = con.execute("create table conversations (agent_id varchar, channel varchar, "
    ...     "queued_at timestamp, started_at timestamp, ended_at timestamp)")
    >>> _ = con.execute("create table instants as select timestamp '2026-01-01 09:00' as instant")
    >>> con.execute(states_at_sql("instants").sql("duckdb")).fetchall()
    [(datetime.datetime(2026, 1, 1, 9, 0), 2, 0, 0, 0)]
    """
    if method not in ("asof", "window"):
        raise ValueError(f"states_at_sql: method {method!r} is not 'asof' or 'window'")
    if dialect != "duckdb" and method == "asof":
        raise UnsupportedOperatorError(dialect, "ASOF JOIN")
    template = _STATES_TEMPLATE if method == "asof" else _STATES_WINDOW_TEMPLATE
    tree = _parsed(template).copy()
    timeline = timeline_sql(agents, presence, conversations).subquery()
    tree = _substitute(tree, {"__instants": _table(instants), "__timeline": timeline})

    def rename(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and node.name == "__instant":
            return exp.column(time_column, table=node.table or None, quoted=True)
        return node

    return tree.transform(rename)  # type: ignore[return-value]
