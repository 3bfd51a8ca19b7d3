"""A ``Config`` is valid whenever it exists: no construction path, copy or mutation can
make one hold an invalid value (the bug: ``model_copy(update=...)`` accepted ``"twenty"``
as a threshold and wrote it out)."""

from __future__ import annotations

import copy
import pickle
import re
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

import engage_lab as el
from engage_lab.config import Config, Trigger
from tests.config.conftest import minimal_config

#: Pydantic's own location format (``triggers.1.criteria.0``), which users never see.
_PYDANTIC_LOC = re.compile(r"\.\d+(\.|\b)")


def _valid() -> Config:
    return Config.from_dict(minimal_config())


def _twenty() -> dict[str, Any]:
    data = minimal_config()
    data["triggers"][1]["criteria"][0]["value"] = "twenty"
    return data


def _assert_refused(error: el.ConfigError, where: str) -> None:
    assert any(p.startswith(f"{where}: ") for p in error.problems), error.problems
    assert not any(_PYDANTIC_LOC.search(p.split(": ")[0]) for p in error.problems)


#: Every way to build a Config from data, each given the "twenty" threshold.
BUILDERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "constructor": lambda data: Config(**data),
    "from_dict": Config.from_dict,
    "from_json": lambda data: Config.from_json(el.config.jsontext.canonical_json(data)),
    "model_validate": Config.model_validate,
    "model_validate_json": lambda data: Config.model_validate_json(
        el.config.jsontext.canonical_json(data)
    ),
    "model_construct": lambda data: Config.model_construct(**data),
    "model_copy(update=triggers)": lambda data: _valid().model_copy(
        update={"triggers": data["triggers"]}
    ),
    "model_copy(update=Trigger)": lambda data: _valid().model_copy(
        update={
            "triggers": [
                *_valid().triggers[:1],
                Trigger.model_validate(data["triggers"][1]),
                *_valid().triggers[2:],
            ]
        }
    ),
    "edit": lambda data: _valid().edit("triggers[1].criteria[0].value", "twenty"),
    "with_threshold": lambda data: _valid().with_threshold("t-cart", 0, "twenty"),
}


@pytest.mark.parametrize("how", list(BUILDERS))
def test_no_construction_path_accepts_an_invalid_threshold(how):
    with pytest.raises(el.ConfigError) as caught:
        BUILDERS[how](_twenty())
    _assert_refused(caught.value, "triggers[1].criteria[0].value")


@pytest.mark.parametrize("how", ["constructor", "model_validate", "model_construct"])
def test_structural_problems_also_name_json_paths(how):
    data = minimal_config()
    data["source"]["queuing_factor"] = "twenty"
    data["triggers"][2]["actions"][0] = {"type": "show_item", "item": 3}
    with pytest.raises(el.ConfigError) as caught:
        BUILDERS[how](data)
    assert caught.value.problems == [
        "source.queuing_factor: must be a number",
        "triggers[2].actions[0].item: must be a string",
    ]


def test_a_sub_model_copy_is_validated_too():
    trigger = _valid().trigger("t-cart")
    with pytest.raises(el.ConfigError) as caught:
        trigger.model_copy(update={"label": 20})
    assert caught.value.problems == ["label: must be a string"]
    with pytest.raises(el.ConfigError):
        trigger.model_copy(update={"no_such_key": 1})
    assert trigger.model_copy(update={"label": "New"}).label == "New"


def test_a_valid_update_gives_a_config_that_writes_what_it_holds():
    cfg = _valid()
    updated = cfg.model_copy(update={"source": {"mode": "live_chat", "queuing_factor": 0.5}})
    assert isinstance(updated, Config)
    assert updated.source.queuing_factor == 0.5
    assert '"queuing_factor": 0.5' in updated.to_json()
    assert Config.from_json(updated.to_json()) == updated
    assert cfg.source.queuing_factor == 0  # the original is untouched


def test_an_update_cannot_add_an_unknown_key():
    with pytest.raises(el.ConfigError) as caught:
        _valid().model_copy(update={"trigers": []})
    assert caught.value.problems == ["trigers: unknown key; did you mean triggers?"]


def test_model_construct_of_valid_data_equals_from_dict():
    assert Config.model_construct(**minimal_config()) == _valid()


#: Every in-place change a caller might try on a loaded configuration.
MUTATIONS: dict[str, Callable[[Config], Any]] = {
    "assign a field": lambda c: setattr(c, "source", None),
    "assign a nested field": lambda c: setattr(c.source, "queuing_factor", "twenty"),
    "assign a trigger field": lambda c: setattr(c.triggers[1], "label", 20),
    "set a criterion value": lambda c: c.triggers[1].criteria[0].__setitem__("value", "twenty"),
    "append a trigger": lambda c: c.triggers.append(c.triggers[0]),
    "extend triggers": lambda c: c.triggers.extend([]),
    "insert a trigger": lambda c: c.triggers.insert(0, c.triggers[0]),
    "replace a trigger": lambda c: c.triggers.__setitem__(0, "twenty"),
    "delete a trigger": lambda c: c.triggers.__delitem__(0),
    "pop a trigger": lambda c: c.triggers.pop(),
    "remove a trigger": lambda c: c.triggers.remove(c.triggers[0]),
    "clear triggers": lambda c: c.triggers.clear(),
    "sort triggers": lambda c: c.triggers.sort(key=lambda t: t.id),
    "reverse triggers": lambda c: c.triggers.reverse(),
    "add to triggers in place": lambda c: c.triggers.__iadd__([c.triggers[0]]),
    "pop an action": lambda c: c.triggers[0].actions.pop(),
    "clear criteria": lambda c: c.triggers[1].criteria.clear(),
    "pop a button": lambda c: c.catalog.buttons.pop(),
    "declare a variable": lambda c: c.custom_variables.__setitem__("custom_x", None),
    "update variables": lambda c: c.custom_variables.update({}),
    "delete a variable": lambda c: c.custom_variables.__delitem__("custom_cart_amount"),
    "setdefault a group": lambda c: c.saved_groups.setdefault("x", []),
    "append to a saved group": lambda c: c.saved_groups["vip"].append(1e400),
    "merge groups in place": lambda c: c.saved_groups.__ior__({"x": []}),
}


@pytest.mark.parametrize("how", list(MUTATIONS))
def test_no_in_place_change_reaches_a_config(how):
    cfg = _valid()
    before = cfg.to_json()
    with pytest.raises((TypeError, ValidationError)):
        MUTATIONS[how](cfg)
    assert cfg.to_json() == before
    assert Config.check(cfg.to_dict()) == []


def test_copies_and_pickles_stay_immutable_and_equal():
    cfg = _valid()
    for twin in (copy.copy(cfg), copy.deepcopy(cfg), cfg.model_copy(deep=True)):
        assert twin == cfg
        with pytest.raises(TypeError):
            twin.triggers.append(twin.triggers[0])
    restored = pickle.loads(pickle.dumps(cfg))
    assert restored == cfg and hash(restored) == hash(cfg)
    with pytest.raises(TypeError):
        restored.triggers[1].criteria[0]["value"] = "twenty"


def test_the_callers_data_is_not_shared():
    data = minimal_config()
    cfg = Config.from_dict(data)
    data["triggers"][1]["criteria"][0]["value"] = "twenty"
    assert cfg.trigger("t-cart").criteria[0]["value"] == 100


def test_read_only_containers_still_read_as_lists_and_dicts():
    cfg = _valid()
    assert isinstance(cfg.triggers, list) and isinstance(cfg.saved_groups, dict)
    assert cfg.triggers[1].criteria == minimal_config()["triggers"][1]["criteria"]
    assert [t.id for t in cfg.triggers] == ["t-button", "t-cart", "t-open"]
