"""Reference Chat Manager speed: page views per second, against a bare Python loop.

A world is generated once with :func:`engage_lab.world.generate_world` (live chat, seed 7,
7 days; 3,000 visitors, about 19 k page views; 500 with ``--quick`` or
``ENGAGE_LAB_BENCH_QUICK=1``), loaded into a database and cached under
``benchmarks/.worlds/``. Then, in this process:

* ``reference``: :func:`engage_lab.reference.replay_reference` with the packaged
  ``production-live-chat`` configuration over the loaded history (availability from the
  agent logs) — every stage, trigger, instant and event, the events frame and its sort;
* ``baseline``: a bare Python loop over the same page views (per visitor, per page view:
  read its instants and ids and append one tuple) — the floor of any per-page-view
  Python code.

The ratio is reference seconds / baseline seconds. The best of ``--repeat`` runs counts.
The history's build (``History.from_connection``) is reported apart.

Run: ``python -m benchmarks.bench_reference [--visitors N] [--quick]`` or ``make bench``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import duckdb

WORLDS = Path(__file__).parent / ".worlds"
FULL, QUICK = 3000, 500
SEED, DAYS = 7, 7


def cached_world(visitors: int) -> Path:
    """The database of the benchmark world (generated and loaded on first use)."""
    import engage_lab
    from engage_lab.world import generate_world

    folder = WORLDS / f"reference-live-{visitors}v-{DAYS}d-s{SEED}"
    database = folder / "world.duckdb"
    if not database.exists():
        generate_world(folder / "jsonl", visitors, SEED, days=DAYS, progress=False)
        partial = folder / "partial.duckdb"
        partial.unlink(missing_ok=True)
        lab = engage_lab.open(partial)
        lab.load(folder / "jsonl")
        lab.close()
        partial.rename(database)  # only a complete load is ever reused
    return database


def bare_loop_s(history: object) -> float:
    """Seconds a bare Python loop takes to visit every page view once."""
    start = time.perf_counter()
    rows = []
    for visitor in history.visitors.values():  # type: ignore[attr-defined]
        for page in visitor.page_views:
            rows.append((page.visitor_id, page.page_view_id, page.started_at, page.ended_at))
    elapsed = time.perf_counter() - start
    assert len(rows) == history.page_view_count()  # type: ignore[attr-defined]
    return elapsed


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Run the benchmark, print its numbers, return them."""
    from engage_lab.config import Config, packaged_text
    from engage_lab.reference import History, replay_reference

    parser = argparse.ArgumentParser(prog="bench_reference", description=__doc__.splitlines()[0])
    quick = bool(os.environ.get("ENGAGE_LAB_BENCH_QUICK"))
    parser.add_argument("--visitors", type=int, default=QUICK if quick else FULL)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK} visitors")
    args = parser.parse_args(argv)
    visitors = QUICK if args.quick else args.visitors

    database = cached_world(visitors)
    con = duckdb.connect(str(database), read_only=True)
    try:
        started = time.perf_counter()
        history = History.from_connection(con)
        build_s = time.perf_counter() - started
    finally:
        con.close()
    config = Config.from_json(packaged_text("production-live-chat"))
    page_views = history.page_view_count()

    reference_s, baseline_s, events = float("inf"), float("inf"), 0
    for _ in range(max(1, args.repeat)):
        started = time.perf_counter()
        events = len(replay_reference(history, config))
        reference_s = min(reference_s, time.perf_counter() - started)
        baseline_s = min(baseline_s, bare_loop_s(history))
    result = {
        "page_views": float(page_views),
        "events": float(events),
        "history_build_s": build_s,
        "reference_s": reference_s,
        "page_views_per_s": page_views / reference_s,
        "baseline_s": baseline_s,
        "baseline_page_views_per_s": page_views / baseline_s,
        "ratio_to_baseline": reference_s / baseline_s,
    }
    print(
        f"reference Chat Manager: {page_views:,} page views ({events:,} events) in "
        f"{reference_s:.2f} s = {result['page_views_per_s']:,.0f} page views/s "
        f"(best of {args.repeat})"
    )
    print(
        f"  baseline bare Python loop over the page views: {baseline_s * 1000:.1f} ms "
        f"({result['baseline_page_views_per_s']:,.0f} page views/s); "
        f"reference/baseline = {result['ratio_to_baseline']:,.0f}x"
    )
    print(f"  history build (History.from_connection): {build_s:.2f} s")
    return result


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
