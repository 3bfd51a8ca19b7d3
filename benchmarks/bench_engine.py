"""Fast replay engine: page views per second, against bare DuckDB work on the same tables.

Generates (or reuses, under ``benchmarks/.worlds/``) a live-chat world of about
``--page-views`` page views (1 M by default), loads it once, and prints:

* the fast engine's replay of the production configuration (seven triggers, gating):
  first run (facts + masks + pass) and a second run of the same configuration (cached
  facts and masks), in page views per second;
* the ratio to a bare DuckDB scan of the same tables (``page_views`` and ``var_changes``
  read once, aggregated);
* the ratio to one hand-written interval query per trigger (the earliest instant at
  which a path predicate, a page-duration threshold and a variable threshold all hold,
  per page view: the work the engine's condition masks generalize);
* the latency of a threshold re-evaluation (the same configuration with one duration
  threshold moved);
* the reference Chat Manager's speed on a measured sample of visitors (extrapolated);
* peak memory (RSS) of the process.

Run: ``python -m benchmarks.bench_engine [--page-views N]`` or through ``make bench``
(``--quick``: 20 000 page views).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from collections.abc import Sequence
from pathlib import Path

import engage_lab as el
from engage_lab.config import Config
from engage_lab.engine import replay_fast

ROOT = Path(__file__).resolve().parent
WORLDS = ROOT / ".worlds"
CONFIG = ROOT.parent / "data" / "configs" / "production-live-chat.json"

# Fixed SQL text, values bound as parameters.
_SCAN_SQL = """
SELECT (SELECT count(*) + sum(epoch_ms(ended_at) - epoch_ms(started_at))
               + count(DISTINCT visitor_id) FROM page_views)
     + (SELECT count(*) + count(DISTINCT page_view_id) FROM var_changes)
"""

# One trigger's earliest activation per page view by interval logic: the path holds for
# the whole page; the duration threshold holds from s + d; the variable threshold holds
# from its first qualifying change; the activation is the latest of these starts, if it
# falls inside the page.
_INTERVAL_SQL = """
WITH pv AS (
    SELECT page_view_id, epoch_ms(started_at) AS s, epoch_ms(ended_at) AS e, path
    FROM page_views WHERE starts_with(lower(path), $prefix)
), var AS (
    SELECT page_view_id, min(epoch_ms(changed_at)) AS c FROM var_changes
    WHERE name = $var AND TRY_CAST(value AS DOUBLE) >= $minimum GROUP BY page_view_id
)
SELECT count(*), min(t) FROM (
    SELECT pv.page_view_id,
           greatest(pv.s + $offset, CASE WHEN $use_var THEN var.c ELSE pv.s END) AS t, pv.e
    FROM pv LEFT JOIN var USING (page_view_id)
    WHERE NOT $use_var OR var.c IS NOT NULL
) WHERE t < e
"""

_HAND_TRIGGERS = [
    {"prefix": "/cart", "var": "custom_cart_amount", "minimum": 150, "offset": 45_000},
    {"prefix": "/pricing", "var": "", "minimum": 0, "offset": 20_000},
    {"prefix": "/help", "var": "", "minimum": 0, "offset": 0},
    {"prefix": "/account", "var": "custom_plan", "minimum": 0, "offset": 0},
    {"prefix": "/checkout", "var": "", "minimum": 0, "offset": 0},
    {"prefix": "/product", "var": "", "minimum": 0, "offset": 30_000},
    {"prefix": "/", "var": "", "minimum": 0, "offset": 60_000},
]


def world_database(page_views: int, seed: int = 2026) -> Path:
    """The database of a cached world of about ``page_views`` page views."""
    from benchmarks.bench_world import visitors_for
    from engage_lab.world import generate_world

    folder = WORLDS / f"live_chat-{page_views}"
    db = folder / "engage.duckdb"
    if db.exists():
        return db
    visitors = visitors_for(page_views, seed, 28)
    generate_world(
        folder / "data",
        visitors=visitors,
        seed=seed,
        mode="live_chat",
        days=28,
        chat_recorder=None,
        progress=False,
    )
    lab = el.open(db)
    try:
        lab.load(str(folder / "data"))
    finally:
        lab.close()
    return db


def _timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _moved_threshold(config: Config) -> Config:
    data = json.loads(config.to_json())
    for trigger in data["triggers"]:
        for criterion in trigger.get("criteria", []):
            if criterion.get("criterion") == "page_visit_duration":
                criterion["value"] = criterion["value"] + 5
                return Config.from_dict(data)
    return Config.from_dict(data)


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Run the benchmark, print its numbers, return them."""
    parser = argparse.ArgumentParser(prog="bench_engine", description=__doc__.splitlines()[0])
    quick = os.environ.get("ENGAGE_LAB_BENCH_QUICK") == "1"
    parser.add_argument("--page-views", type=int, default=20_000 if quick else 1_000_000)
    parser.add_argument("--reference-visitors", type=int, default=300)
    args = parser.parse_args(argv)
    db = world_database(args.page_views)
    lab = el.open(db)
    con = lab.con
    n_pages = con.execute("SELECT count(*) FROM page_views").fetchone()[0]
    config = Config.load(CONFIG)
    scan_s, _ = _timed(lambda: con.execute(_SCAN_SQL).fetchone())
    hand_s = 0.0
    for trigger in _HAND_TRIGGERS:
        params = {**trigger, "use_var": bool(trigger["var"])}
        seconds, _ = _timed(lambda p=params: con.execute(_INTERVAL_SQL, p).fetchone())
        hand_s += seconds
    print(f"bare scan {scan_s:.2f} s; hand interval queries {hand_s:.2f} s", flush=True)
    first_s, events = _timed(lambda: replay_fast(lab, config))
    print(f"fast engine first replay {first_s:.2f} s", flush=True)
    second_s, _ = _timed(lambda: replay_fast(lab, config))
    moved = _moved_threshold(config)
    tuning_s, _ = _timed(lambda: replay_fast(lab, moved))
    print(f"same config {second_s:.2f} s; threshold moved {tuning_s:.2f} s", flush=True)
    # the reference on a sample of visitors, extrapolated by page views
    from engage_lab.reference import History, replay_reference

    if args.reference_visitors == 0:
        ref_s = history_s = float("nan")
        sample_pages = 0
    visitors = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT visitor_id FROM page_views ORDER BY visitor_id LIMIT $n",
            {"n": args.reference_visitors},
        ).fetchall()
    ]
    if visitors:
        history_s, history = _timed(lambda: History.from_connection(con))
        sample_pages = sum(len(history.visitor(v).page_views) for v in visitors)
        ref_s, _ = _timed(lambda: replay_reference(history, config, visitors=visitors))
    lab.close()
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    numbers = {
        "page_views": float(n_pages),
        "events": float(len(events)),
        "fast_first_s": first_s,
        "fast_second_s": second_s,
        "fast_pv_per_s": n_pages / first_s,
        "fast_cached_pv_per_s": n_pages / second_s,
        "bare_scan_s": scan_s,
        "ratio_to_scan": first_s / scan_s,
        "hand_interval_queries_s": hand_s,
        "ratio_to_hand_queries": first_s / hand_s,
        "threshold_reevaluation_s": tuning_s,
        "reference_pv_per_s": sample_pages / ref_s if sample_pages else float("nan"),
        "reference_history_read_s": history_s,
        "peak_rss_gb": rss_gb,
    }
    print(f"fast engine over {n_pages:,} page views ({len(events):,} events)")
    print(f"  first replay        {first_s:8.2f} s  {n_pages / first_s:12,.0f} page views/s")
    print(f"  same config again   {second_s:8.2f} s  {n_pages / second_s:12,.0f} page views/s")
    print(f"  threshold moved     {tuning_s:8.2f} s  (target < 0.5 s on 1 M)")
    print(f"  bare DuckDB scan    {scan_s:8.2f} s  ratio {first_s / scan_s:6.1f}x")
    print(
        f"  {len(_HAND_TRIGGERS)} hand interval queries {hand_s:5.2f} s  ratio "
        f"{first_s / hand_s:6.1f}x (target <= 2x)"
    )
    if sample_pages:
        print(
            f"  reference           {sample_pages:,} page views in {ref_s:.2f} s "
            f"({sample_pages / ref_s:,.0f} page views/s; history read {history_s:.1f} s), "
            f"extrapolated to {n_pages / (sample_pages / ref_s):,.0f} s for the whole world"
        )
    print(f"  peak RSS            {rss_gb:8.2f} GB")
    return numbers


if __name__ == "__main__":
    main()
