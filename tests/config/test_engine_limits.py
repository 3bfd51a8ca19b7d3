"""The validator's limits against the engines' own: the largest accepted value of every
bounded field replays on both engines, identically and without error; the smallest
refused one is refused with its JSON path. If an engine's arithmetic or recursion
changes, these tests say so before a user's configuration does."""

from __future__ import annotations

import copy
import json
import math
import resource
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from engage_lab.config import Config
from engage_lab.config.limits import (
    MAX_DURATION_MS,
    MAX_DURATION_SECONDS,
    MAX_ELEM_MATCH_NESTING,
    MAX_NESTING,
    MAX_NUMBER,
    MAX_QUEUING_FACTOR,
    nesting_depth,
)
from tests.engine.support import check_world
from tests.reference.builders import World, chat, config_data, crit, item, trig

GATED = {"only_if_agents_available": True}


def _world() -> World:
    """Two visitors with gated triggers, a number variable, an agent and a served and an
    unserved engagement, so durations, caps, policies and thresholds are all read."""
    w = World()
    w.agent("a1", 2)
    w.page("p1", 0, 200, path="/cart")
    w.var("p1", "custom_cart", 120, 5)
    w.page("p2", 210, 400, path="/pricing")
    w.web_chat("c1", "p1", 30, 35, 90, "served", agent="a1")
    w.page("q1", 1000, 1300, visitor="v2", path="/help")
    w.web_chat("c2", "q1", 1010, None, None, "unserved", visitor="v2")
    return w


def _not_chain(levels: int) -> dict[str, Any]:
    """An expression of exactly ``levels`` levels: ``$not`` around ``$not`` … a field."""
    expression: dict[str, Any] = {"page.path": {"$exists": True}}
    for _ in range(levels - 2):
        expression = {"$not": expression}
    assert nesting_depth(expression) == levels
    return expression


def _or_chain(levels: int) -> dict[str, Any]:
    """An expression of exactly ``levels`` levels (odd or even) built from ``$or`` lists."""
    expression: dict[str, Any] = {"page.path": {"$exists": True}}
    depth = 2
    while depth + 2 <= levels:
        expression = {"$or": [expression, {"page.count": {"$gte": 1}}]}
        depth += 2
    if depth < levels:
        expression = {"$not": expression}
    assert nesting_depth(expression) == levels, nesting_depth(expression)
    return expression


def _array_chain(levels: int) -> dict[str, Any]:
    """A test whose ``$elemMatch`` / ``$all`` nest exactly ``levels`` deep, true on any
    non-empty list of strings: the outer ``$elemMatch`` negates what the next level reads
    of a string element (false), so every level is compiled and the trigger fires."""
    test: dict[str, Any] = {"$eq": "/x"}
    for k in range(levels):
        outer = k % 2 == (levels - 1) % 2
        test = {"$elemMatch": {"$not": test}} if outer else {"$all": [test]}
    return test


def _at_the_limits() -> dict[str, Any]:
    """A configuration whose every bounded field holds its largest accepted value."""
    return config_data(
        trig(
            "t-reserve",
            item("b1"),
            criteria=[
                crit("page_visit_duration", "lte", MAX_DURATION_SECONDS),
                crit("custom_cart", "gte", -MAX_NUMBER),
                crit("visit_count", "lte", MAX_NUMBER),
            ],
            server_probability={"policy": "reserve", "k": MAX_NUMBER},
            extensions={
                "max_executions_per_visitor": MAX_NUMBER,
                "min_seconds_between_executions": MAX_DURATION_SECONDS,
            },
            **GATED,
        ),
        trig(
            "t-product",
            item("i1"),
            criteria=[
                crit("visit_duration", "gte", 1),
                crit("page_visit_count", "lte", MAX_NUMBER),
            ],
            queuing_factor=MAX_QUEUING_FACTOR,
            **GATED,
        ),
        trig(
            "t-curve",
            chat(),
            server_probability={
                "policy": "curve",
                "over": "free_slots",
                "points": [[-MAX_NUMBER, 0], [0, 0.5], [MAX_NUMBER, 1]],
            },
            expression={
                "page.duration": {"$lt": MAX_DURATION_SECONDS, "$gt": -MAX_DURATION_SECONDS},
                "visit.duration": {"$gte": 1.5},
                "vars.custom_cart": {"$lt": MAX_NUMBER},
                "page.count": {"$lte": MAX_NUMBER, "$gt": -MAX_NUMBER},
            },
            **GATED,
        ),
        trig(
            "t-unreachable",
            item("b2"),
            criteria=[crit("visit_duration", "gte", MAX_DURATION_SECONDS)],
        ),
        trig("t-not-chain", item("b2"), expression=_not_chain(MAX_NESTING)),
        trig("t-or-chain", item("i1"), expression=_or_chain(MAX_NESTING)),
        trig(
            "t-elem-chain",
            item("b1"),
            expression={"visit.paths": _array_chain(MAX_ELEM_MATCH_NESTING)},
        ),
        visit_idle=f"{MAX_DURATION_MS}ms",
        impossibility_delay=MAX_DURATION_MS / 1000,
        queuing_factor=MAX_QUEUING_FACTOR,
    )


def test_the_largest_accepted_values_replay_identically_on_both_engines():
    data = _at_the_limits()
    cfg = Config.from_dict(data)
    assert cfg.source.visit_idle_ms == MAX_DURATION_MS
    assert cfg.source.impossibility_delay_ms == MAX_DURATION_MS
    events = check_world(_world(), cfg)  # both engines, identical frames
    fired = set(events["trigger_id"].dropna())
    # the limits were read, not skipped: the reachable triggers ran, the unreachable did not
    assert {"t-reserve", "t-curve", "t-not-chain", "t-or-chain", "t-elem-chain"} <= fired
    assert "t-unreachable" not in fired


def _set(data: dict[str, Any], path: list[str | int], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    here: Any = data
    for key in path[:-1]:
        here = here[key]
    here[path[-1]] = value
    return data


def _above(value: int | float) -> int | float:
    """The smallest number beyond ``value`` that JSON can carry as the same type."""
    return value + 1 if isinstance(value, int) else math.nextafter(value, math.inf)


#: (JSON path as data, the largest accepted value, the path as messages write it)
BOUNDED = [
    (["source", "visit_idle"], MAX_DURATION_MS / 1000, "source.visit_idle"),
    (["source", "impossibility_delay"], MAX_DURATION_MS / 1000, "source.impossibility_delay"),
    (["source", "queuing_factor"], MAX_QUEUING_FACTOR, "source.queuing_factor"),
    (["triggers", 1, "queuing_factor"], MAX_QUEUING_FACTOR, "triggers[1].queuing_factor"),
    (["triggers", 0, "server_probability", "k"], MAX_NUMBER, "triggers[0].server_probability.k"),
    (
        ["triggers", 0, "extensions", "max_executions_per_visitor"],
        MAX_NUMBER,
        "triggers[0].extensions.max_executions_per_visitor",
    ),
    (
        ["triggers", 0, "extensions", "min_seconds_between_executions"],
        MAX_DURATION_SECONDS,
        "triggers[0].extensions.min_seconds_between_executions",
    ),
    (
        ["triggers", 0, "criteria", 0, "value"],
        MAX_DURATION_SECONDS,
        "triggers[0].criteria[0].value",
    ),
    (["triggers", 0, "criteria", 2, "value"], MAX_NUMBER, "triggers[0].criteria[2].value"),
    (
        ["triggers", 2, "expression", "page.duration", "$lt"],
        MAX_DURATION_SECONDS,
        'triggers[2].expression["page.duration"]["$lt"]',
    ),
    (
        ["triggers", 2, "expression", "page.count", "$lte"],
        MAX_NUMBER,
        'triggers[2].expression["page.count"]["$lte"]',
    ),
    (
        ["triggers", 2, "server_probability", "points", 2],
        [MAX_NUMBER, 1],
        "triggers[2].server_probability.points[2]",
    ),
]


@pytest.mark.parametrize(("path", "largest", "where"), BOUNDED, ids=[b[2] for b in BOUNDED])
def test_the_largest_value_is_accepted_and_the_next_one_refused_with_its_path(path, largest, where):
    data = _at_the_limits()
    assert Config.check(_set(data, path, largest)) == []
    beyond = [_above(largest[0]), largest[1]] if isinstance(largest, list) else _above(largest)
    found = Config.check(_set(data, path, beyond))
    assert len(found) == 1, found
    assert found[0].startswith(f"{where}: "), found
    assert "out of range" in found[0] or "longer than the longest duration" in found[0]


@pytest.mark.parametrize("chain", [_not_chain, _or_chain])
def test_one_level_past_the_nesting_limit_is_refused(chain):
    data = _at_the_limits()
    data["triggers"][4]["expression"] = chain(MAX_NESTING + 1)
    assert Config.check(data) == [
        f"triggers[4].expression: nests {MAX_NESTING + 1} levels of objects and arrays;"
        f" at most {MAX_NESTING} are allowed (merge nested $and / $or into one list)"
    ]


def test_one_level_past_the_elem_match_nesting_limit_is_refused_with_its_path():
    data = _at_the_limits()
    assert data["triggers"][6]["id"] == "t-elem-chain"
    data["triggers"][6]["expression"] = {"visit.paths": _array_chain(MAX_ELEM_MATCH_NESTING + 1)}
    found = Config.check(data)
    assert len(found) == 1, found
    where = 'triggers[6].expression["visit.paths"]' + ".$elemMatch.$not.$all[0]" * 3
    assert found[0] == (
        f"{where}.$elemMatch: $elemMatch makes {MAX_ELEM_MATCH_NESTING + 1} nested levels of $elemMatch / $all"
        f" / $alli; at most {MAX_ELEM_MATCH_NESTING} are allowed (DuckDB's query planning"
        " doubles with each level)"
    )


#: What the subprocess may map: the replay maps about 2.7 GB of address space (numba and
#: DuckDB reserve more than they touch) and keeps under 0.5 GB resident; nested
#: $elemMatch past the limit took 2.6 GB resident at 8 levels and 24 GB in one replay.
_ADDRESS_SPACE = 5 * 2**30


def test_conditions_at_the_elem_match_limit_replay_within_a_memory_limit():
    data = _at_the_limits()
    for k in range(3):  # more triggers at the limit: the cost adds up, it must stay small
        extra = copy.deepcopy(data["triggers"][6])
        extra["id"] = f"t-elem-{k}"
        data["triggers"].append(extra)
    script = textwrap.dedent(
        f"""
        import json, resource, sys
        resource.setrlimit(resource.RLIMIT_AS, ({_ADDRESS_SPACE}, {_ADDRESS_SPACE}))
        from engage_lab.config import Config
        from tests.config.test_engine_limits import _world
        from tests.engine.support import check_world
        events = check_world(_world(), Config.from_dict(json.loads(sys.stdin.read())))
        print(json.dumps(sorted(set(events["trigger_id"].dropna()))))
        """
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(data),
        capture_output=True,
        text=True,
        timeout=600,
        cwd=root,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    fired = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"t-elem-chain", "t-elem-0", "t-elem-1", "t-elem-2"} <= set(fired)
    assert resource.RLIMIT_AS is not None  # the limit the script set exists here too


def test_the_json_schema_states_the_same_maxima():
    from engage_lab.config import config_schema
    from tests.config.schema_check import errors

    schema = config_schema()
    data = _at_the_limits()
    assert errors(schema, data) == []
    for path, largest in (
        (["source", "queuing_factor"], MAX_QUEUING_FACTOR),
        (["source", "impossibility_delay"], MAX_DURATION_SECONDS),
        (["triggers", 0, "server_probability", "k"], MAX_NUMBER),
        (["triggers", 0, "extensions", "max_executions_per_visitor"], MAX_NUMBER),
        (["triggers", 0, "extensions", "min_seconds_between_executions"], MAX_DURATION_SECONDS),
    ):
        assert errors(schema, _set(data, path, largest)) == []
        assert errors(schema, _set(data, path, largest * 2)) != [], path
