"""Agents' side: presence, capacity and occupancy over time."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from engage_lab.explore._db import Database, bucket_seconds, create_tables, run  # noqa: F401 (examples)

__all__ = ["agent_load"]


_AGENT_LOAD = """
with span as (
    select time_bucket(to_seconds($bucket_s), min(changed_at)) as lo,
           greatest(max(changed_at),
                    (select max(coalesce(ended_at, started_at)) from conversations)) as hi
    from presence
), states as (
    select p.agent_id, p.status, coalesce(a.soft_limit, 0) as soft_limit,
           p.changed_at as since,
           coalesce(lead(p.changed_at) over (partition by p.agent_id
                                             order by p.changed_at, p.presence_id),
                    (select hi from span)) as until
    from presence as p left join agents as a using (agent_id)
), talks as (
    select agent_id, started_at as since,
           coalesce(ended_at, (select hi from span)) as until
    from conversations where agent_id is not null and started_at is not null
), talks_on_available as (
    select t.agent_id, greatest(t.since, s.since) as since, least(t.until, s.until) as until
    from talks as t join states as s
      on s.agent_id = t.agent_id and s.status = 'available'
     and s.since < t.until and t.since < s.until
), buckets as (
    select unnest(range(lo, hi, to_seconds($bucket_s))) as bucket_start from span
    where hi > lo
), pieces as (
    select 'state:' || status as what, soft_limit, since, until from states
    union all select 'talk', 0, since, until from talks
    union all select 'talk_on_available', 0, since, until from talks_on_available
), weighted as (
    -- overlaps in integer microseconds: their sums are exact in any order DuckDB's
    -- threads add them (sums of fractional weights were not: the last digit moved)
    select b.bucket_start, p.what, p.soft_limit,
           epoch_us(least(p.until, b.bucket_start + to_seconds($bucket_s)))
               - epoch_us(greatest(p.since, b.bucket_start)) as overlap_us
    from buckets as b join pieces as p
      on p.since < b.bucket_start + to_seconds($bucket_s) and b.bucket_start < p.until
)
select b.bucket_start,
       coalesce(sum(overlap_us) filter (where what = 'state:available'), 0)
           / ($bucket_s * 1e6) as agents_available,
       coalesce(sum(overlap_us) filter (where what = 'state:away'), 0)
           / ($bucket_s * 1e6) as agents_away,
       coalesce(sum(overlap_us * soft_limit) filter (where what = 'state:available'), 0)
           / ($bucket_s * 1e6) as capacity,
       coalesce(sum(overlap_us) filter (where what = 'talk'), 0)
           / ($bucket_s * 1e6) as conversations,
       coalesce(sum(overlap_us) filter (where what = 'talk_on_available'), 0)
           / ($bucket_s * 1e6) as conversations_on_available
from buckets as b left join weighted as o using (bucket_start)
group by b.bucket_start
order by b.bucket_start
"""


def agent_load(db: Database, bucket: str | timedelta = "15 minutes") -> pd.DataFrame:
    """Agents' presence, capacity and occupancy per time bucket (time-weighted means).

    A presence status lasts from its change until the agent's next change (the last one
    until the end of the recorded span). Capacity is the sum of the soft limits of the
    available agents; occupancy is the number of conversations (any channel) in progress
    on available agents divided by that capacity. Every value is a mean over the bucket,
    weighted by time: an agent available for half of a bucket counts 0.5.

    Parameters
    ----------
    db
        A ``Lab`` or a DuckDB connection.
    bucket
        Bucket width: ``"15 minutes"``, ``"1 hour"``, a ``timedelta`` ... (whole seconds).

    Returns
    -------
    DataFrame
        ``bucket_start`` (UTC), ``agents_available``, ``agents_away``, ``capacity``,
        ``conversations`` (in progress, any agent status), ``conversations_on_available``,
        ``occupancy`` (``conversations_on_available / capacity``; NaN without capacity).

    Examples
    --------
    >>> import duckdb
    >>> con = duckdb.connect()
    >>> create_tables(con)
    >>> _ = con.execute('''insert into agents values ('a1', 'Ana', 2)''')
    >>> _ = con.execute('''insert into presence values
    ...     ('p1', 'a1', '2026-03-02 10:00', 'available'),
    ...     ('p2', 'a1', '2026-03-02 10:30', 'offline')''')
    >>> _ = con.execute('''insert into conversations (conversation_id, agent_id, channel,
    ...     queued_at, started_at, ended_at) values ('c1', 'a1', 'phone',
    ...     '2026-03-02 10:00', '2026-03-02 10:00', '2026-03-02 10:15')''')
    >>> load = agent_load(con, "1 hour")
    >>> load[["agents_available", "capacity", "occupancy"]].round(3).values.tolist()
    [[0.5, 1.0, 0.25]]
    """
    seconds = bucket_seconds(bucket)
    frame = run(db, _AGENT_LOAD, {"bucket_s": seconds})
    frame["occupancy"] = (
        frame["conversations_on_available"] / frame["capacity"].where(frame["capacity"] > 0)
    ).astype("float64")
    return frame
