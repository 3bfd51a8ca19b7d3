"""Crossing instants of duration thresholds: exact in range, bounded beyond it."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

from hypothesis import given
from hypothesis import strategies as st

from engage_lab.conditions.walking import BEYOND_MS, first_ms_above, first_ms_at_least
from engage_lab.config.limits import MAX_DURATION_MS, MAX_DURATION_SECONDS


def test_beyond_is_past_the_longest_duration_and_an_exact_int64():
    assert BEYOND_MS == MAX_DURATION_MS + 1
    assert 2 * BEYOND_MS < 2**63  # a page start plus it still fits


@given(st.floats(-MAX_DURATION_SECONDS, MAX_DURATION_SECONDS))
def test_in_range_the_crossing_is_the_exact_least_millisecond(seconds):
    d = first_ms_at_least(seconds)
    assert d / 1000 >= seconds and not (d - 1) / 1000 >= seconds
    d = first_ms_above(seconds)
    assert d / 1000 > seconds and not (d - 1) / 1000 > seconds


def test_thresholds_beyond_any_duration_are_clamped_not_searched():
    for huge in (1e300, 1.7e308, math.inf, 2.0**60, MAX_DURATION_SECONDS * 2.0):
        assert first_ms_at_least(huge) == first_ms_above(huge) == BEYOND_MS
        assert first_ms_at_least(-huge) == first_ms_above(-huge) == -BEYOND_MS
    assert first_ms_at_least(math.nan) == first_ms_above(math.nan) == BEYOND_MS  # never


def test_time_reads_of_an_unvalidated_huge_threshold_finish():
    # 1e300 once looped forever here (every neighbour of 1e303 divides to 1e300); a
    # subprocess with a timeout so that a regression fails instead of hanging the suite
    code = textwrap.dedent(
        """
        from engage_lab.conditions import parse_criteria, parse_expression
        from engage_lab.conditions.walking import criteria_nodes, time_reads
        crit = parse_criteria([{"criterion": "visit_duration", "operator": "gte", "value": 1e300}])
        expr = parse_expression({"page.duration": {"$gte": 1e300, "$lt": -1e300}})
        reads = time_reads(criteria_nodes(crit), expr)
        print(reads.page_offsets, reads.visit_offsets)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    beyond = f"({-BEYOND_MS}, {BEYOND_MS}) ({BEYOND_MS},)"
    assert done.stdout.strip() == beyond
