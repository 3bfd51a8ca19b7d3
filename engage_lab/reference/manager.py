"""The reference Chat Manager: one visitor, event-driven, literal (docs/semantics.md).

A :class:`VisitorSession` replays one visitor's page views in time order. For each page
view it decides the stage at ``started_at`` (embedded, continuation, messaging, else the
configured triggers); on a configured page it visits every candidate instant in
increasing order and, at each, runs passes over the enabled triggers in list order until
a pass activates nothing (a fixed point); then it honours an engagement at that instant,
if any. It emits :class:`~engage_lab.events.EventRecord` rows, each with the pass in
which its trigger activated (:attr:`VisitorSession.event_passes`: a trigger that a later
trigger's action enabled comes after that action's events in the canonical order).

The session is a generator of instants (:meth:`VisitorSession.steps`): it yields the next
instant it is about to process and processes it when resumed. Run alone, it is simply
exhausted; under :class:`~engage_lab.reference.scheduler.Scheduler`, the sessions of all
visitors are resumed in global time order, so an availability provider fed by other
visitors' engagements (the world generator's agent pool) is always read in time order.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from engage_lab.config import Config, Trigger
from engage_lab.config.models import (
    AutomaticMessageAction,
    ShowAndOpenChatAction,
    ShowChatMinimizedAction,
    ShowItemAction,
)
from engage_lab.draws import draw
from engage_lab.errors import EngineError, MissingSeedError
from engage_lab.events import EventRecord
from engage_lab.reference.history import History, PageView, VisitorHistory
from engage_lab.reference.plan import ConfigPlan, TriggerPlan
from engage_lab.reference.protocols import (
    AvailabilityProvider,
    Engagement,
    EngagementSource,
    Offer,
)
from engage_lab.reference.session_state import (
    ChatState,
    EngagedConversation,
    VisitState,
)
from engage_lab.reference.state import PageContext, attributes
from engage_lab.reference.triggers import clock_boundaries, conditions_hold, static_criteria_hold

__all__ = ["EventRow", "VisitorSession"]

#: One event as a tuple of the ``--out`` columns (:data:`engage_lab.events.EVENT_COLUMNS`).
EventRow = tuple[
    str, str, str, int, str, str, str | None, str | None, str | None, str | None,
    float | None, float | None,
]  # fmt: skip

INACTIVE = ("inactive", "maintenance")


class VisitorSession:
    """The Chat Manager of one visitor (see the module docstring).

    Parameters
    ----------
    visitor
        The visitor's recorded history.
    history
        The whole history (source status, threads, source seed).
    config_at
        ``t -> Config`` in force at ``t`` (see :func:`config_resolver`).
    seed
        Seed of the gating draws.
    availability, engagements
        The providers of :mod:`engage_lab.reference.protocols`.
    cache
        A dict shared by the sessions of one run (parsed conditions per configuration
        and trigger); the configurations must outlive it.
    """

    def __init__(
        self,
        visitor: VisitorHistory,
        history: History,
        config_at: Callable[[int], Config | None],
        *,
        seed: str | None,
        availability: AvailabilityProvider,
        engagements: EngagementSource,
        cache: dict[tuple[int, str, str], Any] | None = None,
    ) -> None:
        self.visitor = visitor
        self.history = history
        self.config_at = config_at
        self.seed = seed
        self.availability = availability
        self.engagements = engagements
        #: The events emitted so far, as rows of the ``--out`` columns (see :attr:`events`).
        self.event_rows: list[EventRow] = []
        #: Per row of :attr:`event_rows`, the pass of its instant's fixed point in which
        #: its trigger activated (0 for the first pass and for events of no pass):
        #: ``rounds`` of :func:`engage_lab.events.sort_events`.
        self.event_passes: list[int] = []
        #: Page views on which the Chat Manager ran (source active, a configuration in
        #: force): where a recorder writes the product's ``started`` event.
        self.active_page_views: list[PageView] = []
        self.engaged: list[EngagedConversation] = []
        # visitor-level counters (extension caps)
        self.executions: dict[str, int] = defaultdict(int)
        self.last_execution: dict[str, int] = {}
        self.pending_engagements: list[int] = sorted(set(engagements.planned(visitor.visitor_id)))
        # parsed conditions and time reads per (configuration, trigger), shareable
        self._cache: dict[tuple[int, str, str], Any] = {} if cache is None else cache

    @property
    def events(self) -> list[EventRecord]:
        """The events emitted so far (decisions and ``chat_engaged``) as records."""
        return [EventRecord(*row) for row in self.event_rows]

    #: Skip work that provably cannot change a result (page-fixed criteria failing at the
    #: page's start, fixed points with no trigger left to run, conditions evaluated again
    #: at one instant on an unchanged chat state). ``False`` runs the
    #: literal algorithm: tests/reference/test_shortcuts.py checks both agree.
    shortcuts: bool = True

    # ------------------------------------------------------------------ the run
    def run(self) -> list[EventRecord]:
        """Process every page view (no global ordering) and return the events."""
        for _ in self.steps():
            pass
        return self.events

    def steps(self) -> Iterator[int]:
        """Yield each instant before processing it (see the module docstring)."""
        pages = self.visitor.page_views
        visit: VisitState | None = None
        visit_count = 0
        previous: tuple[PageView, ChatState] | None = None
        for k, page in enumerate(pages):
            if visit is None or page.visit_id != visit.visit_id:
                visit_count += 1
                visit = VisitState(page.visit_id, visit_count, page.started_at)
            # A page view's instants stop where the visitor's next page view starts.
            limit = (
                page.ended_at
                if k + 1 == len(pages)
                else min(page.ended_at, pages[k + 1].started_at)
            )
            chat = ChatState()
            if page.page_change and previous is not None and previous[0].visit_id == page.visit_id:
                chat = previous[1].copy()  # single-page app: items and chat stay shown
            config = self.config_at(page.started_at)
            ctx = PageContext(
                page,
                len(visit.pages) + 1,
                visit.count,
                visit.start,
                self.visitor.changes(page.page_view_id),
                self.visitor.identities,
                config.source.timezone if config is not None else "UTC",
            )
            active = config is not None and self.history.status_at(page.started_at) not in INACTIVE
            if not active:
                chat = ChatState()  # nothing runs on this page view
            else:
                assert config is not None
                yield page.started_at
                self.active_page_views.append(page)
                yield from self._page(page, ctx, config, visit, chat, limit)
            self._drop_engagements_before(limit)
            visit.pages.append(page)
            # A page view ends where the visitor's next one starts (two tabs): its final
            # state is its state there.
            visit.final_values.append(
                ctx.final_values(chat_shown=chat.shown, chat_opened=chat.opened, end=limit)
            )
            previous = (page, chat)

    # ------------------------------------------------------------------ one page view
    def _page(
        self,
        page: PageView,
        ctx: PageContext,
        config: Config,
        visit: VisitState,
        chat: ChatState,
        limit: int,
    ) -> Iterator[int]:
        t0 = page.started_at
        heap: list[int] = []
        seen: set[int] = set()

        def add(t: int) -> None:
            if t0 <= t < limit and t not in seen:
                seen.add(t)
                heapq.heappush(heap, t)

        self._current_add = add  # offers made on this page add their engagement instants
        self._static_on_page = {}  # trigger id -> its static criteria hold (fixed per page)
        add(t0)
        stage = self._stage(page, config, visit, chat)
        configured = stage == "configured"
        plan = self._plan(config)
        possible: frozenset[str] = frozenset()
        if configured:
            start = [*visit.final_values, ctx.values_at(t0, chat_shown=False, chat_opened=False)]
            possible = plan.possible(start) if self.shortcuts else plan.trigger_ids
            for t in self._candidate_instants(page, ctx, plan, visit, limit, possible):
                add(t)
        for e in self.pending_engagements:
            add(e)
        activated: set[str] = set()
        frozen = not configured  # no configured trigger on this page (or engaged)
        while heap:
            t = heapq.heappop(heap)
            if t != t0:
                yield t
            # Once every possible trigger has activated, a fixed point has nothing to run.
            if not frozen and (len(activated) < len(possible) or not self.shortcuts):
                self._fixed_point(t, page, ctx, plan, visit, chat, activated, possible, add)
            for e in self._take_engagements(t):
                if self._honour(e, page, config, chat):
                    frozen = True
        self._current_add = None

    def _stage(self, page: PageView, config: Config, visit: VisitState, chat: ChatState) -> str:
        """Decide and show the stage at the start of the page view."""
        source = config.source
        if source.display == "embedded" and source.mode == "messaging":
            if page.embedded:
                self._show_chat(page, "embedded", chat, opened=True)
                return "embedded"
            return "none"  # no container: nothing at all on this page
        if self._in_continuation(page):
            self._show_chat(page, "continuation", chat, opened=True)
            return "continuation"
        if source.mode == "messaging" and self._has_open_thread(page.started_at):
            self._show_chat(page, "messaging", chat, opened=True)
            return "messaging"
        return "configured"

    def _show_chat(self, page: PageView, stage: str, chat: ChatState, *, opened: bool) -> None:
        if not chat.shown:
            chat.shown = True
            self._emit(page, page.started_at, "chat_shown", stage)
            self._offer(page, page.started_at, stage, "chat", None, None, None)
        chat.opened = chat.opened or opened

    def _in_continuation(self, page: PageView) -> bool:
        if not self.engaged:
            return False
        last = self.engaged[-1]
        e = last.engagement
        if e.visit_id != page.visit_id or e.engaged_at >= page.started_at:
            return False
        if e.mode == "messaging":
            return True
        return not last.conversation.ended_by(page.started_at)

    def _has_open_thread(self, t: int) -> bool:
        identities = [i for i in self.visitor.identities if i.set_at <= t]
        if not identities:
            return False
        current = identities[-1]  # the identity in force: the latest one set
        return any(th.is_open(t) for th in self.history.threads_of(current))

    def _candidate_instants(
        self,
        page: PageView,
        ctx: PageContext,
        plan: ConfigPlan,
        visit: VisitState,
        limit: int,
        possible: frozenset[str],
    ) -> list[int]:
        out = [page.started_at]
        out += [c.changed_at for c in ctx.changes]
        out += [i.set_at for i in self.visitor.identities]
        step = 0
        for planned in plan.triggers:
            trigger = planned.trigger
            if trigger.id not in possible:
                continue  # its static criteria fail: its thresholds cannot matter
            reads = planned.reads
            out += [page.started_at + d for d in reads.page_offsets]
            out += [visit.start + d for d in reads.visit_offsets]
            step = min(step or reads.clock_step, reads.clock_step or step)
            minimum = planned.min_ms_between
            if minimum is not None and trigger.id in self.last_execution:
                out.append(self.last_execution[trigger.id] + minimum)
        out += clock_boundaries(page.started_at, limit, step)
        return [t for t in out if page.started_at <= t < limit]

    def _plan(self, config: Config) -> ConfigPlan:
        key = (id(config), "", "plan")
        plan = self._cache.get(key)
        if plan is None:
            plan = self._cache[key] = ConfigPlan(config)
        return plan

    # ------------------------------------------------------------------ triggers
    def _fixed_point(
        self,
        t: int,
        page: PageView,
        ctx: PageContext,
        plan: ConfigPlan,
        visit: VisitState,
        chat: ChatState,
        activated: set[str],
        possible: frozenset[str],
        add: Callable[[int], None],
    ) -> None:
        current: dict[tuple[bool, bool], list[dict[str, Any]]] = {}

        def pages() -> list[dict[str, Any]]:
            # past pages by their final state, the current one at t with the chat as it is now
            key = (chat.shown, chat.opened)
            if key not in current:
                now = ctx.values_at(t, chat_shown=chat.shown, chat_opened=chat.opened)
                current[key] = [*visit.final_values, now]
            return current[key]

        def attrs() -> dict[str, Any]:
            return attributes(
                ctx,
                t,
                chat_shown=chat.shown,
                chat_opened=chat.opened,
                visit_pages=[*visit.pages, page],
            )

        # Conditions read the state at t, and during a fixed point only the chat state
        # changes: a trigger's result is known again for an unchanged chat state.
        held: dict[tuple[str, bool, bool], bool] = {}
        changed = True
        pass_index = -1
        while changed:
            changed = False
            pass_index += 1
            for planned in plan.triggers:  # the enabled ones, in list order
                trigger = planned.trigger
                if trigger.id not in possible or trigger.id in activated:
                    continue  # impossible on this page, or done
                if self._blocked(trigger, t, visit):
                    continue
                key = (trigger.id, chat.shown, chat.opened)
                if not self.shortcuts:
                    held[key] = conditions_hold(planned.conditions, plan.config, pages(), attrs)
                elif key not in held:
                    # the static criteria cannot change during the page: evaluated once
                    static = self._static_on_page.get(trigger.id)
                    if static is None:
                        static = static_criteria_hold(planned.conditions, pages())
                        self._static_on_page[trigger.id] = static
                    held[key] = static and conditions_hold(
                        planned.conditions, plan.config, pages(), attrs, static_held=True
                    )
                if not held[key]:
                    continue
                activated.add(trigger.id)
                changed = True
                self._activate(t, planned, page, plan, visit, chat, add, pass_index)

    def _blocked(self, trigger: Trigger, t: int, visit: VisitState) -> bool:
        if visit.no_other_by - {trigger.id}:
            return True
        if trigger.once_per_visit and visit.executions[trigger.id] > 0:
            return True
        ext = trigger.extensions
        if ext is not None:
            cap = ext.max_executions_per_visitor
            if cap is not None and self.executions[trigger.id] >= cap:
                return True
            minimum = ext.min_ms_between_executions
            last = self.last_execution.get(trigger.id)
            if minimum is not None and last is not None and t - last < minimum:
                return True
        return False

    def _activate(
        self,
        t: int,
        planned: TriggerPlan,
        page: PageView,
        plan: ConfigPlan,
        visit: VisitState,
        chat: ChatState,
        add: Callable[[int], None],
        pass_index: int,
    ) -> None:
        trigger, config = planned.trigger, plan.config
        p = u = None
        online = True
        if trigger.gated:
            if self.seed is None:
                raise MissingSeedError()
            p = float(self.availability.probability(t, trigger, config))
            u = draw(self.seed, page.visitor_id, page.page_view_id, trigger.id)
            online = u < p
        # The look used: offline only for a refusal in live chat (messaging always
        # uses the online look).
        mode = "offline" if not online and config.source.mode == "live_chat" else "online"
        emit = _TriggerEmitter(self, page, t, trigger.id, p, u, pass_index)
        emit("trigger_activated", mode)
        shown_items = planned.shown_items
        if any(i not in page.placeholders for i in planned.fixed_items):
            return  # fixed button without its placeholder: activated, not executed
        if not online:
            offline = [i for i in shown_items if plan.items[i].online_offline]
            if config.source.mode == "live_chat" and offline:
                emit("trigger_executed", "offline")
                for item_id in offline:
                    self._show_item(emit, plan, chat, item_id, "offline")
            return
        emit("trigger_executed", "online")
        visit.executions[trigger.id] += 1
        self.executions[trigger.id] += 1
        self.last_execution[trigger.id] = t
        if trigger.no_other_trigger_after:
            visit.no_other_by.add(trigger.id)
        minimum = planned.min_ms_between
        if minimum is not None:
            add(t + minimum)
        if planned.hides_others:
            chat.items.clear()  # hides what was visible before this execution
        for action in trigger.actions:
            if isinstance(action, ShowItemAction):
                self._show_item(emit, plan, chat, action.item, "online")
            elif isinstance(action, ShowChatMinimizedAction | ShowAndOpenChatAction):
                if not chat.shown:
                    chat.shown = True
                    emit("chat_shown", None)
                    self._offer(page, t, "configured", "chat", trigger.id, None, None)
                if isinstance(action, ShowAndOpenChatAction):
                    chat.opened = True
            elif isinstance(action, AutomaticMessageAction):
                # sent once per text per visit; it fires no event of its own
                visit.messages_sent.add(config.message(action.message).text)

    def _show_item(
        self, emit: _TriggerEmitter, plan: ConfigPlan, chat: ChatState, item_id: str, mode: str
    ) -> None:
        if item_id in chat.items:
            return  # already visible: not shown again
        kind = plan.items[item_id].kind
        chat.items[item_id] = (kind, mode)
        emit("item_shown", mode, item_id, kind)
        emit(f"{kind}_shown", mode, item_id, kind)
        self._offer(emit.page, emit.t, "configured", kind, emit.trigger_id, item_id, mode)

    # ------------------------------------------------------------------ engagement
    def _offer(
        self,
        page: PageView,
        t: int,
        stage: str,
        kind: str,
        trigger_id: str | None,
        item_id: str | None,
        mode: str | None,
    ) -> None:
        offer = Offer(
            page.visitor_id,
            page.page_view_id,
            page.visit_id,
            t,
            stage,
            kind,
            trigger_id,
            item_id,
            mode,
            page,
        )
        e = self.engagements.offered(offer)
        if e is not None:
            if e < t:
                raise EngineError(f"an engagement at {e} answers an offer made at {t}")
            heapq.heappush(self.pending_engagements, int(e))
            self._page_add(int(e))

    def _page_add(self, t: int) -> None:
        # set by _page for the page being processed (offers add instants to it)
        if self._current_add is not None:
            self._current_add(t)

    _current_add: Callable[[int], None] | None = None
    _static_on_page: dict[str, bool]

    def _take_engagements(self, t: int) -> list[int]:
        taken = []
        while self.pending_engagements and self.pending_engagements[0] <= t:
            e = heapq.heappop(self.pending_engagements)
            if e == t:
                taken.append(e)
        return taken

    def _drop_engagements_before(self, limit: int) -> None:
        while self.pending_engagements and self.pending_engagements[0] < limit:
            heapq.heappop(self.pending_engagements)

    def _honour(self, e: int, page: PageView, config: Config, chat: ChatState) -> bool:
        if self._engaged_at(e, page) or not chat.anything_visible:
            return False
        engagement = Engagement(
            page.visitor_id,
            page.page_view_id,
            page.visit_id,
            e,
            config.source.mode,
            config.source.impossibility_delay_ms,
        )
        conversation = self.engagements.engage(engagement)
        self.engaged.append(EngagedConversation(engagement, conversation))
        chat.shown = chat.opened = True  # the visitor writes in the open chat
        self._emit(page, e, "chat_engaged", "engagement")
        return True

    def _engaged_at(self, t: int, page: PageView) -> bool:
        if not self.engaged:
            return False
        last = self.engaged[-1]
        if last.engagement.visit_id != page.visit_id:
            return False
        return last.engagement.mode == "messaging" or not last.conversation.ended_by(t)

    # ------------------------------------------------------------------ output
    def _emit(
        self,
        page: PageView,
        t: int,
        event: str,
        stage: str,
        trigger_id: str | None = None,
        mode: str | None = None,
        item_id: str | None = None,
        item_type: str | None = None,
        p: float | None = None,
        u: float | None = None,
        pass_index: int = 0,
    ) -> None:
        # A plain row (EVENT_COLUMNS order): records are checked when built from it.
        self.event_passes.append(pass_index)
        self.event_rows.append(
            (
                page.visitor_id,
                page.visit_id,
                page.page_view_id,
                t,
                event,
                stage,
                trigger_id,
                item_id,
                item_type,
                mode,
                p,
                u,
            )
        )

    def outcome_records(self) -> list[EventRecord]:
        """The engagement-side events (``message_sent``, ``message_received``,
        ``chat_closed``) of every honoured engagement; ask once the run is over."""
        pages = self.visitor.page_views
        by_id = {p.page_view_id: p for p in pages}
        out = []
        for item in self.engaged:
            for ev in item.conversation.outcome_events():
                page = by_id.get(ev.page_view_id) if ev.page_view_id else None
                if page is None:
                    page = _page_at(pages, ev.event_at) or by_id[item.engagement.page_view_id]
                row = (page.visitor_id, page.visit_id, page.page_view_id, ev.event_at)
                out.append(EventRecord(*row, ev.event, "engagement"))
        return out


class _TriggerEmitter:
    """Emits the events of one trigger at one instant (same p, u and pass on each)."""

    def __init__(
        self,
        session: VisitorSession,
        page: PageView,
        t: int,
        trigger_id: str,
        p: float | None,
        u: float | None,
        pass_index: int,
    ) -> None:
        self.session, self.page, self.t, self.trigger_id, self.p, self.u = (
            session,
            page,
            t,
            trigger_id,
            p,
            u,
        )
        self.pass_index = pass_index

    def __call__(
        self, event: str, mode: str | None, item_id: str | None = None, item_type: str | None = None
    ) -> None:
        self.session._emit(
            self.page,
            self.t,
            event,
            "configured",
            self.trigger_id,
            mode,
            item_id,
            item_type,
            self.p,
            self.u,
            self.pass_index,
        )


def _page_at(pages: tuple[PageView, ...], t: int) -> PageView | None:
    """The latest page view started at or before ``t``."""
    found = None
    for p in pages:
        if p.started_at <= t:
            found = p
    return found
