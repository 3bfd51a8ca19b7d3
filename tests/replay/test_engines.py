"""``replay`` reaches its engines through one interface, picked from a registry by name."""

from __future__ import annotations

import pytest

import engage_lab as el
from engage_lab.cli import main
from engage_lab.replay import ENGINES, replay
from engage_lab.replay.engines import (
    EngineRun,
    FastEngine,
    ReferenceEngine,
    ReplayOptions,
    engine_named,
)
from tests.replay.conftest import PRODUCTION


@pytest.fixture(scope="module")
def lab(sample_db):
    with el.open(sample_db) as opened:
        yield opened


def test_the_registry_holds_both_engines_by_their_names():
    assert list(ENGINES) == ["fast", "reference"]
    assert isinstance(engine_named("fast"), FastEngine)
    assert isinstance(engine_named("reference"), ReferenceEngine)
    assert all(engine.name == name for name, engine in ENGINES.items())


@pytest.mark.parametrize("name", ["warp", "Fast", "", None, 3])
def test_an_unknown_engine_is_refused_listing_the_known_ones(name):
    with pytest.raises(el.EngineError) as caught:
        engine_named(name)
    assert str(caught.value) == f"unknown engine {name!r}; use fast or reference"


class _Spy:
    """An engine that hands the reference's run back and remembers what it was asked."""

    name = "spy"

    def __init__(self) -> None:
        self.calls: list[ReplayOptions] = []

    def run(self, con, config, options):
        self.calls.append(options)
        return ReferenceEngine().run(con, config, options)


def test_replay_talks_to_a_registered_engine_through_the_interface(lab, monkeypatch):
    spy = _Spy()
    monkeypatch.setitem(ENGINES, "spy", spy)
    result = replay(lab, PRODUCTION, engine="spy", seed=7, sample=0.5)
    expected = replay(lab, PRODUCTION, engine="reference", seed=7, sample=0.5)
    assert spy.calls == [ReplayOptions(seed="7", time_range=None, sample=0.5, segment=None)]
    assert result.engine == "spy"
    assert result.kpis == expected.kpis
    assert result.events.equals(expected.events)


def test_each_engine_returns_an_engine_run(lab):
    options = ReplayOptions(seed="s")
    config = el.Config.load(PRODUCTION)
    runs = {name: engine.run(lab.con, config, options) for name, engine in ENGINES.items()}
    for run in runs.values():
        assert isinstance(run, EngineRun)
        assert len(run.table) == len(run.pages)
    assert len(runs["fast"].codes) == len(runs["reference"].codes)


def test_cli_offers_the_registered_engines(capsys):
    with pytest.raises(SystemExit):
        main(["replay", str(PRODUCTION), "--db", "x.duckdb", "--engine", "warp"])
    assert "(choose from 'fast', 'reference')" in capsys.readouterr().err
