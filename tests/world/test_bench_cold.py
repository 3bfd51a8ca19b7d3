"""The cold-start benchmark runs end to end (short: the ordinary cache) and prints its lines."""

from __future__ import annotations

from benchmarks import bench_cold


def test_bench_cold_prints_the_first_and_warm_runs(capsys):
    numbers = bench_cold.main(["--warm-cache", "--visitors", "20"])
    out = capsys.readouterr().out
    for line in (
        "cold start (ordinary numba cache)",
        "load of the sample:",
        "replay of the sample: first run",
        "generate of 20 visitors: first run",
        "warm",
        "ratio",
        "CPU",
        "the background compilation",
    ):
        assert line in out, line
    assert set(numbers) == {
        "load_s", "replay_cold_s", "replay_cold_cpu_s", "replay_compile_s", "replay_warm_s",
        "generate_cold_s", "generate_cold_cpu_s", "generate_compile_s", "generate_warm_s",
    }  # fmt: skip
    assert all(seconds > 0 for seconds in numbers.values())
