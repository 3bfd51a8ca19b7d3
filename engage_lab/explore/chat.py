"""The recorded Chat Manager events and the conversations they led to."""

from __future__ import annotations

import pandas as pd

from engage_lab.data import schema
from engage_lab.explore._db import Database, create_tables, run  # noqa: F401 (examples)

__all__ = ["chat_event_counts", "conversation_summary"]

_EVENTS = """
select event, count(*) as events,
       count(*) filter (where mode = 'online') as online,
       count(*) filter (where mode = 'offline') as offline,
       count(distinct page_view_id) as page_views,
       count(distinct visitor_id) as visitors,
       count(distinct trigger_id) as triggers
from chat_events group by event
"""


def chat_event_counts(db: Database) -> pd.DataFrame:
    """Recorded chat events per name, in the order of the JavaScript vocabulary.

    Every name of ``schema.CHAT_EVENTS`` has a row (zeros when never recorded).

    Returns
    -------
    DataFrame
        ``event``, ``events``, ``online``, ``offline`` (by the ``mode`` key),
        ``page_views``, ``visitors``, ``triggers`` (distinct non-null trigger ids).

    Examples
    --------
    >>> import duckdb
    >>> con = duckdb.connect()
    >>> create_tables(con)
    >>> _ = con.execute('''insert into chat_events (chat_event_id, page_view_id, visitor_id,
    ...     event_at, event, mode) values ('e1', 'p1', 'v1', '2026-03-02 10:00', 'item_shown',
    ...     'offline')''')
    >>> counts = chat_event_counts(con).set_index("event")
    >>> counts.loc["item_shown", ["events", "offline"]].tolist(), counts["events"].sum()
    ([1, 1], np.int64(1))
    """
    found = run(db, _EVENTS).set_index("event")
    counts = found.reindex(list(schema.CHAT_EVENTS), fill_value=0)
    return counts.astype("int64").rename_axis("event").reset_index()


_CONVERSATIONS = """
select channel, coalesce(outcome, '-') as outcome, count(*) as conversations,
       count(started_at) as started,
       median(epoch(started_at - queued_at)) as median_wait_s,
       median(epoch(ended_at - started_at)) as median_length_s
from conversations
group by channel, outcome
order by channel, outcome nulls first
"""


def conversation_summary(db: Database) -> pd.DataFrame:
    """Conversations per channel and outcome, with their waits and lengths.

    Returns
    -------
    DataFrame
        ``channel``, ``outcome`` (``-`` where none is recorded, e.g. email),
        ``conversations``, ``started`` (taken by an agent), ``median_wait_s`` (queued to
        started), ``median_length_s`` (started to ended).

    Examples
    --------
    >>> import duckdb
    >>> con = duckdb.connect()
    >>> create_tables(con)
    >>> _ = con.execute('''insert into conversations (conversation_id, agent_id, channel,
    ...     queued_at, started_at, ended_at) values ('c1', 'a1', 'phone',
    ...     '2026-03-02 10:00', '2026-03-02 10:01', '2026-03-02 10:11')''')
    >>> conversation_summary(con)[["channel", "median_wait_s", "median_length_s"]].values.tolist()
    [['phone', 60.0, 600.0]]
    """
    summary = run(db, _CONVERSATIONS)
    return summary.astype({"conversations": "int64", "started": "int64"})
