"""Elementwise C-library math, so that a world is the same bytes on every machine.

numpy sends ``log`` / ``exp`` / ``log1p`` / ``log10`` over arrays to SIMD kernels picked
by the CPU at run time (AVX2 here, AVX-512 and SVML elsewhere); they may differ in the last
bit, and a last bit is enough to change a draw, a truncated millisecond or a plotted byte.
These apply the C library's scalar function to each element instead (what the reference
recorder and the compiled kernels call), at Python speed: use them on the per-category,
per-person or per-figure arrays of the generator, not on the hot path of a pass.

>>> float(log(1.0)), exp(np.array([0.0, 1.0])).tolist()[0]
(0.0, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = ["exp", "log", "log1p", "log10"]


def _elementwise(fn: Callable[[float], float]) -> Callable[[object], np.ndarray]:
    ufunc = np.frompyfunc(fn, 1, 1)

    def apply(values: object) -> np.ndarray:
        return np.asarray(ufunc(np.asarray(values, dtype=np.float64)), dtype=np.float64)

    apply.__name__ = fn.__name__
    apply.__doc__ = f"``math.{fn.__name__}`` of each element, as a float64 array."
    return apply


log = _elementwise(math.log)
exp = _elementwise(math.exp)
log1p = _elementwise(math.log1p)
log10 = _elementwise(math.log10)
