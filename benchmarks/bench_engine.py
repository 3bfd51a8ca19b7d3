"""Fast replay engine: page views per second, against bare DuckDB work on the same tables.

Generates (or reuses, under ``benchmarks/.worlds/``) live-chat worlds of about 1 M and
10 M page views (``--sizes``; 20 000 with ``--quick``) and one of about 1 M page views
with the chat events recorded by the generator (``--chat-sizes``: every real history has
them), each loaded once. For each world, in a fresh process (so that peak memory is the
replay's own):

* ``replay()`` of the production configuration (seven triggers, six of them gated; the
  whole job: page-view facts, conditions, the pass, KPIs, and fidelity when the world
  holds recorded chat events): the first replay on a fresh connection, the same
  configuration again, then tuning replays, each one edit away from the replay before
  (:data:`TUNING`: a threshold moved, timed five times; a policy; the queuing factor; a
  trigger disabled and enabled again), with the ratio of the first replay to each;
* a bare DuckDB scan of the same tables (``page_views`` and ``var_changes`` read once,
  aggregated) and one hand-written interval query per trigger
  (:mod:`benchmarks.hand_queries`), with the ratios of the first replay to them;
* the reference Chat Manager on a measured sample of visitors (extrapolated);
* the peak resident memory of the process.

Run: ``python -m benchmarks.bench_engine [--sizes 1000000 10000000]`` or through
``make bench``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent
WORLDS = ROOT / ".worlds"
CONFIG = ROOT.parent / "data" / "configs" / "production-live-chat.json"

# Fixed SQL text.
_SCAN_SQL = """
SELECT (SELECT count(*) + sum(epoch_ms(ended_at) - epoch_ms(started_at))
               + count(DISTINCT visitor_id) FROM page_views)
     + (SELECT count(*) + count(DISTINCT page_view_id) FROM var_changes)
"""


def world_database(page_views: int, seed: int = 2026, chat: bool = False) -> Path:
    """The database of a cached world of about ``page_views`` page views (``chat``: with
    the chat events recorded by the generator's chat-event step)."""
    import engage_lab as el
    from benchmarks.bench_world import visitors_for
    from engage_lab.world import generate_world

    folder = WORLDS / f"live_chat-{page_views}{'-chat' if chat else ''}"
    db = folder / "engage.duckdb"
    if db.exists():
        return db
    visitors = visitors_for(page_views, seed, 28)
    options = {} if chat else {"chat_recorder": None}
    generate_world(
        folder / "data", visitors=visitors, seed=seed, mode="live_chat", days=28,
        progress=False, **options,
    )  # fmt: skip
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


def _moved_threshold(text: str, by: int = 5):
    from engage_lab.config import Config

    data = json.loads(text)
    for trigger in data["triggers"]:
        for criterion in trigger.get("criteria", []):
            if criterion.get("criterion") == "page_visit_duration":
                criterion["value"] = criterion["value"] + by
                return Config.from_dict(data)
    return Config.from_dict(data)


def _edited(text: str, edit: str):
    """The configuration with one tuning edit: ``policy`` (the first gated trigger's
    server probability becomes a reserve policy), ``queuing`` (the source's queuing
    factor doubled), ``disabled`` (the first gated trigger disabled)."""
    from engage_lab.config import Config

    data = json.loads(text)
    gated = next(t for t in data["triggers"] if t.get("only_if_agents_available"))
    if edit == "policy":
        gated["server_probability"] = {"policy": "reserve", "k": 1}
    elif edit == "queuing":
        data["source"]["queuing_factor"] = 2 * data["source"].get("queuing_factor", 0.25) + 0.25
    elif edit == "disabled":
        gated["enabled"] = False
    else:
        raise ValueError(edit)
    return Config.from_dict(data)


#: tuning replays after the first: (label, key); each differs from the replay before it
#: in one threshold, policy, queuing factor or enabled flag
TUNING = (
    ("threshold moved", "threshold"),
    ("policy changed", "policy"),
    ("queuing factor changed", "queuing"),
    ("trigger disabled", "disabled"),
    ("trigger enabled again", "enabled"),
)
#: threshold moves timed (the machine is shared: several runs, their range reported)
_THRESHOLD_RUNS = 5


def _tuning(lab, config) -> dict[str, float]:
    """Seconds of each tuning replay (:data:`TUNING`) over ``lab``'s warm connection."""
    from engage_lab.replay import replay

    text = config.to_json()
    out: dict[str, float] = {}
    runs = [_timed(lambda k=k: replay(lab, _moved_threshold(text, 5 + k)))[0]
            for k in range(_THRESHOLD_RUNS)]  # fmt: skip
    out["threshold_s"] = runs[0]
    out["threshold_min_s"], out["threshold_max_s"] = min(runs), max(runs)
    out["threshold_median_s"] = sorted(runs)[len(runs) // 2]
    for _, key in TUNING[1:]:
        edited = config if key == "enabled" else _edited(text, key)
        out[f"{key}_s"] = _timed(lambda c=edited: replay(lab, c))[0]
    return out


def measure(db: Path, reference_visitors: int) -> dict[str, float]:
    """Every number for one world (run in its own process by :func:`main`)."""
    import duckdb

    import engage_lab as el
    from benchmarks.hand_queries import QUERIES
    from engage_lab.config import Config
    from engage_lab.replay import replay

    config = Config.load(CONFIG)
    lab = el.open(db)
    con = lab.con
    n_pages = con.execute("SELECT count(*) FROM page_views").fetchall()[0][0]
    n_chat = con.execute("SELECT count(*) FROM chat_events").fetchall()[0][0]
    first_s, result = _timed(lambda: replay(lab, config))
    # the first result stays alive (as in a session comparing variants); the others go
    second_s = _timed(lambda: replay(lab, config))[0]
    tuning = _tuning(lab, config)
    lab.close()
    rss_gb = _peak_rss_gb()
    raw = duckdb.connect(str(db), read_only=True)
    scan_s, _ = _timed(lambda: raw.execute(_SCAN_SQL).fetchall())
    hand = {}
    for name, (sql, params) in QUERIES.items():
        hand[name], _ = _timed(lambda s=sql, p=params: raw.execute(s, p).fetchall())
    raw.close()
    numbers = {
        "page_views": float(n_pages),
        "recorded_chat_events": float(n_chat),
        "continuation_displays": float(result.kpis["displays_by_stage"]["continuation"]),
        "activations": float(result.kpis["activations"]),
        "fidelity": float(result.kpis.get("fidelity", float("nan"))),
        "first_s": first_s,
        "second_s": second_s,
        **tuning,
        "pv_per_s": n_pages / first_s,
        "peak_rss_gb": rss_gb,
        "scan_s": scan_s,
        "hand_s": sum(hand.values()),
        **{f"hand_{k}_s": v for k, v in hand.items()},
    }
    if reference_visitors:
        numbers.update(_reference(db, config, reference_visitors))
    return numbers


def _peak_rss_gb() -> float:
    """This process's peak resident memory (GB). Linux's ``VmHWM`` is the high-water mark
    of this program's own memory; ``ru_maxrss`` would also count the parent's at the
    fork (a world generated in the parent showed up as a 5.8 GB replay)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _reference(db: Path, config, visitors: int) -> dict[str, float]:
    import duckdb

    from engage_lab.reference import History, replay_reference

    con = duckdb.connect(str(db), read_only=True)
    chosen = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT visitor_id FROM page_views ORDER BY visitor_id LIMIT $n",
            {"n": visitors},
        ).fetchall()
    ]
    history_s, history = _timed(lambda: History.from_connection(con))
    pages = sum(len(history.visitor(v).page_views) for v in chosen)
    ref_s, _ = _timed(lambda: replay_reference(history, config, visitors=chosen))
    con.close()
    return {"reference_pages": float(pages), "reference_s": ref_s, "history_read_s": history_s}


def fresh_memory() -> dict[str, float]:
    """Seconds to fill 1 GB of memory the process never touched, with numpy's huge-page
    advice and without (run in a fresh process: on virtual machines the first touch of
    memory is a large, host-dependent part of a replay's wall time)."""
    import numpy as np

    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # pragma: no cover - numpy without the switch
        return {}
    out = {}
    for label, advice in (("huge_s_per_gb", True), ("ordinary_s_per_gb", False)):
        _set_madvise_hugepage(advice)
        start = time.perf_counter()
        block = np.empty(125_000_000, np.int64)
        block.fill(1)
        out[label] = time.perf_counter() - start
        del block
    return out


def _report(n: dict[str, float]) -> None:
    pages = n["page_views"]
    what = "with recorded chat events" if n["recorded_chat_events"] else "no recorded chat events"
    print(f"world of {pages:,.0f} page views ({n['recorded_chat_events']:,.0f} recorded chat "
          f"events, {n['continuation_displays']:,.0f} continuation displays)")  # fmt: skip
    print(
        f"  first replay        {n['first_s']:8.2f} s  {pages / n['first_s']:12,.0f} page views/s"
    )
    if n["recorded_chat_events"]:
        print(f"  fidelity            {n['fidelity']:8.4f}  (replayed vs recorded decision events)")
    print(
        f"  same config again   {n['second_s']:8.2f} s  {pages / n['second_s']:12,.0f} page views/s"
    )
    first = n["first_s"]
    print(f"  tuning replays, each one edit from the replay before ({what}):")
    for label, key in TUNING:
        extra = ""
        if key == "threshold":
            extra = (f"; {_THRESHOLD_RUNS} runs {n['threshold_min_s']:.2f}–"
                     f"{n['threshold_max_s']:.2f} s, median {n['threshold_median_s']:.2f} s "
                     "(target < 0.3 s at 1 M page views)")  # fmt: skip
        print(f"    {label:24s}{n[key + '_s']:6.2f} s  {first / n[key + '_s']:7.1f}x faster "
              f"than the first replay{extra}")  # fmt: skip
    print(
        f"  bare DuckDB scan    {n['scan_s']:8.2f} s  first replay / scan {n['first_s'] / n['scan_s']:6.1f}x"
    )
    print(
        f"  hand interval queries (one per trigger, {sum(1 for k in n if k.startswith('hand_') and k != 'hand_s')}) "
        f"{n['hand_s']:6.2f} s  first replay / their sum {n['first_s'] / n['hand_s']:5.2f}x (target <= 2x)"
    )
    if "reference_s" in n:
        rate = n["reference_pages"] / n["reference_s"]
        print(
            f"  reference           {n['reference_pages']:,.0f} page views in {n['reference_s']:.2f} s "
            f"({rate:,.0f} page views/s; history read {n['history_read_s']:.1f} s), "
            f"extrapolated to {pages / rate:,.0f} s for the whole world "
            f"({pages / rate / n['first_s']:,.0f}x the fast engine)"
        )
    print(
        f"  peak RSS            {n['peak_rss_gb']:8.2f} GB  (every replay above, the first result held)"
    )


#: the largest world whose history the reference sample reads (see :func:`main`)
_REFERENCE_MAX_PAGES = 2_000_000


def main(argv: Sequence[str] | None = None) -> dict[tuple[int, bool], dict[str, float]]:
    """Run the benchmark, print its numbers, return them per world ``(size, chat)``."""
    parser = argparse.ArgumentParser(prog="bench_engine", description=__doc__.splitlines()[0])
    quick = os.environ.get("ENGAGE_LAB_BENCH_QUICK") == "1"
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[20_000] if quick else [1_000_000, 10_000_000]
    )
    parser.add_argument("--reference-visitors", type=int, default=300)
    parser.add_argument(
        "--chat-sizes", type=int, nargs="*", default=[20_000] if quick else [1_000_000],
        help="worlds with recorded chat events, after the --sizes worlds",
    )  # fmt: skip
    parser.add_argument(
        "--chat", action="store_true", help="only worlds with recorded chat events, of --sizes"
    )
    parser.add_argument("--child", type=str, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "memory":  # the machine's fresh-memory cost, in this fresh process
        print(json.dumps(fresh_memory()))
        return {}
    if args.child:  # one world, in this fresh process: print the numbers as JSON
        print(json.dumps(measure(Path(args.child), args.reference_visitors)))
        return {}
    memory = json.loads(
        subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_engine", "--child", "memory"],
            capture_output=True, text=True, check=True, cwd=ROOT.parent,
        ).stdout.strip().splitlines()[-1]
    )  # fmt: skip
    if memory:
        print(
            f"this machine: filling 1 GB of fresh memory takes {memory['ordinary_s_per_gb']:.2f} s "
            f"({memory['huge_s_per_gb']:.2f} s with numpy's huge-page advice, which the "
            "engine turns off; engage_lab.engine.memory)"
        )
    results = {}
    worlds = [(size, True) for size in args.sizes] if args.chat else [
        *((size, False) for size in args.sizes), *((size, True) for size in args.chat_sizes)
    ]  # fmt: skip
    for size, chat in worlds:
        db = world_database(size, chat=chat)
        # the reference reads the whole history into Python objects: beyond a few million
        # page views that alone exceeds this machine's memory (its rate comes from 1M)
        reference_visitors = args.reference_visitors if size <= _REFERENCE_MAX_PAGES else 0
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_engine", "--child", str(db),
             "--reference-visitors", str(reference_visitors)],
            capture_output=True, text=True, check=True, cwd=ROOT.parent,
        )  # fmt: skip
        numbers = json.loads(out.stdout.strip().splitlines()[-1])
        _report(numbers)
        results[(size, chat)] = numbers
    return results


if __name__ == "__main__":
    main()
