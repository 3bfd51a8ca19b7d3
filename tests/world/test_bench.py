"""The world benchmark runs and reports page views per second against its baseline."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_world.py"


def test_bench_world_main_reports_page_views_per_second(capsys):
    spec = importlib.util.spec_from_file_location("bench_world", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(["--page-views", "15000", "--days", "7", "--reference-page-views", "1500"])
    out = capsys.readouterr().out
    assert "page views/s" in out and "baseline" in out and "reference Chat Manager" in out
    assert 500 < result["recorder_page_views"] < 3_000 and result["recorder_speedup"] > 0
    assert 10_000 < result["page_views"] < 22_000
    assert result["without_chat_s"] > 0
    assert result["page_views_per_s"] > 0 and result["ratio_to_baseline"] > 0
