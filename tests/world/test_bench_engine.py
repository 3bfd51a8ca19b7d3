"""The fast-engine benchmark runs end to end on a small world and prints every number."""

from __future__ import annotations

import math

from benchmarks import bench_engine


def test_bench_engine_prints_the_targets_numbers(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench_engine, "WORLDS", tmp_path)  # a fresh world, not the cache
    results = bench_engine.main(["--sizes", "20000", "--chat", "--reference-visitors", "20"])
    out = capsys.readouterr().out
    for line in (
        "filling 1 GB of fresh memory",
        "first replay",
        "fidelity",
        "tuning replays, each one edit from the replay before (with recorded chat events)",
        "threshold moved",
        "policy changed",
        "queuing factor changed",
        "trigger disabled",
        "trigger enabled again",
        "faster than the first replay",
        "bare DuckDB scan",
        "hand interval queries",
        "reference",
        "peak RSS",
    ):
        assert line in out, line
    assert list(results) == [(20_000, True)]
    (numbers,) = results.values()
    assert 10_000 < numbers["page_views"] < 40_000
    assert numbers["recorded_chat_events"] > 0
    # the world's chat events were recorded under the production configuration
    assert numbers["fidelity"] == 1.0
    assert numbers["activations"] > 0 and numbers["reference_pages"] > 0
    assert all(numbers[k] > 0 for k in ("first_s", "threshold_s", "scan_s", "hand_s"))
    tuning = [f"{key}_s" for _, key in bench_engine.TUNING]
    assert all(0 < numbers[k] < numbers["first_s"] for k in tuning)
    low, high = numbers["threshold_min_s"], numbers["threshold_max_s"]
    assert low <= numbers["threshold_median_s"] <= high and low <= numbers["threshold_s"] <= high
    # one line per tuning edit, with its time and its ratio to the first replay
    for label, key in bench_engine.TUNING:
        (line,) = [x for x in out.splitlines() if x.strip().startswith(label)]
        ratio = numbers["first_s"] / numbers[f"{key}_s"]
        assert f"{numbers[f'{key}_s']:.2f} s" in line and f"{ratio:.1f}x faster" in line
    assert not math.isnan(numbers["peak_rss_gb"]) and numbers["peak_rss_gb"] > 0.05
