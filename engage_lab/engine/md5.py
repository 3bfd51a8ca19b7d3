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
* The 64 steps are written out with their shifts and constants in place: helper
  functions taking the constants as arguments made numba compile 64 literal-typed
  specializations (seconds of compile time, for nothing).
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

import sys

import numba
import numpy as np
from numba.core import cgutils, types
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array

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


@numba.njit(cache=True)
def _compress(a0, b0, c0, d0, w):
    """One MD5 block: the state ``(a0, b0, c0, d0)`` updated by the 16 words ``w[0:16]``."""
    m0, m1, m2, m3, m4, m5, m6, m7 = w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]
    m8, m9, m10, m11, m12, m13, m14, m15 = w[8], w[9], w[10], w[11], w[12], w[13], w[14], w[15]
    a, b, c, d = a0, b0, c0, d0
    # round 1: F = (b & c) | (~b & d)
    t = (a + ((b & c) | (~b & d)) + m0 + 0xD76AA478) & _M32
    a = ((((t << 7) | (t >> 25)) & _M32) + b) & _M32
    t = (d + ((a & b) | (~a & c)) + m1 + 0xE8C7B756) & _M32
    d = ((((t << 12) | (t >> 20)) & _M32) + a) & _M32
    t = (c + ((d & a) | (~d & b)) + m2 + 0x242070DB) & _M32
    c = ((((t << 17) | (t >> 15)) & _M32) + d) & _M32
    t = (b + ((c & d) | (~c & a)) + m3 + 0xC1BDCEEE) & _M32
    b = ((((t << 22) | (t >> 10)) & _M32) + c) & _M32
    t = (a + ((b & c) | (~b & d)) + m4 + 0xF57C0FAF) & _M32
    a = ((((t << 7) | (t >> 25)) & _M32) + b) & _M32
    t = (d + ((a & b) | (~a & c)) + m5 + 0x4787C62A) & _M32
    d = ((((t << 12) | (t >> 20)) & _M32) + a) & _M32
    t = (c + ((d & a) | (~d & b)) + m6 + 0xA8304613) & _M32
    c = ((((t << 17) | (t >> 15)) & _M32) + d) & _M32
    t = (b + ((c & d) | (~c & a)) + m7 + 0xFD469501) & _M32
    b = ((((t << 22) | (t >> 10)) & _M32) + c) & _M32
    t = (a + ((b & c) | (~b & d)) + m8 + 0x698098D8) & _M32
    a = ((((t << 7) | (t >> 25)) & _M32) + b) & _M32
    t = (d + ((a & b) | (~a & c)) + m9 + 0x8B44F7AF) & _M32
    d = ((((t << 12) | (t >> 20)) & _M32) + a) & _M32
    t = (c + ((d & a) | (~d & b)) + m10 + 0xFFFF5BB1) & _M32
    c = ((((t << 17) | (t >> 15)) & _M32) + d) & _M32
    t = (b + ((c & d) | (~c & a)) + m11 + 0x895CD7BE) & _M32
    b = ((((t << 22) | (t >> 10)) & _M32) + c) & _M32
    t = (a + ((b & c) | (~b & d)) + m12 + 0x6B901122) & _M32
    a = ((((t << 7) | (t >> 25)) & _M32) + b) & _M32
    t = (d + ((a & b) | (~a & c)) + m13 + 0xFD987193) & _M32
    d = ((((t << 12) | (t >> 20)) & _M32) + a) & _M32
    t = (c + ((d & a) | (~d & b)) + m14 + 0xA679438E) & _M32
    c = ((((t << 17) | (t >> 15)) & _M32) + d) & _M32
    t = (b + ((c & d) | (~c & a)) + m15 + 0x49B40821) & _M32
    b = ((((t << 22) | (t >> 10)) & _M32) + c) & _M32
    # round 2: G = (b & d) | (c & ~d)
    t = (a + ((b & d) | (c & ~d)) + m1 + 0xF61E2562) & _M32
    a = ((((t << 5) | (t >> 27)) & _M32) + b) & _M32
    t = (d + ((a & c) | (b & ~c)) + m6 + 0xC040B340) & _M32
    d = ((((t << 9) | (t >> 23)) & _M32) + a) & _M32
    t = (c + ((d & b) | (a & ~b)) + m11 + 0x265E5A51) & _M32
    c = ((((t << 14) | (t >> 18)) & _M32) + d) & _M32
    t = (b + ((c & a) | (d & ~a)) + m0 + 0xE9B6C7AA) & _M32
    b = ((((t << 20) | (t >> 12)) & _M32) + c) & _M32
    t = (a + ((b & d) | (c & ~d)) + m5 + 0xD62F105D) & _M32
    a = ((((t << 5) | (t >> 27)) & _M32) + b) & _M32
    t = (d + ((a & c) | (b & ~c)) + m10 + 0x02441453) & _M32
    d = ((((t << 9) | (t >> 23)) & _M32) + a) & _M32
    t = (c + ((d & b) | (a & ~b)) + m15 + 0xD8A1E681) & _M32
    c = ((((t << 14) | (t >> 18)) & _M32) + d) & _M32
    t = (b + ((c & a) | (d & ~a)) + m4 + 0xE7D3FBC8) & _M32
    b = ((((t << 20) | (t >> 12)) & _M32) + c) & _M32
    t = (a + ((b & d) | (c & ~d)) + m9 + 0x21E1CDE6) & _M32
    a = ((((t << 5) | (t >> 27)) & _M32) + b) & _M32
    t = (d + ((a & c) | (b & ~c)) + m14 + 0xC33707D6) & _M32
    d = ((((t << 9) | (t >> 23)) & _M32) + a) & _M32
    t = (c + ((d & b) | (a & ~b)) + m3 + 0xF4D50D87) & _M32
    c = ((((t << 14) | (t >> 18)) & _M32) + d) & _M32
    t = (b + ((c & a) | (d & ~a)) + m8 + 0x455A14ED) & _M32
    b = ((((t << 20) | (t >> 12)) & _M32) + c) & _M32
    t = (a + ((b & d) | (c & ~d)) + m13 + 0xA9E3E905) & _M32
    a = ((((t << 5) | (t >> 27)) & _M32) + b) & _M32
    t = (d + ((a & c) | (b & ~c)) + m2 + 0xFCEFA3F8) & _M32
    d = ((((t << 9) | (t >> 23)) & _M32) + a) & _M32
    t = (c + ((d & b) | (a & ~b)) + m7 + 0x676F02D9) & _M32
    c = ((((t << 14) | (t >> 18)) & _M32) + d) & _M32
    t = (b + ((c & a) | (d & ~a)) + m12 + 0x8D2A4C8A) & _M32
    b = ((((t << 20) | (t >> 12)) & _M32) + c) & _M32
    # round 3: H = b ^ c ^ d
    t = (a + (b ^ c ^ d) + m5 + 0xFFFA3942) & _M32
    a = ((((t << 4) | (t >> 28)) & _M32) + b) & _M32
    t = (d + (a ^ b ^ c) + m8 + 0x8771F681) & _M32
    d = ((((t << 11) | (t >> 21)) & _M32) + a) & _M32
    t = (c + (d ^ a ^ b) + m11 + 0x6D9D6122) & _M32
    c = ((((t << 16) | (t >> 16)) & _M32) + d) & _M32
    t = (b + (c ^ d ^ a) + m14 + 0xFDE5380C) & _M32
    b = ((((t << 23) | (t >> 9)) & _M32) + c) & _M32
    t = (a + (b ^ c ^ d) + m1 + 0xA4BEEA44) & _M32
    a = ((((t << 4) | (t >> 28)) & _M32) + b) & _M32
    t = (d + (a ^ b ^ c) + m4 + 0x4BDECFA9) & _M32
    d = ((((t << 11) | (t >> 21)) & _M32) + a) & _M32
    t = (c + (d ^ a ^ b) + m7 + 0xF6BB4B60) & _M32
    c = ((((t << 16) | (t >> 16)) & _M32) + d) & _M32
    t = (b + (c ^ d ^ a) + m10 + 0xBEBFBC70) & _M32
    b = ((((t << 23) | (t >> 9)) & _M32) + c) & _M32
    t = (a + (b ^ c ^ d) + m13 + 0x289B7EC6) & _M32
    a = ((((t << 4) | (t >> 28)) & _M32) + b) & _M32
    t = (d + (a ^ b ^ c) + m0 + 0xEAA127FA) & _M32
    d = ((((t << 11) | (t >> 21)) & _M32) + a) & _M32
    t = (c + (d ^ a ^ b) + m3 + 0xD4EF3085) & _M32
    c = ((((t << 16) | (t >> 16)) & _M32) + d) & _M32
    t = (b + (c ^ d ^ a) + m6 + 0x04881D05) & _M32
    b = ((((t << 23) | (t >> 9)) & _M32) + c) & _M32
    t = (a + (b ^ c ^ d) + m9 + 0xD9D4D039) & _M32
    a = ((((t << 4) | (t >> 28)) & _M32) + b) & _M32
    t = (d + (a ^ b ^ c) + m12 + 0xE6DB99E5) & _M32
    d = ((((t << 11) | (t >> 21)) & _M32) + a) & _M32
    t = (c + (d ^ a ^ b) + m15 + 0x1FA27CF8) & _M32
    c = ((((t << 16) | (t >> 16)) & _M32) + d) & _M32
    t = (b + (c ^ d ^ a) + m2 + 0xC4AC5665) & _M32
    b = ((((t << 23) | (t >> 9)) & _M32) + c) & _M32
    # round 4: I = c ^ (b | ~d)
    t = (a + (c ^ (b | ~d)) + m0 + 0xF4292244) & _M32
    a = ((((t << 6) | (t >> 26)) & _M32) + b) & _M32
    t = (d + (b ^ (a | ~c)) + m7 + 0x432AFF97) & _M32
    d = ((((t << 10) | (t >> 22)) & _M32) + a) & _M32
    t = (c + (a ^ (d | ~b)) + m14 + 0xAB9423A7) & _M32
    c = ((((t << 15) | (t >> 17)) & _M32) + d) & _M32
    t = (b + (d ^ (c | ~a)) + m5 + 0xFC93A039) & _M32
    b = ((((t << 21) | (t >> 11)) & _M32) + c) & _M32
    t = (a + (c ^ (b | ~d)) + m12 + 0x655B59C3) & _M32
    a = ((((t << 6) | (t >> 26)) & _M32) + b) & _M32
    t = (d + (b ^ (a | ~c)) + m3 + 0x8F0CCC92) & _M32
    d = ((((t << 10) | (t >> 22)) & _M32) + a) & _M32
    t = (c + (a ^ (d | ~b)) + m10 + 0xFFEFF47D) & _M32
    c = ((((t << 15) | (t >> 17)) & _M32) + d) & _M32
    t = (b + (d ^ (c | ~a)) + m1 + 0x85845DD1) & _M32
    b = ((((t << 21) | (t >> 11)) & _M32) + c) & _M32
    t = (a + (c ^ (b | ~d)) + m8 + 0x6FA87E4F) & _M32
    a = ((((t << 6) | (t >> 26)) & _M32) + b) & _M32
    t = (d + (b ^ (a | ~c)) + m15 + 0xFE2CE6E0) & _M32
    d = ((((t << 10) | (t >> 22)) & _M32) + a) & _M32
    t = (c + (a ^ (d | ~b)) + m6 + 0xA3014314) & _M32
    c = ((((t << 15) | (t >> 17)) & _M32) + d) & _M32
    t = (b + (d ^ (c | ~a)) + m13 + 0x4E0811A1) & _M32
    b = ((((t << 21) | (t >> 11)) & _M32) + c) & _M32
    t = (a + (c ^ (b | ~d)) + m4 + 0xF7537E82) & _M32
    a = ((((t << 6) | (t >> 26)) & _M32) + b) & _M32
    t = (d + (b ^ (a | ~c)) + m11 + 0xBD3AF235) & _M32
    d = ((((t << 10) | (t >> 22)) & _M32) + a) & _M32
    t = (c + (a ^ (d | ~b)) + m2 + 0x2AD7D2BB) & _M32
    c = ((((t << 15) | (t >> 17)) & _M32) + d) & _M32
    t = (b + (d ^ (c | ~a)) + m9 + 0xEB86D391) & _M32
    b = ((((t << 21) | (t >> 11)) & _M32) + c) & _M32
    return (a0 + a) & _M32, (b0 + b) & _M32, (c0 + c) & _M32, (d0 + d) & _M32


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
