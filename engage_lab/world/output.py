"""Writing a drawn ``World``: the history as JSON Lines, the ground truth under ``truth/``.

Files at the top of the output folder, one per table (``page_views.jsonl``,
``var_changes.jsonl``, ...), each line ``{"type": ..., "id": ..., fields in schema
order}``. Ids are ``s{seed}-{kind}-{number}`` (1-based, zero-padded), so two worlds never
collide. Browser times (``schema.BROWSER_TIMES``) are written with the visitor's clock
offset added, as a browser would have recorded them; the ``visitor`` record carries the
offset the loader subtracts. ``truth/`` holds ``params.json`` (every parameter, the run's
arguments, the chat-event step's status), ``visitors.jsonl`` (country, zone, device,
account, plan, the hidden ``engagement_effect`` and ``engagement_p_reference``, the
engagement probability of an invitation shown after 30 s on a product page in a first
visit), ``visits.jsonl`` (the visits the loader derives, with their effective end) and
``agents.jsonl`` (soft limit, shift).

>>> id_prefix(42, "page_view")
's42-pv-'
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from engage_lab.data import schema
from engage_lab.world.agents import STATUSES
from engage_lab.world.chat import ChatRecording, WorldView
from engage_lab.world.model import World
from engage_lab.world.pages import CAMPAIGNS, EXTERNAL_REFERRERS
from engage_lab.world.site import FIXED_HELP_BUTTON, PAGE_CATEGORIES
from engage_lab.world.truth import engagement_probability
from engage_lab.world.variables import VAR_NAMES
from engage_lab.world.writer import (
    BoolColumn,
    CodeColumn,
    FragmentColumn,
    IdColumn,
    IntColumn,
    TextColumn,
    TextIdColumn,
    TimeColumn,
    frame_columns,
    write_json,
    write_jsonl,
)

__all__ = ["ID_FORMS", "id_prefix", "world_view", "write_world"]

#: Record type -> (short kind in ids, zero-padding width).
ID_FORMS: dict[str, tuple[str, int]] = {
    "source": ("src", 1),
    "source_status": ("st", 3),
    "visitor": ("v", 6),
    "visit": ("visit", 6),
    "page_view": ("pv", 7),
    "var_change": ("vc", 7),
    "identity": ("id", 6),
    "thread": ("th", 6),
    "agent": ("a", 3),
    "presence": ("pr", 6),
    "conversation": ("cv", 6),
    "web_chat": ("wc", 6),
    "chat_event": ("ce", 7),
}
_AGENT_NAMES = ("Ana", "Bruno", "Chloé", "David", "Emma", "Farid", "Gaëlle", "Hugo", "Inès",
                "Jules", "Karim", "Léa", "Marc", "Nadia", "Olivier", "Pauline", "Quentin",
                "Rose", "Samir", "Théo", "Ugo", "Victor", "Wassim", "Yasmine", "Zoé")  # fmt: skip


def id_prefix(seed: int, record_type: str) -> str:
    """The id prefix of ``record_type`` in the world of ``seed``."""
    return f"s{seed}-{ID_FORMS[record_type][0]}-"


def _ids(seed: int, record_type: str, numbers: np.ndarray, name: str = "id") -> IdColumn:
    kind, width = ID_FORMS[record_type]
    return IdColumn(name, np.asarray(numbers, dtype=np.int64), f"s{seed}-{kind}-", width)


def _cart_text(cents: int) -> str:
    return repr(cents / 100)


def _var_values(world: World) -> list[str]:
    plans = [json.dumps(p) for p, _ in world.params.plans]
    out = []
    for name, value in zip(world.var_changes.name.tolist(), world.var_changes.value.tolist(),
                           strict=True):  # fmt: skip
        if name == 0:
            out.append(_cart_text(value))
        elif name == 1:
            out.append("true" if value else "false")
        else:
            out.append(plans[value])
    return out


def _fields(**values: object) -> str:
    """``,"key":value`` fragments of several fields, in the order given."""
    return "".join(
        f',"{k}":' + json.dumps(v, ensure_ascii=False, separators=(",", ":"))
        for k, v in values.items()
    )


def _url_tables(world: World) -> tuple[list[str], list[str], list[str | None]]:
    """URL, path and referrer tables; code = page + pages * campaign (then externals)."""
    site = world.site
    urls = [u + q for q in CAMPAIGNS for u in site.urls]
    paths = [p + q for q in CAMPAIGNS for p in site.paths]
    return urls, paths, [*urls, *(r for r, _ in EXTERNAL_REFERRERS)]


def _url_codes(world: World, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes into ``_url_tables`` of each page row's URL and referrer, in output order."""
    pages, n = world.pages, len(world.site)
    campaign = pages.campaign()
    url_code = pages.page.astype(np.int64) + n * campaign
    # The referrer of a later page is the previous page's URL, with the campaign tags of
    # the landing when the previous page is the (recorded) landing.
    previous_is_row = pages.referrer_page == np.roll(pages.page, 1)
    previous_campaign = np.where(previous_is_row, np.roll(campaign, 1), 0)
    previous_url = pages.referrer_page.astype(np.int64) + n * previous_campaign
    external = n * len(CAMPAIGNS) + pages.external_referrer.astype(np.int64)
    referrer_code = np.where(pages.referrer_page >= 0, previous_url, external)
    return url_code[order], referrer_code[order]


def write_world(
    world: World,
    out: Path,
    recording: ChatRecording | None,
    advance: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Write every table of ``world`` (and the chat recording) to ``out``; rows per file."""
    seed, site, pages, people = world.seed, world.site, world.pages, world.visitors
    rows: dict[str, int] = {}

    def put(table: str, record: str, n: int, columns, numbers=None) -> None:
        if n == 0:
            return
        ids = _ids(seed, record, np.arange(1, n + 1) if numbers is None else numbers)
        rows[f"{table}.jsonl"] = write_jsonl(out / f"{table}.jsonl", record, ids, columns, n,
                                             advance)  # fmt: skip

    put("source", "source", 1, [
        CodeColumn("mode", np.zeros(1, np.int64), [world.mode]),
        CodeColumn("timezone", np.zeros(1, np.int64), [world.params.timezone]),
        CodeColumn("seed", np.zeros(1, np.int64), [str(seed)]),
    ])  # fmt: skip
    status_ms = np.array([world.span.start_ms, *world.maintenance_ms], dtype=np.int64)
    put("source_status", "source_status", 3, [
        TimeColumn("changed_at", status_ms),
        CodeColumn("status", np.array([0, 1, 0]), ["active", "maintenance"]),
    ])  # fmt: skip
    active = world.active_visitors
    countries = [c for c, _, _ in world.params.countries]
    put("visitors", "visitor", len(active), [
        IntColumn("clock_offset_ms", people.clock_offset_ms[active]),
        CodeColumn("country", people.country[active].astype(np.int64), countries),
    ], numbers=active + 1)  # fmt: skip

    # Page views, in output order (true start time).
    order = np.argsort(world.page_number)
    row_visitor = world.visit_visitor[pages.visit][order]
    offset = people.clock_offset_ms[row_visitor]
    url_code, referrer_code = _url_codes(world, order)
    urls, paths, referrers = _url_tables(world)
    devices = [d for d, _ in world.params.device_weights]
    # Fields that depend only on the page (and campaign, page change): one lookup a line.
    n_site = len(site)
    address = [
        _fields(url=urls[c], path=paths[c], title=site.titles[c % n_site]) for c in range(len(urls))
    ]
    embeds = site.embedded & (world.mode == "messaging")
    layout = [
        _fields(embedded=bool(embeds[p]), page_change=bool(change),
                placeholders=[FIXED_HELP_BUTTON] if site.placeholder[p] else [])
        for change in (False, True) for p in range(n_site)
    ]  # fmt: skip
    page = pages.page[order].astype(np.int64)
    put("page_views", "page_view", len(pages), [
        _ids(seed, "visitor", row_visitor + 1, "visitor_id"),
        TimeColumn("started_at", pages.start_ms[order] + offset),
        TimeColumn("ended_at", pages.end_ms[order] + offset, pages.end_recorded[order]),
        FragmentColumn(url_code, address),
        CodeColumn("referrer", referrer_code, referrers),
        CodeColumn("device", people.device[row_visitor].astype(np.int64), devices),
        FragmentColumn(page + n_site * pages.page_change[order], layout),
    ])  # fmt: skip

    changes = world.var_changes
    change_visitor = world.visit_visitor[pages.visit[changes.row]]
    put("var_changes", "var_change", len(changes), [
        _ids(seed, "page_view", world.page_number[changes.row] + 1, "page_view_id"),
        CodeColumn("name", changes.name.astype(np.int64), VAR_NAMES),
        TextColumn("value", _var_values(world)),
        TimeColumn("changed_at", changes.changed_ms + people.clock_offset_ms[change_visitor]),
    ])  # fmt: skip

    ident = world.identities
    put("identities", "identity", len(ident), [
        _ids(seed, "visitor", ident.visitor + 1, "visitor_id"),
        TextColumn("uuid", [f'"cust-{u:012x}"' for u in people.uuid[ident.visitor].tolist()]),
        BoolColumn("signed", people.signed[ident.visitor]),
        TimeColumn("set_at", ident.set_ms + people.clock_offset_ms[ident.visitor]),
    ])  # fmt: skip
    th = world.threads
    put("threads", "thread", len(th), [
        _ids(seed, "identity", th.identity + 1, "identity_id"),
        TimeColumn("opened_at", th.opened_ms),
        TimeColumn("locked_at", th.locked_ms, th.locked_ms >= 0),
        TimeColumn("closed_at", th.closed_ms, th.closed_ms >= 0),
        BoolColumn("identity_initiated_thread", th.identity_initiated),
    ])  # fmt: skip

    ag = world.agents
    names = [_AGENT_NAMES[a % len(_AGENT_NAMES)] + ("" if a < len(_AGENT_NAMES) else
             f" {a // len(_AGENT_NAMES) + 1}") for a in range(ag.n)]  # fmt: skip
    put("agents", "agent", ag.n, [
        CodeColumn("name", np.arange(ag.n), names),
        IntColumn("soft_limit", ag.soft_limit),
    ])  # fmt: skip
    put("presence", "presence", len(ag.presence_ms), [
        _ids(seed, "agent", ag.presence_agent + 1, "agent_id"),
        TimeColumn("changed_at", ag.presence_ms),
        CodeColumn("status", ag.presence_status.astype(np.int64), STATUSES),
    ])  # fmt: skip
    put("conversations", "conversation", len(ag.conv_agent), [
        _ids(seed, "agent", ag.conv_agent + 1, "agent_id"),
        CodeColumn("channel", ag.conv_channel.astype(np.int64), ag.channels),
        TimeColumn("queued_at", ag.conv_queued_ms),
        TimeColumn("started_at", ag.conv_started_ms),
        TimeColumn("ended_at", ag.conv_ended_ms),
    ])  # fmt: skip
    if recording is not None:
        _write_recording(world, out, recording, rows)
    # A table file left by an earlier generation into this folder would join this world
    # at load: remove those this run did not write (only our own table names).
    for table in schema.TABLES:
        stale = out / f"{table.name}.jsonl"
        if stale.name not in rows and stale.exists():
            stale.unlink()
    if recording is None or not recording.truth:
        (out / "truth" / "chat.json").unlink(missing_ok=True)
    return rows


# -- the chat-event step's output: generic DataFrame rows typed by the schema ------------


def _write_frame(
    path: Path,
    table: schema.Table,
    frame: pd.DataFrame,
    generated_prefix: str,
    width: int,
    offsets: np.ndarray | None = None,
    shifted: tuple[str, ...] = (),
    *,
    append: bool = False,
) -> int:
    """Write a recording's frame as records of ``table`` (ids from its id column, else
    numbered ``{generated_prefix}{n:0{width}d}``); return the row count."""
    ids: IdColumn | TextIdColumn
    if table.id_column in frame:
        ids = TextIdColumn("id", frame[table.id_column].astype(str).tolist())
    else:
        ids = IdColumn("id", np.arange(1, len(frame) + 1), generated_prefix, width)
    columns = [(c.name, c.sql_type) for c in schema.raw_columns(table) if c.name != table.id_column]
    return write_jsonl(
        path, table.record_type, ids, frame_columns(columns, frame, offsets, shifted),
        len(frame), append=append,
    )  # fmt: skip


def _write_recording(
    world: World, out: Path, recording: ChatRecording, rows: dict[str, int]
) -> None:
    """Write the chat-event step's records; add their row counts to ``rows``."""
    events = recording.chat_events.reset_index(drop=True)
    if len(events):
        visitor_ids = pd.Index(
            [f"{id_prefix(world.seed, 'visitor')}{v + 1:06d}" for v in range(world.visitors.n)]
        )
        codes, uniques = pd.factorize(events["visitor_id"].astype(str))
        at = visitor_ids.get_indexer(uniques)  # per distinct visitor, not per event
        offset_of = np.where(at >= 0, world.visitors.clock_offset_ms[np.maximum(at, 0)], 0)
        offsets = offset_of[codes]
        rows["chat_events.jsonl"] = _write_frame(
            out / "chat_events.jsonl", schema.TABLES_BY_NAME["chat_events"], events,
            id_prefix(world.seed, "chat_event"), 7, offsets, ("event_at",),
        )  # fmt: skip
    convs = recording.conversations.reset_index(drop=True)
    if len(convs):
        n = _write_frame(
            out / "conversations.jsonl", schema.TABLES_BY_NAME["conversations"], convs,
            id_prefix(world.seed, "web_chat"), 6, append=True,
        )  # fmt: skip
        rows["conversations.jsonl"] = rows.get("conversations.jsonl", 0) + n
    if recording.truth:
        (out / "truth").mkdir(exist_ok=True)
        write_json(out / "truth" / "chat.json", dict(recording.truth))


# -- the world as frames, for the chat-event step ----------------------------------------


def _ts(ms: np.ndarray) -> pd.Series:
    stamps = np.asarray(ms, dtype=np.int64).astype("datetime64[ms]")
    return pd.Series(stamps).dt.tz_localize("UTC")


def _ts_or_null(ms: np.ndarray, present: np.ndarray) -> pd.Series:
    return _ts(ms).where(pd.Series(present))


def world_view(world: World, config, config_history) -> WorldView:
    """The ``WorldView`` handed to the chat-event step (server time, final ids)."""
    seed, pages, people, site = world.seed, world.pages, world.visitors, world.site
    pid = id_prefix(seed, "page_view")
    vid = id_prefix(seed, "visitor")
    order = np.argsort(world.page_number)
    row_visitor = world.visit_visitor[pages.visit][order]
    page = pages.page[order]
    url_code, referrer_code = _url_codes(world, order)
    urls, paths, referrers = _url_tables(world)
    visitor_ids = np.array([f"{vid}{v + 1:06d}" for v in range(people.n)], dtype=object)
    page_ids = np.array([f"{pid}{i + 1:07d}" for i in range(len(pages))], dtype=object)
    tables: dict[str, pd.DataFrame] = {}
    tables["source"] = pd.DataFrame({"source_id": [f"{id_prefix(seed, 'source')}1"],
                                     "mode": [world.mode], "timezone": [world.params.timezone],
                                     "seed": [str(seed)]})  # fmt: skip
    tables["source_status"] = pd.DataFrame({
        "source_status_id": [f"{id_prefix(seed, 'source_status')}{i:03d}" for i in (1, 2, 3)],
        "changed_at": _ts(np.array([world.span.start_ms, *world.maintenance_ms])),
        "status": ["active", "maintenance", "active"]})  # fmt: skip
    active = world.active_visitors
    tables["visitors"] = pd.DataFrame({
        "visitor_id": visitor_ids[active], "clock_offset_ms": people.clock_offset_ms[active],
        "country": [world.params.countries[c][0] for c in people.country[active]]})  # fmt: skip
    tables["page_views"] = pd.DataFrame({
        "page_view_id": page_ids, "visitor_id": visitor_ids[row_visitor],
        "started_at": _ts(pages.start_ms[order]),
        "ended_at": _ts_or_null(pages.end_ms[order], pages.end_recorded[order]),
        "url": np.array(urls, dtype=object)[url_code],
        "path": np.array(paths, dtype=object)[url_code],
        "title": np.array(site.titles, dtype=object)[page],
        "referrer": np.array(referrers, dtype=object)[referrer_code],
        "device": np.array([d for d, _ in world.params.device_weights], dtype=object)[
            people.device[row_visitor]],
        "embedded": site.embedded[page] & (world.mode == "messaging"),
        "page_change": pages.page_change[order],
        "placeholders": [[FIXED_HELP_BUTTON] if site.placeholder[p] else [] for p in page],
    })  # fmt: skip
    ch = world.var_changes
    values = [json.loads(v) for v in _var_values(world)]
    tables["var_changes"] = pd.DataFrame({
        "var_change_id": [f"{id_prefix(seed, 'var_change')}{i:07d}" for i in range(1, len(ch) + 1)],
        "page_view_id": page_ids[world.page_number[ch.row]],
        "name": np.array(VAR_NAMES, dtype=object)[ch.name], "value": values,
        "changed_at": _ts(ch.changed_ms)})  # fmt: skip
    ident = world.identities
    tables["identities"] = pd.DataFrame({
        "identity_id": [f"{id_prefix(seed, 'identity')}{i:06d}" for i in range(1, len(ident) + 1)],
        "visitor_id": visitor_ids[ident.visitor],
        "uuid": [f"cust-{u:012x}" for u in people.uuid[ident.visitor].tolist()],
        "signed": people.signed[ident.visitor], "set_at": _ts(ident.set_ms)})  # fmt: skip
    th = world.threads
    tables["threads"] = pd.DataFrame({
        "thread_id": [f"{id_prefix(seed, 'thread')}{i:06d}" for i in range(1, len(th) + 1)],
        "identity_id": [f"{id_prefix(seed, 'identity')}{i + 1:06d}" for i in th.identity],
        "opened_at": _ts(th.opened_ms), "locked_at": _ts_or_null(th.locked_ms, th.locked_ms >= 0),
        "closed_at": _ts_or_null(th.closed_ms, th.closed_ms >= 0),
        "identity_initiated_thread": th.identity_initiated})  # fmt: skip
    ag = world.agents
    agent_ids = np.array([f"{id_prefix(seed, 'agent')}{a + 1:03d}" for a in range(ag.n)], object)
    tables["agents"] = pd.DataFrame({"agent_id": agent_ids, "soft_limit": ag.soft_limit})
    tables["presence"] = pd.DataFrame({
        "presence_id": [f"{id_prefix(seed, 'presence')}{i:06d}" for i in range(1, len(ag.presence_ms) + 1)],
        "agent_id": agent_ids[ag.presence_agent], "changed_at": _ts(ag.presence_ms),
        "status": np.array(STATUSES, dtype=object)[ag.presence_status]})  # fmt: skip
    tables["conversations"] = pd.DataFrame({
        "conversation_id": [f"{id_prefix(seed, 'conversation')}{i:06d}" for i in range(1, len(ag.conv_agent) + 1)],
        "agent_id": agent_ids[ag.conv_agent],
        "channel": np.array(ag.channels, dtype=object)[ag.conv_channel],
        "visitor_id": None, "page_view_id": None,
        "queued_at": _ts(ag.conv_queued_ms), "started_at": _ts(ag.conv_started_ms),
        "ended_at": _ts(ag.conv_ended_ms), "outcome": None})  # fmt: skip
    visitor_truth = pd.DataFrame({
        "visitor_id": visitor_ids, "engagement_effect": people.engagement_effect,
        "country": [world.params.countries[c][0] for c in people.country],
        "device": [world.params.device_weights[d][0] for d in people.device]})  # fmt: skip
    visit_prefix = id_prefix(seed, "visit")
    page_truth = pd.DataFrame({
        "page_view_id": page_ids,
        "visit_id": [f"{visit_prefix}{v + 1:06d}" for v in pages.visit[order].tolist()],
        "page_category": np.array(PAGE_CATEGORIES, dtype=object)[site.category[page]],
        "visit_number": world.visit_number[pages.visit[order]]})  # fmt: skip
    return WorldView(
        mode=world.mode, seed=seed, timezone=world.params.timezone, params=world.params,
        tables=tables, agent_timelines=world.agents.timelines(), visitor_truth=visitor_truth,
        page_truth=page_truth, config_path=config, config_history_path=config_history,
        rng=world.chat_rng,
    )  # fmt: skip


def write_truth(world: World, out: Path, run: Mapping[str, object]) -> None:
    """Write ``truth/``: parameters and run facts, per-visitor, per-visit, per-agent truths."""
    truth = out / "truth"
    truth.mkdir(exist_ok=True)
    write_json(truth / "params.json", {"run": dict(run), "params": world.params.to_dict()})
    seed, people = world.seed, world.visitors
    visits_of = np.bincount(world.visit_visitor, minlength=people.n)
    # Propensity at a reference show: an invitation after 30 s on a product page, first visit.
    reference_p = engagement_probability(
        world.params.truth, ["invitation"] * people.n, ["product"] * people.n,
        np.full(people.n, 30.0), np.zeros(people.n, bool), people.engagement_effect,
    )  # fmt: skip
    zones = [z for _, z, _ in world.params.countries]
    write_jsonl(truth / "visitors.jsonl", "visitor_truth", _ids(seed, "visitor", np.arange(1, people.n + 1)), [
        CodeColumn("country", people.country.astype(np.int64), [c for c, _, _ in world.params.countries]),
        CodeColumn("timezone", people.country.astype(np.int64), zones),
        CodeColumn("device", people.device.astype(np.int64), [d for d, _ in world.params.device_weights]),
        BoolColumn("has_account", people.has_account),
        BoolColumn("signed", people.signed),
        CodeColumn("plan", people.plan.astype(np.int64), [p for p, _ in world.params.plans]),
        TextColumn("engagement_effect", [repr(round(x, 6)) for x in people.engagement_effect.tolist()]),
        TextColumn("engagement_p_reference", [repr(round(x, 6)) for x in reference_p.tolist()]),
        IntColumn("visits_drawn", people.visits_drawn),
        IntColumn("visits", visits_of),
    ], people.n)  # fmt: skip
    pages_of = np.bincount(world.pages.visit, minlength=world.visits)
    write_jsonl(truth / "visits.jsonl", "visit_truth", _ids(seed, "visit", np.arange(1, world.visits + 1)), [
        _ids(seed, "visitor", world.visit_visitor + 1, "visitor_id"),
        IntColumn("visit_number", world.visit_number),
        TimeColumn("started_at", world.visit_start_ms),
        TimeColumn("ended_at", world.visit_end_ms),
        IntColumn("page_views", pages_of),
    ], world.visits)  # fmt: skip
    ag = world.agents
    write_jsonl(truth / "agents.jsonl", "agent_truth", _ids(seed, "agent", np.arange(1, ag.n + 1)), [
        IntColumn("soft_limit", ag.soft_limit),
        CodeColumn("shift", ag.shift.astype(np.int64), [s for s, _, _ in world.params.shifts]),
        BoolColumn("saturday", ag.saturday),
    ], ag.n)  # fmt: skip
