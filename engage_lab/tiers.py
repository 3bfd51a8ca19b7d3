"""Two tiers for the kernels: their Python source on small inputs, compiled code on the rest.

Compiling the replay kernels with numba takes about 45 s of CPU on a fresh install (and
the world generator's about 90 s), almost all of it numba's own typing and lowering of a
few large functions. The compiled code is cached on disk, so this is paid once per
install, but it is the first thing a new user meets, on the shipped sample of under two
thousand page views that the kernels' Python source replays in a few seconds. So, as a
JIT runtime starts in its interpreter, a kernel runs in one of two tiers:

``interpreted``
    the kernel's own Python source (``py_func``), with every kernel it calls and every
    global it reads rebound to their interpreted twins (:func:`interpreted`). Same code,
    same arithmetic (the kernels compute in ``int64`` / ``float64`` and never rely on
    overflow); the differential tests run both tiers. The few numba ``intrinsic``s (LLVM
    IR with no Python body) have a registered Python equivalent (:func:`register`).
``compiled``
    the numba dispatcher, compiled on first use and cached on disk.

:func:`tiered` picks one for a call. ``ENGAGE_LAB_KERNELS`` (``auto``, ``compiled`` or
``interpreted``) or :func:`forced` overrides it. Under ``auto`` (the default), a call in a
small run (:func:`running`: at most :data:`SMALL` page views) is interpreted when the
kernel has no compiled code for the call's argument types, neither in this process nor in
numba's on-disk cache (:func:`has_code`); everything else is compiled. An interpreted call
starts the compilation in a separate, low-priority process
(:func:`warm_in_background`), so later runs load the compiled code from the cache.

Measured with an empty cache on the 2-core development machine: the first replay of the
shipped sample takes about 3 s of CPU interpreted against about 45 s compiling, and the
first ``generate`` of 200 visitors about 4 s against about 90 s.

>>> import numba, numpy as np
>>> @numba.njit
... def twice(a):
...     return a * 2
>>> @numba.njit
... def total(a):
...     return twice(a).sum()
>>> int(interpreted(total)(np.arange(3)))
6
>>> total.signatures  # the interpreted run compiled nothing
[]
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import functools
import os
import subprocess
import sys
import threading
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial
from typing import Any

from numba.core.dispatcher import Dispatcher
from numba.core.extending import _Intrinsic

__all__ = [
    "SMALL",
    "carried",
    "current",
    "forced",
    "has_code",
    "interpreted",
    "interpreted_calls",
    "register",
    "resumed",
    "resuming",
    "running",
    "tiered",
    "warm_in_background",
]

#: the largest run (page views) interpreted under ``auto`` when the kernels have no
#: compiled code. Most of a replay is DuckDB and numpy, so interpreting costs less than it
#: seems: a replay of 25,343 page views took 10.2 s of CPU interpreted against 4.1 s
#: compiled (from the cache), and compiling costs about 45 s; 50,000 page views stay well
#: below that, and the background compilation makes the next run compiled anyway
SMALL = 50_000

_ENV = "ENGAGE_LAB_KERNELS"
_CHOICES = ("auto", "compiled", "interpreted")

_fallbacks: dict[int, Callable[..., Any]] = {}
_twins: dict[int, Any] = {}
_twin_globals: dict[int, dict[str, Any]] = {}
_lock = threading.RLock()
_forced: list[str] = []

#: the calls of each kernel (by name) that :func:`tiered` interpreted in this process
interpreted_calls: collections.Counter[str] = collections.Counter()


def register(kernel: Any, python: Callable[..., Any]) -> None:
    """Use ``python`` for ``kernel`` (an intrinsic or a dispatcher) when interpreted.

    For intrinsics, which have no Python body, and for kernels whose Python source would
    be needlessly slow interpreted (MD5 in 32-bit words, where :mod:`hashlib` gives the
    same digest). ``python`` must compute exactly what the kernel computes.
    """
    _fallbacks[id(kernel)] = python


def _twin_value(value: Any) -> Any:
    if id(value) in _fallbacks:
        return _fallbacks[id(value)]
    if isinstance(value, Dispatcher):
        return interpreted(value)
    if isinstance(value, _Intrinsic):
        raise TypeError(f"intrinsic {value._name} has no Python equivalent (tiers.register)")
    if type(value) is tuple and any(isinstance(v, Dispatcher | _Intrinsic) for v in value):
        return tuple(_twin_value(v) for v in value)
    return value


def _globals_twin(namespace: dict[str, Any]) -> dict[str, Any]:
    """The module namespace with kernels rebound to twins (one per module, filled lazily)."""
    twin = _twin_globals.get(id(namespace))
    if twin is None:
        twin = _LazyNamespace(namespace)
        _twin_globals[id(namespace)] = twin
    return twin


class _LazyNamespace(dict):
    """A module's globals as the interpreted twins see them, rebound on first lookup.

    Rebinding lazily keeps the twin of one kernel from twinning every kernel of every
    module it can reach; the original namespace stays the source of truth for globals
    bound later.
    """

    def __init__(self, namespace: dict[str, Any]) -> None:
        super().__init__()
        self._source = namespace
        self["__builtins__"] = namespace.get("__builtins__", __builtins__)

    def __missing__(self, key: str) -> Any:
        value = _twin_value(self._source[key])
        self[key] = value
        return value


def interpreted(kernel: Any) -> Callable[..., Any]:
    """The Python twin of a numba kernel: its source, calling the twins of its callees.

    Nothing is compiled by calling the twin; a non-kernel is returned as it is.
    """
    with _lock:
        known = _twins.get(id(kernel))
        if known is not None:
            return known[1]
        if id(kernel) in _fallbacks:
            return _fallbacks[id(kernel)]
        if not isinstance(kernel, Dispatcher):
            return kernel
        py = kernel.py_func
        closure = None
        if py.__closure__:
            closure = tuple(types.CellType(_twin_value(c.cell_contents)) for c in py.__closure__)
        twin = types.FunctionType(
            py.__code__, _globals_twin(py.__globals__), py.__name__, py.__defaults__, closure
        )
        twin.__kwdefaults__ = py.__kwdefaults__
        twin.__doc__ = py.__doc__
        twin.__qualname__ = py.__qualname__
        twin.__module__ = py.__module__
        # keep the dispatcher alive with its twin so its id is never reused
        _twins[id(kernel)] = (kernel, twin)
        return twin


@contextmanager
def forced(choice: str) -> Iterator[None]:
    """Within the block, every :func:`tier` answers ``choice`` (``auto`` restores the rule).

    >>> with forced("interpreted"):
    ...     _choice()
    'interpreted'
    """
    if choice not in _CHOICES:
        raise ValueError(f"kernel tier must be one of {', '.join(_CHOICES)}, not {choice!r}")
    _forced.append(choice)
    try:
        yield
    finally:
        _forced.pop()


def _choice() -> str:
    if _forced:
        return _forced[-1]
    choice = os.environ.get(_ENV, "auto").strip().lower() or "auto"
    if choice not in _CHOICES:
        raise ValueError(f"{_ENV} must be one of {', '.join(_CHOICES)}, not {choice!r}")
    return choice


def has_code(kernel: Dispatcher, args: tuple[Any, ...]) -> bool:
    """Whether ``kernel`` has compiled code for ``args``: in this process, or on disk.

    The disk is numba's cache (``__pycache__`` beside the source, or
    ``NUMBA_CACHE_DIR``), looked up with the key numba itself uses (argument types,
    machine, source bytes), so a cache written for other argument types or for an older
    source is no code.
    """
    argtypes = tuple(kernel.typeof_pyval(a) for a in args)
    if argtypes in kernel.overloads:
        return True
    cache = getattr(kernel, "_cache", None)
    if not getattr(cache, "_enabled", False):
        return False
    try:
        key = cache._index_key(argtypes, kernel.targetctx.codegen())
        return key in cache._cache_file._load_index()
    except Exception:  # a cache numba cannot read is no cache
        return False


@dataclass
class _Run:
    small: bool
    target: str


_run: ContextVar[_Run | None] = ContextVar("engage_lab_kernel_run", default=None)


@contextmanager
def running(size: int, target: str = "replay") -> Iterator[None]:
    """Within the block, :func:`tiered` calls belong to a run of ``size`` units of work.

    ``target`` names the kernels the run needs (``replay`` or ``world``), compiled in the
    background (:func:`warm_in_background`) when the run interprets one.

    >>> with running(10):
    ...     _run.get().small
    True
    """
    with resumed(_Run(size <= SMALL, target)):
        yield


def current() -> _Run | None:
    """The current run (None outside one): keep it where work is done later, lazily."""
    return _run.get()


@contextmanager
def resumed(run: _Run | None) -> Iterator[None]:
    """Within the block, ``run`` (from :func:`current`) is the current run again.

    >>> with running(10):
    ...     kept = current()
    >>> with resumed(kept):
    ...     current().small
    True
    """
    token = _run.set(run)
    try:
        yield
    finally:
        _run.reset(token)


def resuming(method: Callable[..., Any]) -> Callable[..., Any]:
    """A method called in the run its object kept (``self._tier_run``, from :func:`current`).

    For results built lazily, after their run's block has ended.
    """

    @functools.wraps(method)
    def in_kept_run(self: Any, *args: Any, **kwargs: Any) -> Any:
        with resumed(self._tier_run):
            return method(self, *args, **kwargs)

    return in_kept_run


def carried(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` run in the current run's context, from any thread.

    A thread pool's threads start with an empty context, where no run is current: wrap
    what the pool calls (``pool.map(carried(f), jobs)``).

    >>> with running(10):
    ...     probe = carried(lambda: _run.get().small)
    >>> probe()
    True
    """
    context = contextvars.copy_context()

    def in_context(*args: Any, **kwargs: Any) -> Any:
        return context.copy().run(function, *args, **kwargs)

    return in_context


def tiered(kernel: Any) -> Callable[..., Any]:
    """``kernel`` in the tier of the current run: called as the kernel would be.

    Forced or configured (``ENGAGE_LAB_KERNELS``) tiers win. Under ``auto``, outside a
    small run (:func:`running`) it is the compiled kernel; in a small run, each call
    takes the compiled code when it exists for the call's argument types
    (:func:`has_code`) and the interpreted twin otherwise.
    """
    choice = _choice()
    if choice == "compiled" or not isinstance(kernel, Dispatcher):
        return kernel
    if choice == "interpreted":
        return interpreted(kernel)
    run = _run.get()
    if run is None or not run.small:
        return kernel
    return partial(_auto_call, kernel, run.target)


def _auto_call(kernel: Dispatcher, target: str, *args: Any) -> Any:
    if has_code(kernel, args):
        return kernel(*args)
    interpreted_calls[kernel.py_func.__qualname__] += 1
    warm_in_background(target)
    return interpreted(kernel)(*args)


_warming: set[str] = set()
_warm_ups: list[subprocess.Popen[bytes]] = []


def warm_in_background(target: str) -> None:
    """Compile the kernels of ``target`` (``replay`` or ``world``) in a separate process.

    The process writes numba's on-disk cache and exits; nothing waits for it. It runs at
    the lowest priority so it does not slow the interpreted run that started it. Started
    once per target and process; never with ``ENGAGE_LAB_WARM=0``.
    """
    if os.environ.get("ENGAGE_LAB_WARM") == "0":
        return
    with _lock:
        if target in _warming:
            return
        _warming.add(target)
    with contextlib.suppress(OSError):  # an optimisation: else the next run compiles
        # kept: a Popen collected while its process runs warns (ResourceWarning)
        _warm_ups.append(
            subprocess.Popen(
                [sys.executable, "-m", "engage_lab.engine.warm", target],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # it lowers its own priority (no preexec_fn: threads)
            )
        )
