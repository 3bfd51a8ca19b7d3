"""Normal quantiles and lognormal delays in numba, bit for bit with the Python world code.

The synthetic world draws delays as lognormal quantiles of a draw ``u``
(:func:`engage_lab.world.recording.lognormal_ms`)::

    seconds = math.exp(math.log(median_s) + sigma * NormalDist().inv_cdf(u))
    ms = max(1, round(seconds * 1000))

Compiled code must give the same integers, so every double operation is reproduced:

* :func:`inv_cdf` is Wichura's AS241 as in CPython 3.11 ``statistics`` (the C accelerator
  ``_statistics._normal_dist_inv_cdf`` and the Python fallback are the same code): the
  same constants, the same Horner order, ``sqrt`` (correctly rounded everywhere) and
  ``log`` from the C library, as numba's ``math.log`` is. Numba does not contract
  ``a * b + c`` into fused multiply-adds without ``fastmath``, and CPython is built
  for baseline x86-64 (no FMA), so both round after every operation.
* ``exp`` and ``log`` are the C library's on both sides (Python's ``math`` and numba's
  ``math``); numpy's ``np.exp`` would not do: it dispatches float64 to its own SIMD
  kernels, which differ from the C library by an ulp on a few percent of inputs.
* :func:`lognormal_ms` rounds with ``np.rint`` (round half to even in the default
  rounding mode, exactly Python's ``round`` of a float), then converts to an integer.

Functions
---------
:func:`inv_cdf`
    ``statistics.NormalDist().inv_cdf(p)`` (compiled).
:func:`lognormal_ms`
    The lognormal delay in whole milliseconds (compiled).
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["inv_cdf", "lognormal_ms"]

_TWO_63 = 2.0**63


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

    Bit for bit the world generator's ``lognormal_ms``::

        seconds = math.exp(math.log(median_s) + sigma * NormalDist().inv_cdf(u))
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
    seconds = math.exp(math.log(median_s) + sigma * inv_cdf(u))
    ms = seconds * 1000.0
    if ms != ms:
        raise ValueError("lognormal_ms: the delay is NaN")
    if ms >= _TWO_63:
        raise OverflowError("lognormal_ms: the delay does not fit an int64")
    # rint rounds half to even (default rounding mode), as Python's round(float) does.
    return max(1, np.int64(np.rint(ms)))
