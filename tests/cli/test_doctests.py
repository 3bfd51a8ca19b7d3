"""The ``>>>`` examples of the display helper, the timezone rule and the CLI's
argument types run as tests."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["engage_lab.display", "engage_lab.timezones", "engage_lab.cli._args"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
