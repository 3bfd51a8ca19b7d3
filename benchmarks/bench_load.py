"""Load speed: records per second and peak memory of ``lab.load``, against DuckDB's
own ``read_json`` of the same file.

A JSON Lines file of valid mixed records (every record type, consistent references) is
generated once with DuckDB and cached under ``benchmarks/.worlds/`` (5 M records; 200 k
with ``--quick`` or ``ENGAGE_LAB_BENCH_QUICK=1``). Each measurement runs in a fresh
process on a fresh database file, so peak memory (``ru_maxrss``) is that run's alone:

* ``engage_lab``: ``el.open(db).load(file)`` — reading, typing, every check, dedupe,
  derivations, the transaction;
* ``read_json``: ``CREATE TABLE raw AS SELECT * FROM read_json(file)`` — DuckDB's own
  reader with its default detection, into one wide table, no checks.

The ratio is engage_lab seconds / read_json seconds (target: within 3x).

Run: ``python -m benchmarks.bench_load [--records N] [--quick]`` or ``make bench``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

import duckdb

WORLDS = Path(__file__).parent / ".worlds"
FULL, QUICK = 5_000_000, 200_000
TARGET_RATIO = 3.0

#: Shares of the records per type (the rest are a handful of source / agent records).
SHARES = {
    "page_view": 0.30,
    "var_change": 0.20,
    "chat_event": 0.38,
    "conversation": 0.05,
    "presence": 0.03,
    "identity": 0.02,
    "thread": 0.01,
    "visitor": 0.01,
}

# One SELECT per record type; every value derives from the row number `i` and the counts
# ($pv, $v, $id, $a), bound as parameters. `k` orders the file so that types interleave
# (and the few source / agent records come first, where read_json's sampling sees them).
GENERATE = """
COPY (
  WITH pv AS (SELECT range AS i FROM range($pv)),
  t0 AS (SELECT TIMESTAMP '2026-03-02 00:00:00' AS t0)
  SELECT line FROM (
    SELECT -1.0 AS k, json_object('type', 'source', 'id', 'src1', 'mode', 'live_chat',
        'timezone', 'UTC', 'seed', '42')::VARCHAR AS line
    UNION ALL
    SELECT -0.5, json_object('type', 'source_status', 'id', 'st' || range,
        'changed_at', strftime((SELECT t0 FROM t0) + to_days(range::INT), '%Y-%m-%dT%H:%M:%SZ'),
        'status', CASE WHEN range % 2 = 0 THEN 'maintenance' ELSE 'active' END)::VARCHAR
      FROM range(10)
    UNION ALL
    SELECT -0.2, json_object('type', 'agent', 'id', 'a' || range, 'name', 'Agent ' || range,
        'soft_limit', 3)::VARCHAR FROM range($a)
    UNION ALL
    SELECT range / $v, json_object('type', 'visitor', 'id', 'v' || range,
        'clock_offset_ms', 0, 'country', 'FR')::VARCHAR FROM range($v)
    UNION ALL
    SELECT i / $pv, json_object('type', 'page_view', 'id', 'pv' || i, 'visitor_id', 'v' || (i % $v),
        'started_at', strftime((SELECT t0 FROM t0) + to_milliseconds(i * 1000), '%Y-%m-%dT%H:%M:%S.%gZ'),
        'ended_at', CASE WHEN i % 10 <> 0 THEN epoch_ms((SELECT t0 FROM t0)) + i * 1000 + 30000 END,
        'url', 'https://shop.example/p/' || (i % 100) || '?q=' || (i % 7) || '#top',
        'title', 'Page ' || (i % 100), 'device', 'desktop', 'embedded', false,
        'page_change', i % 3 = 0,
        'placeholders', CASE WHEN i % 5 = 0 THEN ['btn-fixed'] END)::VARCHAR FROM pv
    UNION ALL
    SELECT range / $vc, json_object('type', 'var_change', 'id', 'vc' || range,
        'page_view_id', 'pv' || (range % $pv), 'name', 'custom_' || (range % 5),
        'value', CASE WHEN range % 2 = 0 THEN to_json(range % 300) ELSE to_json('gold') END,
        'changed_at', epoch_ms((SELECT t0 FROM t0)) + (range % $pv) * 1000 + 200)::VARCHAR
      FROM range($vc)
    UNION ALL
    SELECT range / $ce, json_object('type', 'chat_event', 'id', 'ce' || range,
        'page_view_id', 'pv' || (range % $pv), 'visitor_id', 'v' || ((range % $pv) % $v),
        'event_at', epoch_ms((SELECT t0 FROM t0)) + (range % $pv) * 1000 + 500,
        'event', ['started', 'trigger_activated', 'trigger_executed', 'invitation_shown',
                  'chat_shown'][1 + range % 5],
        'trigger_id', 't' || (range % 5), 'mode', 'online',
        'server_probability', 0.5)::VARCHAR FROM range($ce)
    UNION ALL
    SELECT range / $conv, json_object('type', 'conversation', 'id', 'c' || range,
        'agent_id', 'a' || (range % $a), 'channel', 'web_chat',
        'visitor_id', 'v' || ((range % $pv) % $v), 'page_view_id', 'pv' || (range % $pv),
        'queued_at', epoch_ms((SELECT t0 FROM t0)) + (range % $pv) * 1000 + 600,
        'started_at', epoch_ms((SELECT t0 FROM t0)) + (range % $pv) * 1000 + 900,
        'ended_at', epoch_ms((SELECT t0 FROM t0)) + (range % $pv) * 1000 + 60000,
        'outcome', 'served')::VARCHAR FROM range($conv)
    UNION ALL
    SELECT range / $pres, json_object('type', 'presence', 'id', 'p' || range,
        'agent_id', 'a' || (range % $a),
        'changed_at', epoch_ms((SELECT t0 FROM t0)) + range * 60000,
        'status', ['available', 'away', 'offline'][1 + range % 3])::VARCHAR FROM range($pres)
    UNION ALL
    SELECT range / $id, json_object('type', 'identity', 'id', 'id' || range,
        'visitor_id', 'v' || (range % $v), 'uuid', 'u' || range, 'signed', true,
        'set_at', epoch_ms((SELECT t0 FROM t0)) + range * 1000)::VARCHAR FROM range($id)
    UNION ALL
    SELECT range / $th, json_object('type', 'thread', 'id', 'th' || range,
        'identity_id', 'id' || (range % $id),
        'opened_at', epoch_ms((SELECT t0 FROM t0)) + range * 1000,
        'identity_initiated_thread', range % 2 = 0)::VARCHAR FROM range($th)
  ) ORDER BY k, line
) TO $path (FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\x01')
"""


def world_file(records: int) -> Path:
    """The cached benchmark file of about ``records`` records (generated when missing)."""
    path = WORLDS / f"load-{records}.jsonl"
    if path.exists():
        return path
    WORLDS.mkdir(parents=True, exist_ok=True)
    counts = {t: max(1, int(records * share)) for t, share in SHARES.items()}
    params = {
        "pv": counts["page_view"],
        "v": counts["visitor"],
        "vc": counts["var_change"],
        "ce": counts["chat_event"],
        "conv": counts["conversation"],
        "pres": counts["presence"],
        "id": counts["identity"],
        "th": counts["thread"],
        "a": 100,
        "path": str(path.with_suffix(".tmp")),
    }
    con = duckdb.connect()
    try:
        con.execute(GENERATE, params)
    finally:
        con.close()
    path.with_suffix(".tmp").rename(path)
    return path


RUN_LOADER = textwrap.dedent(
    """
    import json, resource, sys, time
    import engage_lab as el
    lab = el.open(sys.argv[1])
    start = time.perf_counter()
    report = lab.load(sys.argv[2], progress=False)
    seconds = time.perf_counter() - start
    lab.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": seconds, "rows": report.rows, "peak_rss": rss}))
    """
)

RUN_READ_JSON = textwrap.dedent(
    """
    import json, resource, sys, time
    import duckdb
    con = duckdb.connect(sys.argv[1])
    start = time.perf_counter()
    con.execute("CREATE TABLE raw AS SELECT * FROM read_json(?)", [sys.argv[2]])
    (rows,) = con.execute("SELECT count(*) FROM raw").fetchone()
    seconds = time.perf_counter() - start
    con.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": seconds, "rows": rows, "peak_rss": rss}))
    """
)


def _run(script: str, data: Path) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "bench.duckdb"
        out = subprocess.run(
            [sys.executable, "-c", script, str(db), str(data)],
            check=True,
            capture_output=True,
            text=True,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Run the benchmark, print its numbers, return them."""
    parser = argparse.ArgumentParser(prog="bench_load", description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=None)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    quick = args.quick or os.environ.get("ENGAGE_LAB_BENCH_QUICK") == "1"
    records = args.records or (QUICK if quick else FULL)
    started = time.perf_counter()
    data = world_file(records)
    with data.open("rb") as fh:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 24), b""))
    print(
        f"file: {data} ({lines:,} records, {data.stat().st_size / 1e6:,.0f} MB; "
        f"ready in {time.perf_counter() - started:.1f} s)"
    )
    ours = _run(RUN_LOADER, data)
    theirs = _run(RUN_READ_JSON, data)
    ratio = ours["seconds"] / theirs["seconds"]
    print(
        f"engage_lab load: {ours['seconds']:.2f} s, {lines / ours['seconds']:,.0f} records/s, "
        f"{ours['rows']:,} rows, peak RSS {ours['peak_rss'] / 1e6:,.0f} MB"
    )
    print(
        f"duckdb read_json: {theirs['seconds']:.2f} s, {lines / theirs['seconds']:,.0f} "
        f"records/s, peak RSS {theirs['peak_rss'] / 1e6:,.0f} MB"
    )
    verdict = "within" if ratio <= TARGET_RATIO else "NOT within"
    print(f"ratio engage_lab / read_json: {ratio:.2f}x ({verdict} the {TARGET_RATIO:.0f}x target)")
    return {
        "records": lines,
        "load_seconds": ours["seconds"],
        "records_per_second": lines / ours["seconds"],
        "peak_rss_bytes": ours["peak_rss"],
        "read_json_seconds": theirs["seconds"],
        "ratio": ratio,
    }


if __name__ == "__main__":
    main(sys.argv[1:])
