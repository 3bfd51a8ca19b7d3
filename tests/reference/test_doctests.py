"""The ``>>>`` examples of the reference modules run as tests; the public surface is
what we mean to export."""

from __future__ import annotations

import doctest
import importlib

import pytest

import engage_lab.reference as reference

MODULES = [
    "engage_lab.reference.history",
    "engage_lab.reference.state",
    "engage_lab.reference.protocols",
    "engage_lab.reference.triggers",
    "engage_lab.reference.scheduler",
    "engage_lab.reference.replay",
    "engage_lab.reference.plan",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0


def test_public_names():
    assert reference.__all__ == sorted(reference.__all__)
    assert {"replay_reference", "History", "VisitorSession", "Scheduler"} <= set(reference.__all__)
    for name in reference.__all__:
        assert getattr(reference, name) is not None
