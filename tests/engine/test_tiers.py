"""The two kernel tiers (engage_lab.tiers): the rules, the twins, the Python equivalents."""

from __future__ import annotations

import hashlib
import os

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_lab import tiers
from engage_lab.engine.borrow import borrowed_all
from engage_lab.engine.md5 import _draw_u_python, _md5_u52_python, draw_u, md5_u52
from engage_lab.kpis.fidelity import _page_sums, _page_sums_python


@numba.njit
def _inner(a):
    return a * 3


@numba.njit
def _outer(a):
    (b,) = borrowed_all((a,))
    return _inner(b).sum()


def test_twin_calls_twins_and_compiles_nothing():
    twin = tiers.interpreted(_outer)
    assert int(twin(np.arange(4))) == 18
    assert _outer.signatures == [] and _inner.signatures == []
    assert tiers.interpreted(_outer) is twin  # one twin per kernel
    assert int(_outer(np.arange(4))) == 18  # the compiled kernel is untouched
    assert len(_outer.signatures) == 1


def test_non_kernels_and_registered_equivalents():
    assert tiers.interpreted(len) is len
    assert tiers.interpreted(md5_u52) is _md5_u52_python
    assert tiers.interpreted(draw_u) is _draw_u_python


def test_an_intrinsic_without_equivalent_is_named():
    from numba.extending import intrinsic

    @intrinsic
    def naked(typingctx, x):
        return None

    @numba.njit
    def uses(x):
        return naked(x)

    with pytest.raises(TypeError, match="intrinsic naked has no Python equivalent"):
        tiers.interpreted(uses)(1)


def test_forced_and_configured_choice(monkeypatch):
    monkeypatch.setenv("ENGAGE_LAB_KERNELS", "interpreted")
    assert tiers.tiered(_inner) is tiers.interpreted(_inner)
    with tiers.forced("compiled"):
        assert tiers.tiered(_inner) is _inner
    monkeypatch.setenv("ENGAGE_LAB_KERNELS", "fast")
    with pytest.raises(ValueError, match="ENGAGE_LAB_KERNELS must be one of auto, compiled"):
        tiers.tiered(_inner)
    with pytest.raises(ValueError, match="kernel tier must be one of"), tiers.forced("jit"):
        pass


def test_auto_interprets_a_small_run_only_where_no_code_exists(monkeypatch):
    monkeypatch.setenv("ENGAGE_LAB_KERNELS", "auto")
    monkeypatch.setenv("ENGAGE_LAB_WARM", "0")

    @numba.njit
    def fresh(a):
        return a + 2

    assert tiers.tiered(fresh) is fresh  # outside a run: compiled
    with tiers.running(tiers.SMALL + 1):
        assert tiers.tiered(fresh) is fresh  # a large run: compiled
    with tiers.running(10):
        assert int(tiers.tiered(fresh)(np.int64(1))) == 3
        assert fresh.signatures == []  # interpreted: nothing compiled
    fresh(np.int64(1))
    with tiers.running(10):
        assert tiers.has_code(fresh, (np.int64(1),))
        assert not tiers.has_code(fresh, (np.float64(1),))  # other argument types
        assert float(tiers.tiered(fresh)(np.float64(1))) == 3.0
    assert len(fresh.signatures) == 1  # the float call was interpreted


def test_has_code_reads_the_disk_cache(tmp_path):
    # a kernel compiled into the cache by another process is code for this one
    import os
    import subprocess
    import sys
    import textwrap

    module = tmp_path / "cachedmod.py"
    module.write_text(
        textwrap.dedent(
            """
            import numba

            @numba.njit(cache=True)
            def k(a):
                return a + 1
            """
        )
    )
    path = os.pathsep.join(p for p in (str(tmp_path), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    subprocess.run([sys.executable, "-c", "import cachedmod; cachedmod.k(1)"], env=env, check=True)
    probe = textwrap.dedent(
        """
        import numpy as np, cachedmod
        from engage_lab import tiers
        print(tiers.has_code(cachedmod.k, (1,)), tiers.has_code(cachedmod.k, (1.5,)),
              cachedmod.k.signatures)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, check=True, capture_output=True, text=True
    )
    assert out.stdout.split() == ["True", "False", "[]"]


# ------------------------------------------------------- the registered Python equivalents


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 20), st.integers(0, 20))
def test_md5_equivalent(data, cut_lo, cut_hi):
    buf = np.frombuffer(data + b"\0" * 40, np.uint8).copy()
    start, end = cut_lo, cut_lo + len(data) - min(cut_hi, len(data))
    end = max(start, end)
    assert _md5_u52_python(buf, start, end) == md5_u52(buf, start, end)
    digest = hashlib.md5(buf[start:end].tobytes()).hexdigest()
    assert _md5_u52_python(buf, start, end) == int(digest[:13], 16) / 2**52


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=70), st.binary(max_size=150), st.binary(max_size=70))
def test_draw_u_equivalent(seed, key, tail):
    s, k, t = (np.frombuffer(b + b"\0", np.uint8)[: len(b)].copy() for b in (seed, key, tail))
    buf = np.concatenate([np.zeros(3, np.uint8), k, np.zeros(2, np.uint8)])
    assert _draw_u_python(s, buf, 3, 3 + len(k), t) == draw_u(s, buf, 3, 3 + len(k), t)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-2, 6), st.integers(0, 2**41), st.integers(0, 2**31 - 1)),
        max_size=40,
    ),
    st.sampled_from([1, -1]),
)
def test_page_sums_equivalent(rows, sign):
    pvi = np.array([r[0] for r in rows], np.int64)
    t = np.array([r[1] for r in rows], np.int64)
    code = np.array([r[2] for r in rows], np.int32)
    decision = np.zeros(16, np.bool_)
    decision[[1, 2, 3, 5, 8, 13]] = True
    compiled = (np.full(5, 7, np.uint64), np.zeros(5, np.int64))
    python = (np.full(5, 7, np.uint64), np.zeros(5, np.int64))
    _page_sums(pvi, t, code, decision, 5, *compiled, sign)
    _page_sums_python(pvi, t, code, decision, 5, *python, sign)
    assert np.array_equal(compiled[0], python[0]) and np.array_equal(compiled[1], python[1])


def test_a_run_is_carried_into_thread_pools(monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setenv("ENGAGE_LAB_KERNELS", "auto")
    monkeypatch.setenv("ENGAGE_LAB_WARM", "0")

    @numba.njit
    def pooled(a):
        return a - 1

    with tiers.running(10), ThreadPoolExecutor(2) as pool:
        bare = list(pool.map(lambda x: tiers.tiered(pooled) is pooled, [1]))
        carried = list(pool.map(tiers.carried(lambda x: int(tiers.tiered(pooled)(x))), [5, 7]))
    assert bare == [True]  # a thread starts outside the run: compiled
    assert carried == [4, 6]
    assert pooled.signatures == []  # the carried calls were interpreted


def test_an_interpreted_call_starts_one_warm_up_per_target(monkeypatch):
    started: list[list[str]] = []

    class FakePopen:
        def __init__(self, args, **kwargs):
            started.append(args)
            assert kwargs["start_new_session"] is True

    monkeypatch.setenv("ENGAGE_LAB_KERNELS", "auto")
    monkeypatch.delenv("ENGAGE_LAB_WARM")
    monkeypatch.setattr(tiers.subprocess, "Popen", FakePopen)
    monkeypatch.setattr(tiers, "_warming", set())
    monkeypatch.setattr(tiers, "_warm_ups", [])

    @numba.njit
    def small(a):
        return a * 5

    with tiers.running(10, "world"):
        assert int(tiers.tiered(small)(np.int64(2))) == 10
        assert int(tiers.tiered(small)(np.int64(3))) == 15
    assert [args[-3:] for args in started] == [["-m", "engage_lab.engine.warm", "world"]]
    assert small.signatures == []
    monkeypatch.setenv("ENGAGE_LAB_WARM", "0")
    tiers.warm_in_background("replay")
    assert len(started) == 1


def test_one_warm_up_per_cache_at_a_time(monkeypatch, tmp_path):
    import fcntl

    from engage_lab.engine import warm

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(os, "nice", lambda n: 0)
    ran: list[str] = []
    original = warm.warm
    monkeypatch.setattr(warm, "warm", ran.append)
    with open(warm.lock_path(), "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert warm.main(["replay"]) == 0
        assert ran == []  # another warm-up holds the lock: nothing done
    assert warm.main(["world"]) == 0
    assert ran == ["world"]
    with pytest.raises(ValueError, match="target must be one of replay, world"):
        original("everything")
