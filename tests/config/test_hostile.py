"""Hostile configurations: numbers an engine cannot hold and nesting no walk survives are
refused by the validator, with the JSON path and the allowed range, through every door
(Python data, JSON text, a file, the command line), never with a traceback.

Each case is one mutation of the small valid configuration of conftest.py: the value
set at a path as Python data and as JSON text (``1e400`` and ``NaN`` are JSON text that
Python reads as infinity and not-a-number), and the path the one problem must name.
"""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

import engage_lab as el
from engage_lab.cli import main
from engage_lab.config import Config, ConfigHistory
from engage_lab.config.limits import MAX_DOCUMENT_DEPTH, MAX_NESTING
from tests.config.conftest import minimal_config

_SENTINEL = "@@hostile@@"


def _nested(levels: int, operator: str) -> dict[str, Any]:
    """``operator`` wrapped ``levels`` times around a field condition (built iteratively)."""
    expression: dict[str, Any] = {"page.path": "/x"}
    for _ in range(levels):
        expression = {operator: expression} if operator == "$not" else {operator: [expression]}
    return expression


def _curve(x: Any) -> dict[str, Any]:
    return {"policy": "curve", "over": "free_slots", "points": [[x, 0.5]]}


#: (case id, where the value goes, the value as Python data, the value as JSON text or
#: None for json.dumps of the data, the path the one problem names, a word it contains)
CASES: list[tuple[str, list[Any], Any, str | None, str, str]] = [
    ("1e400 queuing factor", ["source", "queuing_factor"], math.inf, "1e400",
     "source.queuing_factor", "finite|out of range"),
    ("-1e400 threshold", ["triggers", 1, "criteria", 0, "value"], -math.inf, "-1e400",
     "triggers[1].criteria[0].value", "finite|out of range"),
    ("NaN threshold", ["triggers", 1, "criteria", 0, "value"], math.nan, "NaN",
     "triggers[1].criteria[0].value", "finite|not a JSON number"),
    ("Infinity duration", ["source", "visit_idle"], math.inf, "Infinity",
     "source.visit_idle", "finite|not a JSON number"),
    ("1e308 s visit idle", ["source", "visit_idle"], 1e308, None, "source.visit_idle",
     "2**53 ms"),
    ("1e16 s impossibility delay", ["source", "impossibility_delay"], 1e16, None,
     "source.impossibility_delay", "2**53 ms"),
    ("1e11 weeks impossibility delay", ["source", "impossibility_delay"], "100000000000 weeks",
     None, "source.impossibility_delay", "2**53 ms"),
    ("1e20 queuing factor", ["source", "queuing_factor"], 1e20, None, "source.queuing_factor",
     "[0, 1000000]"),
    ("1e20 trigger queuing factor", ["triggers", 1, "queuing_factor"], 1e20, None,
     "triggers[1].queuing_factor", "[0, 1000000]"),
    ("5,000-digit queuing factor", ["source", "queuing_factor"], 10**4999, "1" + "0" * 4999,
     "source.queuing_factor", "5,000-digit"),
    ("5,000-digit threshold", ["triggers", 1, "criteria", 0, "value"], 10**4999,
     "1" + "0" * 4999, "triggers[1].criteria[0].value", "5,000-digit"),
    ("1e30 reserve", ["triggers", 1, "server_probability"], {"policy": "reserve", "k": 10**30},
     None, "triggers[1].server_probability.k", "31-digit"),
    ("1e30 reserve as a double", ["triggers", 1, "server_probability"],
     {"policy": "reserve", "k": 1e30}, None, "triggers[1].server_probability.k", "whole number"),
    ("1e30 execution cap", ["triggers", 1, "extensions"],
     {"max_executions_per_visitor": 10**30}, None,
     "triggers[1].extensions.max_executions_per_visitor", "out of range"),
    ("1e16 s between executions", ["triggers", 1, "extensions"],
     {"min_seconds_between_executions": 1e16}, None,
     "triggers[1].extensions.min_seconds_between_executions", "2**53 ms"),
    ("1e308 curve x", ["triggers", 1, "server_probability"], _curve(1e308), None,
     "triggers[1].server_probability.points[0]", "out of range"),
    ("1e400 curve x", ["triggers", 1, "server_probability"], _curve(math.inf),
     json.dumps(_curve(_SENTINEL)).replace(f'"{_SENTINEL}"', "1e400"),
     "triggers[1].server_probability.points[0]", "finite|out of range"),
    ("1e40 threshold", ["triggers", 1, "criteria", 0, "value"], 1e40, None,
     "triggers[1].criteria[0].value", "out of range"),
    ("1e16 s page visit duration", ["triggers", 1, "criteria", 0],
     {"criterion": "page_visit_duration", "operator": "gte", "value": 1e16}, None,
     "triggers[1].criteria[0].value", "seconds"),
    ("1e40 in an expression", ["triggers", 1, "expression"], {"page.count": {"$gt": 1e40}},
     None, 'triggers[1].expression["page.count"]["$gt"]', "out of range"),
    ("1e40 deep in an expression", ["triggers", 1, "expression"],
     {"$or": [{"visit.count": 1}, {"vars.custom_cart_amount": {"$in": [1, -1e40]}}]}, None,
     'triggers[1].expression["$or"][1]["vars.custom_cart_amount"]["$in"][1]', "out of range"),
    ("1e13 s page duration in an expression", ["triggers", 1, "expression"],
     {"page.duration": {"$gte": 1e13}}, None,
     'triggers[1].expression["page.duration"]["$gte"]', "seconds"),
    ("$not nested 300 times", ["triggers", 1, "expression"], _nested(300, "$not"), None,
     "triggers[1].expression", f"at most {MAX_NESTING}"),
    ("$or nested 300 times", ["triggers", 1, "expression"], _nested(300, "$or"), None,
     "triggers[1].expression", f"at most {MAX_NESTING}"),
    ("1e40 in a saved group", ["saved_groups", "vip"], ["gold", 1e40], None,
     "saved_groups.vip[1]", "out of range"),
    ("a saved group nested 100 levels", ["saved_groups", "vip"],
     json.loads("[" * 100 + "]" * 100), None, "saved_groups.vip", f"at most {MAX_NESTING}"),
]  # fmt: skip


def _with(path: list[Any], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(minimal_config())
    here: Any = data
    for key in path[:-1]:
        here = here[key]
    here[path[-1]] = value
    return data


def _text(path: list[Any], value: Any, text: str | None) -> str:
    if text is None:
        text = json.dumps(value)
    return json.dumps(_with(path, _SENTINEL)).replace(f'"{_SENTINEL}"', text)


def _one_problem(found: list[str], where: str, word: str) -> None:
    """One problem, at ``where`` (or an entry of it), saying one of the ``|``-separated words."""
    assert len(found) == 1, found
    assert re.match(re.escape(where) + r"(\[\d+\])?: ", found[0]), found
    assert any(w in found[0] for w in word.split("|")), found


@pytest.mark.parametrize(("case", "path", "value", "text", "where", "word"), CASES,
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_hostile_values_are_refused_with_their_path(case, path, value, text, where, word):
    # Python data (Config.from_dict, Config.model_validate) and JSON text (from_json)
    _one_problem(Config.check(_with(path, value)), where, word)
    with pytest.raises(el.ConfigError) as caught:
        Config.model_validate(_with(path, value))
    assert any(p.startswith(f"{where}: ") for p in caught.value.problems)
    if text is not None or not (isinstance(value, float) and not math.isfinite(value)):
        _one_problem(Config.check_json(_text(path, value, text)), where, word)


@pytest.mark.parametrize(("case", "path", "value", "text", "where", "word"), CASES[::4],
                         ids=[c[0] for c in CASES[::4]])  # fmt: skip
def test_hostile_values_in_a_history_name_the_entry(case, path, value, text, where, word):
    history = {"schema_version": 1, "history": [
        {"effective_at": "2026-03-01T00:00:00Z", "config": minimal_config()},
        {"effective_at": "2026-03-02T00:00:00Z", "config": _with(path, value)},
    ]}  # fmt: skip
    _one_problem(ConfigHistory.check(history), f"history[1].config.{where}", word)


def test_text_nested_past_the_parser_is_one_line():
    data = minimal_config()
    text = json.dumps(data).replace('"b-help"}]', '"b-help"}], "x": ' + "[" * 5000 + "]" * 5000, 1)
    found = Config.check_json(text)
    assert found == [
        "the JSON nests too deeply to read; a configuration's expressions, criteria and"
        f" saved groups nest at most {MAX_NESTING} levels"
    ]


def test_python_data_nested_thousands_of_levels_is_measured_not_recursed():
    deep = _nested(5000, "$not")
    assert Config.check(_with(["triggers", 1, "expression"], deep)) == [
        "triggers[1].expression: nests 5001 levels of objects and arrays; at most"
        f" {MAX_NESTING} are allowed (merge nested $and / $or into one list)"
    ]
    data = _with(["triggers", 1, "expression"], deep)
    for build in (lambda: Config(**data), lambda: Config.model_validate(data)):
        with pytest.raises(el.ConfigError) as caught:
            build()
        assert caught.value.problems[0].startswith("triggers[1].expression: nests 5001 levels")
    junk: Any = "live_chat"
    for _ in range(3000):
        junk = [junk]
    found = Config.check(_with(["source", "mode"], junk))
    assert found == [
        f"the configuration nests 3002 levels of objects and arrays; at most"
        f" {MAX_DOCUMENT_DEPTH} are allowed"
    ]


# --- the command line: one message, exit 1, never a traceback ---------------------------


@pytest.fixture(scope="module")
def empty_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("db") / "engage.duckdb"
    el.open(path).close()
    return path


_CLI_CASES = [c for c in CASES if c[0] in (
    "1e400 queuing factor", "NaN threshold", "5,000-digit threshold", "1e16 s impossibility delay",
    "1e30 reserve", "1e40 in an expression", "$or nested 300 times",
)]  # fmt: skip


@pytest.mark.parametrize(("case", "path", "value", "text", "where", "word"), _CLI_CASES,
                         ids=[c[0] for c in _CLI_CASES])  # fmt: skip
def test_the_cli_names_the_path_and_shows_no_traceback(
    case, path, value, text, where, word, tmp_path, empty_db, capsys
):
    hostile = tmp_path / "hostile.json"
    hostile.write_text(_text(path, value, text), encoding="utf-8")
    fine = tmp_path / "fine.json"
    fine.write_text(json.dumps(minimal_config()), encoding="utf-8")
    runs = [
        ["validate", str(hostile)],
        ["replay", str(hostile), "--db", str(empty_db)],
        ["compare", str(fine), str(hostile), "--db", str(empty_db), "--seed", "1"],
        ["generate", "--out", str(tmp_path / "world"), "--visitors", "2", "--seed", "1",
         "--config", str(hostile)],
    ]  # fmt: skip
    for argv in runs:
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 1, (argv, err)
        assert "Traceback" not in err, err
        assert f"{where}: " in err, (argv, err)


@pytest.mark.parametrize("levels", [300, 5000])
def test_a_history_holding_a_deep_expression_names_it_without_recursing(levels):
    config = _with(["triggers", 1, "expression"], _nested(levels, "$not"))
    history = {"schema_version": 1, "history": [
        {"effective_at": "2026-03-01T00:00:00Z", "config": config},
    ]}  # fmt: skip
    assert ConfigHistory.check(history) == [
        f"history[0].config.triggers[1].expression: nests {levels + 1} levels of objects and"
        f" arrays; at most {MAX_NESTING} are allowed (merge nested $and / $or into one list)"
    ]
