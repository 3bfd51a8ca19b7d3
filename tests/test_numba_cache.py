"""numba gets a cache folder it can write, or the one it had (engage_lab.numba_cache)."""

from __future__ import annotations

import os
from pathlib import Path

import numba.core.config

from engage_lab import numba_cache


def test_a_set_cache_folder_is_kept(monkeypatch, tmp_path):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert numba_cache.ensure() is None
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path)


def test_nothing_changes_where_numba_can_cache(monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    assert numba_cache.ensure() is None  # the package's __pycache__ is writable here
    assert "NUMBA_CACHE_DIR" not in os.environ


def test_a_temporary_folder_when_neither_place_is_writable(monkeypatch, tmp_path):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(numba_cache.tempfile, "gettempdir", lambda: str(tmp_path))
    refused = {numba_cache._PACKAGE / "engine" / "__pycache__", numba_cache._user_cache()}
    real = numba_cache._writable
    monkeypatch.setattr(numba_cache, "_writable", lambda f: f not in refused and real(f))
    monkeypatch.setattr(numba.core.config, "CACHE_DIR", "")
    chosen = numba_cache.ensure()
    assert chosen is not None and chosen.parent == tmp_path and chosen.is_dir()
    assert os.environ["NUMBA_CACHE_DIR"] == str(chosen) == numba.core.config.CACHE_DIR
    monkeypatch.delenv("NUMBA_CACHE_DIR")


def test_writable_says_no_for_a_file_in_the_way(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert not numba_cache._writable(Path(blocker) / "sub")
    assert numba_cache._writable(tmp_path / "new" / "folder")
