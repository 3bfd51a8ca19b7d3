"""Exploration of a loaded history: small DataFrames an analyst looks at first.

Every function takes a ``Lab`` (``el.open(db)``) or a DuckDB connection holding the
tables of :mod:`engage_lab.data.schema`, runs SQL (constant text with ``$name``
parameters; identifiers from the schema quoted by sqlglot) and returns a DataFrame. The
figures of :mod:`engage_lab.plots` draw these frames; ``notebooks/01_explore.ipynb``
shows both.

* :mod:`.visits` — what is loaded, traffic by hour and weekday, pages per visit, dwell
  times, custom variables;
* :mod:`.chat` — recorded chat events, conversations per channel and outcome;
* :mod:`.agents` — agents' presence, capacity and occupancy over time.

Times in results are UTC, except traffic by hour and weekday, which uses the source's
timezone (the ``source`` table; UTC when absent).

>>> import duckdb
>>> from engage_lab import explore
>>> con = duckdb.connect()
>>> explore.create_tables(con)
>>> _ = con.execute("insert into source (source_id, mode, timezone) values ('s', 'live_chat', 'Europe/Paris')")
>>> explore.source_timezone(con)
'Europe/Paris'
"""

from __future__ import annotations

from engage_lab.explore._db import Database, ExploreArgumentError, create_tables, source_timezone
from engage_lab.explore.agents import agent_load
from engage_lab.explore.chat import chat_event_counts, conversation_summary
from engage_lab.explore.visits import (
    WEEKDAYS,
    custom_variables,
    dwell_time_summary,
    loaded_summary,
    page_durations,
    pages_per_visit,
    traffic_by_hour,
    traffic_by_weekday,
)

__all__ = [
    "WEEKDAYS",
    "Database",
    "ExploreArgumentError",
    "agent_load",
    "chat_event_counts",
    "conversation_summary",
    "create_tables",
    "custom_variables",
    "dwell_time_summary",
    "loaded_summary",
    "page_durations",
    "pages_per_visit",
    "source_timezone",
    "traffic_by_hour",
    "traffic_by_weekday",
]
