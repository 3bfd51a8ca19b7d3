"""Non-finite numbers never reach the engines: refused in configurations with their path.

As Python data (``float("nan")``), as JSON constants (``NaN``, ``Infinity``, ``1e400``)
and as text where a number is expected (``"inf"`` for a number criterion), in criteria,
expressions and saved groups.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from engage_lab.config import Config
from engage_lab.errors import ConfigError


def _data(criteria=(), expression: Any = None, saved_groups: Any = None) -> dict[str, Any]:
    trigger: dict[str, Any] = {
        "id": "t",
        "label": "T",
        "criteria": list(criteria),
        "actions": [{"type": "show_item", "item": "b1"}],
    }
    if expression is not None:
        trigger["expression"] = expression
    return {
        "schema_version": 1,
        "source": {"mode": "live_chat"},
        "catalog": {"buttons": [{"id": "b1", "label": "B1"}]},
        "custom_variables": {"custom_cart": {"type": "number"}},
        "saved_groups": saved_groups or {},
        "triggers": [trigger],
    }


def _problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        Config.from_dict(data)
    return str(info.value).splitlines()[1:]


@pytest.mark.parametrize("text", ["inf", "-inf", "nan", "Infinity", " NaN ", "1e400", "+inf"])
@pytest.mark.parametrize(
    ("criterion", "operator"),
    [
        ("visit_count", "gte"),
        ("page_visit_duration", "lte"),
        ("hour", "is"),
        ("custom_cart", "is"),
    ],
)
def test_text_that_reads_as_a_non_finite_number_is_refused(criterion, operator, text):
    criteria = [{"criterion": criterion, "operator": operator, "value": text}]
    problems = _problems(_data(criteria))
    assert len(problems) == 1
    assert problems[0].startswith("triggers[0].criteria[0].value: ")


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_non_finite_python_numbers_are_refused_with_their_path(number):
    expression = {"page.count": {"$in": [1, number]}}
    assert _problems(_data(expression=expression)) == [
        'triggers[0].expression["page.count"]["$in"][1]: must be a finite number'
    ]
    criteria = [{"criterion": "visit_count", "operator": "gte", "value": number}]
    assert _problems(_data(criteria)) == ["triggers[0].criteria[0].value: must be a finite number"]
    groups = {"g": [1, number]}
    problems = _problems(_data(expression={"page.count": {"$inGroup": "g"}}, saved_groups=groups))
    assert problems and all(p.startswith("saved_groups.g") for p in problems)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_json_constants_are_refused_with_their_path(constant):
    text = json.dumps(_data(expression={"page.count": {"$gt": 1}})).replace(
        '"$gt": 1', f'"$gt": {constant}'
    )
    with pytest.raises(ConfigError) as info:
        Config.from_json(text)
    line = str(info.value).splitlines()[1]
    assert line.startswith(f'triggers[0].expression["page.count"]["$gt"]: {constant} ')
