"""How the engine asks for memory: numpy's large arrays on ordinary pages while it runs.

numpy advises the kernel to back every array of 4 MB or more with transparent huge pages
(``madvise(MADV_HUGEPAGE)``). On the virtual machines this project is measured on, the
first touch of fresh memory is what a replay of millions of page views mostly waits for,
and a huge page costs more there than its 512 small pages: filling a fresh 1 GB array
took 0.9–2.3 s with the advice and 0.35–0.5 s without it, and a 10 M page-view replay
spent 2–3 s less in the kernel (``benchmarks/bench_engine.py`` prints the same-run
figures). :func:`ordinary_pages` switches the advice off for the duration of a replay and
restores it after; ``ENGAGE_LAB_HUGEPAGES=1`` keeps numpy's default (on hosts where huge
pages are cheaper).

>>> from engage_lab.engine.memory import ordinary_pages
>>> import numpy as np
>>> with ordinary_pages():
...     int(np.ones(1_000_000, np.int64).sum())
1000000
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["ordinary_pages"]

try:  # numpy >= 2; private, hence the guard (without it the advice stays as it is)
    from numpy._core.multiarray import _get_madvise_hugepage, _set_madvise_hugepage
except ImportError:  # pragma: no cover - numpy without the switch
    _get_madvise_hugepage = _set_madvise_hugepage = None

_LOCK = threading.Lock()
_DEPTH = 0
_SAVED = False


@contextmanager
def ordinary_pages() -> Iterator[None]:
    """Within the block, numpy allocates without the huge-page advice (nested and
    concurrent blocks restore the setting when the last one ends)."""
    global _DEPTH, _SAVED
    if _set_madvise_hugepage is None or os.environ.get("ENGAGE_LAB_HUGEPAGES") == "1":
        yield
        return
    with _LOCK:
        if _DEPTH == 0:
            _SAVED = bool(_get_madvise_hugepage())
            _set_madvise_hugepage(False)
        _DEPTH += 1
    try:
        yield
    finally:
        with _LOCK:
            _DEPTH -= 1
            if _DEPTH == 0:
                _set_madvise_hugepage(_SAVED)
