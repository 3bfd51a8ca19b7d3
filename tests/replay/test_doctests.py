"""The ``>>>`` examples of the replay modules run as tests (from the repository root, where
``data/configs`` lives)."""

from __future__ import annotations

import doctest
import importlib
import os
from pathlib import Path

import pytest

MODULES = [
    "engage_lab.kpis",
    "engage_lab.kpis.agents",
    "engage_lab.kpis.coded",
    "engage_lab.kpis.core",
    "engage_lab.kpis.fidelity",
    "engage_lab.replay",
    "engage_lab.replay.engines",
    "engage_lab.replay.restrictions",
    "engage_lab.replay.result",
    "engage_lab.replay.run",
    "engage_lab.compare",
]
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
    assert os.getcwd() == str(ROOT)
