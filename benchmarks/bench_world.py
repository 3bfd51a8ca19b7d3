"""World generation speed: page views per second, against a DuckDB JSON-writing baseline.

Generates a world of about ``--page-views`` page views (1 M by default, 50 k with
``ENGAGE_LAB_BENCH_QUICK=1``; the target is under two minutes on a 2-core machine) with
its chat events recorded, into a temporary folder, and reports page views per second,
then the same world without the chat-event step. Baselines measured in the same run:

* DuckDB writing as many rows as newline-delimited JSON (``COPY (SELECT ... FROM
  range(n)) TO ... (FORMAT json)``): how many times slower than a bare bulk JSON write the
  whole generation (drawing every table, recording the chat events, writing them all) is;
* the reference Chat Manager recording a smaller world (``--reference-page-views``) that
  the compiled recorder records too: their ratio, and a check that the rows are the same.

Run: ``python -m benchmarks.bench_world [--page-views N]`` or through ``make bench``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import duckdb

from engage_lab.world import generate_world
from engage_lab.world.model import draw_world

TARGET_SECONDS_PER_MILLION = 120.0


def visitors_for(page_views: int, seed: int, days: int) -> int:
    """Visitors needed for about ``page_views`` page views (from a small pilot world)."""
    pilot = 4000
    world = draw_world(seed, pilot, "live_chat", days)
    return max(1, round(page_views * pilot / world.page_views))


def duckdb_baseline_s(rows: int, folder: Path) -> float:
    """Seconds DuckDB takes to write ``rows`` small JSON records (ids and a timestamp)."""
    con = duckdb.connect()
    try:
        start = time.perf_counter()
        # Fixed SQL text with a bound parameter: no identifiers or values are interpolated.
        con.execute(
            "COPY (SELECT 'page_view' AS type, 'pv-' || range AS id, "
            "TIMESTAMP '2026-03-02 00:00:00' + to_milliseconds(range) AS started_at "
            "FROM range($n)) TO $path (FORMAT json)",
            {"n": rows, "path": str(folder / "baseline.jsonl")},
        )
        return time.perf_counter() - start
    finally:
        con.close()


def _recorders_s(page_views: int, seed: int, days: int, folder: Path) -> tuple[int, float, float]:
    """``(page views, compiled s, reference s)``: the chat-event step alone, both
    recorders on one world (the reference is the spec the compiled one reproduces)."""
    from engage_lab.world.output import world_view
    from engage_lab.world.recording import record_chat
    from engage_lab.world.recording_fast import record_chat_fast

    view = world_view(draw_world(seed, visitors_for(page_views, seed, days), "live_chat", days),
                      None, None)  # fmt: skip
    record_chat_fast(view)  # compiled code loaded from numba's cache outside the timing
    start = time.perf_counter()
    fast = record_chat_fast(view)
    compiled = time.perf_counter() - start
    start = time.perf_counter()
    reference = record_chat(view)
    reference_s = time.perf_counter() - start
    if not fast.chat_events.equals(reference.chat_events):
        raise SystemExit("bench_world: the compiled and reference recordings differ")
    return len(view.tables["page_views"]), compiled, reference_s


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Run the benchmark, print its numbers, return them."""
    parser = argparse.ArgumentParser(prog="bench_world", description=__doc__.splitlines()[0])
    quick = os.environ.get("ENGAGE_LAB_BENCH_QUICK") == "1"
    parser.add_argument("--page-views", type=int, default=50_000 if quick else 1_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument(
        "--reference-page-views",
        type=int,
        default=3_000 if quick else 20_000,
        help="size of the world both recorders record, for their ratio (0: skip)",
    )
    args = parser.parse_args(argv)
    visitors = visitors_for(args.page_views, args.seed, args.days)
    with tempfile.TemporaryDirectory(prefix="bench-world-") as tmp:
        folder = Path(tmp)
        # the whole job: draw every table, record the chat events, write them all
        summary = generate_world(folder / "world", visitors, args.seed, days=args.days,
                                 progress=False)  # fmt: skip
        shutil.rmtree(folder / "world")
        bare = generate_world(folder / "bare", visitors, args.seed, days=args.days,
                              progress=False, chat_recorder=None)  # fmt: skip
        shutil.rmtree(folder / "bare")
        baseline = duckdb_baseline_s(summary.page_views, folder)
        recorders = None
        if args.reference_page_views > 0:
            recorders = _recorders_s(args.reference_page_views, args.seed, args.days, folder)
    pvs = summary.page_views_per_s
    records = sum(summary.records.values())
    result = {
        "visitors": float(visitors),
        "page_views": float(summary.page_views),
        "records": float(records),
        "elapsed_s": summary.elapsed_s,
        "page_views_per_s": pvs,
        "without_chat_s": bare.elapsed_s,
        "baseline_s": baseline,
        "baseline_rows_per_s": summary.page_views / baseline,
        "ratio_to_baseline": summary.elapsed_s / baseline,
        "seconds_per_million": summary.elapsed_s * 1e6 / summary.page_views,
    }
    print(
        f"world generation with chat events: {summary.page_views:,} page views "
        f"({records:,} records, {visitors:,} visitors, {args.days} days) in "
        f"{summary.elapsed_s:.2f} s = {pvs:,.0f} page views/s"
    )
    print(
        f"  {result['seconds_per_million']:.1f} s per million page views "
        f"(target < {TARGET_SECONDS_PER_MILLION:.0f} s); without the chat-event step "
        f"{bare.elapsed_s:.2f} s"
    )
    print(
        f"  baseline DuckDB COPY of {summary.page_views:,} rows to JSON: {baseline:.2f} s "
        f"({result['baseline_rows_per_s']:,.0f} rows/s); generation/baseline = "
        f"{result['ratio_to_baseline']:.1f}x"
    )
    if recorders is not None:
        n, compiled, reference = recorders
        result.update(
            recorder_page_views=float(n), compiled_recorder_s=compiled,
            reference_recorder_s=reference, recorder_speedup=reference / compiled,
        )  # fmt: skip
        print(
            f"chat-event step alone on {n:,} page views: compiled {compiled:.2f} s "
            f"({n / compiled:,.0f} page views/s), reference Chat Manager {reference:.2f} s "
            f"({n / reference:,.0f} page views/s): {reference / compiled:.1f}x, same rows"
        )
    return result


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
