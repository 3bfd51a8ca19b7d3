"""One line on stderr when the compiled kernels are first compiled: never a silent wait.

The kernels are compiled by numba on their first call and cached on disk (``cache=True``:
``__pycache__`` beside the sources, or ``NUMBA_CACHE_DIR``), so a fresh install's first
replay or ``generate`` waits for the compiler once. :func:`install` registers a numba
event listener that prints, at the first real compilation of an engage_lab kernel in the
process (a kernel loaded from the cache is not one), which kernels are compiling and
about how long it takes (:func:`announcing` names what the block compiles; the default
is the replay's kernels); later compilations say nothing. The line goes to stderr, so
``--json`` output on stdout stays clean.

>>> install()  # idempotent
>>> install()
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numba.core.event as numba_event

__all__ = ["announcing", "install", "message_for", "set_announcer"]

#: what compiles, about how many seconds (CPU time measured with an empty cache on the
#: 2-core development machine): the default, and what :func:`announcing` sets
_DEFAULT = ("replay kernels", 45)
_current: list[tuple[str, int]] = []

_lock = threading.Lock()
_installed = False
_announced = False


def message_for(what: str, seconds: int) -> str:
    """The line announced for ``what`` compiling in about ``seconds``.

    >>> message_for("replay kernels", 40)
    'compiling the replay kernels (first run only, about 40 s)…'
    """
    return f"compiling the {what} (first run only, about {seconds} s)…"


@contextmanager
def announcing(what: str, seconds: int) -> Iterator[None]:
    """Within the block, a first compilation is announced as ``what`` (about ``seconds``).

    >>> with announcing("world generator's kernels", 60):
    ...     pass
    """
    _current.append((what, seconds))
    try:
        yield
    finally:
        _current.pop()


def _stderr_line(text: str) -> None:
    if sys.stderr is None:
        return
    from rich.console import Console

    Console(stderr=True, highlight=False).print(text, markup=False)


_announcer: Callable[[str], None] | None = _stderr_line


def set_announcer(announcer: Callable[[str], None] | None) -> None:
    """Where the line goes: a callable taking the text, or None for nowhere."""
    global _announcer
    _announcer = announcer


class _FirstCompile(numba_event.Listener):
    def on_start(self, event: numba_event.Event) -> None:
        global _announced
        if _announced:
            return
        dispatcher = event.data.get("dispatcher") if event.data else None
        module = getattr(getattr(dispatcher, "py_func", None), "__module__", "") or ""
        if not module.startswith("engage_lab"):
            return
        with _lock:
            if _announced:
                return
            _announced = True
        if _announcer is not None:
            _announcer(message_for(*(_current[-1] if _current else _DEFAULT)))

    def on_end(self, event: numba_event.Event) -> None:
        pass


def install() -> None:
    """Register the listener (once per process)."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    numba_event.register("numba:compile", _FirstCompile())
