"""The ``>>>`` examples in the configuration modules run (pytest only collects tests/)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import engage_lab.cli._config
import engage_lab.config

MODULES = [
    "engage_lab.config",
    *(f"engage_lab.config.{m.name}" for m in pkgutil.iter_modules(engage_lab.config.__path__)),
    engage_lab.cli._config.__name__,
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def _example_count(name: str) -> int:
    tests = doctest.DocTestFinder().find(importlib.import_module(name))
    return sum(len(t.examples) for t in tests)


def test_the_modules_carry_examples():
    without = [name for name in MODULES if _example_count(name) == 0]
    assert without == ["engage_lab.cli._config"]  # the CLI is tested in test_cli_config
