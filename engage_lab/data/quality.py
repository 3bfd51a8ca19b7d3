"""The data-quality summary printed after a load (``lab.quality()``).

Soft inconsistencies are reported, not refused (hard ones, such as a reference to an id
that exists nowhere, are refused by the loader):

* time span: the earliest and latest instant of any timestamp column of the data tables;
* counts per table, and the number of visits;
* pages whose end was not recorded (``end_recorded = false``: the end was inferred);
* conversations started while their agent was not available: the agent's latest
  presence change at or before ``started_at`` is not ``available``, or there is none;
* visitors with clock gaps: visitors with at least one event (var change or chat event)
  dated before its page view's start or after its *recorded* end — the browser clock
  disagrees with itself, often an unrecorded clock offset.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
import pandas as pd

from engage_lab.data import schema
from engage_lab.data.sqltext import ident, join, sql

__all__ = ["Quality", "quality"]


@dataclass(frozen=True)
class Quality:
    """Data-quality summary of a database; numbers plus the rows behind them."""

    span_start: datetime | None
    span_end: datetime | None
    counts: dict[str, int]
    visits: int
    pages_without_end: int
    conversations_agent_unavailable: int
    visitors_with_clock_gaps: int
    unavailable_conversations: pd.DataFrame
    clock_gaps: pd.DataFrame

    def to_dict(self) -> dict:
        """The numbers as a JSON-ready dict (instants as ISO strings)."""

        def iso(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat(timespec="milliseconds") + "Z"

        return {
            "span_start": iso(self.span_start),
            "span_end": iso(self.span_end),
            "counts": dict(self.counts),
            "visits": self.visits,
            "pages_without_end": self.pages_without_end,
            "conversations_agent_unavailable": self.conversations_agent_unavailable,
            "visitors_with_clock_gaps": self.visitors_with_clock_gaps,
        }

    @property
    def counts_frame(self) -> pd.DataFrame:
        """Counts per table as a DataFrame (``table``, ``rows``)."""
        return pd.DataFrame({"table": list(self.counts), "rows": list(self.counts.values())})

    def __str__(self) -> str:
        def when(value: datetime | None) -> str:
            return "-" if value is None else f"{value:%Y-%m-%d %H:%M:%S}"

        pages = self.counts.get("page_views", 0)
        conversations = self.counts.get("conversations", 0)
        width = max(len(t) for t in self.counts)
        lines = [
            "data quality",
            f"  time span: {when(self.span_start)} to {when(self.span_end)} UTC",
            "  records:",
            *(f"    {t:<{width}}  {n:>10,}" for t, n in self.counts.items()),
            f"    {'(visits)':<{width}}  {self.visits:>10,}",
            f"  pages whose end was not recorded: {self.pages_without_end:,} of {pages:,}",
            "  conversations started while their agent was not available: "
            f"{self.conversations_agent_unavailable:,} of {conversations:,}",
            "  visitors with clock gaps (events outside their page view): "
            f"{self.visitors_with_clock_gaps:,}",
        ]
        return "\n".join(lines)


def quality(con: duckdb.DuckDBPyConnection) -> Quality:
    """Compute the summary over the whole database."""
    counts = {}
    bounds = []
    for table in schema.TABLES:
        (counts[table.name],) = con.execute(
            sql("SELECT count(*) FROM {t}", t=ident(table.name))
        ).fetchone()
        for column in table.columns:
            if column.sql_type == "TIMESTAMP":
                bounds.append(
                    sql(
                        "SELECT min({c}) AS lo, max({c}) AS hi FROM {t}",
                        c=ident(column.name),
                        t=ident(table.name),
                    )
                )
    span_start, span_end = con.execute(
        sql("SELECT min(lo), max(hi) FROM ({u})", u=join(bounds, " UNION ALL "))
    ).fetchone()
    visits, without_end = con.execute(
        "SELECT count(DISTINCT visit_id), count(*) FILTER (WHERE NOT end_recorded) FROM page_views"
    ).fetchone()
    unavailable = con.execute(
        """
        SELECT c.conversation_id, c.agent_id, c.started_at, p.status AS status_at_start
        FROM conversations c
        ASOF LEFT JOIN presence p ON p.agent_id = c.agent_id AND c.started_at >= p.changed_at
        WHERE c.agent_id IS NOT NULL AND c.started_at IS NOT NULL
          AND p.status IS DISTINCT FROM 'available'
        ORDER BY c.started_at, c.conversation_id
        """
    ).df()
    gaps = con.execute(
        """
        SELECT p.visitor_id, count(*) AS events_outside, min(e.instant) AS first_outside
        FROM (SELECT page_view_id, changed_at AS instant FROM var_changes
              UNION ALL SELECT page_view_id, event_at FROM chat_events) e
        JOIN page_views p USING (page_view_id)
        WHERE e.instant < p.started_at OR (p.end_recorded AND e.instant > p.ended_at)
        GROUP BY p.visitor_id ORDER BY p.visitor_id
        """
    ).df()
    return Quality(
        span_start=span_start,
        span_end=span_end,
        counts=counts,
        visits=visits,
        pages_without_end=without_end,
        conversations_agent_unavailable=len(unavailable),
        visitors_with_clock_gaps=len(gaps),
        unavailable_conversations=unavailable,
        clock_gaps=gaps,
    )
