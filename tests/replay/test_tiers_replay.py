"""Both kernel tiers give the same replay and the same generated world, byte for byte; an
interpreted run compiles nothing; a fresh install's first small replay interprets, says
nothing on stderr, and a warm-up fills the cache that the next run compiles from."""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
from pathlib import Path

import numba.core.event as numba_event
import pandas as pd
import pytest

import engage_lab as el
from engage_lab import tiers
from engage_lab.world import generate_world
from tests.replay.conftest import PRODUCTION, ROOT, VARIANT, _load

MESSAGING = ROOT / "data" / "sample-messaging"
PRODUCTION_MESSAGING = ROOT / "data" / "configs" / "production-messaging.json"


class _Compilations(numba_event.Listener):
    def __init__(self) -> None:
        self.kernels: collections.Counter[str] = collections.Counter()

    def on_start(self, event: numba_event.Event) -> None:
        self.kernels[event.data["dispatcher"].py_func.__qualname__] += 1

    def on_end(self, event: numba_event.Event) -> None:
        pass


def _replays(db: Path, config: Path, choice: str, **options) -> tuple[pd.DataFrame, dict]:
    listener = _Compilations()
    with (
        numba_event.install_listener("numba:compile", listener),
        tiers.forced(choice),
        el.open(db) as lab,
    ):
        res = lab.replay(config, **options)
        events, kpis = res.events, res.kpis
    if choice == "interpreted":
        assert not listener.kernels, f"an interpreted replay compiled {dict(listener.kernels)}"
    return events, kpis


@pytest.fixture(scope="module")
def messaging_db(tmp_path_factory) -> Path:
    return _load(MESSAGING, tmp_path_factory.mktemp("tiers-msg") / "messaging.duckdb")


@pytest.mark.parametrize(
    ("config", "options"),
    [
        (PRODUCTION, {}),
        (VARIANT, {"segment": {"page.device": "mobile"}}),
        (PRODUCTION, {"sample": 0.3, "time_range": ("2026-03-04", "2026-03-12")}),
    ],
    ids=["production", "variant-segment", "sample-window"],
)
def test_live_chat_replay_is_the_same_in_both_tiers(sample_db, config, options):
    events, kpis = _replays(sample_db, config, "interpreted", **options)
    compiled_events, compiled_kpis = _replays(sample_db, config, "compiled", **options)
    assert len(events) > 0
    pd.testing.assert_frame_equal(events, compiled_events)
    assert kpis == compiled_kpis


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_messaging_replay_is_the_same_in_both_tiers(messaging_db, engine):
    events, kpis = _replays(messaging_db, PRODUCTION_MESSAGING, "interpreted", engine=engine)
    compiled_events, compiled_kpis = _replays(
        messaging_db, PRODUCTION_MESSAGING, "compiled", engine=engine
    )
    pd.testing.assert_frame_equal(events, compiled_events)
    assert kpis == compiled_kpis
    assert kpis["refused"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["live_chat", "messaging"])
def test_generated_world_is_the_same_in_both_tiers(tmp_path, mode):
    listener = _Compilations()
    with numba_event.install_listener("numba:compile", listener), tiers.forced("interpreted"):
        generate_world(tmp_path / "interpreted", 40, 5, mode, days=3, progress=False)
    assert not listener.kernels, f"an interpreted generate compiled {dict(listener.kernels)}"
    with tiers.forced("compiled"):
        generate_world(tmp_path / "compiled", 40, 5, mode, days=3, progress=False)
    files = sorted(
        p.relative_to(tmp_path / "compiled") for p in (tmp_path / "compiled").rglob("*.json*")
    )
    assert any(str(f) == "chat_events.jsonl" for f in files)
    for name in files:
        assert (tmp_path / "interpreted" / name).read_bytes() == (
            tmp_path / "compiled" / name
        ).read_bytes(), name


def _cli(args: list[str], cache: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ENGAGE_LAB_KERNELS"}  # auto
    env.update(NUMBA_CACHE_DIR=str(cache), ENGAGE_LAB_WARM="0")
    module = [] if args[0] == "-c" else ["-m"]
    return subprocess.run(
        [sys.executable, *module, *args], env=env, cwd=ROOT, capture_output=True, text=True
    )


_PROBE = """
import json, sys
import engage_lab as el
from engage_lab import tiers
with el.open(sys.argv[1]) as lab:
    kpis = lab.replay(sys.argv[2]).kpis
print(json.dumps({"interpreted": sum(tiers.interpreted_calls.values()), "kpis": kpis}))
"""


@pytest.mark.slow
def test_a_fresh_install_interprets_the_sample_then_compiles_in_the_background(db_copy, tmp_path):
    cache = tmp_path / "numba-cache"
    replay = ["engage_lab.cli", "replay", str(PRODUCTION), "--db", str(db_copy), "--json"]
    first = _cli(replay, cache)
    assert first.returncode == 0, first.stderr
    assert "compiling" not in first.stderr  # nothing was compiled: the sample is small
    assert not list(cache.rglob("*.nbi"))
    probe = ["-c", _PROBE, str(db_copy), str(PRODUCTION)]
    before = _cli(probe, cache)
    assert before.returncode == 0, before.stderr
    warm = _cli(["engage_lab.engine.warm", "replay"], cache)
    assert warm.returncode == 0, warm.stderr
    assert list(cache.rglob("*run_pass*.nbi")), "the warm-up cached the replay kernel"
    after = _cli(probe, cache)
    assert after.returncode == 0, after.stderr
    assert "compiling" not in after.stderr  # the cache held every kernel it called
    cold, warmed = json.loads(before.stdout), json.loads(after.stdout)
    assert cold["interpreted"] > 0
    assert warmed["interpreted"] == 0  # compiled code for the sample's argument types
    assert warmed["kpis"] == cold["kpis"] == json.loads(first.stdout)["kpis"]
