"""Cold start: a fresh install's first replay of the sample and first ``generate``.

Each command runs in a fresh process with an empty numba cache (``NUMBA_CACHE_DIR`` a new
temporary folder), as on a fresh install, with the kernels' tier left to the rule
(``auto``: a small run interprets the kernels that have no compiled code, see
``engage_lab.tiers``) and no background compilation, so that nothing else competes for
the CPU. Then the compilation that a first small run starts in the background
(``python -m engage_lab.engine.warm``) is timed on its own, and the same command again
with the cache it filled (the warm run); the ratios are the first run's and the
compilation's to the warm run. The commands are the CLI's:

* ``engage-lab load data/sample --db DB`` then ``engage-lab replay
  data/configs/production-live-chat.json --db DB`` (the load is timed apart);
* ``engage-lab generate --out DIR --visitors 200 --seed 1`` (its own empty cache).

Target: each first run under 15 s. ``--warm-cache`` uses the ordinary cache (beside the
sources) instead of empty ones: the smoke test's short run.

Run: ``python -m benchmarks.bench_cold`` or through ``make bench``.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"
CONFIG = ROOT / "data" / "configs" / "production-live-chat.json"
TARGET_S = 15.0


def _run(module: str, args: Sequence[str], cache: Path | None) -> float:
    """Seconds of ``python -m MODULE ARGS`` in a fresh process (``cache``: its numba cache)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.pop("ENGAGE_LAB_KERNELS", None)  # the rule a user gets
    env["ENGAGE_LAB_WARM"] = "0"  # timed apart, below
    if cache is not None:
        env["NUMBA_CACHE_DIR"] = str(cache)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds too: on a busy 2-core machine the wall time says more about the others
    _CPU.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return wall


#: CPU seconds of each process run by _run, in order
_CPU: list[float] = []


def _cli(args: Sequence[str], cache: Path | None) -> float:
    return _run("engage_lab.cli", args, cache)


def _warm_up(target: str, cache: Path | None) -> float:
    return _run("engage_lab.engine.warm", [target], cache)


def _line(what: str, cold: float, compiling: float, warm: float, cold_cpu: float) -> None:
    verdict = "under" if cold < TARGET_S else "OVER"
    print(
        f"{what}: first run {cold:.1f} s, CPU {cold_cpu:.1f} s ({verdict} the "
        f"{TARGET_S:.0f} s target), "
        f"warm {warm:.1f} s, ratio {cold / warm:.1f}x; the background compilation "
        f"{compiling:.1f} s ({compiling / warm:.1f}x)"
    )


def measure(work: Path, visitors: int, warm_cache: bool) -> dict[str, float]:
    """Time the cold and warm runs in ``work``; return the seconds."""
    replay_cache = None if warm_cache else work / "cache-replay"
    world_cache = None if warm_cache else work / "cache-generate"
    db = work / "sample.duckdb"
    numbers: dict[str, float] = {}
    numbers["load_s"] = _cli(["load", str(SAMPLE), "--db", str(db)], replay_cache)
    replay = ["replay", str(CONFIG), "--db", str(db), "--json"]
    numbers["replay_cold_s"] = _cli(replay, replay_cache)
    numbers["replay_cold_cpu_s"] = _CPU[-1]
    numbers["replay_compile_s"] = _warm_up("replay", replay_cache)
    numbers["replay_warm_s"] = _cli(replay, replay_cache)
    generate = ["generate", "--visitors", str(visitors), "--seed", "1", "--out"]
    numbers["generate_cold_s"] = _cli([*generate, str(work / "world-1")], world_cache)
    numbers["generate_cold_cpu_s"] = _CPU[-1]
    numbers["generate_compile_s"] = _warm_up("world", world_cache)
    numbers["generate_warm_s"] = _cli([*generate, str(work / "world-2")], world_cache)
    return numbers


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Run the benchmark, print its lines, return the seconds."""
    parser = argparse.ArgumentParser(prog="bench_cold", description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=200, help="the generated world's")
    parser.add_argument(
        "--warm-cache", action="store_true", help="the ordinary numba cache, not empty ones"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="engage-lab-cold-") as tmp:
        numbers = measure(Path(tmp), args.visitors, args.warm_cache)
    cache = "ordinary numba cache" if args.warm_cache else "fresh process, empty numba cache"
    print(f"cold start ({cache}):")
    print(f"load of the sample: {numbers['load_s']:.1f} s")
    _line(
        "replay of the sample",
        numbers["replay_cold_s"],
        numbers["replay_compile_s"],
        numbers["replay_warm_s"],
        numbers["replay_cold_cpu_s"],
    )
    _line(
        f"generate of {args.visitors} visitors",
        numbers["generate_cold_s"],
        numbers["generate_compile_s"],
        numbers["generate_warm_s"],
        numbers["generate_cold_cpu_s"],
    )
    return numbers


if __name__ == "__main__":
    main()
