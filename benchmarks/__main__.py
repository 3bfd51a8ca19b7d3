"""Run every benchmark: ``python -m benchmarks [--quick] [NAME ...]`` (``make bench``).

Each ``benchmarks/bench_*.py`` module is found by name and its ``main([])`` called in
turn; a module that wants a short run reads ``ENGAGE_LAB_BENCH_QUICK`` (set by
``--quick``). ``NAME`` runs only the named modules (``load`` or ``bench_load``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import time
from pathlib import Path

QUICK_ENV = "ENGAGE_LAB_BENCH_QUICK"


def discover() -> list[str]:
    """Names of the benchmark modules, sorted."""
    folder = Path(__file__).parent
    return sorted(
        m.name for m in pkgutil.iter_modules([str(folder)]) if m.name.startswith("bench_")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("names", nargs="*", metavar="NAME")
    args = parser.parse_args(argv)
    if args.quick:
        os.environ[QUICK_ENV] = "1"
    wanted = {n if n.startswith("bench_") else f"bench_{n}" for n in args.names}
    names = [n for n in discover() if not wanted or n in wanted]
    unknown = wanted - set(names)
    if unknown:
        print(f"no benchmark named {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    for name in names:
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        module = importlib.import_module(f"benchmarks.{name}")
        module.main([])
        print(f"== {name} done in {time.perf_counter() - started:.1f} s\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
