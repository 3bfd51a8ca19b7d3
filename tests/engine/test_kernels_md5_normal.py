"""The numba kernels agree bit for bit with their Python definitions (and the page
order kernel with numpy's stable sort).

* :mod:`engage_lab.engine.md5` against :mod:`hashlib` and :func:`engage_lab.draws.draw`;
* :mod:`engage_lab.engine.normal` against ``statistics.NormalDist().inv_cdf`` and the
  world generator's ``lognormal_ms``.

Doubles are compared by their bit patterns (``-0.0`` differs from ``0.0`` there), not
only by ``==``.
"""

from __future__ import annotations

import hashlib
import math
import random
import statistics

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_lab.draws import draw, u_from_key
from engage_lab.engine.md5 import draw_u, md5_u52, u_of_bytes
from engage_lab.engine.normal import inv_cdf, lognormal_ms
from engage_lab.world.recording import lognormal_ms as world_lognormal_ms

_NORMAL = statistics.NormalDist()


def _bits(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).view(np.uint64)


def _assert_same_doubles(ours, ref, inputs) -> None:
    ours_bits, ref_bits = _bits(ours), _bits(ref)
    bad = np.flatnonzero(ours_bits != ref_bits)
    if len(bad):
        i = bad[0]
        pytest.fail(
            f"{len(bad)} of {len(ref_bits)} differ; first: input {inputs[i]!r} "
            f"gives {ours[i]!r}, expected {ref[i]!r}"
        )


# --------------------------------------------------------------------------- md5


def _hashlib_u(data: bytes) -> float:
    digest = hashlib.md5(data).digest()
    return (int.from_bytes(digest[:7], "big") >> 4) / 2.0**52


def _u_of_hex(hex_digest: str) -> float:
    return int(hex_digest[:13], 16) / 2**52


@numba.njit
def _md5_many(buf, offsets, out):
    for i in range(len(offsets) - 1):
        out[i] = md5_u52(buf, offsets[i], offsets[i + 1])


@numba.njit
def _draw_many(seed, buf, offsets, tails, tail_offsets, out):
    for i in range(len(offsets) - 1):
        tail = tails[tail_offsets[i] : tail_offsets[i + 1]]
        out[i] = draw_u(seed, buf, offsets[i], offsets[i + 1], tail)


def _flat(chunks: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(chunks) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(c) for c in chunks])
    # A leading guard byte, so that no key starts at offset 0 of the buffer.
    buf = np.frombuffer(b"#" + b"".join(chunks) + b"#", dtype=np.uint8).copy()
    return buf, offsets + 1


# RFC 1321 appendix A.5, plus the classic fox.
_VECTORS = [
    (b"", "d41d8cd98f00b204e9800998ecf8427e"),
    (b"a", "0cc175b9c0f1b6a831c399e269772661"),
    (b"abc", "900150983cd24fb0d6963f7d28e17f72"),
    (b"message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
    (b"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
    (
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        "d174ab98d277d9f5a5611c2c9f419d9f",
    ),
    (b"1234567890" * 8, "57edf4a22be3c955ac49da2e2107b67a"),
    (b"The quick brown fox jumps over the lazy dog", "9e107d9d372bb6826bd81d3542a419d6"),
]


@pytest.mark.parametrize(("message", "hex_digest"), _VECTORS)
def test_md5_known_vectors(message: bytes, hex_digest: str) -> None:
    assert u_of_bytes(message) == _u_of_hex(hex_digest)


def test_md5_abc_prefix() -> None:
    assert u_of_bytes(b"abc") == int("900150983cd24", 16) / 2**52
    assert u_of_bytes(b"abc") == u_from_key("abc")


def test_md5_every_length_to_130_and_long_messages() -> None:
    rng = random.Random(1)
    lengths = [*range(131), 183, 184, 191, 192, 247, 248, 255, 256, 999, 1000, 1024, 1079, 4099]
    for n in lengths:
        for _ in range(3):
            data = rng.randbytes(n)
            assert u_of_bytes(data) == _hashlib_u(data), n


def test_md5_slices_of_a_flat_buffer() -> None:
    rng = random.Random(2)
    chunks = [rng.randbytes(rng.randrange(0, 200)) for _ in range(3000)]
    buf, offsets = _flat(chunks)
    out = np.empty(len(chunks))
    _md5_many(buf, offsets, out)
    _assert_same_doubles(out, [_hashlib_u(c) for c in chunks], chunks)


def test_md5_u52_on_other_array_kinds() -> None:
    data = b"x" * 57 + "é|ü".encode()
    expected = _hashlib_u(data[3:61])
    readonly = np.frombuffer(data, dtype=np.uint8)  # read-only buffer
    strided = np.frombuffer(bytes(b for c in data for b in (c, 0)), dtype=np.uint8)[::2]
    assert md5_u52(readonly, 3, 61) == expected
    assert md5_u52(strided, 3, 61) == expected
    assert md5_u52(readonly, np.int32(3), np.uint64(61)) == expected


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=300), st.integers(0, 7))
def test_md5_random_bytes(data: bytes, pad: int) -> None:
    assert u_of_bytes(data) == _hashlib_u(data)
    buf = np.frombuffer(b"\xff" * pad + data + b"\xfe" * pad, dtype=np.uint8)
    assert md5_u52(buf, pad, pad + len(data)) == _hashlib_u(data)


def test_draw_u_every_split_around_block_boundaries() -> None:
    """Seed, key and tail lengths placing the pipes and the end on every word offset."""
    rng = random.Random(3)
    seeds, keys, tails = [], [], []
    for total in [*range(2, 140), 247, 248, 1100]:
        for _ in range(4):
            n_seed = rng.randrange(0, min(total - 1, 12))
            n_tail = rng.randrange(0, total - 1 - n_seed)
            n_key = total - 2 - n_seed - n_tail
            seeds.append(rng.randbytes(n_seed))
            keys.append(rng.randbytes(n_key))
            tails.append(rng.randbytes(n_tail))
    buf, offsets = _flat(keys)
    for seed, key, tail, start, end in zip(
        seeds, keys, tails, offsets[:-1], offsets[1:], strict=True
    ):
        seed_arr = np.frombuffer(seed, dtype=np.uint8)
        tail_arr = np.frombuffer(tail, dtype=np.uint8)
        expected = _hashlib_u(seed + b"|" + key + b"|" + tail)
        assert draw_u(seed_arr, buf, start, end, tail_arr) == expected, (seed, key, tail)


_ASCII_ID = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
_ANY_ID = st.text(max_size=30)  # any code point but surrogates: multi-byte UTF-8


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(st.integers(0, 10**12), _ASCII_ID),
    st.lists(st.tuples(st.one_of(_ASCII_ID, _ANY_ID), _ANY_ID, _ANY_ID), min_size=1, max_size=8),
)
def test_draw_u_matches_draws_draw(seed, pages) -> None:
    seed_arr = np.frombuffer(str(seed).encode(), dtype=np.uint8)
    keys = [f"{visitor}|{page_view}".encode() for visitor, page_view, _ in pages]
    triggers = [trigger.encode() for _, _, trigger in pages]
    buf, offsets = _flat(keys)
    tails, tail_offsets = _flat(triggers)
    out = np.empty(len(pages))
    _draw_many(seed_arr, buf, offsets, tails, tail_offsets, out)
    expected = [draw(seed, visitor, page_view, trigger) for visitor, page_view, trigger in pages]
    _assert_same_doubles(out, expected, pages)


def test_draw_u_many_realistic_keys() -> None:
    rng = random.Random(4)
    ids = []
    for i in range(5000):
        visitor = f"v-{rng.getrandbits(64):016x}" if i % 3 else f"visiteur-{i}-é-日本"
        ids.append((visitor, f"pv-{i}-{rng.getrandbits(32)}", rng.choice(["t1", "t-invite", "🎉"])))
    buf, offsets = _flat([f"{v}|{pv}".encode() for v, pv, _ in ids])
    tails, tail_offsets = _flat([t.encode() for _, _, t in ids])
    out = np.empty(len(ids))
    _draw_many(np.frombuffer(b"42", dtype=np.uint8), buf, offsets, tails, tail_offsets, out)
    _assert_same_doubles(out, [draw(42, v, pv, t) for v, pv, t in ids], ids)
    assert len(set(out.tolist())) == len(ids)  # distinct keys, distinct draws


# --------------------------------------------------------------------------- inv_cdf


@numba.njit
def _inv_cdf_many(ps):
    out = np.empty_like(ps)
    for i in range(len(ps)):
        out[i] = inv_cdf(ps[i])
    return out


def _around(x: float, ulps: int) -> list[float]:
    """``x`` and its ``ulps`` neighbours on each side."""
    below, above, values = x, x, [x]
    for _ in range(ulps):
        below, above = math.nextafter(below, -math.inf), math.nextafter(above, math.inf)
        values += [below, above]
    return values


def _inv_cdf_inputs() -> np.ndarray:
    rng = np.random.default_rng(5)
    tiny = 2.0 ** -np.arange(1, 1075, dtype=np.float64)  # every power of two down to 5e-324
    special = [
        1e-300,
        5e-324,
        2.0**-1074,
        1e-16,
        1 - 1e-16,
        1 - 2.0**-53,
        2.0**-53,
        0.5,
        0.02425,
        0.97575,
        0.075,
        0.925,
        math.exp(-25.0),
        -math.expm1(-25.0),
    ]
    boundaries = []
    # |q| <= 0.425 (p = 0.075, 0.925); r = sqrt(-log(p)) <= 5 (p = exp(-25) and 1 - that);
    # 0.02425 / 0.97575 (Acklam's split, not AS241's: harmless extra points); p = 0.5.
    for centre in (0.075, 0.925, math.exp(-25.0), 1.0 - math.exp(-25.0), 0.02425, 0.97575, 0.5):
        boundaries += _around(centre, 200)
    values = np.concatenate(
        [
            rng.random(125_000),
            10.0 ** -rng.uniform(0.0, 300.0, 30_000),  # near 0, log-uniform
            1.0 - 10.0 ** -rng.uniform(0.0, 16.0, 30_000),  # near 1
            rng.uniform(0.07, 0.08, 5_000),
            rng.uniform(0.92, 0.93, 5_000),
            math.exp(-25.0) * rng.uniform(0.5, 2.0, 5_000),
            tiny,
            1.0 - tiny[:53],
            np.array(special + boundaries),
        ]
    )
    values = values[(values > 0.0) & (values < 1.0)]
    assert len(values) > 200_000
    return values


def test_inv_cdf_bitwise_over_200k_values() -> None:
    ps = _inv_cdf_inputs()
    ours = _inv_cdf_many(ps)
    ref = [_NORMAL.inv_cdf(p) for p in ps.tolist()]
    _assert_same_doubles(ours, ref, ps)
    # the inputs do reach the three branches of AS241
    q = ps - 0.5
    r = np.sqrt(-np.log(np.minimum(ps, 1.0 - ps)))
    assert (np.abs(q) <= 0.425).sum() > 1000
    assert ((np.abs(q) > 0.425) & (r <= 5.0)).sum() > 1000
    assert ((np.abs(q) > 0.425) & (r > 5.0)).sum() > 1000


def test_inv_cdf_scalar_calls_and_symmetry() -> None:
    assert inv_cdf(0.5) == 0.0 and math.copysign(1.0, inv_cdf(0.5)) == 1.0
    assert inv_cdf(0.975) == _NORMAL.inv_cdf(0.975)
    assert inv_cdf(1e-300) == _NORMAL.inv_cdf(1e-300) < -37.0
    assert math.isnan(inv_cdf(math.nan)) and math.isnan(_NORMAL.inv_cdf(math.nan))


@pytest.mark.parametrize("p", [0.0, 1.0, -0.5, 1.5, -math.inf, math.inf])
def test_inv_cdf_refuses_p_outside_the_open_interval(p: float) -> None:
    with pytest.raises(ValueError):
        inv_cdf(p)
    with pytest.raises(statistics.StatisticsError):
        _NORMAL.inv_cdf(p)


@settings(max_examples=500, deadline=None)
@given(st.floats(min_value=0.0, max_value=1.0, exclude_min=True, exclude_max=True))
def test_inv_cdf_hypothesis(p: float) -> None:
    assert _bits(inv_cdf(p)) == _bits(_NORMAL.inv_cdf(p))


# --------------------------------------------------------------------------- lognormal


def _python_lognormal_ms(u: float, median_s: float, sigma: float) -> int:
    seconds = math.exp(math.log(median_s) + sigma * statistics.NormalDist().inv_cdf(u))
    return max(1, round(seconds * 1000))


@numba.njit
def _lognormal_many(us, medians, sigmas):
    out = np.empty(len(us), dtype=np.int64)
    for i in range(len(us)):
        out[i] = lognormal_ms(us[i], medians[i], sigmas[i])
    return out


def _assert_lognormal_equal(us, medians, sigmas) -> None:
    us, medians, sigmas = (np.asarray(a, dtype=np.float64) for a in (us, medians, sigmas))
    ours = _lognormal_many(us, medians, sigmas).tolist()
    triples = list(zip(us.tolist(), medians.tolist(), sigmas.tolist(), strict=True))
    ref = [_python_lognormal_ms(*t) for t in triples]
    bad = [(t, o, r) for t, o, r in zip(triples, ours, ref, strict=True) if o != r]
    assert not bad, f"{len(bad)} differ, first (u, median, sigma), ours, python: {bad[0]}"


def test_lognormal_ms_many_combinations() -> None:
    rng = np.random.default_rng(7)
    n = 60_000
    us = np.concatenate([rng.random(n), [2.0**-53, 1e-12, 0.5, 1 - 2.0**-53, 0.999999]])
    m = len(us)
    medians = np.exp(rng.uniform(np.log(0.05), np.log(3600.0), m))
    medians[: m // 4] = rng.choice([0.25, 0.5, 1.0, 2.0, 3.0, 8.0, 45.0, 120.0], m // 4)
    sigmas = rng.uniform(0.0, 2.5, m)
    sigmas[: m // 8] = rng.choice([0.0, 0.1, 0.5, 1.0], m // 8)
    _assert_lognormal_equal(us, medians, sigmas)


def test_lognormal_ms_agrees_with_the_world_generator() -> None:
    rng = random.Random(8)
    for _ in range(2000):
        u, median, sigma = rng.random() or 0.5, rng.uniform(0.01, 600.0), rng.uniform(0, 2)
        assert lognormal_ms(u, median, sigma) == world_lognormal_ms(u, median, sigma)


def _exact_halves() -> tuple[list[float], list[float], list[float]]:
    """(u, median, sigma) whose Python ``seconds * 1000`` is exactly ``k + 0.5``."""
    us, medians, sigmas = [], [], []
    for k in range(0, 5000):
        for median in _around((k + 0.5) / 1000.0, 3):
            for u, sigma in ((0.5, 1.3), (0.3, 0.0), (0.9, -0.0)):
                z = statistics.NormalDist().inv_cdf(u)
                seconds = math.exp(math.log(median) + sigma * z)
                if seconds * 1000 == k + 0.5:
                    us.append(u)
                    medians.append(median)
                    sigmas.append(sigma)
    return us, medians, sigmas


def test_lognormal_ms_rounds_exact_halves_to_even() -> None:
    us, medians, sigmas = _exact_halves()
    halves = [
        math.exp(math.log(m) + s * statistics.NormalDist().inv_cdf(u)) * 1000
        for u, m, s in zip(us, medians, sigmas, strict=True)
    ]
    odd_k = sum(int(h) % 2 == 1 for h in halves)
    even_k = len(halves) - odd_k
    assert odd_k > 500 and even_k > 500  # both directions of half-to-even are exercised
    _assert_lognormal_equal(us, medians, sigmas)
    ours = _lognormal_many(*(np.asarray(a, dtype=np.float64) for a in (us, medians, sigmas)))
    for h, ms in zip(halves, ours.tolist(), strict=True):
        k = int(h)
        assert ms == max(1, k if k % 2 == 0 else k + 1)  # half to even, not half up


def test_lognormal_ms_small_and_zero_delays_are_one_ms() -> None:
    assert lognormal_ms(0.5, 0.0004, 0.0) == _python_lognormal_ms(0.5, 0.0004, 0.0) == 1
    assert lognormal_ms(1e-300, 0.001, 5.0) == _python_lognormal_ms(1e-300, 0.001, 5.0) == 1


def test_lognormal_ms_errors() -> None:
    with pytest.raises(ValueError):
        lognormal_ms(0.0, 1.0, 1.0)
    with pytest.raises(ValueError):
        lognormal_ms(0.5, -1.0, 1.0)  # log of a negative median: NaN
    with pytest.raises(OverflowError):
        lognormal_ms(0.5, 1e300, 1.0)  # Python returns a 300-digit int here


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-1, 6), st.integers(0, 5)), min_size=0, max_size=60))
def test_visitor_time_order_is_a_stable_sort_with_its_tie_runs(rows):
    from engage_lab.engine.pages_kernel import visitor_time_order

    code = np.array([c for c, _ in rows], np.int32)
    start = np.array([s for _, s in rows], np.int64)
    order, ties = visitor_time_order(code, start, np.empty(len(rows), np.int32))
    expected = np.lexsort((start, code))  # stable
    assert order.tolist() == expected.tolist()
    keys = [(int(code[k]), int(start[k])) for k in expected]
    runs, i = [], 0
    while i < len(keys):
        j = i + 1
        while j < len(keys) and keys[j] == keys[i]:
            j += 1
        if j - i > 1:
            runs.append([i, j])
        i = j
    assert ties.tolist() == runs


@settings(max_examples=80, deadline=None)
@given(
    st.integers(1, 4),
    st.lists(st.tuples(st.integers(-1, 3), st.integers(0, 3), st.integers(0, 2)), max_size=80),
)
def test_shared_instants_finds_every_row_sharing_page_instant_and_name(n_pages, rows):
    """Small pages go through the pairwise comparison, crowded ones (more than 16 rows)
    through the sorts: both give the rows of every (page, instant, name) group of two or
    more, and nothing else."""
    from collections import Counter

    from engage_lab.engine.pages_kernel import shared_instants

    pvi = np.array([min(p, n_pages - 1) for p, _, _ in rows], np.int32)
    changed = np.array([c for _, c, _ in rows], np.int64)
    name_hash = np.array([h * 0x9E3779B97F4A7C15 % 2**64 for _, _, h in rows], np.uint64)
    groups = Counter(
        (int(p), int(c), int(h)) for p, c, h in zip(pvi, changed, name_hash, strict=True) if p >= 0
    )
    expected = [
        r
        for r, key in enumerate(
            zip(pvi.tolist(), changed.tolist(), name_hash.tolist(), strict=True)
        )
        if key[0] >= 0 and groups[key] > 1
    ]
    assert shared_instants(pvi, changed, name_hash, n_pages).tolist() == expected


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(0, 2**33 - 1), max_size=300),
    st.sampled_from([np.int32, np.int64]),
    st.integers(0, 3),
)
def test_radix_argsort_is_numpys_stable_argsort(keys, index_dtype, spread):
    """Keys of up to 33 bits (three 11-bit digits, some digits all zero and skipped)."""
    from engage_lab.engine.pages_kernel import radix_argsort

    key = np.array(keys, np.int64) >> (11 * spread)  # fewer digits as the spread grows
    bits = max(int(key.max()).bit_length(), 1) if len(key) else 1
    order, sorted_keys = radix_argsort(key, bits, np.arange(len(key), dtype=index_dtype))
    assert order.dtype == index_dtype
    assert order.tolist() == np.argsort(key, kind="stable").tolist()
    assert sorted_keys.tolist() == sorted(key.tolist())
