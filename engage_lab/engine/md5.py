"""MD5 in numba: the gating draw ``u`` computed inside compiled loops.

:func:`engage_lab.draws.u_from_key` defines a draw as the first 13 hex digits of the md5
digest of the key's UTF-8 bytes, read as an integer and divided by ``2**52``::

    digest = hashlib.md5(key.encode("utf-8")).digest()
    u = (int.from_bytes(digest[:7], "big") >> 4) / 2.0**52

The compiled engine cannot call :mod:`hashlib` per draw without leaving nopython mode, so
this module implements MD5 (RFC 1321) with ``numba.njit`` and gives the same double, bit
for bit (the 52-bit integer is exact in a double and the division by a power of two is
exact).

Functions
---------
:func:`md5_u52`
    ``u`` of the bytes ``data[start:end]`` of a ``uint8`` array (compiled).
:func:`draw_u`
    ``u`` of the gating key ``seed|visitor_id|page_view_id|trigger_id`` assembled from
    byte buffers without building it: the bytes are fed to the MD5 blocks streaming-wise,
    nothing is allocated per call (compiled).
:func:`u_of_bytes`
    Plain Python convenience: ``u`` of a ``bytes`` object (tests, debugging).

Implementation notes
--------------------
* All 32-bit arithmetic is done in ``int64`` and masked with ``0xFFFFFFFF`` after each
  addition and rotation: numba types integer literals as ``int64``, and mixing
  ``uint32``/``uint64`` with signed integers would promote to ``float64``. A complement
  ``~x`` is negative in ``int64``; it is only combined by ``&`` with a non-negative word
  or ends in a sum that is masked, so the low 32 bits are always right.
* The block function :func:`_compress` is LLVM IR generated from the tables of shifts,
  constants and word indices (an ``intrinsic``): written as 64 numba statements it took
  8–15 s to compile, twice (once for literal-typed arguments), on every fresh install.
* A block's 16 message words are gathered into a small array on the stack
  (:func:`_block_words`, no allocator call per draw). A word whose 4 bytes lie in one
  buffer is one unaligned 32-bit load (:func:`_load_word`); the few words across a
  boundary (a ``|``, the ``0x80`` padding byte) are assembled byte by byte. The word
  helpers are inlined at numba level (``inline="always"``): numba does not inline them
  at LLVM level, and a call per word cost as much as the hash itself.
* Measured on the development VM (one thread, 49-byte keys, called from a compiled
  loop): ``draw_u`` about 6 million draws per second (165 ns), ``md5_u52`` about 9
  million (``hashlib`` through :func:`engage_lab.draws.u_from_key`: about 1.5 million).
  The first compilation takes about 3 s; it is cached (``cache=True``).
"""

from __future__ import annotations

import math
import sys

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array

from engage_lab import tiers
from engage_lab.draws import u_from_bytes

__all__ = ["draw_u", "md5_u52", "u_of_bytes"]

_M32 = 0xFFFFFFFF
_PIPE = 124  # ord("|")
_PAD = 0x80
_INV_2_52 = 1.0 / 4503599627370496.0  # 2**-52, exact
_BIG_ENDIAN = sys.byteorder == "big"  # MD5 words are little-endian


# --------------------------------------------------------------------------- memory


@intrinsic
def _block_words(typingctx):
    """A 16-word ``int64`` array on the caller's stack (no heap allocation, no refcount).

    ``np.empty`` calls the allocator on every draw (measured with byte-wise loads, before
    :func:`_load_word`: 202 ns per draw with ``np.empty``, 185 ns with this). The array
    has no meminfo and lives in the frame of the compiled function that calls this, so
    it must not escape that function (here it only holds one block's message words).
    """
    arrty = types.Array(types.int64, 1, "C")

    def codegen(context, builder, sig, args):
        ary = make_array(arrty)(context, builder)
        data = cgutils.alloca_once(builder, context.get_value_type(types.int64), size=16)
        intp = context.get_value_type(types.intp)
        populate_array(
            ary,
            data=data,
            shape=[intp(16)],
            strides=[intp(8)],
            itemsize=intp(8),
            meminfo=None,
        )
        return ary._getvalue()

    return arrty(), codegen


@intrinsic
def _load_word(typingctx, data, q):
    """The little-endian word of ``data[q:q + 4]`` (``q >= 0``, not checked).

    One unaligned 32-bit load for a C-contiguous array, four byte loads otherwise.
    """
    if not (isinstance(data, types.Array) and data.ndim == 1 and data.dtype == types.uint8):
        return None

    def codegen(context, builder, sig, args):
        arrty = sig.args[0]
        ary = make_array(arrty)(context, builder, args[0])
        q = context.cast(builder, args[1], sig.args[1], types.intp)
        i64 = context.get_value_type(types.int64)
        if arrty.layout == "C":
            ptr = cgutils.get_item_pointer(context, builder, arrty, ary, [q])
            i32p = context.get_value_type(types.uint32).as_pointer()
            word = builder.load(builder.bitcast(ptr, i32p), align=1)
            if _BIG_ENDIAN:
                word = builder.bswap(word)
            return builder.zext(word, i64)
        word = i64(0)
        for k in range(4):
            index = builder.add(q, context.get_constant(types.intp, k))
            ptr = cgutils.get_item_pointer(context, builder, arrty, ary, [index])
            byte = builder.zext(builder.load(ptr), i64)
            word = builder.or_(word, builder.shl(byte, i64(8 * k)))
        return word

    return types.int64(data, q), codegen


# --------------------------------------------------------------------------- MD5


#: per step: the shift, the constant ``floor(abs(sin(i + 1)) * 2**32)``, the message word
_SHIFTS = (7, 12, 17, 22) * 4 + (5, 9, 14, 20) * 4 + (4, 11, 16, 23) * 4 + (6, 10, 15, 21) * 4
_K = tuple(int(abs(math.sin(i + 1)) * 2**32) & _M32 for i in range(64))
_WORD = tuple(
    i if i < 16 else (5 * i + 1) % 16 if i < 32 else (3 * i + 5) % 16 if i < 48 else 7 * i % 16
    for i in range(64)
)


@intrinsic
def _compress(typingctx, a0, b0, c0, d0, w):
    """One MD5 block: the state ``(a0, b0, c0, d0)`` updated by the 16 words ``w[0:16]``.

    Written as LLVM IR (64 steps of 32-bit arithmetic, unrolled here in Python): the same
    steps as numba code took 8–15 s to type and lower, and once more for literal-typed
    arguments; this costs nothing to compile, and 32-bit words need no masking.
    """
    if not (isinstance(w, types.Array) and w.ndim == 1 and w.dtype == types.int64):
        return None
    word = types.int64
    sig = types.UniTuple(word, 4)(word, word, word, word, w)

    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        i64 = ir.IntType(64)
        state = [
            builder.trunc(context.cast(builder, args[k], signature.args[k], word), i32)
            for k in range(4)
        ]
        ary = make_array(w)(context, builder, args[4])
        m = []
        for k in range(16):
            index = context.get_constant(types.intp, k)
            ptr = cgutils.get_item_pointer(context, builder, w, ary, [index])
            m.append(builder.trunc(builder.load(ptr), i32))
        a, b, c, d = state
        for i in range(64):
            if i < 16:
                f = builder.or_(builder.and_(b, c), builder.and_(builder.not_(b), d))
            elif i < 32:
                f = builder.or_(builder.and_(b, d), builder.and_(c, builder.not_(d)))
            elif i < 48:
                f = builder.xor(builder.xor(b, c), d)
            else:
                f = builder.xor(c, builder.or_(b, builder.not_(d)))
            t = builder.add(builder.add(a, f), builder.add(i32(_K[i]), m[_WORD[i]]))
            s = _SHIFTS[i]
            rotated = builder.or_(builder.shl(t, i32(s)), builder.lshr(t, i32(32 - s)))
            a, d, c, b = d, c, b, builder.add(b, rotated)
        out = [
            builder.zext(builder.add(x0, x), i64) for x0, x in zip(state, (a, b, c, d), strict=True)
        ]
        return context.make_tuple(builder, signature.return_type, out)

    return sig, codegen


@numba.njit(cache=True)
def _u52(a, b):
    """``u`` from the first two state words: digest bytes 0..6 big-endian, top 52 bits."""
    hi = ((a & 0xFF) << 24) | (((a >> 8) & 0xFF) << 16) | (((a >> 16) & 0xFF) << 8) | (a >> 24)
    lo = ((b & 0xFF) << 16) | (((b >> 8) & 0xFF) << 8) | ((b >> 16) & 0xFF)
    return float(((hi << 24) | lo) >> 4) * _INV_2_52


@numba.njit(cache=True)
def _padded_length(n):
    """Bytes of the padded message: ``n``, 0x80, zeros, 8 length bytes, a multiple of 64."""
    return ((n + 8) // 64 + 1) * 64


@numba.njit(cache=True, inline="always")
def _pad_byte(p, n, padded):
    """Byte ``p >= n`` of the padded message of ``n`` bytes."""
    if p == n:
        return _PAD
    if p >= padded - 8:
        return ((n * 8) >> (8 * (p - (padded - 8)))) & 0xFF
    return 0


@numba.njit(cache=True, inline="always")
def _pad_word(p, n, padded):
    """Word at ``p > n`` of the padded message: zeros or the bit length (little-endian)."""
    if p == padded - 8:
        return (n * 8) & _M32
    if p == padded - 4:
        return (n * 8) >> 32
    return 0


@numba.njit(cache=True, inline="always")
def _plain_byte(data, start, n, padded, p):
    if p < n:
        return np.int64(data[start + p])
    return _pad_byte(p, n, padded)


@numba.njit(cache=True, inline="always")
def _plain_word(data, start, n, padded, p):
    if p + 4 <= n:
        return _load_word(data, start + p)
    if p > n:
        return _pad_word(p, n, padded)
    w = 0  # the word across the end of the data
    for k in range(4):
        w |= _plain_byte(data, start, n, padded, p + k) << (8 * k)
    return w


@numba.njit(cache=True)
def md5_u52(data: np.ndarray, start: int, end: int) -> float:
    """The draw ``u`` of the bytes ``data[start:end]``.

    Parameters
    ----------
    data
        A 1-d ``uint8`` array.
    start, end
        The slice hashed, ``0 <= start <= end <= len(data)`` (not checked).

    Returns
    -------
    float
        ``int(first 13 hex digits of md5(data[start:end]), 16) / 2**52``, in ``[0, 1)``.
    """
    s0 = np.int64(start)  # offsets may come as other integer types
    n = np.int64(end) - s0
    padded = _padded_length(n)
    a, b, c, d = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476
    w = _block_words()
    for p in range(0, padded, 64):
        for j in range(16):
            w[j] = _plain_word(data, s0, n, padded, p + 4 * j)
        a, b, c, d = _compress(a, b, c, d, w)
    return _u52(a, b)


# --------------------------------------------------------------------------- gating key


@numba.njit(cache=True, inline="always")
def _draw_byte(seed, key_data, key_start, tail, l1, l2, n, padded, p):
    """Byte ``p`` of the padded ``seed | key | tail`` (``l1``, ``l2``: the pipes' offsets)."""
    if p < l1:
        return np.int64(seed[p])
    if p == l1 or p == l2:  # noqa: SIM109 (two scalar compares in numba)
        return _PIPE
    if p < l2:
        return np.int64(key_data[key_start + p - l1 - 1])
    if p < n:
        return np.int64(tail[p - l2 - 1])
    return _pad_byte(p, n, padded)


@numba.njit(cache=True, inline="always")
def _draw_word(seed, key_data, key_start, tail, l1, l2, n, padded, p):
    if p > l1 and p + 4 <= l2:  # the common case: 4 bytes of the page's key
        return _load_word(key_data, key_start + p - l1 - 1)
    if p > n:
        return _pad_word(p, n, padded)
    if p + 4 <= l1:
        return _load_word(seed, p)
    if p > l2 and p + 4 <= n:
        return _load_word(tail, p - l2 - 1)
    w = 0  # a word across a boundary
    for k in range(4):
        w |= _draw_byte(seed, key_data, key_start, tail, l1, l2, n, padded, p + k) << (8 * k)
    return w


@numba.njit(cache=True)
def draw_u(
    seed: np.ndarray, key_data: np.ndarray, key_start: int, key_end: int, tail: np.ndarray
) -> float:
    """The draw ``u`` of ``seed + b"|" + key_data[key_start:key_end] + b"|" + tail``.

    With ``key_data[key_start:key_end]`` holding ``visitor_id|page_view_id`` (one page's
    slice of a flat buffer) and ``tail`` the trigger id, this is
    :func:`engage_lab.draws.draw` of ``(seed, visitor_id, page_view_id, trigger_id)``.
    The message is never assembled: each MD5 block reads its words from the three
    buffers (and the padding) directly, so a call allocates nothing.

    Parameters
    ----------
    seed
        The seed's UTF-8 bytes (``uint8`` array), e.g. ``b"42"``.
    key_data
        A ``uint8`` buffer holding many keys.
    key_start, key_end
        The slice of ``key_data`` used, ``0 <= key_start <= key_end <= len(key_data)``
        (not checked).
    tail
        The last component's UTF-8 bytes (``uint8`` array), e.g. the trigger id.

    Returns
    -------
    float
        The same double as ``u_from_key`` of the decoded key, in ``[0, 1)``.
    """
    ks = np.int64(key_start)  # offsets may come as other integer types
    l1 = len(seed)
    l2 = l1 + 1 + (np.int64(key_end) - ks)
    n = l2 + 1 + len(tail)
    padded = _padded_length(n)
    a, b, c, d = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476
    w = _block_words()
    for p in range(0, padded, 64):
        for j in range(16):
            w[j] = _draw_word(seed, key_data, ks, tail, l1, l2, n, padded, p + 4 * j)
        a, b, c, d = _compress(a, b, c, d, w)
    return _u52(a, b)


# --------------------------------------------------------------------------- Python


def u_of_bytes(b: bytes) -> float:
    """The draw ``u`` of a ``bytes`` object, through the compiled :func:`md5_u52`.

    >>> u_of_bytes(b"abc") == int("900150983cd24", 16) / 2**52
    True
    """
    data = np.frombuffer(bytes(b), dtype=np.uint8)
    return float(md5_u52(data, 0, len(data)))


# ----------------------------------------------------------------- interpreted twins


def _md5_u52_python(data: np.ndarray, start: int, end: int) -> float:
    return u_from_bytes(data[int(start) : int(end)].tobytes())


def _draw_u_python(
    seed: np.ndarray, key_data: np.ndarray, key_start: int, key_end: int, tail: np.ndarray
) -> float:
    key = key_data[int(key_start) : int(key_end)].tobytes()
    return u_from_bytes(b"|".join((seed.tobytes(), key, tail.tobytes())))


# interpreted runs (engage_lab.tiers) hash with hashlib: the same digest, and the
# LLVM block function has no Python body
tiers.register(md5_u52, _md5_u52_python)
tiers.register(draw_u, _draw_u_python)
