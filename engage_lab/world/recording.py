"""The chat-event step: the reference Chat Manager run over a generated world.

:func:`record_chat` steps one :class:`~engage_lab.reference.VisitorSession` per visitor
under a :class:`~engage_lab.reference.Scheduler` (global time order) with a live
:class:`~engage_lab.availability.AgentPool` as availability (agents, presence and the
background conversations of the world) and the hidden behaviour of
``engage_lab.world.truth`` as the engagement source:

* when the chat or an **online** item becomes visible, the visitor engages with the
  probability of :func:`~engage_lab.world.truth.engagement_probability` (item kind, page
  category, time on page, returning visitor, the visitor's hidden effect) after a
  lognormal delay, if that falls before the page view ends (an offline item leads to the
  offline form, not to a web chat: no engagement);
* an honoured engagement becomes a web-chat conversation submitted to the pool (FIFO
  queue; live chat: patience = the impossibility delay, so it ends unserved when no agent
  takes it in time; the visitor's own patience ends it ``closed_by_visitor``); its
  duration comes from the truth; after a served live chat the visitor closes the chat
  with probability ``close_after_served``;
* outcome events: ``message_sent`` (the first message, at the engagement),
  ``message_received`` (the agent's first message, when served) and ``chat_closed``.

Every draw is hash-based (md5 of the seed and the ids, :func:`engage_lab.draws.u_from_key`),
so the recording does not depend on the order anything is asked in: same world, same
configuration, same bytes.

**Pages whose end was not recorded.** The loader gives such a page the instant of its last
variable change or chat event (:mod:`engage_lab.data.derive`); the Chat Manager here runs
on exactly that window (each page view the Chat Manager runs on gets a ``started`` event
at its start, so a page with nothing else lasts zero ms and runs no trigger). When an
outcome event later lands on such a page and moves its loaded end, the run is repeated
with the moved ends until they agree (at most :data:`MAX_PASSES` passes), unless no
decision can see the move (:meth:`~engage_lab.world.page_ends.PageEnds.moves_matter`) — the recorded world is then exactly
what a replay from the loaded logs computes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from engage_lab.availability.pool import AgentPool, ConversationRecord
from engage_lab.config import Config, ConfigHistory
from engage_lab.draws import u_from_key
from engage_lab.errors import EngineError
from engage_lab.events import EVENT_COLUMNS, EventRecord, conform_events
from engage_lab.reference import (
    Engagement,
    History,
    Offer,
    OutcomeEvent,
    Scheduler,
    StateAvailability,
    VisitorSession,
    config_resolver,
    sorted_events,
)
from engage_lab.world.chat import ChatRecording, WorldView
from engage_lab.world.output import id_prefix
from engage_lab.world.page_ends import PageEnds, last_event_per_page, reads_past_page_ends
from engage_lab.world.truth import EngagementTruth

__all__ = [
    "MAX_PASSES",
    "RunResult",
    "assemble_chat_events",
    "config_labels",
    "load_world_config",
    "lognormal_ms",
    "record_chat",
    "record_passes",
    "web_chat_frame",
]

#: Passes over the world before the loaded page ends must agree (see the module docstring).
MAX_PASSES = 4
_NORMAL = NormalDist()
_INACTIVE = ("inactive", "maintenance")


def load_world_config(world: WorldView) -> Config | ConfigHistory:
    """The configuration the world is recorded with: the history, else the file, else the
    packaged production configuration of the world's mode.

    >>> from engage_lab.world.model import draw_world
    >>> from engage_lab.world.output import world_view
    >>> load_world_config(world_view(draw_world(3, 5, "messaging", 1), None, None)).mode
    'messaging'
    """
    if world.config_history_path is not None:
        return ConfigHistory.load(world.config_history_path)
    if world.config_path is not None:
        return Config.load(world.config_path)
    from engage_lab.config.packaged import packaged

    return packaged("production-" + world.mode.replace("_", "-"))


def _u(*parts: object) -> float:
    """A uniform draw in ``(0, 1)`` from the key's md5 (never exactly 0)."""
    return max(u_from_key("|".join(str(p) for p in parts)), 2.0**-53)


def lognormal_ms(u: float, median_s: float, sigma: float) -> int:
    """The ``u``-quantile of a lognormal in seconds, as whole ms (at least 1).

    ``math`` (the C library), not numpy: the compiled recorder computes the same doubles
    (:func:`engage_lab.engine.normal.lognormal_ms`).

    >>> lognormal_ms(0.5, 20.0, 1.0)
    20000
    """
    seconds = math.exp(math.log(median_s) + sigma * _NORMAL.inv_cdf(u))
    return max(1, round(seconds * 1000))


def _pool_record(pool: AgentPool, conversation_id: str) -> ConversationRecord:
    """One web chat's record as it stands. ``AgentPool`` lists them all
    (``records()``, linear); its per-conversation state is read directly instead, as
    this is asked at every page start of an engaged visitor."""
    chat = pool._chats[conversation_id]  # no public per-id accessor yet
    return ConversationRecord(
        chat.conversation_id, "web_chat", chat.queued_at, chat.started_at, chat.ended_at,
        chat.agent_id, chat.outcome, chat.visitor_id, chat.page_view_id,
    )  # fmt: skip


@dataclass
class _Chat:
    """One web chat of the generated world (the pool holds its queue and agent)."""

    conversation_id: str
    pool: AgentPool
    engagement: Engagement
    close_after_ms: int | None  # after service ends, live chat (None: never)
    record: ConversationRecord | None = None

    def _current(self) -> ConversationRecord:
        if self.record is None or self.record.outcome is None:
            found = _pool_record(self.pool, self.conversation_id)
            if found.outcome is not None:
                self.record = found
            return found
        return self.record

    def closed_at(self) -> int | None:
        """When the visitor closed the chat (live chat), or None."""
        r = self._current()
        if self.engagement.mode != "live_chat" or r.outcome is None:
            return None
        if r.outcome == "closed_by_visitor":
            return r.ended_at
        if r.outcome == "served" and self.close_after_ms is not None and r.ended_at is not None:
            return r.ended_at + self.close_after_ms
        return None

    def ended_by(self, t: int) -> bool:
        if self.engagement.mode != "live_chat":
            return False
        self.pool.advance_to(max(t, self.pool.now))
        r = self._current()
        if r.outcome == "unserved":
            return r.ended_at is not None and r.ended_at <= t
        closed = self.closed_at()
        return closed is not None and closed <= t

    def outcome_events(self) -> list[OutcomeEvent]:
        e = self.engagement
        r = self._current()
        out = [OutcomeEvent(e.engaged_at, "message_sent", e.page_view_id)]
        if r.started_at is not None:
            out.append(OutcomeEvent(r.started_at, "message_received"))
        closed = self.closed_at()
        if closed is not None:
            out.append(OutcomeEvent(closed, "chat_closed"))
        return out


@dataclass
class _Behaviour:
    """The hidden behaviour as an engagement source (``engage_lab.reference`` protocol)."""

    seed: int
    truth: EngagementTruth
    pool: AgentPool
    category: Mapping[str, str]
    returning: Mapping[str, bool]
    effect: Mapping[str, float]
    chat_prefix: str
    chats: list[_Chat] = field(default_factory=list)
    offers: int = 0
    engagements_drawn: int = 0
    _effects: tuple[dict[str, float], dict[str, float]] | None = None

    def planned(self, visitor_id: str) -> tuple[int, ...]:
        return ()

    def probability(
        self, kind: str, category: str, seconds: float, returning: bool, effect: float
    ) -> float:
        """:func:`~engage_lab.world.truth.engagement_probability` for one show (scalar
        arithmetic: it is asked once per offer)."""
        t = self.truth
        if self._effects is None:
            self._effects = (dict(t.item_kind_effect), dict(t.page_category_effect))
        kinds, categories = self._effects
        logit = (
            t.base_logit
            + kinds[kind]
            + categories[category]
            + t.time_on_page_slope * math.log1p(seconds / 30.0)
            + t.returning_effect * float(returning)
            + effect
        )
        return 1.0 / (1.0 + math.exp(-logit))

    def offered(self, offer: Offer) -> int | None:
        if offer.mode == "offline":
            return None  # the offline form: a message left, not a web chat
        self.offers += 1
        key = (self.seed, "engage", offer.visitor_id, offer.page_view_id, offer.kind,
               offer.item_id or "chat", offer.shown_at)  # fmt: skip
        p = self.probability(
            offer.kind,
            self.category[offer.page_view_id],
            (offer.shown_at - offer.page.started_at) / 1000.0,
            self.returning[offer.page_view_id],
            self.effect[offer.visitor_id],
        )
        if _u(*key) >= p:
            return None
        delay = lognormal_ms(
            _u(*key, "delay"), self.truth.engage_delay_median_s, self.truth.engage_delay_sigma
        )
        e = offer.shown_at + delay
        if e >= offer.page.ended_at:
            return None  # the visitor left the page before writing
        self.engagements_drawn += 1
        return e

    def engage(self, engagement: Engagement) -> _Chat:
        t = self.truth
        key = (self.seed, "chat", engagement.visitor_id, engagement.page_view_id,
               engagement.engaged_at)  # fmt: skip
        median = (
            t.live_chat_duration_median_s
            if engagement.mode == "live_chat"
            else t.messaging_duration_median_s
        )
        service = lognormal_ms(_u(*key, "duration"), median, t.duration_sigma)
        live = engagement.mode == "live_chat"
        patience = lognormal_ms(_u(*key, "patience"), t.patience_median_s, t.patience_sigma)
        close_after = None
        if live and _u(*key, "close") < t.close_after_served:
            close_after = lognormal_ms(_u(*key, "close delay"), t.close_delay_median_s, 1.0)
        cid = f"{self.chat_prefix}{len(self.chats) + 1:06d}"
        self.pool.submit(
            cid,
            engagement.engaged_at,
            service,
            patience_ms=engagement.impossibility_delay_ms if live else None,
            closes_after_ms=patience if live else None,
            visitor_id=engagement.visitor_id,
            page_view_id=engagement.page_view_id,
        )
        chat = _Chat(cid, self.pool, engagement, close_after)
        self.chats.append(chat)
        return chat


def record_chat(world: WorldView) -> ChatRecording:
    """Record the chat events of ``world`` (see the module docstring).

    Returns the ``chat_events`` rows (canonical order per visitor, ``started`` first at a
    page's start), the web-chat ``conversations`` and JSON-ready ``truth`` counts.

    >>> from engage_lab.world.model import draw_world
    >>> from engage_lab.world.output import world_view
    >>> rec = record_chat(world_view(draw_world(3, 20, "live_chat", 2), None, None))
    >>> {"started", "trigger_activated"} <= set(rec.chat_events["event"])
    True
    >>> len(rec.conversations) == rec.truth["engagements_honoured"]
    True
    """
    return record_passes(world, _run_once)


RunOnce = Callable[[WorldView, "Config | ConfigHistory", Any, pd.Series], "RunResult"]


def record_passes(world: WorldView, run_once: RunOnce) -> ChatRecording:
    """The passes of :func:`record_chat` (see the module docstring) with ``run_once``
    recording the world for given page ends (the reference run, or the compiled one of
    :mod:`engage_lab.world.recording_fast`)."""
    config = load_world_config(world)
    if config.mode != world.mode:
        raise EngineError(f"the configuration is for {config.mode}, the world is {world.mode}")
    config_at = config_resolver(config)
    configs = [config] if isinstance(config, Config) else [e.config for e in config.history]
    reads_past_ends = reads_past_page_ends(configs)
    page_ends = PageEnds(world, config)
    event_ends = None
    passes = 0
    while passes < MAX_PASSES:
        passes += 1
        ends = page_ends.ends(event_ends)
        run = run_once(world, config, config_at, ends)
        new_ends = run.last_event if run.last_event is not None else last_event_per_page(run.events)
        loaded = page_ends.ends(new_ends)
        if not page_ends.moves_matter(reads_past_ends, run.events, ends, loaded):
            break
        event_ends = new_ends
    else:
        raise EngineError(
            f"chat recording: page ends without a recorded end did not settle in {MAX_PASSES} passes"
        )
    run.truth["passes"] = passes
    return ChatRecording(run.events, run.conversations, run.truth)


@dataclass
class RunResult:
    """One run over the world: chat events, web chats, truth counts."""

    events: pd.DataFrame
    conversations: pd.DataFrame
    truth: dict[str, object]
    #: the last event instant per ``page_views`` row (NaN: none), when the run knows it
    #: without the frame
    last_event: np.ndarray | None = None


def _run_once(
    world: WorldView, config: Config | ConfigHistory, config_at: Any, ends: pd.Series
) -> RunResult:
    tables = dict(world.tables)
    pv = tables["page_views"].copy()
    pv["ended_at"] = pd.to_datetime(ends.to_numpy(), unit="ms", utc=True)
    tables["page_views"] = pv
    history = History.from_frames(tables)
    first = config if isinstance(config, Config) else config.history[0].config
    history = history.with_visit_idle(lambda t: (config_at(t) or first).source.visit_idle_ms)
    pool = AgentPool(tables["agents"], tables["presence"], tables["conversations"])
    truth_pages = world.page_truth
    behaviour = _Behaviour(
        seed=world.seed,
        truth=world.params.truth,
        pool=pool,
        category=dict(zip(truth_pages["page_view_id"], truth_pages["page_category"], strict=True)),
        returning=dict(
            zip(
                truth_pages["page_view_id"], (truth_pages["visit_number"] > 1).tolist(), strict=True
            )
        ),
        effect=dict(
            zip(
                world.visitor_truth["visitor_id"],
                world.visitor_truth["engagement_effect"],
                strict=True,
            )
        ),
        chat_prefix=id_prefix(world.seed, "web_chat"),
    )
    availability = StateAvailability(pool.state_at)
    scheduler = Scheduler(before_instant=pool.advance_to)
    cache: dict[tuple[int, str, str], Any] = {}
    sessions = []
    for visitor in history.visitors.values():
        session = VisitorSession(
            visitor,
            history,
            config_at,
            seed=str(world.seed),
            availability=availability,
            engagements=behaviour,
            cache=cache,
        )
        sessions.append(session)
        scheduler.add(session.steps())
    scheduler.run()
    pool.finish()
    events = _chat_events(sessions, config, config_at)
    conversations = _web_chats(pool)
    outcomes = conversations["outcome"].value_counts().to_dict() if len(conversations) else {}
    truth: dict[str, object] = {
        "offers_online": behaviour.offers,
        "engagements_drawn": behaviour.engagements_drawn,
        "engagements_honoured": len(behaviour.chats),
        "web_chat_outcomes": {str(k): int(v) for k, v in sorted(outcomes.items())},
        "events": {str(k): int(v) for k, v in sorted(events["event"].value_counts().items())},
        "engagement_draws": "md5 of seed|engage|visitor|page view|kind|item|shown_at (ms)",
    }
    return RunResult(events, conversations, truth)


def _web_chats(pool: AgentPool) -> pd.DataFrame:
    return web_chat_frame(pool.to_frame(include_background=False))


def web_chat_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The web chats of :meth:`AgentPool.to_frame` as the recording returns them (UTC
    instants, object ids and outcomes)."""
    for col in ("queued_at", "started_at", "ended_at"):
        frame[col] = frame[col].dt.tz_localize("UTC")
    return frame.astype({"agent_id": object, "outcome": object})


def config_labels(config: Config) -> tuple[dict[str, str], dict[str, str]]:
    """Trigger and item labels of a configuration, by id."""
    triggers = {t.id: t.label for t in config.triggers}
    items = {i.id: i.label for i in (*config.catalog.buttons, *config.catalog.invitations)}
    return triggers, items


def _chat_events(
    sessions: list[VisitorSession], config: Config | ConfigHistory, config_at: Any
) -> pd.DataFrame:
    decided = sorted_events(sessions, config)
    started = [
        EventRecord(p.visitor_id, p.visit_id, p.page_view_id, p.started_at, "started", "configured")
        for s in sessions
        for p in s.active_page_views
    ]
    begun = conform_events(
        pd.DataFrame(
            [tuple(getattr(r, c) for c in EVENT_COLUMNS) for r in started],
            columns=list(EVENT_COLUMNS),
        )
    )
    starts = {p.page_view_id: p.started_at for s in sessions for p in s.visitor.page_views}

    def labels(frame: pd.DataFrame) -> tuple[list[str | None], list[str | None]]:
        cache: dict[int, tuple[dict[str, str], dict[str, str]]] = {}
        trigger_label, item_label = [], []
        for pid, trig, item in zip(
            frame["page_view_id"], frame["trigger_id"], frame["item_id"], strict=True
        ):
            cfg = config_at(starts[pid])
            if id(cfg) not in cache:
                cache[id(cfg)] = config_labels(cfg) if cfg is not None else ({}, {})
            tl, il = cache[id(cfg)]
            trigger_label.append(tl.get(trig) if isinstance(trig, str) else None)
            item_label.append(il.get(item) if isinstance(item, str) else None)
        return trigger_label, item_label

    return assemble_chat_events(decided, begun, labels)


def assemble_chat_events(
    decided: pd.DataFrame,
    begun: pd.DataFrame,
    labels: Callable[[pd.DataFrame], tuple[list[str | None], list[str | None]]],
) -> pd.DataFrame:
    """The ``chat_events`` rows from the decided events (events schema, canonical order)
    and the ``started`` events of the page views that ran (in session order): per
    visitor and instant the starts first; labels from ``labels(frame)``."""
    frame = pd.concat([begun.assign(_first=0), decided.assign(_first=1)], ignore_index=True)
    frame["_n"] = np.arange(len(frame))
    frame = frame.sort_values(["visitor_id", "event_at", "_first", "_n"], kind="stable")
    frame = frame.reset_index(drop=True)
    trigger_label, item_label = labels(frame)
    out = pd.DataFrame(
        {
            "page_view_id": frame["page_view_id"],
            "visitor_id": frame["visitor_id"],
            "event_at": frame["event_at"],
            "event": frame["event"],
            "trigger_id": frame["trigger_id"].astype(object),
            "trigger_label": trigger_label,
            "trigger_human_id": _human(trigger_label, frame["trigger_id"]),
            "trigger_continuation": (frame["stage"] == "continuation").to_numpy(),
            "mode": frame["mode"].astype(object),
            "item_id": frame["item_id"].astype(object),
            "item_type": frame["item_type"].astype(object),
            "item_label": item_label,
            "item_human_id": _human(item_label, frame["item_id"]),
            "server_probability": frame["server_probability"],
            "draw": frame["draw"],
        }
    )
    return out.where(out.notna(), None) if len(out) else out


def _human(labels: list[str | None], ids: pd.Series) -> list[str | None]:
    return [
        f"{label} #{i}" if label is not None and isinstance(i, str) else None
        for label, i in zip(labels, ids.tolist(), strict=True)
    ]
