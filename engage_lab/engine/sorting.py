"""A stable argsort and an array copy for compiled code, cheap to compile.

``np.argsort(kind="mergesort")`` inside a numba function compiles numba's generic merge
sort for each key type: 2–4 s per key type on a fresh install (measured on the sample
replay with an empty cache), more than the kernels that call it. :func:`stable_argsort`
is the same order (a stable sort has one answer) from a plain bottom-up merge sort.
Likewise an array-to-array slice assignment (``out[:n] = a``) compiles numba's shape
check, whose error message is formatted with numba's string functions (several seconds
once per process): :func:`copy_into` is the loop.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["copy_into", "stable_argsort"]

_RUN = 16  # runs sorted by insertion before merging


@numba.njit(cache=True, nogil=True)
def stable_argsort(keys):
    """The ``int64`` order that sorts ``keys`` (1-d), equal keys in index order.

    >>> import numpy as np
    >>> stable_argsort(np.array([3, 1, 3, 0, 1])).tolist()
    [3, 1, 4, 0, 2]
    """
    n = keys.shape[0]
    src = np.empty(n, np.int64)
    for i in range(n):
        src[i] = i
    for lo in range(0, n, _RUN):
        hi = min(lo + _RUN, n)
        for i in range(lo + 1, hi):
            x = src[i]
            m = i - 1
            while m >= lo and keys[src[m]] > keys[x]:
                src[m + 1] = src[m]
                m -= 1
            src[m + 1] = x
    if n <= _RUN:
        return src
    dst = np.empty(n, np.int64)
    width = _RUN
    while width < n:
        for lo in range(0, n, 2 * width):
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            i, j, k = lo, mid, lo
            while i < mid and j < hi:
                if keys[src[j]] < keys[src[i]]:  # strictly less: ties from the left run
                    dst[k] = src[j]
                    j += 1
                else:
                    dst[k] = src[i]
                    i += 1
                k += 1
            while i < mid:
                dst[k] = src[i]
                i += 1
                k += 1
            while j < hi:
                dst[k] = src[j]
                j += 1
                k += 1
        src, dst = dst, src
        width *= 2
    return src


@numba.njit(cache=True, nogil=True)
def copy_into(dst, src):
    """``dst[:len(src)] = src`` for 1-d arrays (``len(dst) >= len(src)``), as a loop.

    >>> import numpy as np
    >>> out = np.zeros(4, np.int64)
    >>> copy_into(out, np.array([7, 8]))
    >>> out.tolist()
    [7, 8, 0, 0]
    """
    for k in range(src.shape[0]):
        dst[k] = src[k]
