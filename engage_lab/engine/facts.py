"""Per-page-view facts in DuckDB: the tables every replay of one history reads.

Built once per connection and *facts key* (visit idle duration, time range, visitor
sample, data version) and cached as temporary tables:

``_el_pv``
    one row per replayed page view, in the engine's order ``pvi`` (visitor, start, id):
    times in integer ms (``s`` start, ``e`` end, ``lim`` = min(end, next start of the
    visitor): a page view's instants stop where the next one starts), visit id (re-derived
    when the configuration's idle duration differs from the loaded one), 1-based page
    index in the visit, visit count, visit start, page fields, and ``active`` (the source
    status at the start is neither inactive nor maintenance).
``_el_vc``
    variable changes assigned to the page view they belong to (a change at or after its
    page's end moves to the visitor's next page view that has not ended by then), one
    row per (page view, name, instant), the greatest ``var_change_id`` winning ties.
``_el_id``
    per visitor, the first instant an identity and a signed identity were set.

Semantics: docs/semantics.md ("Time and state"); the same rules as the reference's
history view. Values never enter SQL text: they are bound as named parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
from sqlglot import exp

from engage_lab.availability.state import to_ms
from engage_lab.data import schema
from engage_lab.draws import in_sample_sql
from engage_lab.errors import EngineError

__all__ = ["FactsKey", "build_facts", "data_version", "loaded_visit_idle", "source_record"]

PV = "_el_pv"
VC = "_el_vc"
IDS = "_el_id"

_NEVER = 9_000_000_000_000_000

_BASE_SQL = """
CREATE OR REPLACE TEMP TABLE _el_pv_all AS
WITH base AS (
    SELECT page_view_id, visitor_id, visit_id AS loaded_visit,
           epoch_ms(started_at) AS s,
           coalesce(epoch_ms(ended_at), epoch_ms(started_at) + $inferred) AS e,
           url, path, title, referrer, device,
           coalesce(embedded, false) AS embedded,
           coalesce(page_change, false) AS page_change,
           coalesce(placeholders, []::VARCHAR[]) AS placeholders
    FROM page_views
), ordered AS (
    SELECT *,
        max(e) OVER (PARTITION BY visitor_id ORDER BY s, page_view_id
                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
    FROM base
), grouped AS (
    SELECT *,
        sum(CASE WHEN prev_end IS NULL OR s - prev_end > $idle THEN 1 ELSE 0 END)
            OVER (PARTITION BY visitor_id ORDER BY s, page_view_id
                  ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS grp
    FROM ordered
)
SELECT page_view_id, visitor_id, s, e, url, path, title, referrer, device, embedded,
       page_change, placeholders,
       CASE WHEN $rederive
            THEN first_value(page_view_id) OVER (PARTITION BY visitor_id, grp
                                                 ORDER BY s, page_view_id)
            ELSE coalesce(loaded_visit, '') END AS visit_id,
       row_number() OVER (PARTITION BY visitor_id ORDER BY s, page_view_id) AS vseq
FROM grouped
"""

_VC_SQL = """
CREATE OR REPLACE TEMP TABLE _el_vc AS
WITH vc AS (
    SELECT v.var_change_id, v.name, v.value, epoch_ms(v.changed_at) AS c,
           p.visitor_id, p.vseq, p.e
    FROM var_changes v JOIN _el_pv_all p USING (page_view_id)
), late AS (
    SELECT vc.var_change_id, min(q.vseq) AS vseq
    FROM vc JOIN _el_pv_all q
      ON q.visitor_id = vc.visitor_id AND q.vseq > vc.vseq AND q.e > vc.c
    WHERE vc.c >= vc.e
    GROUP BY vc.var_change_id
), assigned AS (
    SELECT vc.var_change_id, vc.name, vc.value, vc.c, vc.visitor_id,
           CASE WHEN vc.c < vc.e THEN vc.vseq ELSE late.vseq END AS vseq
    FROM vc LEFT JOIN late USING (var_change_id)
)
SELECT p.pvi, a.name, a.c, arg_max(a.value, a.var_change_id) AS value,
       max(a.var_change_id) AS var_change_id
FROM assigned a JOIN _el_pv p ON p.visitor_id = a.visitor_id AND p.vseq = a.vseq
WHERE a.vseq IS NOT NULL
GROUP BY p.pvi, a.name, a.c
ORDER BY p.pvi, a.name, a.c
"""

_ID_SQL = """
CREATE OR REPLACE TEMP TABLE _el_id AS
SELECT visitor_id, min(epoch_ms(set_at)) AS id_at,
       min(CASE WHEN signed THEN epoch_ms(set_at) END) AS signed_at
FROM identities GROUP BY visitor_id
"""


@dataclass(frozen=True)
class FactsKey:
    """What the facts tables depend on."""

    visit_idle_ms: int
    time_range: tuple[int, int] | None
    sample: float | None
    sample_seed: str | None
    version: tuple[Any, ...]


def data_version(con: duckdb.DuckDBPyConnection) -> tuple[Any, ...]:
    """A fingerprint of the loaded data (the loads recorded, the page view count)."""
    try:
        row = con.execute(
            exp.select(exp.func("count", exp.Star()), exp.func("max", exp.column("load_id")))
            .from_("loads")
            .sql("duckdb")
        ).fetchone()
        count = con.execute(
            exp.select(exp.func("count", exp.Star())).from_("page_views").sql("duckdb")
        ).fetchone()
    except duckdb.Error as exc:
        raise EngineError(f"cannot read the history tables: {exc}") from exc
    return (*(row or ()), *(count or ()))


def loaded_visit_idle(con: duckdb.DuckDBPyConnection) -> int:
    """The visit idle duration the visits were derived with at load (ms)."""
    query = (
        exp.select("value")
        .from_(exp.to_identifier(schema.META_TABLE, quoted=True))
        .where(exp.column("key").eq(exp.Placeholder(this="key")))
    )
    try:
        row = con.execute(query.sql("duckdb"), {"key": "visit_idle_ms"}).fetchone()
    except duckdb.Error:
        row = None
    return int(row[0]) if row else schema.DEFAULT_VISIT_IDLE_MS


def source_record(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The ``source`` record (mode, timezone, seed), empty when none."""
    try:
        frame = con.execute(exp.select("*").from_("source").limit(1).sql("duckdb")).df()
    except duckdb.Error as exc:
        raise EngineError(f"cannot read the source table: {exc}") from exc
    if len(frame) == 0:
        return {}
    return {k: (None if v is None or v != v else v) for k, v in frame.iloc[0].to_dict().items()}


def _run_sql(con: duckdb.DuckDBPyConnection) -> str:
    """The replayed page views (range and sample applied) with their visit facts."""
    keep = exp.and_(
        exp.or_(
            exp.Placeholder(this="range_start").is_(exp.null()),
            exp.and_(
                exp.column("s") >= exp.Placeholder(this="range_start"),
                exp.column("s") < exp.Placeholder(this="range_end"),
            ),
        ),
        exp.or_(
            exp.Placeholder(this="fraction").is_(exp.null()),
            in_sample_sql(
                exp.column("visitor_id"),
                exp.Placeholder(this="fraction"),
                exp.Placeholder(this="sample_seed"),
            ),
        ),
    )
    kept = exp.select("*").from_("_el_pv_all").where(keep)
    status = """
    , status AS (
        SELECT epoch_ms(changed_at) AS changed, arg_max(status, source_status_id) AS status
        FROM source_status GROUP BY changed_at
    ), facts AS (
        SELECT *,
            row_number() OVER (PARTITION BY visitor_id, visit_id ORDER BY s, page_view_id)
                AS idx,
            min(s) OVER (PARTITION BY visitor_id, visit_id) AS vstart,
            lead(s) OVER (PARTITION BY visitor_id ORDER BY s, page_view_id) AS next_s,
            lag(visit_id) OVER (PARTITION BY visitor_id ORDER BY s, page_view_id) AS prev_visit
        FROM kept
    ), counted AS (
        SELECT *, dense_rank() OVER (PARTITION BY visitor_id ORDER BY vstart, visit_id)
                      AS vcount
        FROM facts
    )
    SELECT (row_number() OVER (ORDER BY visitor_id, s, page_view_id) - 1)::BIGINT AS pvi,
        c.page_view_id, c.visitor_id, c.visit_id, c.vseq, c.s, c.e,
        least(c.e, coalesce(c.next_s, c.e)) AS lim,
        c.idx, c.vcount, c.vstart, c.url, c.path, c.title, c.referrer, c.device, c.embedded,
        c.page_change AND c.prev_visit IS NOT DISTINCT FROM c.visit_id AS carries,
        c.placeholders,
        coalesce(st.status, 'active') NOT IN ('inactive', 'maintenance') AS active
    FROM counted c ASOF LEFT JOIN status st ON c.s >= st.changed
    ORDER BY pvi
    """
    return (
        "CREATE OR REPLACE TEMP TABLE _el_pv AS WITH kept AS (" + kept.sql("duckdb") + ")" + status
    )


def build_facts(
    con: duckdb.DuckDBPyConnection,
    *,
    visit_idle_ms: int,
    time_range: tuple[Any, Any] | None,
    sample: float | None,
    sample_seed: str | None,
) -> None:
    """(Re)build ``_el_pv``, ``_el_vc`` and ``_el_id`` on ``con``."""
    rederive = visit_idle_ms != loaded_visit_idle(con)
    start = end = None
    if time_range is not None:
        start, end = to_ms(time_range[0]), to_ms(time_range[1])
    try:
        con.execute(
            _BASE_SQL,
            {
                "idle": visit_idle_ms,
                "rederive": rederive,
                "inferred": schema.INFERRED_PAGE_LENGTH_MS,
            },
        )
        con.execute(
            _run_sql(con),
            {
                "range_start": start,
                "range_end": end,
                "fraction": None if sample is None else float(sample),
                "sample_seed": sample_seed if sample_seed is not None else "0",
            },
        )
        con.execute(_VC_SQL.replace("_el_pv p", "_el_pv p"))
        con.execute(_ID_SQL)
    except duckdb.Error as exc:
        raise EngineError(f"fast engine: building the page-view facts failed: {exc}") from exc
