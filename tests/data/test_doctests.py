"""The ``>>>`` examples of the data modules and of ``Lab`` run as tests."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "engage_lab.data.dbfile",
    "engage_lab.data.files",
    "engage_lab.data.schema",
    "engage_lab.data.sqltext",
    "engage_lab.data.progress",
    "engage_lab.data.lines",
    "engage_lab.data.readers",
    "engage_lab.lab",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
