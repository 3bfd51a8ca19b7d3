"""A first compilation of the kernels is announced once, on stderr, never on stdout; the
compile-cheap stable argsort gives numpy's stable order."""

from __future__ import annotations

import doctest

import numba
import numpy as np
import pytest

from engage_lab.engine import compiling, kernel_inputs, sorting


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(compiling, "_announced", False)
    compiling.install()


def _kernel(module: str):
    def probe(x):
        return x + 1

    probe.__module__ = module
    return numba.njit(probe)  # no cache: it compiles on every call of a new dispatcher


def test_the_first_compilation_is_announced_once(fresh, monkeypatch):
    lines: list[str] = []
    monkeypatch.setattr(compiling, "_announcer", lines.append)
    with compiling.announcing("world generator's kernels", 60):
        assert _kernel("engage_lab.world.probe")(1) == 2
    assert _kernel("engage_lab.engine.probe")(2) == 3
    assert lines == ["compiling the world generator's kernels (first run only, about 60 s)…"]


def test_other_packages_compile_silently(fresh, monkeypatch):
    lines: list[str] = []
    monkeypatch.setattr(compiling, "_announcer", lines.append)
    assert _kernel("somebody_else")(1) == 2
    assert lines == []
    assert _kernel("engage_lab.engine.probe")(1) == 2
    assert lines == ["compiling the replay kernels (first run only, about 45 s)…"]


def test_the_line_goes_to_stderr(fresh, capsys):
    assert _kernel("engage_lab.engine.probe")(1) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "compiling the replay kernels (first run only" in err


@pytest.mark.parametrize("module", [compiling, kernel_inputs, sorting])
def test_doctests(module) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0


def test_stable_argsort_is_numpys_stable_order() -> None:
    rng = np.random.default_rng(7)
    for n in (0, 1, 15, 16, 17, 100, 1000):
        keys = rng.integers(0, max(n // 4, 1), n)
        assert sorting.stable_argsort(keys).tolist() == np.argsort(keys, kind="stable").tolist()
    hashes = rng.integers(0, 2**63, 300, dtype=np.uint64) | np.uint64(2**63)
    assert sorting.stable_argsort(hashes).tolist() == np.argsort(hashes, kind="stable").tolist()
