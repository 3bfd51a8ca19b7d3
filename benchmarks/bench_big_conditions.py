"""Big conditions: both engines on the sample with a 10,000-value ``$in`` and with 2,000
criteria on one trigger, against the production configuration in the same run.

The shipped sample (``data/sample``) is loaded once into ``benchmarks/.worlds/``. Then,
for each engine (``fast``, ``reference``), in this process:

* ``baseline``: the packaged ``production-live-chat`` configuration;
* ``in10k``: the same plus one trigger whose expression is ``page.path`` ``$in`` a list
  of 10,000 paths (two of them on the site): :func:`in_config`;
* ``criteria2k``: the same plus one trigger with 2,000 criteria over page strings at
  every kind of position, counts, durations, the clock and a custom variable:
  :func:`criteria_config`.

A big condition should cost about what its distinct reads cost: the ratio is the case's
seconds over the baseline's: the first replay on a new connection (nothing cached), the
best of ``--repeat`` runs each; the fast engine is warmed up first, so compilation of
its kernels is not counted. Before these cases were made to scale, the same shapes
took, on this sample with the command line: ``$in`` 111 s on the fast engine (1.8 GB
resident) and 42 s on the reference; 2,000 criteria over 300 s on the fast engine and
53 s on the reference, against about 7 s for the production configuration. Now each is
a few seconds, within a small multiple of the baseline; the benchmark also checks that
both engines give the same events on each case.

Run: ``python -m benchmarks.bench_big_conditions [--repeat N]`` or ``make bench``.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORLDS = Path(__file__).parent / ".worlds"
PRODUCTION = ROOT / "data" / "configs" / "production-live-chat.json"
SAMPLE = ROOT / "data" / "sample"
#: positions the criteria case cycles through (one page, several pages, the first)
POSITIONS = ("current", "previous", "any", "current_or_previous", "any_of_previous_3", "first")


def _with_trigger(extra: dict[str, Any]) -> dict[str, Any]:
    config = json.loads(PRODUCTION.read_text(encoding="utf-8"))
    trigger = {
        "id": "big-condition",
        "label": "A big condition",
        "criteria": [],
        "actions": [{"type": "show_item", "item": "inv-pricing"}],
    }
    trigger.update(copy.deepcopy(extra))
    config["triggers"].append(trigger)
    return config


def in_config(values: int = 10_000) -> dict[str, Any]:
    """The production configuration plus a trigger on ``page.path`` ``$in`` ``values``
    paths, ``/cart`` and ``/pricing`` among them (the sample's paths)."""
    paths = [f"/p{i}" for i in range(values - 2)] + ["/cart", "/pricing"]
    return _with_trigger({"expression": {"page.path": {"$in": paths}}})


def criteria_config(count: int = 2_000) -> dict[str, Any]:
    """The production configuration plus a trigger with ``count`` criteria, true on most
    pages so the trigger fires: page strings at every kind of position, counts,
    durations (thresholds 0-29 s), the clock and a custom variable."""
    criteria: list[dict[str, Any]] = []
    for i in range(count):
        kind = i % 8
        where = POSITIONS[i % len(POSITIONS)]
        if kind == 0:
            c = {"criterion": "page_path", "when": where, "operator": "does_not_contain",
                 "value": f"/zz{i}"}  # fmt: skip
        elif kind == 1:
            c = {"criterion": "page_url", "operator": "is_not", "value": f"https://x.example/{i}"}
        elif kind == 2:
            c = {"criterion": "page_visit_duration", "operator": "gte", "value": i % 30}
        elif kind == 3:
            c = {"criterion": "page_title", "when": where, "operator": "does_not_contain",
                 "value": f"qq{i}, rr{i}"}  # fmt: skip
        elif kind == 4:
            c = {"criterion": "visit_count", "when": where, "operator": "gte", "value": 1}
        elif kind == 5:
            c = {"criterion": "custom_plan", "operator": "is_not", "value": f"plan{i}"}
        elif kind == 6:
            c = {"criterion": "time", "operator": "lte", "value": "23:45"}
        else:
            c = {"criterion": "page_visit_count", "when": where, "operator": "lte",
                 "value": 1000 + i}  # fmt: skip
        criteria.append(c)
    return _with_trigger({"criteria": criteria})


def sample_database() -> Path:
    """The database of the sample (loaded on first use)."""
    import engage_lab

    database = WORLDS / "sample" / "sample.duckdb"
    if not database.exists():
        database.parent.mkdir(parents=True, exist_ok=True)
        partial = database.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        lab = engage_lab.open(partial)
        lab.load(SAMPLE)
        lab.close()
        partial.rename(database)  # only a complete load is ever reused
    return database


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Run the benchmark, print its numbers, return them (seconds and ratios)."""
    import engage_lab
    from engage_lab.config import Config

    parser = argparse.ArgumentParser(
        prog="bench_big_conditions", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    cases = {
        "baseline": Config.load(PRODUCTION),
        "in10k": Config.from_dict(in_config()),
        "criteria2k": Config.from_dict(criteria_config()),
    }
    out: dict[str, float] = {}
    database = sample_database()

    def first_replay(config: Config, engine: str) -> tuple[float, Any]:
        # a new connection: nothing cached from an earlier replay (compiled kernels stay)
        with engage_lab.open(database) as lab:
            started = time.perf_counter()
            result = lab.replay(config, engine=engine)
            return time.perf_counter() - started, result.events

    first_replay(cases["baseline"], "fast")  # compilation is not measured
    by_engine: dict[str, dict[str, Any]] = {}
    for engine in ("fast", "reference"):
        events = by_engine[engine] = {}
        for name, config in cases.items():
            runs = [first_replay(config, engine) for _ in range(max(1, args.repeat))]
            out[f"{engine}_{name}_s"] = min(seconds for seconds, _ in runs)
            events[name] = runs[-1][1]
        for name in ("in10k", "criteria2k"):
            ratio = out[f"{engine}_{name}_s"] / out[f"{engine}_baseline_s"]
            out[f"{engine}_{name}_ratio"] = ratio
            print(
                f"{engine:9} {name:10} {out[f'{engine}_{name}_s']:6.2f} s  "
                f"baseline {out[f'{engine}_baseline_s']:5.2f} s  ratio {ratio:5.2f}x  "
                f"({len(events[name]):,} events)",
                flush=True,
            )
    for name in cases:
        agree = by_engine["fast"][name].equals(by_engine["reference"][name])
        out[f"{name}_engines_agree"] = float(agree)
        print(f"{name:10} engines agree: {'yes' if agree else 'NO'}", flush=True)
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
