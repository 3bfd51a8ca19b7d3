"""``replay_reference``: the reference Chat Manager over a whole history."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from engage_lab.availability.state import Timeline, to_ms
from engage_lab.config import Config, ConfigHistory
from engage_lab.draws import in_sample
from engage_lab.events import EVENT_COLUMNS, EventRecord, conform_events, sort_events
from engage_lab.reference.history import History
from engage_lab.reference.manager import EventRow, VisitorSession
from engage_lab.reference.protocols import (
    AvailabilityProvider,
    EngagementSource,
    RecordedEngagements,
    StateAvailability,
)
from engage_lab.reference.scheduler import Scheduler
from engage_lab.reference.session_state import config_resolver

__all__ = [
    "events_frame",
    "log_availability",
    "replay_reference",
    "sorted_events",
    "trigger_order",
    "with_config_visits",
]

_AGENT_COLUMNS = {
    "agents": ("agent_id", "soft_limit"),
    "presence": ("presence_id", "agent_id", "changed_at", "status"),
    "conversations": ("agent_id", "channel", "queued_at", "started_at", "ended_at"),
}


def log_availability(history: History) -> StateAvailability:
    """Availability computed from the history's agents, presence and conversations."""
    frames = {
        name: history.frames.get(name, pd.DataFrame(columns=list(cols)))
        for name, cols in _AGENT_COLUMNS.items()
    }
    timeline = Timeline.from_frames(frames["agents"], frames["presence"], frames["conversations"])
    return StateAvailability(timeline.at)


def trigger_order(config: Config | ConfigHistory) -> list[str]:
    """Trigger ids in list order (a history: each entry's order, new ids appended)."""
    configs = [config] if isinstance(config, Config) else [e.config for e in config.history]
    order: list[str] = []
    for c in configs:
        order += [t.id for t in c.triggers if t.id not in order]
    return order


def with_config_visits(history: History, config: Config | ConfigHistory) -> History:
    """``history`` with the visits of ``config``: re-derived when a configuration's
    ``visit_idle`` (the one in force at a page view's start) differs from the loaded one.

    >>> import pandas as pd
    >>> from engage_lab.config import Config
    >>> pv = pd.DataFrame({"page_view_id": ["p1", "p2"], "visitor_id": ["v", "v"],
    ...                    "started_at": [0, 600_000], "ended_at": [1_000, 601_000],
    ...                    "url": ["https://s.example/a", "https://s.example/b"]})
    >>> cfg = Config.from_dict({"schema_version": 1,
    ...     "source": {"mode": "live_chat", "visit_idle": "5m"},
    ...     "catalog": {"buttons": [{"id": "b", "label": "B"}]},
    ...     "triggers": [{"id": "t", "label": "T", "actions": [{"type": "show_item", "item": "b"}]}]})
    >>> h = with_config_visits(History.from_frames({"page_views": pv}), cfg)
    >>> [p.visit_id for p in h.visitor("v").page_views]
    ['p1', 'p2']
    """
    config_at = config_resolver(config)
    idle_ms: dict[int, int] = {}  # per configuration: parsing its duration text once

    def idle_at(t: int) -> int:
        in_force = config_at(t) or _first(config)
        if id(in_force) not in idle_ms:
            idle_ms[id(in_force)] = in_force.source.visit_idle_ms
        return idle_ms[id(in_force)]

    return history.with_visit_idle(idle_at)


def replay_reference(
    history: History | Any,
    config: Config | ConfigHistory,
    *,
    seed: str | int | None = None,
    availability: AvailabilityProvider | None = None,
    engagements: EngagementSource | None = None,
    time_range: tuple[Any, Any] | None = None,
    visitors: Iterable[str] | float | None = None,
    global_order: bool = False,
    derive_visits: bool = True,
) -> pd.DataFrame:
    """Replay the reference Chat Manager over a recorded history.

    Parameters
    ----------
    history
        A :class:`~engage_lab.reference.history.History`, a DuckDB connection of an
        engage_lab database, or a :class:`~engage_lab.lab.Lab`.
    config
        The configuration, or a configuration history (each page view runs under the
        configuration in force at its start; page views before the first entry run
        nothing). Visits are re-derived when its ``visit_idle`` differs from the loaded one.
    seed
        Seed of the gating draws (default: the history's ``source`` seed).
    availability
        ``probability(t, trigger, config) -> p``; default: from the agent logs.
    engagements
        Engagement source; default: the recorded engagements (``chat_engaged`` events)
        of the history. Pass :class:`~engage_lab.reference.protocols.NoEngagements` for none.
    time_range
        ``(start, end)``: only page views starting in ``[start, end)`` are replayed
        (state before the range is not carried in).
    visitors
        Visitor ids to replay, or a fraction for a stable hash-based sample
        (:func:`engage_lab.draws.in_sample` with the seed).
    global_order
        Resume visitors in global time order (:class:`Scheduler`); the result is the same
        for providers that do not depend on other visitors.
    derive_visits
        False: the history's visit ids are final, as :func:`with_config_visits` gave
        them over a larger history (a segment's page views keep the visits of the whole
        history).

    Returns
    -------
    pandas.DataFrame
        The events (:mod:`engage_lab.events` schema), in canonical order.

    Examples
    --------
    >>> import pandas as pd
    >>> from engage_lab.config import Config
    >>> from engage_lab.reference.history import History
    >>> pv = pd.DataFrame({"page_view_id": ["p1"], "visitor_id": ["v1"], "started_at": [0],
    ...                    "ended_at": [60_000], "url": ["https://s.example/cart"]})
    >>> cfg = Config.from_dict({"schema_version": 1, "source": {"mode": "live_chat"},
    ...     "catalog": {"buttons": [{"id": "b", "label": "B"}]},
    ...     "triggers": [{"id": "t", "label": "T", "actions": [{"type": "show_item", "item": "b"}],
    ...                   "criteria": [{"criterion": "page_visit_duration", "operator": "gte",
    ...                                 "value": 30}]}]})
    >>> out = replay_reference(History.from_frames({"page_views": pv}), cfg)
    >>> out["event"].tolist()
    ['trigger_activated', 'trigger_executed', 'item_shown', 'button_shown']
    >>> out["item_id"].iloc[-1], out["mode"].iloc[-1]
    ('b', 'online')
    >>> out["event_at"].iloc[0].isoformat()
    '1970-01-01T00:00:30+00:00'
    """
    history = _as_history(history)
    config_at = config_resolver(config)
    if derive_visits:
        history = with_config_visits(history, config)
    chosen_seed = str(seed) if seed is not None else history.seed
    provider = availability if availability is not None else log_availability(history)
    source = engagements if engagements is not None else RecordedEngagements(history)
    sessions = []
    cache: dict[tuple[int, str, str], Any] = {}  # parsed conditions, shared by all visitors
    for visitor_id in _visitor_ids(history, visitors, chosen_seed):
        visitor = history.visitor(visitor_id)
        if time_range is not None:
            visitor = _in_range(visitor, time_range)
        sessions.append(
            VisitorSession(
                visitor,
                history,
                config_at,
                seed=chosen_seed,
                availability=provider,
                engagements=source,
                cache=cache,
            )
        )
    if global_order:
        scheduler = Scheduler()
        for session in sessions:
            scheduler.add(session.steps())
        scheduler.run()
    else:
        for session in sessions:
            for _ in session.steps():
                pass
    return sorted_events(sessions, config)


def sorted_events(
    sessions: Iterable[VisitorSession], config: Config | ConfigHistory
) -> pd.DataFrame:
    """The events of finished sessions in the canonical order of
    :func:`~engage_lab.events.sort_events`, each instant's fixed-point passes included."""
    rows, passes = _rows_and_passes(sessions)
    return sort_events(_frame(rows), trigger_order(config), rounds=passes)


def events_frame(sessions: Iterable[VisitorSession]) -> pd.DataFrame:
    """The events of finished sessions (decisions, then outcomes) as one frame in the
    :mod:`engage_lab.events` schema (checked by :func:`~engage_lab.events.conform_events`),
    not sorted."""
    return _frame(_rows_and_passes(sessions)[0])


def _rows_and_passes(sessions: Iterable[VisitorSession]) -> tuple[list[EventRow], list[int]]:
    """Every session's decision rows then outcome rows, with the pass of each row
    (outcomes belong to no pass: 0)."""
    rows: list[EventRow] = []
    passes: list[int] = []
    for session in sessions:
        outcomes = [_row(r) for r in session.outcome_records()]
        rows += session.event_rows
        rows += outcomes
        passes += session.event_passes
        passes += [0] * len(outcomes)
    return rows, passes


def _frame(rows: list[EventRow]) -> pd.DataFrame:
    columns = zip(*rows, strict=True) if rows else ([] for _ in EVENT_COLUMNS)
    return conform_events(pd.DataFrame(dict(zip(EVENT_COLUMNS, map(list, columns), strict=True))))


def _row(record: EventRecord) -> EventRow:
    return tuple(getattr(record, name) for name in EVENT_COLUMNS)  # type: ignore[return-value]


def _first(config: Config | ConfigHistory) -> Config:
    return config if isinstance(config, Config) else config.history[0].config


def _as_history(history: Any) -> History:
    if isinstance(history, History):
        return history
    con = getattr(history, "con", history)  # a Lab, or a DuckDB connection
    return History.from_connection(con)


def _visitor_ids(history: History, visitors: Any, seed: str | None) -> list[str]:
    if visitors is None:
        return list(history.visitors)
    if isinstance(visitors, float | int) and not isinstance(visitors, bool):
        key = seed if seed is not None else "0"
        return [v for v in history.visitors if in_sample(v, float(visitors), key)]
    wanted = set(visitors)
    return [v for v in history.visitors if v in wanted]


def _in_range(visitor: Any, time_range: tuple[Any, Any]) -> Any:
    from dataclasses import replace

    start, end = (to_ms(x) for x in time_range)
    pages = tuple(p for p in visitor.page_views if start <= p.started_at < end)
    return replace(visitor, page_views=pages)
