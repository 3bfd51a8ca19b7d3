"""docs/configuration.md covers every field, criterion, position, operator and action."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from engage_lab.config import models
from engage_lab.config.history import ConfigHistory, HistoryEntry
from engage_lab.config.reference import BEGIN, END, field_tables_markdown
from engage_lab.config.schema import CRITERION_IDS, OPERATORS, POSITIONS

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _all_models() -> list[type[BaseModel]]:
    found = [
        value
        for value in vars(models).values()
        if isinstance(value, type)
        and issubclass(value, models._Model)
        and value is not models._Model
    ]
    return [*found, ConfigHistory, HistoryEntry]


def test_generated_reference_is_up_to_date(doc):
    start, end = doc.index(BEGIN), doc.index(END) + len(END)
    assert doc[start:end] == field_tables_markdown(), (
        "run: python -m engage_lab.config.reference docs/configuration.md"
    )


@pytest.mark.parametrize("model", _all_models(), ids=lambda m: m.__name__)
def test_every_model_field_is_documented_by_hand_and_in_the_reference(doc, model):
    hand_written = doc[: doc.index(BEGIN)]
    reference = doc[doc.index(BEGIN) :]
    for name in model.model_fields:
        assert f"`{name}`" in reference, f"{model.__name__}.{name} missing from the reference"
        assert re.search(rf"\b{name}\b", hand_written), (
            f"{model.__name__}.{name} never explained in the hand-written part"
        )


def test_every_field_has_a_description():
    for model in _all_models():
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no docstring"


@pytest.mark.parametrize("word", [*CRITERION_IDS, *POSITIONS, *OPERATORS, "custom_<name>"])
def test_every_criterion_position_and_operator_is_documented(doc, word):
    assert f"`{word}`" in doc


@pytest.mark.parametrize(
    "word",
    [
        "show_chat_minimized",
        "show_and_open_chat",
        "show_item",
        "automatic_message",
        "hide_other_elements",
        "product",
        "reserve",
        "curve",
        "occupancy",
        "free_slots",
        "live_chat",
        "messaging",
        "floating",
        "embedded",
    ],
)
def test_every_action_policy_and_setting_value_is_documented(doc, word):
    assert f"`{word}`" in doc


def test_each_documented_example_file_exists(doc):
    named = set(re.findall(r"`((?:production|variant|history)-[a-z-]+\.json)`", doc))
    shipped = {p.name for p in (DOC.parents[1] / "data" / "configs").glob("*.json")}
    assert named == shipped


def _json_blocks(doc: str) -> list[str]:
    return re.findall(r"```json\n(.*?)```", doc, flags=re.S)


def test_the_small_example_in_the_docs_is_valid(doc):
    from engage_lab.config import Config

    first = _json_blocks(doc)[0]
    cfg = Config.from_json(first)
    assert [t.id for t in cfg.triggers] == ["fixed-help-button", "cart-invitation"]


def test_the_documented_criterion_examples_are_valid(doc):
    import json

    from engage_lab.conditions import check_criteria

    declared = {"custom_cart_amount": "number", "custom_logged_in": "boolean"}
    lines = [
        line
        for block in _json_blocks(doc)
        for line in block.splitlines()
        if line.startswith('{"criterion"')
    ]
    assert len(lines) >= 6
    for line in lines:
        assert check_criteria([json.loads(line)], declared, "c") == [], line


def test_the_documented_snippets_are_json(doc):
    import json

    for block in _json_blocks(doc)[1:]:
        text = block.strip()
        if text.startswith('"'):  # a fragment of an object: wrap it
            text = "{" + text + "}"
        if text.startswith('{"criterion"'):
            continue  # one criterion a line, checked above
        json.loads(text)
    # the expression example passes the expression checks
    from engage_lab.conditions import check_expression

    expression = next(b for b in _json_blocks(doc) if b.startswith('"expression"'))
    data = json.loads("{" + expression + "}")["expression"]
    assert check_expression(data, {"premium_plans": ["business"]}, "e") == []


def _section(doc: str, title: str) -> str:
    start = doc.index(f"## {title}\n")
    end = doc.index("\n## ", start + 1)
    return doc[start:end]


def test_the_editing_examples_run_and_their_messages_are_real(doc, monkeypatch):
    import engage_lab as el

    monkeypatch.chdir(DOC.parents[1])
    section = _section(doc, "Editing a configuration from Python")
    code = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    names: dict = {}
    exec(code, names)  # every documented edit is valid on the shipped configuration
    tuned = names["tuned"]
    assert tuned.source.queuing_factor == 0.5
    assert tuned.trigger("cart-invitation").criteria[2]["value"] == 200
    cfg = names["cfg"]
    with pytest.raises(el.ConfigError) as caught:
        cfg.with_threshold("cart-invitation", 2, "twenty")
    assert str(caught.value) in section
    reserve = cfg.with_policy("cart-invitation", {"policy": "reserve", "k": 2})
    with pytest.raises(el.ConfigError) as caught:
        reserve.with_gating("cart-invitation", False)
    assert caught.value.problems[0] in section


def test_the_documented_limits_are_the_validators(doc):
    from engage_lab.config import Config
    from engage_lab.config.limits import MAX_NESTING, MAX_NUMBER, MAX_QUEUING_FACTOR

    section = _section(doc, "Validation")
    assert f"±{MAX_NUMBER}" in section
    assert f"0 to {MAX_QUEUING_FACTOR:,}" in section
    assert f"at most {MAX_NESTING} levels" in section
    for line in re.search(r"### Limits.*?```\n(.*?)```", section, flags=re.S).group(1).splitlines():
        assert line.split(": ")[0], line  # each example names a path
    examples = "\n".join(Config.check({"schema_version": 1, "source": {"mode": "live_chat",
        "visit_idle": 1e16, "queuing_factor": 1e20}, "triggers": [{"id": "t", "label": "T",
        "actions": [{"type": "show_chat_minimized"}]}]}))  # fmt: skip
    for problem in examples.splitlines():
        assert problem in section
