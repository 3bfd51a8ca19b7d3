"""Both engines replay big conditions within bounded time and memory, and agree.

A trigger with a 10,000-value ``$in`` and one with 2,000 criteria (the cases of
``benchmarks/bench_big_conditions.py``) are replayed on the sample by each engine in a
subprocess under a generous limit of time and address space (the fast engine's first
run may compile its kernels); the two engines' events must be equal."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.bench_big_conditions import criteria_config, in_config

ROOT = Path(__file__).resolve().parents[2]
#: generous bounds: a replay of these cases takes seconds and about 400 MB resident
#: (2.7 GB of address space with DuckDB's and numba's reservations); before they were
#: bounded, the fast engine took minutes and 1.9 GB resident on them
TIMEOUT_S = 300
ADDRESS_SPACE = 6 * 1024**3

SCRIPT = """
import sys
import engage_lab as el
from engage_lab.config import Config

db, engine, out = sys.argv[1:4]
with el.open(db) as lab:
    for k, path in enumerate(sys.argv[4:]):
        events = lab.replay(Config.load(path), engine=engine).events
        events.to_parquet(f"{out}-{k}.parquet")
"""


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def _replay(db: Path, engine: str, configs: list[Path], out: Path) -> list[pd.DataFrame]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(db), engine, str(out), *map(str, configs)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        preexec_fn=_limited,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [pd.read_parquet(f"{out}-{k}.parquet") for k in range(len(configs))]


@pytest.mark.slow
def test_engines_agree_on_big_conditions_within_bounds(sample_db, tmp_path):
    configs = []
    for name, data in (("in10k", in_config()), ("criteria2k", criteria_config())):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        configs.append(path)
    fast = _replay(sample_db, "fast", configs, tmp_path / "fast")
    reference = _replay(sample_db, "reference", configs, tmp_path / "reference")
    for name, f, r in zip(("in10k", "criteria2k"), fast, reference, strict=True):
        big = r[r["trigger_id"] == "big-condition"]
        assert len(big) > 50, name  # the big trigger fires: its condition is evaluated
        pd.testing.assert_frame_equal(f, r, obj=name)


def test_too_many_changing_criteria_are_refused_by_the_fast_engine_only(sample_db):
    import engage_lab as el
    from engage_lab.config import Config
    from engage_lab.engine import UnsupportedByFastEngineError

    data = json.loads((ROOT / "data" / "configs" / "production-live-chat.json").read_text())
    # `contains` tests do not merge: 70 criteria whose value changes during a page view
    criteria = [
        {"criterion": "custom_plan", "operator": "contains", "value": f"x{i}"} for i in range(70)
    ]
    actions = [{"type": "show_item", "item": "inv-pricing"}]
    data["triggers"].append({"id": "many", "label": "M", "criteria": criteria, "actions": actions})
    config = Config.from_dict(data)
    with el.open(sample_db) as lab:
        with pytest.raises(UnsupportedByFastEngineError, match=r"'many' has more than 62"):
            lab.replay(config, engine="fast")
        assert len(lab.replay(config, engine="reference").events) > 0
