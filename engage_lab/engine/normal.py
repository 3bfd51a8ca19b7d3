"""Normal quantiles and lognormal delays in numba, bit for bit with the Python world code.

The synthetic world draws delays as lognormal quantiles of a draw ``u``
(:func:`engage_lab.world.recording._lognormal_ms`)::

    seconds = float(np.exp(np.log(median_s) + sigma * NormalDist().inv_cdf(u)))
    ms = max(1, round(seconds * 1000))

Compiled code must give the same integers, so every double operation is reproduced:

* :func:`inv_cdf` is Wichura's AS241 as in CPython 3.11 ``statistics`` (the C accelerator
  ``_statistics._normal_dist_inv_cdf`` and the Python fallback are the same code): the
  same constants, the same Horner order, ``sqrt`` (correctly rounded everywhere) and
  ``log`` from the C library, as numba's ``math.log`` is. Numba does not contract
  ``a * b + c`` into fused multiply-adds without ``fastmath``, and CPython is built
  for baseline x86-64 (no FMA), so both round after every operation.
* :func:`numpy_exp` and :func:`numpy_log` are **numpy's** ``exp`` and ``log``, not the C
  library's: numpy dispatches float64 ``exp``/``log`` to its own SIMD kernels (on x86-64
  with AVX512_SKX, Intel SVML), which differ from glibc by one ulp on a few percent of
  inputs (about 4.6 % for ``exp`` on the development VM), and numba's own ``np.exp`` /
  ``np.log`` call the C library. So they call numpy's float64 inner loop itself: its
  address is read from the ufunc object at import (validated against the ufunc's
  name, arity and type table) and bound to a named symbol, which compiled code calls
  with a one-element, stack-allocated argument block. Whatever loop numpy selected at
  import for this CPU is what runs, so the result is numpy's by construction. If the
  ufunc object does not look as expected, the symbols fall back to the C library
  (:data:`NUMPY_LOOPS` is then False and results may differ by an ulp from numpy's).
* :func:`lognormal_ms` rounds with ``np.rint`` (round half to even in the default
  rounding mode, exactly Python's ``round`` of a float), then converts to an integer.

Functions
---------
:func:`inv_cdf`
    ``statistics.NormalDist().inv_cdf(p)`` (compiled).
:func:`numpy_exp`, :func:`numpy_log`
    ``np.exp`` / ``np.log`` of a float64 through numpy's inner loop (compiled).
:func:`lognormal_ms`
    The lognormal delay in whole milliseconds (compiled).
"""

from __future__ import annotations

import ctypes
import math

import numba
import numpy as np
from llvmlite import binding as llvm_binding
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

__all__ = ["NUMPY_LOOPS", "inv_cdf", "lognormal_ms", "numpy_exp", "numpy_log"]

_EXP_SYMBOL = "engage_lab_normal_numpy_exp_f8"
_LOG_SYMBOL = "engage_lab_normal_numpy_log_f8"
_NPY_DOUBLE = 12  # numpy type number of float64 in a ufunc's type table
_TWO_63 = 9223372036854775808.0  # 2**63: the first double beyond int64


# --------------------------------------------------------------------------- numpy loops


def _ufunc_double_loop(ufunc: np.ufunc) -> int | None:
    """The address of ``ufunc``'s ``d->d`` inner loop, or None if it cannot be trusted.

    Reads the public ``PyUFuncObject`` layout of ``numpy/ufuncobject.h`` (after
    ``PyObject_HEAD``: ``int nin, nout, nargs, identity``, then ``functions``, ``data``,
    ``int ntypes, reserved1``, ``name``, ``types``) and checks it against what Python
    reports. Loops needing a ``data`` pointer (``PyUFunc_d_d`` style) are refused.
    """
    sig = "d->d"
    if sig not in ufunc.types or ufunc.nin != 1 or ufunc.nout != 1:
        return None
    index = ufunc.types.index(sig)  # numpy's type resolution takes the first match
    base = id(ufunc)
    head = ctypes.sizeof(ctypes.c_ssize_t) + ctypes.sizeof(ctypes.c_void_p)
    ptr = ctypes.sizeof(ctypes.c_void_p)

    def c_int(offset: int) -> int:
        return ctypes.c_int.from_address(base + offset).value

    def c_ptr(offset: int) -> int | None:
        return ctypes.c_void_p.from_address(base + offset).value

    try:
        nin, nout, nargs = c_int(head), c_int(head + 4), c_int(head + 8)
        functions, data = c_ptr(head + 16), c_ptr(head + 16 + ptr)
        ntypes = c_int(head + 16 + 2 * ptr)
        name, type_table = c_ptr(head + 24 + 2 * ptr), c_ptr(head + 24 + 3 * ptr)
        if (nin, nout, nargs, ntypes) != (1, 1, 2, ufunc.ntypes):
            return None
        if not (functions and name and type_table):
            return None
        if ctypes.string_at(name) != ufunc.__name__.encode():
            return None
        if ctypes.string_at(type_table + 2 * index, 2) != bytes([_NPY_DOUBLE, _NPY_DOUBLE]):
            return None
        if data and ctypes.c_void_p.from_address(data + index * ptr).value:
            return None
        return ctypes.c_void_p.from_address(functions + index * ptr).value
    except (OSError, ValueError):
        return None


_LOOP_SIG = types.void(
    types.CPointer(types.CPointer(types.float64)),
    types.CPointer(types.intp),
    types.CPointer(types.intp),
    types.voidptr,
)


def _libm_loops() -> tuple[int, int]:
    """Fallback ``d->d`` loops over the C library (one element, as the callers use them)."""

    @numba.cfunc(_LOOP_SIG)
    def exp_loop(args, dimensions, steps, data):  # pragma: no cover - compiled
        args[1][0] = math.exp(args[0][0])

    @numba.cfunc(_LOOP_SIG)
    def log_loop(args, dimensions, steps, data):  # pragma: no cover - compiled
        args[1][0] = math.log(args[0][0])

    _libm_loops.keep = (exp_loop, log_loop)  # type: ignore[attr-defined]  # keep alive
    return exp_loop.address, log_loop.address


def _bind_loops() -> bool:
    exp_address, log_address = _ufunc_double_loop(np.exp), _ufunc_double_loop(np.log)
    found = bool(exp_address and log_address)
    if not found:
        exp_address, log_address = _libm_loops()
    llvm_binding.add_symbol(_EXP_SYMBOL, exp_address)
    llvm_binding.add_symbol(_LOG_SYMBOL, log_address)
    return found


#: True if :func:`numpy_exp` / :func:`numpy_log` run numpy's own inner loops (the
#: normal case); False if they fell back to the C library.
NUMPY_LOOPS: bool = _bind_loops()


def _call_loop(context, builder, symbol, x):
    """Emit ``loop(args, {1}, {8, 8}, NULL)`` on stack cells holding ``x`` and the result."""
    f64 = context.get_value_type(types.float64)
    intp = context.get_value_type(types.intp)
    i8p = ir.IntType(8).as_pointer()
    fnty = ir.FunctionType(
        ir.VoidType(), [i8p.as_pointer(), intp.as_pointer(), intp.as_pointer(), i8p]
    )
    loop = cgutils.get_or_insert_function(builder.module, fnty, symbol)
    cell_in = cgutils.alloca_once(builder, f64)
    cell_out = cgutils.alloca_once(builder, f64)
    argv = cgutils.alloca_once(builder, i8p, size=2)
    dims = cgutils.alloca_once(builder, intp)
    steps = cgutils.alloca_once(builder, intp, size=2)
    builder.store(x, cell_in)
    builder.store(builder.bitcast(cell_in, i8p), cgutils.gep(builder, argv, 0))
    builder.store(builder.bitcast(cell_out, i8p), cgutils.gep(builder, argv, 1))
    builder.store(intp(1), dims)
    builder.store(intp(8), cgutils.gep(builder, steps, 0))
    builder.store(intp(8), cgutils.gep(builder, steps, 1))
    builder.call(loop, [argv, dims, steps, ir.Constant(i8p, None)])
    return builder.load(cell_out)


@intrinsic
def _numpy_exp(typingctx, x):
    if not isinstance(x, types.Float):
        return None

    def codegen(context, builder, sig, args):
        value = context.cast(builder, args[0], sig.args[0], types.float64)
        return _call_loop(context, builder, _EXP_SYMBOL, value)

    return types.float64(x), codegen


@intrinsic
def _numpy_log(typingctx, x):
    if not isinstance(x, types.Float):
        return None

    def codegen(context, builder, sig, args):
        value = context.cast(builder, args[0], sig.args[0], types.float64)
        return _call_loop(context, builder, _LOG_SYMBOL, value)

    return types.float64(x), codegen


@numba.njit(cache=True)
def numpy_exp(x: float) -> float:
    """``float(np.exp(x))`` for a float64 ``x``, bit for bit (numpy's own loop).

    Parameters
    ----------
    x
        A float (an integer is converted to float64 first, as numpy does).

    Returns
    -------
    float
        What numpy's ``exp`` gives for ``x`` on this machine.
    """
    return _numpy_exp(np.float64(x))


@numba.njit(cache=True)
def numpy_log(x: float) -> float:
    """``float(np.log(x))`` for a float64 ``x``, bit for bit (numpy's own loop).

    Parameters
    ----------
    x
        A float (an integer is converted to float64 first, as numpy does).

    Returns
    -------
    float
        What numpy's ``log`` gives for ``x`` on this machine (``-inf`` for 0, NaN for
        negative ``x``; no warning is raised).
    """
    return _numpy_log(np.float64(x))


# --------------------------------------------------------------------------- AS241


@numba.njit(cache=True)
def inv_cdf(p: float) -> float:
    """The standard normal quantile, ``statistics.NormalDist().inv_cdf(p)`` bit for bit.

    Wichura's AS241 rational approximations, written as in CPython 3.11
    (``Modules/_statisticsmodule.c``, ``statistics._normal_dist_inv_cdf``) with
    ``mu = 0`` and ``sigma = 1``: same constants, same association order.

    Parameters
    ----------
    p
        A probability in the open interval ``(0, 1)``.

    Returns
    -------
    float
        ``x`` with ``P(X <= x) = p`` for a standard normal ``X`` (NaN for a NaN ``p``).

    Raises
    ------
    ValueError
        If ``p <= 0`` or ``p >= 1`` (Python raises ``StatisticsError``, a ``ValueError``).
    """
    if p <= 0.0 or p >= 1.0:
        raise ValueError("p must be in the range 0.0 < p < 1.0")
    # Below: the body of CPython 3.11's statistics._normal_dist_inv_cdf, verbatim but for
    # math.fabs / math.sqrt / math.log and mu = 0, sigma = 1 (kept as written: the
    # association order of every operation matters).
    q = p - 0.5
    if math.fabs(q) <= 0.425:
        r = 0.180625 - q * q
        # Hash sum: 55.88319_28806_14901_4439
        num = (
            (
                (
                    (
                        (
                            (
                                (2.50908_09287_30122_6727e3 * r + 3.34305_75583_58812_8105e4) * r
                                + 6.72657_70927_00870_0853e4
                            )
                            * r
                            + 4.59219_53931_54987_1457e4
                        )
                        * r
                        + 1.37316_93765_50946_1125e4
                    )
                    * r
                    + 1.97159_09503_06551_4427e3
                )
                * r
                + 1.33141_66789_17843_7745e2
            )
            * r
            + 3.38713_28727_96366_6080e0
        ) * q
        den = (
            (
                (
                    (
                        (
                            (5.22649_52788_52854_5610e3 * r + 2.87290_85735_72194_2674e4) * r
                            + 3.93078_95800_09271_0610e4
                        )
                        * r
                        + 2.12137_94301_58659_5867e4
                    )
                    * r
                    + 5.39419_60214_24751_1077e3
                )
                * r
                + 6.87187_00749_20579_0830e2
            )
            * r
            + 4.23133_30701_60091_1252e1
        ) * r + 1.0
        x = num / den
        return 0.0 + (x * 1.0)  # mu + (x * sigma)
    r = p if q <= 0.0 else 1.0 - p
    r = math.sqrt(-math.log(r))
    if r <= 5.0:
        r = r - 1.6
        # Hash sum: 49.33206_50330_16102_89036
        num = (
            (
                (
                    (
                        (
                            (7.74545_01427_83414_07640e-4 * r + 2.27238_44989_26918_45833e-2) * r
                            + 2.41780_72517_74506_11770e-1
                        )
                        * r
                        + 1.27045_82524_52368_38258e0
                    )
                    * r
                    + 3.64784_83247_63204_60504e0
                )
                * r
                + 5.76949_72214_60691_40550e0
            )
            * r
            + 4.63033_78461_56545_29590e0
        ) * r + 1.42343_71107_49683_57734e0
        den = (
            (
                (
                    (
                        (
                            (1.05075_00716_44416_84324e-9 * r + 5.47593_80849_95344_94600e-4) * r
                            + 1.51986_66563_61645_71966e-2
                        )
                        * r
                        + 1.48103_97642_74800_74590e-1
                    )
                    * r
                    + 6.89767_33498_51000_04550e-1
                )
                * r
                + 1.67638_48301_83803_84940e0
            )
            * r
            + 2.05319_16266_37758_82187e0
        ) * r + 1.0
    else:
        r = r - 5.0
        # Hash sum: 47.52583_31754_92896_71629
        num = (
            (
                (
                    (
                        (
                            (2.01033_43992_92288_13265e-7 * r + 2.71155_55687_43487_57815e-5) * r
                            + 1.24266_09473_88078_43860e-3
                        )
                        * r
                        + 2.65321_89526_57612_30930e-2
                    )
                    * r
                    + 2.96560_57182_85048_91230e-1
                )
                * r
                + 1.78482_65399_17291_33580e0
            )
            * r
            + 5.46378_49111_64114_36990e0
        ) * r + 6.65790_46435_01103_77720e0
        den = (
            (
                (
                    (
                        (
                            (2.04426_31033_89939_78564e-15 * r + 1.42151_17583_16445_88870e-7) * r
                            + 1.84631_83175_10054_68180e-5
                        )
                        * r
                        + 7.86869_13114_56132_59100e-4
                    )
                    * r
                    + 1.48753_61290_85061_48525e-2
                )
                * r
                + 1.36929_88092_27358_05310e-1
            )
            * r
            + 5.99832_20655_58879_37690e-1
        ) * r + 1.0
    x = num / den
    if q < 0.0:
        x = -x
    return 0.0 + (x * 1.0)  # mu + (x * sigma)


# --------------------------------------------------------------------------- lognormal


@numba.njit(cache=True)
def lognormal_ms(u: float, median_s: float, sigma: float) -> int:
    """The ``u``-quantile of a lognormal delay, in whole milliseconds (at least 1).

    Bit for bit the world generator's ``_lognormal_ms``::

        seconds = float(np.exp(np.log(median_s) + sigma * NormalDist().inv_cdf(u)))
        return max(1, round(seconds * 1000))

    Parameters
    ----------
    u
        The draw, in ``(0, 1)``.
    median_s
        The lognormal's median, in seconds (``> 0``).
    sigma
        The lognormal's shape (the normal's standard deviation).

    Returns
    -------
    int
        ``seconds * 1000`` rounded half to even, at least 1.

    Raises
    ------
    ValueError
        If ``u`` is not in ``(0, 1)`` or the delay is NaN (e.g. a negative median).
    OverflowError
        If the delay does not fit an int64 (Python would return a larger int, or raise
        ``OverflowError`` for an infinite one).
    """
    seconds = _numpy_exp(_numpy_log(np.float64(median_s)) + sigma * inv_cdf(u))
    ms = seconds * 1000.0
    if ms != ms:
        raise ValueError("lognormal_ms: the delay is NaN")
    if ms >= _TWO_63:
        raise OverflowError("lognormal_ms: the delay does not fit an int64")
    # rint rounds half to even (default rounding mode), as Python's round(float) does.
    return max(1, np.int64(np.rint(ms)))
