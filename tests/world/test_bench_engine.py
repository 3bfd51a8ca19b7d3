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
        "threshold moved",
        "bare DuckDB scan",
        "hand interval queries",
        "reference",
        "peak RSS",
    ):
        assert line in out, line
    (numbers,) = results.values()
    assert 10_000 < numbers["page_views"] < 40_000
    assert numbers["recorded_chat_events"] > 0
    # the world's chat events were recorded under the production configuration
    assert numbers["fidelity"] == 1.0
    assert numbers["activations"] > 0 and numbers["reference_pages"] > 0
    assert all(numbers[k] > 0 for k in ("first_s", "threshold_s", "scan_s", "hand_s"))
    assert not math.isnan(numbers["peak_rss_gb"]) and numbers["peak_rss_gb"] > 0.05
