"""The ``>>>`` examples of the shared-engine modules run as tests."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "engage_lab.draws",
    "engage_lab.durations",
    "engage_lab.errors",
    "engage_lab.events",
    "engage_lab.availability.policies",
    "engage_lab.availability.state",
    "engage_lab.availability.pool",
    "engage_lab.tiers",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
