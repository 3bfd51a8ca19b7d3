"""World generation speed: page views per second, against a DuckDB JSON-writing baseline.

Generates a world of about ``--page-views`` page views (1 M by default; the target is
under two minutes on a 2-core machine) into a temporary folder and reports page views per
second. The baseline, measured in the same run, is DuckDB writing the same number of
rows as newline-delimited JSON with ``COPY (SELECT ... FROM range(n)) TO ... (FORMAT
json)``: the ratio says how many times slower than a bare bulk JSON write the whole
generation (drawing every table and writing them all) is.

Run: ``python -m benchmarks.bench_world [--page-views N]`` or through ``make bench``.
"""

from __future__ import annotations

import argparse
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


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Run the benchmark, print its numbers, return them."""
    parser = argparse.ArgumentParser(prog="bench_world", description=__doc__.splitlines()[0])
    parser.add_argument("--page-views", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument(
        "--chat-page-views",
        type=int,
        default=20_000,
        help="size of a second world generated WITH the chat-event step (0: skip)",
    )
    args = parser.parse_args(argv)
    visitors = visitors_for(args.page_views, args.seed, args.days)
    with tempfile.TemporaryDirectory(prefix="bench-world-") as tmp:
        folder = Path(tmp)
        # navigation, variables and agents only: the generator's own speed
        summary = generate_world(
            folder / "world", visitors, args.seed, days=args.days, progress=False,
            chat_recorder=None,
        )  # fmt: skip
        baseline = duckdb_baseline_s(summary.page_views, folder)
        chat = None
        if args.chat_page_views > 0:
            # the whole job: the reference Chat Manager records the chat events too
            chat_visitors = visitors_for(args.chat_page_views, args.seed, args.days)
            chat = generate_world(
                folder / "chat", chat_visitors, args.seed, days=args.days, progress=False
            )
    pvs = summary.page_views_per_s
    records = sum(summary.records.values())
    result = {
        "visitors": float(visitors),
        "page_views": float(summary.page_views),
        "records": float(records),
        "elapsed_s": summary.elapsed_s,
        "page_views_per_s": pvs,
        "baseline_s": baseline,
        "baseline_rows_per_s": summary.page_views / baseline,
        "ratio_to_baseline": summary.elapsed_s / baseline,
        "seconds_per_million": summary.elapsed_s * 1e6 / summary.page_views,
    }
    print(
        f"world generation: {summary.page_views:,} page views ({records:,} records, "
        f"{visitors:,} visitors, {args.days} days) in {summary.elapsed_s:.2f} s = "
        f"{pvs:,.0f} page views/s"
    )
    print(
        f"  baseline DuckDB COPY of {summary.page_views:,} rows to JSON: {baseline:.2f} s "
        f"({result['baseline_rows_per_s']:,.0f} rows/s); generation/baseline = "
        f"{result['ratio_to_baseline']:.1f}x"
    )
    print(
        f"  {result['seconds_per_million']:.1f} s per million page views without chat events "
        f"(target < {TARGET_SECONDS_PER_MILLION:.0f} s)"
    )
    if chat is not None:
        result["chat_page_views"] = float(chat.page_views)
        result["chat_page_views_per_s"] = chat.page_views_per_s
        print(
            f"with recorded chat events: {chat.page_views:,} page views in "
            f"{chat.elapsed_s:.2f} s = {chat.page_views_per_s:,.0f} page views/s "
            f"({chat.elapsed_s * 1e6 / chat.page_views:.0f} s per million page views; "
            f"{pvs / chat.page_views_per_s:.1f}x the generation alone)"
        )
    return result


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
