"""Regexes: RE2 in every engine, linear in the text, one accepted language.

The reference evaluator, the SQL compilers (DuckDB's RE2) and the validator read a
pattern alike; where Python's ``re`` reads it otherwise, RE2 (DuckDB) wins.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import warnings

import duckdb
import pytest
from growthbook.core import evalCondition
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_lab.conditions import check_regex, evaluate
from engage_lab.conditions.regex import re2_problem, regex_finds
from tests.conditions.sql_harness import run_expressions

# (pattern, text): Python's re and RE2 answer differently; RE2's answer is DuckDB's
PYTHON_RE_DIFFERS = [
    ("\\w", "é"),  # RE2's \w, \d, \s, \b are ASCII
    ("\\d", "٣"),
    ("\\s", "\u00a0"),
    ("\\bé", "é"),
    ("b$", "ab\n"),  # RE2's $ is the end of the text, not before a final newline
    ("a{,3}", "b"),  # RE2 reads {,3} as text; Python 3.11 as {0,3}
]


def _duckdb_finds(pattern: str, text: str) -> bool:
    con = duckdb.connect()
    return con.execute("SELECT regexp_matches($t, $p)", {"t": text, "p": pattern}).fetchone()[0]


@pytest.mark.parametrize(("pattern", "text"), PYTHON_RE_DIFFERS)
def test_every_engine_reads_a_pattern_as_duckdb_does(pattern, text):
    expected = _duckdb_finds(pattern, text)
    assert regex_finds(pattern, text) is expected
    cond = {"a": {"$regex": pattern}}
    assert evaluate(cond, {"a": text}) is expected
    assert run_expressions([(cond, {"a": text})]) == [expected]


def test_the_listed_cases_really_differ_in_python():
    # the cases above would pass trivially if Python's re agreed with RE2 on them
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        differ = [
            (p, t) for p, t in PYTHON_RE_DIFFERS if bool(re.search(p, t)) != _duckdb_finds(p, t)
        ]
    assert differ == PYTHON_RE_DIFFERS


def test_case_insensitive_operators_prefix_the_pattern_as_the_sql_does():
    assert evaluate({"a": {"$regexi": "^CAFÉ$"}}, {"a": "café"}) is True
    assert evaluate({"a": {"$notRegexi": "^CAFÉ$"}}, {"a": "café"}) is False
    assert run_expressions([({"a": {"$regexi": "^CAFÉ$"}}, {"a": "café"})]) == [True]


def test_catastrophic_backtracking_patterns_run_in_linear_time():
    # Python's re needs about 2**n steps for these on an n-character text; this test
    # would not finish. RE2 answers at once; the subprocess bound is generous.
    code = textwrap.dedent(
        """
        from engage_lab.conditions import evaluate
        url = "https://shop.example/products/category/item-1234/detail?x=1" * 20
        conds = [
            {"page.url": {"$regex": r"^([\\w./:-]+)*!$"}},
            {"page.url": {"$notRegexi": r"^(a|a?)+(\\w|\\w\\w)*$" }},
            {"visit.urls": {"$elemMatch": {"$regex": r"^(.*)*(.*)*!$"}}},
        ]
        attributes = {"page": {"url": url}, "visit": {"urls": [url] * 50}}
        print([evaluate(c, attributes) for c in conds])
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.split() == ["[False,", "True,", "False]"]


@pytest.mark.parametrize(
    "pattern",
    ["a(?=b)", "(?<=a)b", "(?!x)", "(a)\\1", "a*+", "(?>a)", "(?<n>a)", "(", "[a", "x{1001}"],
)
def test_a_pattern_re2_refuses_matches_nothing_everywhere_and_the_validator_says_why(pattern):
    assert re2_problem(pattern) is not None
    assert check_regex(pattern).startswith(
        (f"{pattern} is not accepted by RE2 (", f"{pattern} does not compile in RE2 (")
    )
    attrs = {"a": "ab"}
    assert evaluate({"a": {"$regex": pattern}}, attrs) is False
    assert evaluate({"a": {"$notRegex": pattern}}, attrs) is True
    assert run_expressions(
        [({"a": {"$regex": pattern}}, attrs), ({"a": {"$notRegex": pattern}}, attrs)]
    ) == [False, True]


def test_regex_operators_on_values_that_are_not_strings_follow_the_sdk():
    for value in (5, None, True, ["a"], {"a": 1}):
        assert evaluate({"a": {"$regex": "."}}, {"a": value}) is False
        assert evaluate({"a": {"$notRegex": "."}}, {"a": value}) is True
    assert evaluate({"a": {"$regex": 5}}, {"a": "5"}) is False
    assert regex_finds("a", "\ud800a") is None  # a lone surrogate is no UTF-8 text


# Small patterns over a tiny alphabet with RE2 / Python differences in reach.
TOKENS = ["a", "b", "é", "\\w", "\\d", "\\s", "\\b", ".", "^", "$", "|", "(", ")", "*", "+"]
TOKENS += ["?", "[ab]", "[^a]", "{2}", "{,2}", "(?i)", "(?=a)", "\\1", "A", "\n", "٣"]
PATTERNS = st.lists(st.sampled_from(TOKENS), max_size=6).map("".join)
TEXTS = st.text(alphabet="abAé٣ \n\u00a0", max_size=6)


@settings(max_examples=60, deadline=None)
@given(pairs=st.lists(st.tuples(PATTERNS, TEXTS, st.booleans()), min_size=20, max_size=20))
def test_reference_and_duckdb_agree_on_any_pattern(pairs):
    conds = [({"a": {"$regexi" if i else "$regex": p}}, {"a": t}) for p, t, i in pairs]
    expected = run_expressions(conds)
    assert [evaluate(c, a) for c, a in conds] == expected


@pytest.mark.parametrize(("pattern", "text"), PYTHON_RE_DIFFERS)
def test_where_python_re_and_re2_differ_the_python_sdk_is_not_followed(pattern, text):
    # The GrowthBook Python SDK evaluates with Python's re; these are the documented
    # exceptions to "agree with the SDK on any condition": DuckDB's RE2 wins, so the
    # two engines agree with each other and stay linear in time.
    cond, attributes = {"a": {"$regex": pattern}}, {"a": text}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sdk = evalCondition(attributes, cond)
    assert evaluate(cond, attributes) is _duckdb_finds(pattern, text) is (not sdk)
