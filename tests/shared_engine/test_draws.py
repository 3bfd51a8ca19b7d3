"""The md5 gating draw and the visitor sample: Python and DuckDB agree bit for bit."""

from __future__ import annotations

import hashlib
import random
import struct

import duckdb
import numpy as np
import pandas as pd
import pytest
from sqlglot import exp

from engage_lab.draws import (
    draw,
    draw_key,
    draw_sql,
    draws,
    in_sample,
    in_sample_sql,
    sample_draw,
    sample_draw_sql,
    u_from_key,
)
from engage_lab.errors import ConfigError, UnsupportedOperatorError

ALPHABET = "ab|-_ 0é漢😀\u0301\x00Zß"


def _random_ids(n: int, rng: random.Random) -> list[str]:
    ids = ["", "|", "é", "😀", "a" * 300]
    while len(ids) < n:
        ids.append("".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 12))))
    return ids[:n]


@pytest.fixture(scope="module")
def keys_frame() -> pd.DataFrame:
    rng = random.Random(20260301)
    n = 5000
    return pd.DataFrame(
        {
            "seed": [rng.choice(["42", "", "s😀", "7|7"]) for _ in range(n)],
            "visitor_id": _random_ids(n, rng),
            "page_view_id": list(reversed(_random_ids(n, rng))),
            "trigger_id": [rng.choice(["t1", "", "trigger é", "漢"]) for _ in range(n)],
        }
    )


def _bits(x: float) -> int:
    return struct.unpack("<q", struct.pack("<d", x))[0]


def test_known_value_from_the_definition() -> None:
    # Independent re-derivation of the definition in DESIGN.md section 2.
    key = "42|v1|pv1|t1"
    digest = hashlib.md5(key.encode()).hexdigest()
    assert draw("42", "v1", "pv1", "t1") == int(digest[:13], 16) / 4503599627370496
    assert draw_key("42", "v1", "pv1", "t1") == key


def test_integer_seed_is_its_decimal_text() -> None:
    assert draw(42, "v", "p", "t") == draw("42", "v", "p", "t")


def test_none_component_is_refused() -> None:
    with pytest.raises(TypeError):
        draw("42", None, "pv", "t")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        draw(4.2, "v", "pv", "t")  # type: ignore[arg-type]


def test_python_and_duckdb_agree_bit_for_bit(keys_frame: pd.DataFrame) -> None:
    con = duckdb.connect()
    con.register("keys", keys_frame)
    cols = [exp.column(c) for c in ("seed", "visitor_id", "page_view_id", "trigger_id")]
    query = exp.select(draw_sql(*cols).as_("u")).from_("keys")
    got = con.execute(query.sql("duckdb")).fetchnumpy()["u"]
    expected = [draw(*row) for row in keys_frame.itertuples(index=False)]
    assert len(got) == len(expected) == 5000
    mismatches = [
        i for i, (g, e) in enumerate(zip(got, expected, strict=True)) if _bits(g) != _bits(e)
    ]
    assert mismatches == []


def test_vectorized_matches_scalar(keys_frame: pd.DataFrame) -> None:
    vec = draws("s", keys_frame["visitor_id"], keys_frame["page_view_id"], keys_frame["trigger_id"])
    scalar = [
        draw("s", v, p, t)
        for v, p, t in zip(
            keys_frame["visitor_id"],
            keys_frame["page_view_id"],
            keys_frame["trigger_id"],
            strict=True,
        )
    ]
    assert np.array_equal(vec, np.array(scalar))


def test_vectorized_nulls_are_nan_like_sql_nulls() -> None:
    out = draws("42", ["v1", None, "v3"], ["p", "p", pd.NA], "t")
    assert not np.isnan(out[0]) and np.isnan(out[1]) and np.isnan(out[2])
    con = duckdb.connect()
    sql = draw_sql("42", exp.Null(), "p", "t").sql("duckdb")
    assert con.execute("select " + sql).fetchone()[0] is None


def test_vectorized_refuses_ragged_columns() -> None:
    with pytest.raises(ValueError):
        draws("42", ["a", "b"], ["p"], "t")


def test_draws_are_in_unit_interval_and_roughly_uniform() -> None:
    n = 20000
    u = draws("42", [f"v{i}" for i in range(n)], "pv", "t")
    assert u.min() >= 0.0 and u.max() < 1.0
    counts, _ = np.histogram(u, bins=10, range=(0.0, 1.0))
    # chi-square with 9 d.o.f.: the 0.999 quantile is 27.9
    chi2 = (((counts - n / 10) ** 2) / (n / 10)).sum()
    assert chi2 < 27.9
    assert abs(u.mean() - 0.5) < 0.01


def test_max_prefix_stays_below_one() -> None:
    # The largest 13-digit prefix maps to 1 - 2^-52, never 1.
    assert int("f" * 13, 16) / 2**52 < 1.0
    con = duckdb.connect()
    assert con.execute("select ('0x' || 'fffffffffffff')::BIGINT").fetchone()[0] == 2**52 - 1


def test_integer_seed_column_hashes_its_decimal_text() -> None:
    con = duckdb.connect()
    sql = draw_sql(exp.cast(exp.Literal.number(42), "BIGINT"), "v", "p", "t").sql("duckdb")
    assert con.execute("select " + sql).fetchone()[0] == draw(42, "v", "p", "t")


def test_spark_rendering_uses_md5_and_conv() -> None:
    cols = [exp.column(c) for c in ("seed", "visitor_id", "page_view_id", "trigger_id")]
    text = draw_sql(*cols, dialect="spark").sql("spark")
    assert "MD5(" in text and "CONV(" in text and "SUBSTRING(" in text
    assert "AS BIGINT" in text and "AS DOUBLE" in text
    assert "0x" not in text
    # DuckDB's rendering uses the '0x' cast instead of CONV (absent in DuckDB).
    assert "CONV(" not in draw_sql(*cols).sql("duckdb")


def test_unknown_dialect_is_refused() -> None:
    with pytest.raises(UnsupportedOperatorError):
        draw_sql("1", "v", "p", "t", dialect="postgres")


def test_sample_python_and_duckdb_agree(keys_frame: pd.DataFrame) -> None:
    con = duckdb.connect()
    visitors = pd.DataFrame({"visitor_id": keys_frame["visitor_id"].unique()})
    con.register("visitors", visitors)
    vid = exp.column("visitor_id")
    query = exp.select(
        vid, sample_draw_sql(vid, "42").as_("s"), in_sample_sql(vid, 0.3, "42").as_("inside")
    ).from_("visitors")
    rows = con.execute(query.sql("duckdb")).fetchall()
    assert len(rows) == len(visitors)
    for visitor, s, inside in rows:
        assert _bits(s) == _bits(sample_draw(visitor, "42"))
        assert inside == in_sample(visitor, 0.3, "42")


def test_sample_share_nested_and_independent_of_gating() -> None:
    visitors = [f"visitor-{i}" for i in range(10000)]
    small = {v for v in visitors if in_sample(v, 0.1, "9")}
    large = {v for v in visitors if in_sample(v, 0.2, "9")}
    assert small <= large
    assert abs(len(small) / 10000 - 0.1) < 0.015
    assert abs(len(large) / 10000 - 0.2) < 0.02
    assert sample_draw("v1", "9") != u_from_key("9|v1")


@pytest.mark.parametrize("fraction", [-0.1, 1.5, "0.5", True, float("nan")])
def test_bad_fraction_is_a_config_error(fraction: object) -> None:
    with pytest.raises(ConfigError):
        in_sample("v", fraction, "1")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        in_sample_sql(exp.column("v"), fraction, "1")  # type: ignore[arg-type]


def test_sample_fraction_as_placeholder_rebinds_in_duckdb() -> None:
    con = duckdb.connect()
    pred = in_sample_sql(exp.Literal.string("v1"), exp.Placeholder(this="fraction"), "42")
    sql = "select " + pred.sql("duckdb")
    assert con.execute(sql, {"fraction": 1.0}).fetchone()[0] is True
    assert con.execute(sql, {"fraction": 0.0}).fetchone()[0] is False
