"""Visitors' side: what is loaded, traffic, pages per visit, dwell times, variables."""

from __future__ import annotations

import pandas as pd
from sqlglot import exp

from engage_lab.conditions.vocabulary import DAY_NAMES
from engage_lab.data import schema
from engage_lab.explore._db import (  # create_tables: used by the examples
    Database,
    create_tables,  # noqa: F401
    run,
    time_column,
    zone,
)

__all__ = [
    "WEEKDAYS",
    "custom_variables",
    "dwell_time_summary",
    "loaded_summary",
    "page_durations",
    "pages_per_visit",
    "traffic_by_hour",
    "traffic_by_weekday",
]

#: Day names, Monday first (the ``day`` column of :func:`traffic_by_weekday`).
WEEKDAYS = DAY_NAMES


def loaded_summary(db: Database) -> pd.DataFrame:
    """Rows per table and the time span each covers, plus the derived visits.

    Returns
    -------
    DataFrame
        ``table``, ``rows``, ``first``, ``last`` (UTC; ``NaT`` for tables without time).

    Examples
    --------
    >>> import duckdb
    >>> con = duckdb.connect()
    >>> create_tables(con)
    >>> _ = con.execute("insert into agents values ('a1', 'Ana', 3)")
    >>> loaded_summary(con).set_index("table").loc["agents", "rows"]
    np.int64(1)
    """
    selects = []
    names = []
    for table in schema.TABLES:
        names.append(table.name)
        stamp_column = time_column(table)
        bound = exp.column(stamp_column, quoted=True) if stamp_column else exp.null()
        selects.append(
            exp.select(
                exp.Literal.string(table.name).as_("table"),
                exp.Count(this=exp.Star()).as_("rows"),
                exp.cast(exp.Min(this=bound), "TIMESTAMP").as_("first"),
                exp.cast(exp.Max(this=bound), "TIMESTAMP").as_("last"),
            ).from_(exp.to_table(table.name, quoted=True))
        )
        if table.name == "page_views":
            names.append("visits (derived)")
            selects.append(
                exp.select(
                    exp.Literal.string("visits (derived)").as_("table"),
                    exp.Count(this=exp.Distinct(expressions=[exp.column("visit_id")])).as_("rows"),
                    exp.cast(exp.Min(this=exp.column("started_at")), "TIMESTAMP").as_("first"),
                    exp.cast(exp.Max(this=exp.column("started_at")), "TIMESTAMP").as_("last"),
                ).from_(exp.to_table(table.name, quoted=True))
            )
    query = selects[0]
    for select in selects[1:]:
        query = exp.union(query, select, distinct=False)
    frame = run(db, query.sql("duckdb"))
    order = {name: i for i, name in enumerate(names)}
    return frame.sort_values("table", key=lambda s: s.map(order)).reset_index(drop=True)


_TRAFFIC = """
with local_pages as (
    select visit_id, started_at,
           timezone($tz, timezone('UTC', started_at)) as local_start
    from page_views
), visit_starts as (
    select visit_id, min(started_at) as first_start
    from page_views group by visit_id
), visit_local as (
    select timezone($tz, timezone('UTC', first_start)) as local_start from visit_starts
), slots as (
    select unnest(range($first_slot, $last_slot + 1)) as slot
), pages_per_slot as (
    select date_part($part, local_start) as slot, count(*) as page_views
    from local_pages group by 1
), visits_per_slot as (
    select date_part($part, local_start) as slot, count(*) as visits
    from visit_local group by 1
)
select slots.slot, coalesce(page_views, 0) as page_views, coalesce(visits, 0) as visits
from slots
left join pages_per_slot using (slot)
left join visits_per_slot using (slot)
order by slots.slot
"""


def _traffic(db: Database, timezone: str | None, part: str, first: int, last: int) -> pd.DataFrame:
    params = {"tz": zone(db, timezone), "part": part, "first_slot": first, "last_slot": last}
    frame = run(db, _TRAFFIC, params)
    return frame.astype({"slot": "int64", "page_views": "int64", "visits": "int64"})


def traffic_by_hour(db: Database, timezone: str | None = None) -> pd.DataFrame:
    """Page views and visits started per local hour of day (all 24 hours, zeros kept).

    Parameters
    ----------
    db
        A ``Lab`` or a DuckDB connection.
    timezone
        IANA zone; default: the source's timezone (UTC when none is recorded).

    Returns
    -------
    DataFrame
        ``hour`` (0-23, local), ``page_views``, ``visits`` (by the start of their first page).

    Examples
    --------
    >>> import duckdb
    >>> con = duckdb.connect()
    >>> create_tables(con)
    >>> _ = con.execute('''insert into page_views (page_view_id, visitor_id, visit_id,
    ...     started_at, url) values ('p1', 'v1', 'v1-1', '2026-03-02 23:30:00', '/')''')
    >>> by_hour = traffic_by_hour(con, timezone="Europe/Paris")
    >>> by_hour.loc[by_hour.page_views > 0, ["hour", "page_views", "visits"]].values.tolist()
    [[0, 1, 1]]
    """
    frame = _traffic(db, timezone, "hour", 0, 23)
    return frame.rename(columns={"slot": "hour"})


def traffic_by_weekday(db: Database, timezone: str | None = None) -> pd.DataFrame:
    """Page views and visits started per local day of week, Monday first (all 7 days).

    Returns
    -------
    DataFrame
        ``weekday`` (1 = Monday ... 7 = Sunday, ISO), ``day`` (name), ``page_views``,
        ``visits``.

    Examples
    --------
    >>> import duckdb
    >>> con = duckdb.connect()
    >>> create_tables(con)
    >>> _ = con.execute('''insert into page_views (page_view_id, visitor_id, visit_id,
    ...     started_at, url) values ('p1', 'v1', 'v1-1', '2026-03-01 23:30:00', '/')''')
    >>> by_day = traffic_by_weekday(con, timezone="Europe/Paris")  # Sunday 23:30 UTC
    >>> by_day.loc[by_day.page_views > 0, "day"].tolist()
    ['Monday']
    """
    frame = _traffic(db, timezone, "isodow", 1, 7).rename(columns={"slot": "weekday"})
    frame.insert(1, "day", [WEEKDAYS[i - 1] for i in frame["weekday"]])
    return frame


def pages_per_visit(db: Database) -> pd.DataFrame:
    """How many visits have 1, 2, 3 ... page views.

    Returns
    -------
    DataFrame
        ``pages`` (page views in the visit), ``visits``, ``share`` (of all visits).

    Examples
    --------
    >>> import duckdb
    >>> con = duckdb.connect()
    >>> create_tables(con)
    >>> _ = con.execute('''insert into page_views (page_view_id, visitor_id, visit_id,
    ...     started_at, url) values ('p1', 'v1', 'a', '2026-03-02 10:00', '/'),
    ...     ('p2', 'v1', 'a', '2026-03-02 10:01', '/cart'), ('p3', 'v2', 'b', '2026-03-02 11:00', '/')''')
    >>> pages_per_visit(con)[["pages", "visits"]].values.tolist()
    [[1, 1], [2, 1]]
    """
    query = """
        with per_visit as (select visit_id, count(*) as pages from page_views group by visit_id)
        select pages, count(*) as visits, count(*) / sum(count(*)) over () as share
        from per_visit group by pages order by pages
    """
    return run(db, query).astype({"pages": "int64", "visits": "int64"})


_DURATIONS = """
with last_events as (
    select page_view_id, max(stamp) as last_event from (
        select page_view_id, event_at as stamp from chat_events
        union all
        select page_view_id, changed_at as stamp from var_changes
    ) group by page_view_id
)
select pv.page_view_id, pv.visitor_id, pv.visit_id, pv.path, pv.started_at,
       coalesce(pv.ended_at,
                case when le.last_event >= pv.started_at then le.last_event end,
                pv.started_at + to_milliseconds($inferred_ms)) as ended_at,
       coalesce(pv.end_recorded, pv.ended_at is not null) as end_recorded,
       case when coalesce(pv.end_recorded, pv.ended_at is not null) then 'recorded'
            when le.last_event >= pv.started_at then 'last event'
            else 'default length' end as end_kind
from page_views as pv left join last_events as le using (page_view_id)
order by pv.started_at, pv.page_view_id
"""


def page_durations(db: Database) -> pd.DataFrame:
    """Every page view with its length; where the end was not recorded, the inferred one.

    A page view whose end was not recorded ends at its last recorded event (chat event or
    custom-variable change), or ``schema.INFERRED_PAGE_LENGTH_MS`` after it started if it
    has none. An end the loader already inferred is kept.

    Returns
    -------
    DataFrame
        ``page_view_id``, ``visitor_id``, ``visit_id``, ``path``, ``started_at``,
        ``ended_at`` (effective end, UTC), ``end_recorded``, ``end_kind`` (``recorded``,
        ``last event`` or ``default length``), ``seconds``.

    Examples
    --------
    >>> import duckdb
    >>> con = duckdb.connect()
    >>> create_tables(con)
    >>> _ = con.execute('''insert into page_views (page_view_id, visitor_id, started_at,
    ...     ended_at, url) values ('p1', 'v1', '2026-03-02 10:00', '2026-03-02 10:00:42.5', '/'),
    ...     ('p2', 'v1', '2026-03-02 11:00', null, '/')''')
    >>> page_durations(con)[["page_view_id", "end_kind", "seconds"]].values.tolist()
    [['p1', 'recorded', 42.5], ['p2', 'default length', 1800.0]]
    """
    frame = run(db, _DURATIONS, {"inferred_ms": schema.INFERRED_PAGE_LENGTH_MS})
    seconds = (frame["ended_at"] - frame["started_at"]).dt.total_seconds()
    return frame.assign(seconds=seconds.astype("float64"))


def dwell_time_summary(db: Database) -> pd.DataFrame:
    """Page view lengths in seconds, per kind of end (recorded or inferred) and overall.

    Returns
    -------
    DataFrame
        ``end_kind`` (``recorded``, ``last event``, ``default length``, ``all``),
        ``page_views``, ``mean_s``, ``median_s``, ``p90_s``, ``max_s`` (rounded to 0.1 s).

    Examples
    --------
    >>> import duckdb
    >>> con = duckdb.connect()
    >>> create_tables(con)
    >>> _ = con.execute('''insert into page_views (page_view_id, visitor_id, started_at,
    ...     ended_at, url) values ('p1', 'v1', '2026-03-02 10:00', '2026-03-02 10:01', '/')''')
    >>> dwell_time_summary(con).set_index("end_kind").loc["all", "median_s"]
    np.float64(60.0)
    """
    durations = page_durations(db)
    kinds = ["recorded", "last event", "default length"]
    rows = []
    for kind in [*kinds, "all"]:
        seconds = durations["seconds"] if kind == "all" else durations.loc[
            durations["end_kind"] == kind, "seconds"
        ]  # fmt: skip
        if seconds.empty:
            continue
        rows.append(
            {
                "end_kind": kind,
                "page_views": len(seconds),
                "mean_s": round(float(seconds.mean()), 1),
                "median_s": round(float(seconds.median()), 1),
                "p90_s": round(float(seconds.quantile(0.9)), 1),
                "max_s": round(float(seconds.max()), 1),
            }
        )
    return pd.DataFrame(
        rows, columns=["end_kind", "page_views", "mean_s", "median_s", "p90_s", "max_s"]
    )


_VARIABLES = """
with typed as (
    select page_view_id, name, value, value::varchar as text,
           coalesce(value_type, case
               when value is null then 'null'
               when json_type(value) in ('BIGINT', 'UBIGINT', 'DOUBLE') then 'number'
               when json_type(value) = 'BOOLEAN' then 'boolean'
               when json_type(value) = 'VARCHAR' then 'string'
               else lower(json_type(value)) end) as value_type
    from var_changes
), per_page as (
    select name, page_view_id, count(*) as changes, count(distinct text) as values_seen
    from typed group by name, page_view_id
), pages as (
    select name, count(*) as page_views,
           avg(changes) as changes_per_page, max(changes) as max_changes_per_page,
           count(*) filter (where values_seen > 1) as pages_changed_mid_page
    from per_page group by name
), counted as (
    select name, text, count(*) as n,
           row_number() over (partition by name order by count(*) desc, text) as rank
    from typed group by name, text
), summary as (
    select name,
           string_agg(distinct value_type, ', ' order by value_type) as value_types,
           count(*) as changes,
           count(distinct text) as distinct_values,
           min(try_cast(text as double)) filter (where value_type = 'number') as min_number,
           max(try_cast(text as double)) filter (where value_type = 'number') as max_number
    from typed group by name
)
select summary.name, value_types, changes, page_views,
       round(changes_per_page, 2) as changes_per_page, max_changes_per_page,
       pages_changed_mid_page, distinct_values, min_number, max_number,
       counted.text as most_common
from summary join pages using (name)
join counted on counted.name = summary.name and counted.rank = 1
order by summary.name
"""


def custom_variables(db: Database) -> pd.DataFrame:
    """One row per custom variable: its value types, how often and where it changes.

    Returns
    -------
    DataFrame
        ``name``, ``value_types`` (``boolean``, ``null``, ``number``, ``string``, comma
        separated), ``changes`` (records), ``page_views`` (pages where it was set),
        ``changes_per_page`` (mean), ``max_changes_per_page``, ``pages_changed_mid_page``
        (pages where it took more than one value), ``distinct_values``, ``min_number``,
        ``max_number`` (numbers only), ``most_common`` (as JSON text; ties by text).

    Examples
    --------
    >>> import duckdb
    >>> con = duckdb.connect()
    >>> create_tables(con)
    >>> _ = con.execute('''insert into var_changes (var_change_id, page_view_id, name, value,
    ...     changed_at) values ('c1', 'p1', 'custom_cart', '10', '2026-03-02 10:00'),
    ...     ('c2', 'p1', 'custom_cart', '12.5', '2026-03-02 10:01')''')
    >>> row = custom_variables(con).iloc[0]
    >>> row["name"], row["changes"], row["pages_changed_mid_page"], row["max_number"]
    ('custom_cart', np.int64(2), np.int64(1), np.float64(12.5))
    """
    return run(db, _VARIABLES)
