"""``replay``: one entry point over both engines, with restrictions, KPIs and fidelity.

:func:`replay` runs a configuration (or configuration history) over the history of an
engage_lab database with the fast engine (``engine="fast"``, DuckDB) or the reference
Chat Manager (``engine="reference"``) and returns a :class:`ReplayResult`: the events
(:mod:`engage_lab.events` schema), the KPIs (:mod:`engage_lab.kpis`) and, when the
database holds recorded chat events, the fidelity of the replay to the recording with
the first mismatching page views.

Restrictions (DESIGN.md section 7), all optional and combined with AND:

* ``time_range=(start, end)`` — page views starting in ``[start, end)`` (state before the
  range is not carried in);
* ``sample=fraction`` — a stable hash sample of visitors
  (:func:`engage_lab.draws.in_sample` keyed by the replay's seed, else the source's);
* ``segment=condition`` — a GrowthBook-style condition (same operators and semantics as
  trigger expressions) evaluated once per page view over the attributes
  ``page.page_view_id``, ``page.url``, ``page.path``, ``page.title``, ``page.referrer``,
  ``page.device``, ``page.embedded``, ``page.page_change``, ``visitor.id`` and
  ``visitor.country``. Page views outside the segment are not replayed: they are removed
  from the history the engine sees, so the remaining pages' visit context (page counts,
  previous pages) is that of the restricted history.

An engine that takes a restriction natively gets it (both take the time range and the
sample); otherwise the history is restricted before replaying (the reference gets a
filtered history view, the fast engine a restricted in-memory copy of the tables). KPIs
and fidelity are computed over exactly the replayed page views.

>>> import tempfile, pathlib, engage_lab as el
>>> from engage_lab.config import production
>>> lab = el.open(pathlib.Path(tempfile.mkdtemp()) / "r.duckdb")
>>> res = replay(lab, production("live_chat"), engine="reference")
>>> res.kpis["page_views"], res.fidelity is None     # an empty database
(0, True)
>>> lab.close()
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import duckdb
import numpy as np
import pandas as pd
from sqlglot import exp

from engage_lab.availability.state import Timeline, to_ms
from engage_lab.conditions import nodes, parse_expression
from engage_lab.conditions.compiler import compile_condition
from engage_lab.config import Config, ConfigHistory, load_any
from engage_lab.data import schema
from engage_lab.draws import in_sample_sql
from engage_lab.errors import ConditionError, DatabaseError, EngineError
from engage_lab.events import EventComparison, sort_events
from engage_lab.kpis import (
    compare_recorded,
    compute_kpis,
    fidelity_mismatches,
    funnel_by_visit,
    jsonable,
    occupancy_over_time,
    offers,
    recorded_as_events,
)

__all__ = ["ENGINES", "SEGMENT_ATTRIBUTES", "ReplayResult", "replay", "replayed_page_views"]

#: Engines :func:`replay` can run.
ENGINES = ("fast", "reference")
#: Attributes a segment condition may read (dotted paths) and the column they come from.
SEGMENT_ATTRIBUTES: dict[str, str] = {
    "page.page_view_id": "page_view_id",
    "page.url": "url",
    "page.path": "path",
    "page.title": "title",
    "page.referrer": "referrer",
    "page.device": "device",
    "page.embedded": "embedded",
    "page.page_change": "page_change",
    "visitor.id": "visitor_id",
    "visitor.country": "country",
}
#: Tables copied when the fast engine replays a segment (a restricted copy of the history).
_COPIED_TABLES = (*(t.name for t in schema.TABLES), schema.META_TABLE, schema.LOADS_TABLE)


# ------------------------------------------------------------------ result


@dataclass
class ReplayResult:
    """The outcome of one replay.

    Attributes
    ----------
    events
        Replayed events, :mod:`engage_lab.events` schema, canonical order.
    kpis
        Every KPI (:mod:`engage_lab.kpis`); ``fidelity`` among them when the history holds
        recorded chat events.
    pages
        The replayed page views (``page_view_id, visitor_id, visit_id, started_at,
        ended_at, path, embedded``): the denominators of the KPIs.
    comparison
        Replay versus recording (``None`` without recorded chat events).
    recorded
        The recorded events of the replayed page views in the events schema (or ``None``).
    mismatches
        The first mismatching page views with both sides' decision events (or ``None``).
    """

    config: Config | ConfigHistory
    config_label: str
    engine: str
    seed: str | None
    restrictions: dict[str, Any]
    events: pd.DataFrame
    pages: pd.DataFrame
    kpis: dict[str, Any]
    timezone: str = "UTC"
    comparison: EventComparison | None = None
    recorded: pd.DataFrame | None = None
    mismatches: pd.DataFrame | None = None
    timeline: Timeline | None = field(default=None, repr=False)
    elapsed_s: float = 0.0

    @property
    def fidelity(self) -> float | None:
        """Share of replayed page views whose decision events match the recording."""
        return None if self.comparison is None else float(self.comparison.fidelity)

    def funnel(self) -> pd.DataFrame:
        """The funnel questions Q1–Q5 per visit (:func:`engage_lab.kpis.funnel_by_visit`)."""
        return funnel_by_visit(self.events, self.pages)

    def offers(self, *, online: bool = True) -> pd.DataFrame:
        """Offers (or refusals) with page path and local hour / day of week."""
        return offers(self.events, self.pages, self.timezone, online=online)

    def occupancy(self, freq: str = "1h") -> pd.DataFrame:
        """Agent occupancy per time bin over the replayed span (empty without pages)."""
        if self.timeline is None or len(self.pages) == 0:
            return pd.DataFrame(columns=["bin_start", "capacity", "load", "occupancy"])
        return occupancy_over_time(
            self.timeline, self.pages["started_at"].min(), self.pages["ended_at"].max(), freq
        )

    def kpi_table(self) -> pd.DataFrame:
        """The KPIs as a two-column frame (``kpi``, ``value``); nested KPIs are flattened
        (``displays_by_stage.configured``)."""
        rows = list(_flatten(self.kpis).items())
        return pd.DataFrame(rows, columns=["kpi", "value"], dtype=object)

    def to_dict(self, *, mismatch_rows: int = 50) -> dict[str, Any]:
        """A JSON-ready dict: config, engine, seed, restrictions, kpis, fidelity and the
        first mismatch rows (no timings, so the same replay gives the same bytes)."""
        out: dict[str, Any] = {
            "config": self.config_label,
            "config_sha256": hashlib.sha256(self.config.to_json().encode()).hexdigest(),
            "engine": self.engine,
            "seed": self.seed,
            "restrictions": self.restrictions,
            "kpis": self.kpis,
            "fidelity": self.fidelity,
        }
        if self.comparison is not None:
            out["mismatched_page_views"] = len(self.comparison.mismatched)
            rows = []
            if self.mismatches is not None:
                head = self.mismatches.head(mismatch_rows).astype(object)
                head["event_at"] = [_iso(to_ms(t)) for t in head["event_at"]]
                rows = head.where(head.notna(), None).to_dict("records")
            out["first_mismatches"] = rows
        return jsonable(out)

    def to_json(self, *, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)


def _flatten(kpis: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in kpis.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


# ------------------------------------------------------------------ entry point


def replay(
    lab_or_con: Any,
    config: Config | ConfigHistory | str | os.PathLike[str],
    *,
    engine: Literal["fast", "reference"] = "fast",
    seed: str | int | None = None,
    time_range: tuple[Any, Any] | None = None,
    sample: float | None = None,
    segment: Mapping[str, Any] | str | None = None,
    mismatches: int = 20,
) -> ReplayResult:
    """Replay a configuration over a recorded history; return events, KPIs and fidelity.

    Parameters
    ----------
    lab_or_con
        A :class:`~engage_lab.lab.Lab` or a DuckDB connection of an engage_lab database.
    config
        A :class:`~engage_lab.config.Config`, a :class:`~engage_lab.config.ConfigHistory`
        or the path of a JSON file holding either.
    engine
        ``"fast"`` (DuckDB) or ``"reference"`` (the literal Chat Manager).
    seed
        Seed of the gating draws (default: the history's ``source`` seed).
    time_range, sample, segment
        Restrictions (see the module docstring). ``segment`` is a condition dict or its
        JSON text.
    mismatches
        How many mismatching page views :attr:`ReplayResult.mismatches` shows.

    Raises
    ------
    ConfigError
        The configuration file is invalid.
    ConditionError
        The segment is malformed or reads an attribute segments do not offer.
    EngineError
        Unknown engine, bad restriction, or the engine failed.

    Examples
    --------
    >>> import tempfile, pathlib, engage_lab as el
    >>> lab = el.open(pathlib.Path(tempfile.mkdtemp()) / "doc.duckdb")
    >>> replay(lab, "data/configs/production-live-chat.json", engine="warp")
    Traceback (most recent call last):
    ...
    engage_lab.errors.EngineError: unknown engine 'warp'; use fast or reference
    >>> lab.close()
    """
    if engine not in ENGINES:
        raise EngineError(f"unknown engine {engine!r}; use {' or '.join(ENGINES)}")
    cfg, label = _config_of(config)
    con = _connection(lab_or_con)
    started = time.perf_counter()
    source = _source(con)
    chosen_seed = str(seed) if seed is not None else source.get("seed")
    window = _time_range(time_range)
    fraction = _fraction(sample)
    seg = _segment(segment)
    pages = replayed_page_views(
        con, cfg, seed=chosen_seed, time_range=window, sample=fraction, segment=seg
    )
    if engine == "reference":
        events = _run_reference(con, cfg, chosen_seed, window, fraction, seg, pages)
    else:
        events = _run_fast(con, cfg, chosen_seed, window, fraction, seg, pages)
    timezone = _timezone(cfg)
    conversations = _read(con, "conversations")
    timeline = Timeline.from_frames(_read(con, "agents"), _read(con, "presence"), conversations)
    comparison = recorded = table = None
    chat_events = _read(con, "chat_events")
    if len(chat_events):
        recorded = recorded_as_events(chat_events, pages)
        comparison = compare_recorded(events, recorded, pages)
        table = fidelity_mismatches(events, recorded, comparison, pages, first=mismatches)
    kpis = compute_kpis(
        events,
        pages,
        timezone=timezone,
        conversations=conversations,
        timeline=timeline,
        comparison=comparison,
    )
    restrictions = {
        "time_range": None if window is None else [_iso(window[0]), _iso(window[1])],
        "sample": fraction,
        "segment": seg,
    }
    return ReplayResult(
        config=cfg,
        config_label=label,
        engine=engine,
        seed=chosen_seed,
        restrictions=restrictions,
        events=events,
        pages=pages,
        kpis=kpis,
        timezone=timezone,
        comparison=comparison,
        recorded=recorded,
        mismatches=table,
        timeline=timeline,
        elapsed_s=time.perf_counter() - started,
    )


# ------------------------------------------------------------------ inputs


def _config_of(config: Any) -> tuple[Config | ConfigHistory, str]:
    if isinstance(config, Config | ConfigHistory):
        what = "configuration history" if isinstance(config, ConfigHistory) else "configuration"
        return config, f"<{what} {hashlib.sha256(config.to_json().encode()).hexdigest()[:12]}>"
    if isinstance(config, str | os.PathLike):
        return load_any(config), os.fspath(config)
    raise EngineError(f"config must be a Config, a ConfigHistory or a file path, not {config!r}")


def _connection(lab_or_con: Any) -> duckdb.DuckDBPyConnection:
    con = getattr(lab_or_con, "con", lab_or_con)
    if not isinstance(con, duckdb.DuckDBPyConnection):
        raise EngineError(f"replay needs a Lab or a DuckDB connection, not {lab_or_con!r}")
    return con


def _read(con: duckdb.DuckDBPyConnection, table: str) -> pd.DataFrame:
    query = exp.select("*").from_(exp.to_identifier(table, quoted=True))
    try:
        return con.cursor().execute(query.sql("duckdb")).df()
    except duckdb.Error as exc:
        raise DatabaseError(f"cannot read table {table}: {str(exc).splitlines()[0]}") from exc


def _source(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    frame = _read(con, "source")
    if len(frame) == 0:
        return {}
    row = frame.iloc[0].to_dict()
    return {k: (None if pd.isna(v) else str(v)) for k, v in row.items() if k != "load_line"}


def _loaded_idle(con: duckdb.DuckDBPyConnection) -> int:
    meta = _read(con, schema.META_TABLE)
    rows = meta.loc[meta["key"] == "visit_idle_ms", "value"].tolist()
    return int(rows[0]) if rows else schema.DEFAULT_VISIT_IDLE_MS


def _timezone(config: Config | ConfigHistory) -> str:
    last = config if isinstance(config, Config) else config.history[-1].config
    return last.source.timezone


def _time_range(time_range: Any) -> tuple[int, int] | None:
    if time_range is None:
        return None
    try:
        start, end = (to_ms(x) for x in time_range)
    except (TypeError, ValueError) as exc:
        raise EngineError(f"time_range must be two instants (start, end): {exc}") from exc
    if end <= start:
        raise EngineError("time_range: the end must be after the start")
    return start, end


def _fraction(sample: Any) -> float | None:
    if sample is None:
        return None
    if isinstance(sample, bool) or not isinstance(sample, int | float) or not 0 < sample <= 1:
        raise EngineError(f"sample must be a fraction in (0, 1], not {sample!r}")
    return float(sample)


def _iso(ms: int) -> str:
    """``2026-03-02T07:01:10.000Z`` (milliseconds always shown)."""
    return pd.Timestamp(ms, unit="ms", tz="UTC").strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _segment(segment: Any) -> dict[str, Any] | None:
    """Parse and check a segment: GrowthBook syntax, only :data:`SEGMENT_ATTRIBUTES`."""
    if segment is None:
        return None
    if isinstance(segment, str):
        try:
            segment = json.loads(segment)
        except json.JSONDecodeError as exc:
            raise ConditionError(f"segment is not JSON: {exc}", "segment") from exc
    if not isinstance(segment, Mapping):
        raise ConditionError("a segment is a JSON object (a condition)", "segment")
    tree = parse_expression(dict(segment), "segment")
    for path in sorted(_field_paths(tree)):
        if path not in SEGMENT_ATTRIBUTES:
            known = ", ".join(SEGMENT_ATTRIBUTES)
            raise ConditionError(
                f"segment reads {path!r}; a segment may read {known}", f"segment[{path!r}]"
            )
    return dict(segment)


def _field_paths(node: Any) -> set[str]:
    out: set[str] = set()
    if isinstance(node, nodes.Field):
        out.add(node.path)
    if isinstance(node, nodes.Node):
        for name in getattr(type(node), "__slots__", ()):
            out |= _field_paths(getattr(node, name, None))
    elif isinstance(node, tuple | list):
        for child in node:
            out |= _field_paths(child)
    return out


# ------------------------------------------------------------------ replayed page views


def _idle_expression(config: Config | ConfigHistory, start: exp.Expression) -> exp.Expression:
    """The visit idle duration (ms) in force for a page view starting at ``start`` (ms)."""
    if isinstance(config, Config):
        return exp.Literal.number(config.source.visit_idle_ms)
    entries = config.history
    if len(entries) == 1:
        return exp.Literal.number(entries[0].config.source.visit_idle_ms)
    case = exp.Case()
    for entry in reversed(entries[1:]):
        case = case.when(
            exp.GTE(this=start, expression=exp.Literal.number(entry.effective_at_ms)),
            exp.Literal.number(entry.config.source.visit_idle_ms),
        )
    return case.else_(exp.Literal.number(entries[0].config.source.visit_idle_ms))


def _needs_rederive(config: Config | ConfigHistory, loaded: int) -> bool:
    configs = [config] if isinstance(config, Config) else [e.config for e in config.history]
    return any(c.source.visit_idle_ms != loaded for c in configs)


def _segment_attributes() -> exp.Expression:
    groups: dict[str, list[exp.Expression]] = {}
    for path, column in SEGMENT_ATTRIBUTES.items():
        root, key = path.split(".", 1)
        groups.setdefault(root, []).extend([exp.Literal.string(key), exp.column(column)])
    args: list[exp.Expression] = []
    for root, pairs in groups.items():
        args += [exp.Literal.string(root), exp.func("json_object", *pairs)]
    return exp.func("json_object", *args)


_PAGES_SQL = """
WITH base AS (
    SELECT p.page_view_id, p.visitor_id, p.visit_id AS loaded_visit,
           epoch_ms(p.started_at) AS s,
           coalesce(epoch_ms(p.ended_at), epoch_ms(p.started_at) + $inferred) AS e,
           p.url, p.path, p.title, p.referrer, p.device,
           coalesce(p.embedded, false) AS embedded,
           coalesce(p.page_change, false) AS page_change,
           v.country
    FROM page_views AS p LEFT JOIN visitors AS v ON p.visitor_id = v.visitor_id
), ordered AS (
    SELECT *, max(e) OVER (PARTITION BY visitor_id ORDER BY s, page_view_id
                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
    FROM base
), grouped AS (
    SELECT *, sum(CASE WHEN prev_end IS NULL OR s - prev_end > __IDLE__ THEN 1 ELSE 0 END)
              OVER (PARTITION BY visitor_id ORDER BY s, page_view_id
                    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS grp
    FROM ordered
)
SELECT page_view_id, visitor_id,
       CASE WHEN $rederive
            THEN first_value(page_view_id) OVER (PARTITION BY visitor_id, grp
                                                 ORDER BY s, page_view_id)
            ELSE coalesce(loaded_visit, '') END AS visit_id,
       s, e, url, path, title, referrer, device, embedded, page_change, country,
       __IDLE__ AS idle_ms
FROM grouped
"""


def replayed_page_views(
    con: duckdb.DuckDBPyConnection,
    config: Config | ConfigHistory,
    *,
    seed: str | None = None,
    time_range: tuple[int, int] | None = None,
    sample: float | None = None,
    segment: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """The page views a restricted replay runs, with their visits under ``config``.

    Columns: ``page_view_id, visitor_id, visit_id`` (re-derived when the configuration's
    visit idle duration differs from the loaded one), ``started_at, ended_at``
    (``datetime64[ms, UTC]``, effective end), ``path`` and ``embedded``; sorted by
    visitor, start and id.
    """
    template = exp.maybe_parse(_PAGES_SQL, dialect="duckdb")
    idle = _idle_expression(config, exp.column("s"))
    template = template.transform(
        lambda node: (
            idle.copy() if isinstance(node, exp.Column) and node.name == "__IDLE__" else node
        )
    )
    conditions: list[exp.Expression] = []
    params: dict[str, Any] = {
        "inferred": schema.INFERRED_PAGE_LENGTH_MS,
        "rederive": _needs_rederive(config, _loaded_idle(con)),
    }
    if time_range is not None:
        conditions.append(exp.column("s") >= exp.Placeholder(this="range_start"))
        conditions.append(exp.column("s") < exp.Placeholder(this="range_end"))
        params["range_start"], params["range_end"] = time_range
    if sample is not None:
        conditions.append(
            in_sample_sql(exp.column("visitor_id"), sample, seed if seed is not None else "0")
        )
    outer = exp.select("*").from_(template.subquery("pv"))
    if segment is not None:
        compiled = compile_condition(parse_expression(dict(segment), "segment"))
        # Compiled parameters are named p0, p1, ...: prefix them to keep ours apart.
        renamed = compiled.expression.transform(
            lambda node: (
                exp.Placeholder(this=f"seg_{node.name}")
                if isinstance(node, exp.Placeholder)
                else node
            )
        )
        params.update({f"seg_{k}": v for k, v in compiled.params.items()})
        conditions.append(renamed)
        attributes = exp.alias_(_segment_attributes(), "attributes")
        inner = exp.select("*", attributes).from_(template.subquery("p"))
        outer = exp.select("*").from_(inner.subquery("pv"))
    if conditions:
        outer = outer.where(exp.and_(*conditions))
    # Only what the KPIs and the notebooks read (a 10 M-page-view frame stays small).
    kept = ["page_view_id", "visitor_id", "visit_id", "s", "e", "path", "embedded", "idle_ms"]
    outer = outer.select(*kept, append=False).order_by("visitor_id", "s", "page_view_id")
    try:
        frame = con.cursor().execute(outer.sql("duckdb"), params).df()
    except duckdb.Error as exc:
        raise EngineError(f"selecting the replayed page views failed: {exc}") from exc
    if segment is not None and params["rederive"]:
        # The engines see only the segment's page views, so their visits are derived
        # from those alone (without a segment, from the whole history, then restricted).
        frame["visit_id"] = _derive_visits(frame)
    for name in ("s", "e"):
        frame[name] = pd.to_datetime(frame[name].astype(np.int64), unit="ms", utc=True)
    frame = frame.rename(columns={"s": "started_at", "e": "ended_at"})
    frame = frame.drop(columns=["attributes", "idle_ms"], errors="ignore")
    return frame.reset_index(drop=True)


def _derive_visits(frame: pd.DataFrame) -> pd.Series:
    """Visit ids by the idle rule over ``frame`` (sorted by visitor, start, id): a page
    view starting more than ``idle_ms`` after the latest end before it opens a visit named
    after it."""
    if len(frame) == 0:
        return pd.Series([], dtype=object)
    by_visitor = frame.groupby("visitor_id", sort=False)["e"]
    latest_end = by_visitor.cummax().groupby(frame["visitor_id"], sort=False).shift(1)
    opens = latest_end.isna() | ((frame["s"] - latest_end) > frame["idle_ms"])
    group = opens.cumsum()
    return frame["page_view_id"].groupby(group).transform("first")


# ------------------------------------------------------------------ engines


def _run_reference(
    con: duckdb.DuckDBPyConnection,
    config: Config | ConfigHistory,
    seed: str | None,
    window: tuple[int, int] | None,
    fraction: float | None,
    segment: dict[str, Any] | None,
    pages: pd.DataFrame,
) -> pd.DataFrame:
    from engage_lab.reference import History, replay_reference

    history = History.from_connection(con)
    if segment is not None:
        # No native segment: the engine gets a history view without the other page views.
        history = _restrict_history(history, set(pages["page_view_id"]))
    return replay_reference(history, config, seed=seed, time_range=window, visitors=fraction)


def _restrict_history(history: Any, keep: set[str]) -> Any:
    visitors = {}
    for visitor_id, visitor in history.visitors.items():
        kept = tuple(p for p in visitor.page_views if p.page_view_id in keep)
        if kept:
            visitors[visitor_id] = replace(visitor, page_views=kept)
    return replace(history, visitors=visitors)


def _run_fast(
    con: duckdb.DuckDBPyConnection,
    config: Config | ConfigHistory,
    seed: str | None,
    window: tuple[int, int] | None,
    fraction: float | None,
    segment: dict[str, Any] | None,
    pages: pd.DataFrame,
) -> pd.DataFrame:
    from engage_lab.engine import replay_fast  # numba compiles on first use: load lazily

    accepted = inspect.signature(replay_fast).parameters
    kwargs: dict[str, Any] = {"seed": seed}
    target = con
    if segment is not None:
        if "page_view_ids" in accepted:
            kwargs["page_view_ids"] = list(pages["page_view_id"])
        else:
            target = _restricted_copy(con, pages["page_view_id"])
    if window is not None:
        kwargs["time_range"] = window
    if fraction is not None:
        kwargs["sample"] = fraction
    kwargs = {k: v for k, v in kwargs.items() if k in accepted or k == "seed"}
    try:
        events = replay_fast(target, config, **kwargs)
    finally:
        if target is not con:
            target.close()
    return sort_events(events, _trigger_order(config))


def _trigger_order(config: Config | ConfigHistory) -> list[str]:
    configs = [config] if isinstance(config, Config) else [e.config for e in config.history]
    order: list[str] = []
    for c in configs:
        order += [t.id for t in c.triggers if t.id not in order]
    return order


def _restricted_copy(
    con: duckdb.DuckDBPyConnection, page_view_ids: pd.Series
) -> duckdb.DuckDBPyConnection:
    """An in-memory database with the history's tables, ``page_views`` restricted.

    The fast engine caches per connection, so a copy never reuses facts of another
    restriction.
    """
    copy = duckdb.connect(":memory:")
    keep = pd.DataFrame({"page_view_id": pd.Series(page_view_ids, dtype=object)})
    try:
        for name in _COPIED_TABLES:
            query = exp.select("*").from_(exp.to_identifier(name, quoted=True))
            table = con.cursor().sql(query.sql("duckdb")).to_arrow_table()
            copy.register("_el_copy", table)
            source: exp.Select = exp.select("*").from_("_el_copy")
            if name == "page_views":
                copy.register("_el_keep", keep)
                source = source.where(
                    exp.column("page_view_id").isin(
                        query=exp.select("page_view_id").from_("_el_keep")
                    )
                )
            create = exp.Create(
                this=exp.to_table(name, quoted=True), kind="TABLE", expression=source
            )
            copy.execute(create.sql("duckdb"))
            copy.unregister("_el_copy")
    except duckdb.Error as exc:
        copy.close()
        raise EngineError(f"restricting the history for the segment failed: {exc}") from exc
    return copy
