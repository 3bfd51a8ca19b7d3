"""The ``>>>`` examples of the exploration modules run as tests."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "engage_lab.explore",
    "engage_lab.explore._db",
    "engage_lab.explore.visits",
    "engage_lab.explore.chat",
    "engage_lab.explore.agents",
    "engage_lab.plots",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
