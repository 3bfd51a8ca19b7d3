"""Ids as byte buffers for the compiled code: the gating draw's key without strings.

The draw of a gated trigger hashes ``seed|visitor_id|page_view_id|trigger_id``
(:mod:`engage_lab.draws`). The pass assembles that key from two Arrow string buffers —
visitor ids by visitor code, page view ids by page view (pvi) — into a small
scratch array and hashes it with :func:`engage_lab.engine.md5.draw_u`: no per-page-view
key is built beforehand.
"""

from __future__ import annotations

import numba
import numpy as np
import pyarrow as pa

from engage_lab.engine.md5 import draw_u

__all__ = ["id_buffers", "page_draw"]


def id_buffers(values: pa.Array) -> tuple[np.ndarray, np.ndarray, int]:
    """``(data, offsets, longest)`` of a string array: the UTF-8 bytes of value ``k`` are
    ``data[offsets[k]:offsets[k + 1]]`` (nulls read as empty)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_large_string(values.type):
        width = np.int64
    elif pa.types.is_string(values.type):
        width = np.int32  # widened below: no copy of the bytes as a cast would make
    else:
        values, width = values.cast(pa.large_string()), np.int64
    n = len(values)
    buffers = values.buffers()
    offsets = np.frombuffer(buffers[1], width)[values.offset : values.offset + n + 1].astype(
        np.int64
    )
    data = np.frombuffer(buffers[2], np.uint8) if buffers[2] is not None else np.zeros(1, np.uint8)
    longest = int(np.diff(offsets).max()) if n else 0
    return data, offsets, longest


@numba.njit(cache=True, inline="always")
def page_draw(seed, v_data, v_off, visitor, p_data, p_off, pos, tail, scratch):
    """``u`` of ``seed|visitor_id|page_view_id|tail`` for visitor code ``visitor`` and the
    page view at ``pos`` of the page id buffer (``scratch`` holds both ids and a ``|``)."""
    n = 0
    for i in range(v_off[visitor], v_off[visitor + 1]):
        scratch[n] = v_data[i]
        n += 1
    scratch[n] = 124  # "|"
    n += 1
    for i in range(p_off[pos], p_off[pos + 1]):
        scratch[n] = p_data[i]
        n += 1
    return draw_u(seed, scratch, 0, n, tail)
