"""The engine's memory advice: switched off inside a replay, restored after."""

from __future__ import annotations

import threading

import pytest

from engage_lab.engine import memory
from engage_lab.engine.memory import ordinary_pages

pytestmark = pytest.mark.skipif(
    memory._get_madvise_hugepage is None, reason="this numpy has no huge-page switch"
)


@pytest.fixture(autouse=True)
def _no_override(monkeypatch):
    monkeypatch.delenv("ENGAGE_LAB_HUGEPAGES", raising=False)


@pytest.mark.parametrize("before", [True, False])
def test_advice_is_off_inside_and_restored_after(before):
    saved = memory._set_madvise_hugepage(before)
    try:
        with ordinary_pages():
            assert memory._get_madvise_hugepage() is False
            with ordinary_pages():
                assert memory._get_madvise_hugepage() is False
            assert memory._get_madvise_hugepage() is False  # the outer block still runs
        assert memory._get_madvise_hugepage() is before
    finally:
        memory._set_madvise_hugepage(saved)


def test_restored_after_an_error():
    saved = memory._set_madvise_hugepage(True)
    try:
        with pytest.raises(ValueError), ordinary_pages():
            raise ValueError("boom")
        assert memory._get_madvise_hugepage() is True
    finally:
        memory._set_madvise_hugepage(saved)


def test_concurrent_blocks_restore_when_the_last_ends():
    saved = memory._set_madvise_hugepage(True)
    inside, release = threading.Event(), threading.Event()

    def other():
        with ordinary_pages():
            inside.set()
            release.wait(10)

    try:
        worker = threading.Thread(target=other)
        worker.start()
        assert inside.wait(10)
        with ordinary_pages():
            assert memory._get_madvise_hugepage() is False
        assert memory._get_madvise_hugepage() is False  # the other thread's block is open
        release.set()
        worker.join(10)
        assert memory._get_madvise_hugepage() is True
    finally:
        release.set()
        memory._set_madvise_hugepage(saved)


def test_the_environment_keeps_numpys_default(monkeypatch):
    monkeypatch.setenv("ENGAGE_LAB_HUGEPAGES", "1")
    saved = memory._set_madvise_hugepage(True)
    try:
        with ordinary_pages():
            assert memory._get_madvise_hugepage() is True
    finally:
        memory._set_madvise_hugepage(saved)
