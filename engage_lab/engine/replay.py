"""``run_fast`` / ``replay_fast``: SQL for the facts and conditions, one compiled pass.

Steps, each cached on the caller's connection so that a second replay only redoes what
its configuration changed (a moved duration threshold, a policy, a queuing factor or a
trigger enabled / disabled re-run steps 5–6 alone; docs/tuning.md lists which edits
recompile what):

1. page-view facts (:mod:`engage_lab.engine.pages`), per :class:`~.pages.PagesKey`;
2. candidates: the page-fixed part of the conditions (:mod:`engage_lab.engine.static`),
   per configuration structure and page-criteria values;
3. variable rows and expression rows (SQL, per compiled test and bound values);
4. engagements with every engagement's outcome events, open threads and the
   availability timeline (per facts / data);
5. the dynamic leaves (:mod:`engage_lab.engine.leaves`) and gating policies;
6. the pass (:mod:`engage_lab.engine.kernel`), then the outcome events of the
   engagements it honoured, picked from step 4's.

Disabled triggers are planned too (:func:`~engage_lab.engine.plan.make_plan`'s
``disabled_too``) and their slots get no candidate page view, so the pass never opens
them: enabling or disabling a trigger does not recompile the conditions of step 2.

The result is a :class:`~engage_lab.engine.output.FastRun`: coded event arrays with
everything needed to name them (:meth:`FastRun.frame` builds the events frame).
"""

from __future__ import annotations

import itertools
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import duckdb
import numpy as np
from sqlglot import exp

from engage_lab.availability.state import timeline_sql
from engage_lab.conditions.sql_common import warm_folds
from engage_lab.config import Config, ConfigHistory
from engage_lab.engine import engagements as eng_sql
from engage_lab.engine.actions import ACT_ITEM
from engage_lab.engine.ahead import ENGINE_THREADS, Ahead
from engage_lab.engine.expressions import expression_rows
from engage_lab.engine.ids import id_buffers, page_ranges
from engage_lab.engine.inputs import SlotArrays, slot_arrays
from engage_lab.engine.kernel import move_left, run_pass
from engage_lab.engine.kernel_inputs import (
    EngagementInputs,
    EntryInputs,
    GatingInputs,
    Honoured,
    LeafInputs,
    PageInputs,
    PassBounds,
    PassOutput,
    SlotInputs,
)
from engage_lab.engine.leaves import leaf_arrays
from engage_lab.engine.memory import ordinary_pages
from engage_lab.engine.output import FastRun, GatingContext
from engage_lab.engine.pages import (
    NEVER,
    Pages,
    PagesKey,
    build_pages,
    column_read,
    data_version,
    source_record,
    var_read,
)
from engage_lab.engine.plan import Plan, UnsupportedByFastEngineError, make_plan
from engage_lab.engine.static import Candidates, ahead_reads, candidates, candidates_key
from engage_lab.errors import EngageLabError, EngineError, MissingSeedError, translate_duckdb
from engage_lab.events import STAGES
from engage_lab.kpis.coded import MAX_ITEMS, MAX_TRIGGERS, pack
from engage_lab.tiers import carried, tiered

__all__ = ["replay_fast", "run_fast"]


@dataclass
class _Cache:
    """What one connection keeps between replays."""

    version: tuple[Any, ...] | None = None
    pages: dict[PagesKey, Pages] = field(default_factory=dict)
    candidates: dict[tuple[Any, ...], Candidates] = field(default_factory=dict)
    rows: dict[str, Any] = field(default_factory=dict)
    engagements: dict[tuple[Any, ...], _EngagementInputs] = field(default_factory=dict)
    threads: dict[PagesKey, np.ndarray] = field(default_factory=dict)
    keys: dict[PagesKey, tuple[Any, ...]] = field(default_factory=dict)
    timeline: tuple[np.ndarray, ...] | None = None
    #: the ``source`` record of this data version
    source: dict[str, Any] | None = None

    def reset(self, version: tuple[Any, ...]) -> None:
        self.__init__()  # type: ignore[misc]
        self.version = version


_CACHES: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, _Cache] = weakref.WeakKeyDictionary()


def _cache_of(con: duckdb.DuckDBPyConnection) -> _Cache:
    cache = _CACHES.get(con)
    if cache is None:
        cache = _CACHES[con] = _Cache()
    return cache


def _execute(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None):
    with translate_duckdb(EngineError, "fast engine: query failed"):
        return con.execute(sql, params or {})


def _pages_key(
    plan: Plan,
    con: duckdb.DuckDBPyConnection,
    time_range: tuple[int, int] | None,
    sample: float | None,
    seed: str | None,
    segment: tuple[str, tuple[tuple[str, Any], ...]] | None,
    version: tuple[Any, ...],
) -> PagesKey:
    return PagesKey.of_plan(
        con,
        plan,
        time_range=time_range,
        sample=sample,
        seed=seed,
        segment=segment,
        version=version,
    )


def _timeline(con: duckdb.DuckDBPyConnection, cache: _Cache) -> tuple[np.ndarray, ...]:
    """Availability steps from the logs, with a leading all-zero step at -inf."""
    if cache.timeline is None:
        query = (
            exp.select(
                exp.func("epoch_ms", exp.column("valid_from")).as_("t"),
                "capacity",
                "in_progress",
                "waiting",
            )
            .from_(timeline_sql().subquery("tl"))
            .order_by("t")
        )
        rows = _execute(con, query.sql("duckdb")).fetchnumpy()
        cache.timeline = tuple(
            np.concatenate([[v], rows[c].astype(np.int64)])
            for c, v in (("t", -NEVER), ("capacity", 0), ("in_progress", 0), ("waiting", 0))
        )
    return cache.timeline


@dataclass(frozen=True)
class _EngagementInputs:
    """The recorded engagements of the replayed visitors, each visitor's range of them,
    and every engagement's outcome events (none without engagements)."""

    engagements: eng_sql.Engagements
    lo: np.ndarray
    hi: np.ndarray
    outcomes: eng_sql.Outcomes | None


def _engagements(
    con: duckdb.DuckDBPyConnection, cache: _Cache, key: tuple[Any, ...], pages: Pages
) -> _EngagementInputs:
    """The engagement inputs of the pass, per page facts, mode and delays (cached)."""
    found = cache.engagements.get(key)
    if found is None:
        live, delays = key[1], key[2]
        eng = eng_sql.engagements(con, live, delays)
        lo, hi = eng.ranges(np.arange(len(pages.id_at), dtype=np.int64))
        outcomes = eng_sql.outcomes(con, pages, eng) if len(eng.e) else None
        found = cache.engagements[key] = _EngagementInputs(eng, lo, hi, outcomes)
    return found


def _id_buffers(con: duckdb.DuckDBPyConnection, pages: Pages, cache: _Cache) -> tuple[Any, ...]:
    """Visitor ids (by code) and page view ids (in scan order, with each pvi's byte range)
    as byte buffers, for the draws (:mod:`engage_lab.engine.ids`)."""
    if pages.key not in cache.keys:
        v_data, v_off, v_long = id_buffers(pages.visitor_ids(con))
        p_data, scan_off, p_long = id_buffers(pages.scan_page_view_ids(con))
        cache.keys.clear()
        cache.keys[pages.key] = (v_data, v_off, p_data, tiered(page_ranges)(scan_off, pages.pos),
                                 v_long + p_long)  # fmt: skip
    return cache.keys[pages.key]


def _event_bound(plan: Plan, cand: Candidates, lo: int, hi: int) -> int:
    """An upper bound of the decision events of page views ``lo:hi``: per candidate slot,
    activated + executed + two per shown item + the chat; per page view a stage's chat."""
    events = hi - lo
    for j, slot in enumerate(plan.slots):
        block = cand.pvi[cand.lo[j] : cand.hi[j]]
        count = int(np.searchsorted(block, hi) - np.searchsorted(block, lo))
        items = sum(1 for code, _ in slot.program if code == ACT_ITEM)
        chat = 1 if any(code != ACT_ITEM for code, _ in slot.program) else 0
        events += count * (2 + 2 * items + chat)
    return events


def _run_chunks(
    args: tuple[Any, ...], plan: Plan, pages: Pages, cand: Candidates, n_eng: int
) -> tuple[np.ndarray, np.ndarray, int, tuple[np.ndarray, ...]]:
    """Run the pass over page-view chunks of whole visitors in parallel threads (the pass
    releases the GIL; visitors are independent in a replay), each into its own region of
    one buffer, then close the gaps. Returns ``(t, pc, n, honoured arrays)`` with room
    after the ``n`` events for four outcome events per engagement."""
    n_pages = len(pages)
    honoured = np.zeros(n_eng, np.bool_)
    honoured_pvi = np.full(n_eng, -1, np.int64)
    variant = np.zeros(n_eng, np.int64)
    shared = Honoured(honoured=honoured, pvi=honoured_pvi, variant=variant)
    workers = max(1, min(_THREADS, n_pages // _PAGES_PER_THREAD))
    cuts = [0]
    for w in range(1, workers):
        cut = int(np.searchsorted(pages.visitor, pages.visitor[n_pages * w // workers]))
        cuts.append(max(cut, cuts[-1]))
    cuts.append(n_pages)
    chunks = [(a, b) for a, b in itertools.pairwise(cuts) if b > a] or [(0, 0)]
    # + n_eng: an honoured engagement's chat_engaged, on any page (a stage's page too)
    bounds = [_event_bound(plan, cand, lo, hi) + n_eng for lo, hi in chunks]
    starts = np.cumsum([0, *bounds])
    total = int(starts[-1]) + 4 * n_eng
    t = np.empty(total, np.int64)
    pc = np.empty((total, 2), np.int32)

    jobs = [
        (args, chunks[k], t[starts[k] : starts[k + 1]], pc[starts[k] : starts[k + 1]], shared)
        for k in range(len(chunks))
    ]
    if len(jobs) == 1:
        counts = [_run_region(*jobs[0])]
    else:
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            counts = list(pool.map(carried(lambda job: _run_region(*job)), jobs))
    del jobs  # the region views: the buffers are resized below
    n = 0
    for k, count in enumerate(counts):
        if count > bounds[k]:
            raise EngineError(f"fast engine: the event bound was too small ({count} > {bounds[k]})")
        first = int(starts[k])
        if first != n:  # close the gap left by the previous region
            move_left(t, pc, n, first, count)
        n += count
    # give back the memory past the events (and the room kept for the outcomes): a gap
    # closed above had been written, and a result keeps its buffers as long as it lives
    try:
        t.resize((n + 4 * n_eng,))
        pc.resize((n + 4 * n_eng, 2))
    except ValueError:  # another reference to a buffer (a tracer's): keep it whole
        pass
    return t, pc, n, shared


def _run_region(
    args: tuple[Any, ...],
    chunk: tuple[int, int],
    t: np.ndarray,
    pc: np.ndarray,
    shared: tuple[np.ndarray, ...],
) -> int:
    return tiered(run_pass)(*args, chunk[0], chunk[1], PassOutput(t=t, pc=pc), shared)


#: threads of the pass (visitors are independent in a replay), the fewest page views per thread
_THREADS = ENGINE_THREADS
_PAGES_PER_THREAD = 20_000


@dataclass(frozen=True)
class Prepared:
    """Everything a compiled pass over the page views reads, built from one connection
    and one configuration (shared by the replay and the world generator's recorder)."""

    con: duckdb.DuckDBPyConnection
    plan: Plan
    pages: Pages
    cand: Candidates
    slots: SlotArrays
    seed_bytes: np.ndarray
    #: (visitor id bytes, offsets, page view id bytes, offsets, longest key)
    id_bytes: tuple[Any, ...]
    #: distinct impossibility delays (ms) and each entry's index in them
    delays: tuple[int, ...]
    page_tuple: PageInputs
    leaf_tuple: LeafInputs
    slot_tuple: SlotInputs
    entry_tuple: EntryInputs
    bounds: PassBounds
    key: PagesKey
    cache: _Cache

    @property
    def slot_of(self) -> np.ndarray:
        """Slot index per (configuration entry, global trigger index), -1 none."""
        plan = self.plan
        out = np.full((len(plan.entries), max(len(plan.trigger_ids), 1)), -1, np.int64)
        for j, slot in enumerate(plan.slots):
            out[slot.entry, slot.gid] = j
        return out


def prepare(
    con: Any,
    config: Config | ConfigHistory,
    *,
    seed: str | int | None = None,
    time_range: tuple[int, int] | None = None,
    sample: float | None = None,
    segment: tuple[str, tuple[tuple[str, Any], ...]] | None = None,
    disabled_too: bool = False,
) -> Prepared:
    """The inputs of a compiled pass (see :class:`Prepared`), cached per connection.

    ``disabled_too``: the plan holds the disabled triggers too, their slots masked (no
    candidate page view: the pass never opens them), so enabling or disabling a trigger
    reuses the compiled conditions; falls back to the enabled triggers' plan when a
    disabled trigger is one the fast engine cannot compile.
    """
    if disabled_too and _any_disabled(config):
        try:
            return _prepare(con, config, seed, time_range, sample, segment, disabled_too=True)
        except EngageLabError:
            pass  # a disabled trigger the engine cannot compile: without it, below
    return _prepare(con, config, seed, time_range, sample, segment, disabled_too=False)


def _any_disabled(config: Config | ConfigHistory) -> bool:
    configs = [config] if isinstance(config, Config) else [e.config for e in config.history]
    return any(not t.enabled for c in configs for t in c.triggers)


def _prepare(
    con: Any,
    config: Config | ConfigHistory,
    seed: str | int | None,
    time_range: tuple[int, int] | None,
    sample: float | None,
    segment: tuple[str, tuple[tuple[str, Any], ...]] | None,
    *,
    disabled_too: bool,
) -> Prepared:
    con = getattr(con, "con", con)
    warm_folds()  # string tests need them; meanwhile the page facts are built
    plan = make_plan(config, disabled_too=disabled_too)
    if len(plan.trigger_ids) > MAX_TRIGGERS or len(plan.items) > MAX_ITEMS:
        raise UnsupportedByFastEngineError(
            f"the fast engine replays at most {MAX_TRIGGERS} triggers and {MAX_ITEMS} items"
        )
    cache = _cache_of(con)
    version = data_version(con)
    if cache.version != version:
        cache.reset(version)
    if cache.source is None:
        cache.source = source_record(con)
    chosen_seed = str(seed) if seed is not None else cache.source.get("seed")
    key = _pages_key(plan, con, time_range, sample, chosen_seed, segment, version)
    pages = cache.pages.get(key)
    with Ahead(con) as ahead:
        if pages is None:
            cache.pages.clear()
            cache.candidates.clear()
            cache.rows.clear()
            cache.engagements.clear()
            # history reads that wait for no pass: they run beside the page facts' passes
            ahead.later("var", var_read)
            for read_key, read in ahead_reads(plan, int(key.version[2])):
                ahead.later(read_key, read)
            if plan.any_gated:
                ahead.later(("column", "page_view_id"), column_read("page_view_id"))
            pages = cache.pages[key] = build_pages(con, key, ahead)
        pages.ahead = ahead
        try:
            return _prepared(con, plan, pages, key, cache, chosen_seed)
        finally:
            pages.ahead = None


def _enabled_only(plan: Plan, cand: Candidates) -> Candidates:
    """The candidates with none for the disabled triggers' slots (a plan made with
    ``disabled_too``): the pass then never opens them, as if they were not there."""
    disabled = [j for j, slot in enumerate(plan.slots) if not slot.trigger.enabled]
    if not disabled:
        return cand
    hi = cand.hi.copy()
    hi[disabled] = cand.lo[disabled]
    return replace(cand, hi=hi)


def _prepared(
    con: duckdb.DuckDBPyConnection,
    plan: Plan,
    pages: Pages,
    key: PagesKey,
    cache: _Cache,
    chosen_seed: str | None,
) -> Prepared:
    n_pages = len(pages)
    cand_key = (key, candidates_key(plan))
    cand = cache.candidates.get(cand_key)
    if cand is None:
        cand = cache.candidates[cand_key] = candidates(con, plan, pages)
    expr_rows = expression_rows(con, plan, pages, cand, cache.rows)
    leaves = leaf_arrays(con, plan, pages, expr_rows, cache.rows, cand, repr(cand_key))
    cand = _enabled_only(plan, cand)
    slots = slot_arrays(plan)
    delays = tuple(sorted({e.config.source.impossibility_delay_ms for e in plan.entries}, key=str))
    open_thread = np.zeros(n_pages, np.bool_)
    if plan.mode == "messaging":
        if key not in cache.threads:
            cache.threads[key] = eng_sql.open_threads(con, n_pages)
        open_thread = cache.threads[key]
    if plan.any_gated:
        if chosen_seed is None:
            raise MissingSeedError()
        id_bytes = _id_buffers(con, pages, cache)
        seed_bytes = np.frombuffer(str(chosen_seed).encode("utf-8"), np.uint8).copy()
    else:
        empty, none = np.zeros(1, np.uint8), np.zeros(1, np.int32)
        id_bytes = (empty, none, empty, np.zeros((1, 2), np.int32), 0)
        seed_bytes = np.zeros(0, np.uint8)
    entry_embedded = np.array(
        [e.config.source.display == "embedded" and plan.mode == "messaging" for e in plan.entries],
        np.bool_,
    )
    entry_delay = np.array(
        [delays.index(e.config.source.impossibility_delay_ms) for e in plan.entries], np.int64
    )
    entry_of = np.array([s.entry for s in plan.slots], np.int64)
    entry_lo = np.searchsorted(entry_of, np.arange(len(plan.entries)), side="left")
    entry_hi = np.searchsorted(entry_of, np.arange(len(plan.entries)), side="right")
    page_tuple = PageInputs(
        visitor=pages.visitor, visit=pages.visit, start=pages.start, limit=pages.limit,
        vstart=pages.visit_start, idx=pages.idx, active=pages.active, embedded=pages.embedded,
        carries=pages.carries, entry=pages.entry, open_thread=open_thread, id_at=pages.id_at,
        signed_at=pages.signed_at,
    )  # fmt: skip
    slot_tuple = SlotInputs(
        sint=slots.sint, leaf_lo=leaves.slot_lo, leaf_hi=leaves.slot_hi, cand_lo=cand.lo,
        cand_hi=cand.hi, cand_pvi=cand.pvi, cand_act=cand.act, fixed_missing=cand.fixed_missing,
        chat_lo=slots.chat_lo, chat_hi=slots.chat_hi, chat_code=slots.chat_code,
        chat_back=slots.chat_back, chat_which=slots.chat_which, chat_r=slots.chat_r,
        prog=slots.prog, off_item=slots.off_item, item_is_button=slots.item_is_button,
        pol_xp=slots.pol_xp, key_data=slots.key_data,
    )  # fmt: skip
    entry_tuple = EntryInputs(
        slot_lo=entry_lo.astype(np.int64),
        slot_hi=entry_hi.astype(np.int64),
        embedded=entry_embedded,
        delay=entry_delay,
    )
    bounds = PassBounds(
        max_breakpoints=leaves.max_breakpoints, n_gid=max(len(plan.trigger_ids), 1),
        n_items=len(plan.items), messaging=plan.mode == "messaging",
    )  # fmt: skip
    leaf_tuple = LeafInputs(
        kind=leaves.kind, d=leaves.d, ge=leaves.ge, r=leaves.r, tab_lo=leaves.tab_lo,
        tab_hi=leaves.tab_hi, tab_t=leaves.tab_t, tab_v=leaves.tab_v, row_lo=leaves.row_lo,
        row_hi=leaves.row_hi, row_pvi=leaves.row_pvi, row_t=leaves.row_t, row_v=leaves.row_v,
    )  # fmt: skip
    return Prepared(
        con=con, plan=plan, pages=pages, cand=cand, slots=slots, seed_bytes=seed_bytes,
        id_bytes=id_bytes, delays=delays, page_tuple=page_tuple,
        leaf_tuple=leaf_tuple, slot_tuple=slot_tuple, entry_tuple=entry_tuple,
        bounds=bounds, key=key, cache=cache,
    )  # fmt: skip


@ordinary_pages()
def run_fast(
    con: Any,
    config: Config | ConfigHistory,
    *,
    seed: str | int | None = None,
    time_range: tuple[int, int] | None = None,
    sample: float | None = None,
    segment: tuple[str, tuple[tuple[str, Any], ...]] | None = None,
) -> FastRun:
    """Replay with the fast engine; return the coded events (:class:`FastRun`).

    ``segment`` is a compiled page condition ``(sql, params)`` over the columns of
    ``page_views`` and the visitor's ``country``.
    """
    prep = prepare(
        con, config, seed=seed, time_range=time_range, sample=sample, segment=segment,
        disabled_too=True,
    )  # fmt: skip
    con, plan, pages, cand, cache = prep.con, prep.plan, prep.pages, prep.cand, prep.cache
    live = plan.mode == "live_chat"
    eng = _engagements(con, cache, (prep.key, live, prep.delays), pages)
    timeline = _timeline(con, cache)
    v_data, v_off, p_data, p_at, longest = prep.id_bytes
    steps_t, steps_cap, steps_busy, steps_wait = timeline
    gating = GatingInputs(
        seed=prep.seed_bytes, v_data=v_data, v_off=v_off, p_data=p_data, p_at=p_at,
        longest=longest, steps_t=steps_t, steps_cap=steps_cap, steps_busy=steps_busy,
        steps_wait=steps_wait,
    )  # fmt: skip
    eng_tuple = EngagementInputs(
        lo=eng.lo, hi=eng.hi, t=eng.engagements.e, stop=eng.engagements.stop
    )
    args = (prep.page_tuple, prep.leaf_tuple, prep.slot_tuple, prep.entry_tuple, gating,
            eng_tuple, prep.bounds)  # fmt: skip
    t, pc, n, (honoured, honoured_pvi, variant) = _run_chunks(
        args, plan, pages, cand, len(eng.engagements.e)
    )
    if honoured.any():
        assert eng.outcomes is not None
        o_pvi, o_t, o_event = eng.outcomes.rows(np.where(honoured, honoured_pvi, -1), variant)
        m = len(o_pvi)
        if n + m > len(t):
            raise EngineError("fast engine: more outcome events than the room kept for them")
        t[n : n + m] = o_t
        pc[n : n + m, 0] = o_pvi
        pc[n : n + m, 1] = pack(o_event, STAGES.index("engagement"), 0, -1, -1)
        n += m
    gating_context = GatingContext(
        plan=plan, seed=prep.seed_bytes, ids=prep.id_bytes, timeline=timeline,
        slot_of=prep.slot_of, slots=prep.slots,
    )  # fmt: skip
    return FastRun(
        plan=plan,
        pages=pages,
        t=t[:n],
        pvi=pc[:n, 0],
        code=pc[:n, 1],
        con=con,
        timeline=timeline,
        gating=gating_context,
    )


def replay_fast(
    con: Any,
    config: Config | ConfigHistory,
    *,
    seed: str | int | None = None,
    time_range: tuple[Any, Any] | None = None,
    sample: float | None = None,
) -> Any:
    """Replay a configuration over the history in ``con`` with the fast engine.

    The same events as :func:`engage_lab.reference.replay_reference` with the log-based
    availability and the recorded engagements (docs/semantics.md), computed with SQL over
    DuckDB and one compiled pass.

    Parameters
    ----------
    con
        A DuckDB connection of an engage_lab database, or a :class:`~engage_lab.lab.Lab`.
    config
        The configuration or configuration history.
    seed
        Seed of the gating draws (default: the ``source`` record's seed).
    time_range
        ``(start, end)``: only page views starting in ``[start, end)``.
    sample
        A fraction of visitors (stable hash sample, :func:`engage_lab.draws.in_sample`).

    Returns
    -------
    pandas.DataFrame
        The events in the :mod:`engage_lab.events` schema and canonical order.

    Examples
    --------
    >>> import engage_lab as el, tempfile, pathlib
    >>> lab = el.open(pathlib.Path(tempfile.mkdtemp()) / "x.duckdb")
    >>> _ = lab.load("data/sample")
    >>> cfg = el.Config.load("data/configs/production-live-chat.json")
    >>> events = replay_fast(lab, cfg)
    >>> list(events.columns)[:4]
    ['visitor_id', 'visit_id', 'page_view_id', 'event_at']
    >>> lab.close()
    """
    from engage_lab.availability.state import to_ms

    window = None if time_range is None else (to_ms(time_range[0]), to_ms(time_range[1]))
    return run_fast(con, config, seed=seed, time_range=window, sample=sample).frame()
