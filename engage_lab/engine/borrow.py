"""Borrowed array views for compiled calls: no reference count to keep.

numba counts references to every array a compiled function passes to another (an atomic
increment and decrement per array per call, even when the callee is inlined). The
decisions at one instant (:func:`engage_lab.engine.actions.fixed_point`) take some twenty
arrays and run about once per page view, so the counting cost more than the decisions.
:func:`borrowed` gives a view of an array without its memory owner: numba skips the
counting of such a view (a null check). The view is only valid while the array it was
taken from lives, so a pass takes borrowed views of arrays that outlive it (its inputs,
or arrays it allocated and keeps referenced until it returns) and never returns one.

>>> import numpy as np, numba
>>> @numba.njit
... def total(a):
...     b = borrowed(a)
...     return b.sum() + a[0]
>>> int(total(np.arange(4)))
6
"""

from __future__ import annotations

from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from engage_lab import tiers

__all__ = ["borrowed", "borrowed_all"]


def _ownerless(context, builder, typ, value):
    if not isinstance(typ, types.Array):
        return value  # not an array (a scalar in a tuple): as it is
    view = cgutils.create_struct_proxy(typ)(context, builder, value=value)
    view.meminfo = ir.Constant(view.meminfo.type, None)
    view.parent = ir.Constant(view.parent.type, None)
    return view._getvalue()


@intrinsic
def borrowed(typingctx, array):
    """A view of ``array`` without a memory owner (see the module docstring)."""
    if not isinstance(array, types.Array):
        return None

    def codegen(context, builder, signature, args):
        return _ownerless(context, builder, array, args[0])

    return array(array), codegen


@intrinsic
def borrowed_all(typingctx, arrays):
    """:func:`borrowed` of every array of a tuple (other members as they are).

    >>> import numpy as np, numba
    >>> @numba.njit
    ... def first(t):
    ...     a, k = borrowed_all(t)
    ...     return a[k]
    >>> int(first((np.arange(3), 2)))
    2
    """
    if not isinstance(arrays, types.BaseTuple):
        return None

    def codegen(context, builder, signature, args):
        out = args[0]
        for i, typ in enumerate(arrays.types):
            member = builder.extract_value(args[0], i)
            out = builder.insert_value(out, _ownerless(context, builder, typ, member), i)
        return out

    return arrays(arrays), codegen


# interpreted (engage_lab.tiers): Python counts no references, a view is the array
tiers.register(borrowed, lambda array: array)
tiers.register(borrowed_all, lambda arrays: arrays)
