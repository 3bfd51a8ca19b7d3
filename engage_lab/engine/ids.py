"""Ids as byte buffers for the compiled code: the gating draw's key without strings.

The draw of a gated trigger hashes ``seed|visitor_id|page_view_id|trigger_id``
(:mod:`engage_lab.draws`). The pass assembles that key from two Arrow string buffers —
visitor ids by visitor code, page view ids in ``page_views`` scan order with each page
view's ``(start, end)`` byte range by pvi — into a small scratch array and hashes it with
:func:`engage_lab.engine.md5.draw_u`: no per-page-view key is built beforehand, and the
page view ids are not reordered (a gather of millions of strings was most of the cost).
"""

from __future__ import annotations

import numba
import numpy as np
import pyarrow as pa

from engage_lab.engine.md5 import draw_u
from engage_lab.tiers import tiered

__all__ = ["id_buffers", "page_draw", "page_ranges"]


def id_buffers(values: pa.Array) -> tuple[np.ndarray, np.ndarray, int]:
    """``(data, offsets, longest)`` of a string array: the UTF-8 bytes of value ``k`` are
    ``data[offsets[k]:offsets[k + 1]]`` (nulls read as empty). The offsets are the
    array's own (``int32`` or ``int64``), not copied."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_large_string(values.type):
        width = np.int64
    elif pa.types.is_string(values.type):
        width = np.int32
    else:
        values, width = values.cast(pa.large_string()), np.int64
    n = len(values)
    buffers = values.buffers()
    offsets = np.frombuffer(buffers[1], width)[values.offset : values.offset + n + 1]
    data = np.frombuffer(buffers[2], np.uint8) if buffers[2] is not None else np.zeros(1, np.uint8)
    longest = tiered(_longest)(offsets) if n else 0
    return data, offsets, longest


@numba.njit(cache=True, nogil=True)
def _longest(offsets):
    top = 0
    for k in range(offsets.shape[0] - 1):
        top = max(top, offsets[k + 1] - offsets[k])
    return top


@numba.njit(cache=True, nogil=True)
def page_ranges(offsets, pos):
    """``(start, end)`` per page view of the ids at scan positions ``pos`` (``offsets``: of
    the scan-order buffer): the byte range :func:`page_draw` reads for that page view."""
    out = np.empty((pos.shape[0], 2), offsets.dtype)
    for k in range(pos.shape[0]):
        out[k, 0] = offsets[pos[k]]
        out[k, 1] = offsets[pos[k] + 1]
    return out


@numba.njit(cache=True, inline="always")
def page_draw(seed, v_data, v_off, visitor, p_data, p_at, page, tail, scratch):
    """``u`` of ``seed|visitor_id|page_view_id|tail`` for visitor code ``visitor`` and page
    view ``page`` (its id is ``p_data[p_at[page, 0]:p_at[page, 1]]``, see
    :func:`page_ranges`; ``scratch`` holds both ids and a ``|``)."""
    n = 0
    for i in range(v_off[visitor], v_off[visitor + 1]):
        scratch[n] = v_data[i]
        n += 1
    scratch[n] = 124  # "|"
    n += 1
    for i in range(p_at[page, 0], p_at[page, 1]):
        scratch[n] = p_data[i]
        n += 1
    return draw_u(seed, scratch, 0, n, tail)
