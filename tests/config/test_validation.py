"""Every validation rule: the problem names the JSON path and says what to do."""

from __future__ import annotations

import json

import pytest

import engage_lab as el
from engage_lab.config import Config


def problems(data) -> list[str]:
    return Config.check(data)


def only_problem(data) -> str:
    found = problems(data)
    assert len(found) == 1, found
    return found[0]


def test_the_minimal_configuration_is_valid(config_data):
    assert problems(config_data) == []
    cfg = Config.from_dict(config_data)
    assert [t.id for t in cfg.triggers] == ["t-button", "t-cart", "t-open"]


def test_no_triggers(config_data):
    config_data["triggers"] = []
    assert only_problem(config_data) == (
        "triggers: at least one trigger is required (a trigger with no criteria always matches)"
    )


def test_missing_required_keys_named_each():
    found = problems({"schema_version": 1})
    assert found == ["source: is required; add this key", "triggers: is required; add this key"]


def test_duplicate_trigger_ids(config_data):
    config_data["triggers"][2]["id"] = "t-button"
    assert only_problem(config_data) == (
        "triggers[2].id: duplicate trigger id 't-button' (also triggers[0]);"
        " give each trigger its own id"
    )


@pytest.mark.parametrize(
    ("where", "index", "also"),
    [("invitations", 0, "catalog.buttons[0]"), ("messages", 0, "catalog.buttons[0]")],
)
def test_duplicate_item_ids_across_lists(config_data, where, index, also):
    config_data["catalog"][where][index]["id"] = "b-help"
    found = problems(config_data)
    assert (
        f"catalog.{where}[{index}].id: duplicate item id 'b-help' (also {also}); ids are unique"
        " across buttons, invitations and messages"
    ) in found


def test_action_naming_an_unknown_item(config_data):
    config_data["triggers"][0]["actions"][0]["item"] = "b-nope"
    assert only_problem(config_data) == (
        "triggers[0].actions[0].item: unknown item 'b-nope';"
        " declare it in catalog.buttons or catalog.invitations"
    )


def test_action_naming_an_unknown_message(config_data):
    config_data["triggers"][1]["actions"][1]["message"] = "m-nope"
    assert only_problem(config_data) == (
        "triggers[1].actions[1].message: unknown message 'm-nope'; declare it in catalog.messages"
    )


def test_show_item_naming_a_message_and_message_naming_an_item(config_data):
    config_data["triggers"][0]["actions"][0]["item"] = "m-hello"
    config_data["triggers"][1]["actions"][1]["message"] = "i-cart"
    assert problems(config_data) == [
        "triggers[0].actions[0].item: 'm-hello' is an automatic message;"
        " use an automatic_message action for it",
        "triggers[1].actions[1].message: 'i-cart' is an invitation; use a show_item action for it",
    ]


def test_automatic_message_as_the_only_action(config_data):
    config_data["triggers"][2]["actions"] = [{"type": "automatic_message", "message": "m-hello"}]
    assert only_problem(config_data).startswith(
        "triggers[2].actions: an automatic message cannot be the only action; add show_and_open_chat"
    )


def test_automatic_message_with_only_hide_other_elements(config_data):
    config_data["triggers"][2]["actions"] = [
        {"type": "hide_other_elements"},
        {"type": "automatic_message", "message": "m-hello"},
    ]
    assert only_problem(config_data).startswith(
        "triggers[2].actions: an automatic message appears only with the chat"
    )


def test_no_actions(config_data):
    config_data["triggers"][2]["actions"] = []
    assert only_problem(config_data) == "triggers[2].actions: at least one action is required"


def test_unknown_action_type(config_data):
    config_data["triggers"][2]["actions"] = [{"type": "open_chat"}]
    assert only_problem(config_data) == (
        "triggers[2].actions[0]: unknown type 'open_chat'; use one of show_chat_minimized,"
        " show_and_open_chat, show_item, automatic_message, hide_other_elements"
    )


def test_action_missing_its_item(config_data):
    config_data["triggers"][0]["actions"] = [{"type": "show_item"}]
    assert only_problem(config_data) == "triggers[0].actions[0].item: is required; add this key"


# --- source ----------------------------------------------------------------------------


def test_unknown_mode_lists_the_choices(config_data):
    config_data["source"]["mode"] = "chat"
    assert only_problem(config_data) == "source.mode: must be one of live_chat, messaging"


def test_embedded_display_in_live_chat(config_data):
    config_data["source"]["display"] = "embedded"
    assert only_problem(config_data) == (
        "source.display: embedded display exists only in messaging mode; use floating in live_chat"
    )


def test_embedded_display_in_messaging_is_fine(config_data):
    config_data["source"] = {"mode": "messaging", "display": "embedded"}
    assert problems(config_data) == []


def test_impossibility_delay_in_messaging(config_data):
    config_data["source"] = {"mode": "messaging", "impossibility_delay": "8m"}
    assert only_problem(config_data) == (
        "source.impossibility_delay: the impossibility message exists only in live_chat mode;"
        " remove this key"
    )


@pytest.mark.parametrize(
    ("where", "path"),
    [("source", "source.queuing_factor"), ("trigger", "triggers[1].queuing_factor")],
)
def test_queuing_factor_with_more_than_two_decimals(config_data, where, path):
    target = config_data["source"] if where == "source" else config_data["triggers"][1]
    target["queuing_factor"] = 0.125
    assert only_problem(config_data) == (
        f"{path}: 0.125 has more than two decimals; the product keeps hundredths, e.g. 0.25"
    )


@pytest.mark.parametrize("factor", [0.29, 1.5, 0, 2, 0.01])
def test_queuing_factor_with_at_most_two_decimals_is_fine(config_data, factor):
    config_data["source"]["queuing_factor"] = factor
    assert problems(config_data) == []


@pytest.mark.parametrize(
    ("where", "path"),
    [("source", "source.queuing_factor"), ("trigger", "triggers[1].queuing_factor")],
)
def test_negative_queuing_factor(config_data, where, path):
    target = config_data["source"] if where == "source" else config_data["triggers"][1]
    target["queuing_factor"] = -0.5
    assert only_problem(config_data) == (
        f"{path}: must not be negative; 0 means no extra queue places"
    )


def test_queuing_factor_as_a_string(config_data):
    config_data["source"]["queuing_factor"] = "0.25"
    assert only_problem(config_data) == "source.queuing_factor: must be a number"


def test_unknown_timezone(config_data):
    config_data["source"]["timezone"] = "Europe/Pariss"
    assert only_problem(config_data) == (
        "source.timezone: unknown timezone 'Europe/Pariss'; use an IANA name such as UTC or"
        " Europe/Paris"
    )


@pytest.mark.parametrize("value", ["8 parsecs", "-5m", "soon", True])
def test_unreadable_durations(config_data, value):
    config_data["source"]["impossibility_delay"] = value
    assert only_problem(config_data).startswith("source.impossibility_delay: ")


def test_zero_visit_idle(config_data):
    config_data["source"]["visit_idle"] = 0
    assert only_problem(config_data) == (
        'source.visit_idle: must be longer than 0, e.g. "24h" (the default)'
    )


def test_unsupported_schema_version(config_data):
    config_data["schema_version"] = 2
    assert only_problem(config_data) == (
        "schema_version: unsupported schema version 2; this engage_lab reads version 1"
    )


# --- unknown keys (typos) anywhere ------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.update(trigers=[]), "trigers: unknown key; did you mean triggers?"),
        (
            lambda d: d["source"].update(timezon="UTC"),
            "source.timezon: unknown key; did you mean timezone?",
        ),
        (
            lambda d: d["catalog"]["buttons"][0].update(fixd=True),
            "catalog.buttons[0].fixd: unknown key; did you mean fixed?",
        ),
        (
            lambda d: d["custom_variables"]["custom_cart_amount"].update(typ="number"),
            "custom_variables.custom_cart_amount.typ: unknown key; did you mean type?",
        ),
        (
            lambda d: d["triggers"][0].update(enabeld=False),
            "triggers[0].enabeld: unknown key; did you mean enabled?",
        ),
        (
            lambda d: d["triggers"][0]["actions"][0].update(items="b-help"),
            "triggers[0].actions[0].items: unknown key; did you mean item?",
        ),
        (
            lambda d: d["triggers"][1].update(extensions={"max_executions": 2}),
            "triggers[1].extensions.max_executions: unknown key;"
            " did you mean max_executions_per_visitor?",
        ),
    ],
)
def test_unknown_keys_are_refused_with_a_suggestion(config_data, mutate, expected):
    mutate(config_data)
    assert expected in problems(config_data)


def test_unknown_key_without_a_close_match_lists_the_allowed_keys(config_data):
    config_data["source"]["zzz"] = 1
    assert only_problem(config_data) == (
        "source.zzz: unknown key; allowed keys: mode, display, timezone, visit_idle,"
        " queuing_factor, impossibility_delay"
    )


def test_wrong_value_types(config_data):
    config_data["triggers"][0]["enabled"] = "yes"
    config_data["triggers"][0]["label"] = ""
    config_data["catalog"]["buttons"][0]["online_offline"] = 1
    assert problems(config_data) == [
        "catalog.buttons[0].online_offline: must be true or false",
        "triggers[0].label: must not be empty",
        "triggers[0].enabled: must be true or false",
    ]


def test_custom_variable_name_and_type(config_data):
    config_data["custom_variables"]["cart"] = {"type": "float"}
    assert problems(config_data) == [
        "custom_variables.cart: a custom variable's name starts with custom_ followed by"
        " letters, digits or _ (e.g. custom_cart_amount)",
        "custom_variables.cart.type: must be one of string, number, boolean",
    ]


# --- server probability and caps -------------------------------------------------------


def _gated(config_data):
    return config_data["triggers"][1]


def test_curve_probability_outside_zero_one(config_data):
    _gated(config_data)["server_probability"] = {
        "policy": "curve",
        "over": "occupancy",
        "points": [[0, 1], [1, 1.2]],
    }
    assert only_problem(config_data) == (
        "triggers[1].server_probability.points[1]: [x, p]: 1.2 is not a probability;"
        " use a value in [0, 1]"
    )


def test_curve_not_sorted_by_x(config_data):
    _gated(config_data)["server_probability"] = {
        "policy": "curve",
        "over": "free_slots",
        "points": [[2, 1], [0, 0], [0, 0.5]],
    }
    assert problems(config_data) == [
        "triggers[1].server_probability.points[1]: points must be sorted by strictly"
        " increasing x (0 after 2)",
        "triggers[1].server_probability.points[2]: points must be sorted by strictly"
        " increasing x (0 after 0)",
    ]


def test_curve_needs_points_and_a_known_axis(config_data):
    _gated(config_data)["server_probability"] = {"policy": "curve", "over": "load", "points": []}
    assert problems(config_data) == [
        "triggers[1].server_probability.over: must be one of occupancy, free_slots",
        "triggers[1].server_probability.points: needs at least one entry",
    ]


def test_unknown_policy(config_data):
    _gated(config_data)["server_probability"] = {"policy": "random"}
    assert only_problem(config_data) == (
        "triggers[1].server_probability: unknown policy 'random'; use one of product, reserve, curve"
    )


def test_negative_reserve(config_data):
    _gated(config_data)["server_probability"] = {"policy": "reserve", "k": -1}
    assert only_problem(config_data) == "triggers[1].server_probability.k: must be at least 0"


def test_policy_on_a_trigger_that_is_not_gated(config_data):
    config_data["triggers"][0]["server_probability"] = {"policy": "reserve", "k": 1}
    assert only_problem(config_data) == (
        "triggers[0].server_probability: applies only to gated triggers;"
        " set only_if_agents_available to true or remove it"
    )


def test_queuing_factor_beside_a_policy_that_ignores_it(config_data):
    _gated(config_data)["server_probability"] = {"policy": "reserve", "k": 1}
    _gated(config_data)["queuing_factor"] = 0.5
    assert only_problem(config_data) == (
        "triggers[1].queuing_factor: the reserve policy ignores the queuing factor;"
        " remove it or use the product policy"
    )


@pytest.mark.parametrize(
    ("extensions", "expected"),
    [
        (
            {"max_executions_per_visitor": -1},
            "triggers[1].extensions.max_executions_per_visitor: must be at least 1",
        ),
        (
            {"max_executions_per_visitor": 0},
            "triggers[1].extensions.max_executions_per_visitor: must be at least 1",
        ),
        (
            {"min_seconds_between_executions": -60},
            "triggers[1].extensions.min_seconds_between_executions: must be a positive number"
            " of seconds; remove the key for no minimum",
        ),
        (
            {"max_executions_per_visitor": 1.5},
            "triggers[1].extensions.max_executions_per_visitor: must be a whole number",
        ),
    ],
)
def test_caps_must_be_positive(config_data, extensions, expected):
    _gated(config_data)["extensions"] = extensions
    assert only_problem(config_data) == expected


# --- all problems at once, in document order --------------------------------------------


def test_all_problems_are_listed_in_document_order(config_data):
    config_data["source"]["mode"] = "chat"
    config_data["triggers"][2]["id"] = "t-button"
    config_data["triggers"][0]["actions"][0]["item"] = "b-nope"
    config_data["triggers"][1]["enabeld"] = True
    found = problems(config_data)
    assert found == [
        "source.mode: must be one of live_chat, messaging",
        "triggers[0].actions[0].item: unknown item 'b-nope';"
        " declare it in catalog.buttons or catalog.invitations",
        "triggers[1].enabeld: unknown key; did you mean enabled?",
        "triggers[2].id: duplicate trigger id 't-button' (also triggers[0]);"
        " give each trigger its own id",
    ]


def test_config_error_carries_every_problem(config_data):
    config_data["source"]["mode"] = "chat"
    config_data["triggers"] = []
    with pytest.raises(el.ConfigError) as caught:
        Config.from_json(json.dumps(config_data))
    assert caught.value.problems == problems(config_data)
    assert len(caught.value.problems) == 2
    assert str(caught.value).splitlines()[0] == "invalid configuration (2 problems)"


def test_model_validate_runs_the_same_checks(config_data):
    config_data["triggers"][2]["id"] = "t-button"
    with pytest.raises(el.ConfigError, match="duplicate trigger id"):
        Config.model_validate(config_data)


# --- malformed JSON --------------------------------------------------------------------


def test_malformed_json_names_line_and_column():
    text = '{\n  "schema_version": 1,\n  "source": {"mode": "live_chat"}\n  "triggers": []\n}'
    assert Config.check_json(text) == ["line 4, column 3: Expecting ',' delimiter"]
    with pytest.raises(el.ConfigError) as caught:
        Config.from_json(text)
    assert caught.value.problems == ["line 4, column 3: Expecting ',' delimiter"]


def test_duplicate_json_keys_are_refused(config_data):
    text = json.dumps(config_data)[:-1] + ', "schema_version": 1}'
    assert Config.check_json(text) == [
        "schema_version: key given twice; JSON keeps only the last, remove one"
    ]


def test_nan_is_refused(config_data):
    text = json.dumps(config_data).replace('"value": 100', '"value": NaN')
    assert Config.check_json(text) == [
        "triggers[1].criteria[0].value: NaN is not a JSON number; write a finite number"
    ]


@pytest.mark.parametrize("text", ["[]", "3", '"x"', "null"])
def test_top_level_must_be_an_object(text):
    assert Config.check_json(text) == ["the configuration must be a JSON object"]


def test_a_history_given_as_a_configuration_says_so():
    found = Config.check({"schema_version": 1, "history": []})
    assert found == [
        "this is a configuration history, not a configuration; load it with"
        " engage_lab.config.ConfigHistory.load"
    ]


def test_load_names_the_file_and_a_missing_file(tmp_path, config_data):
    path = tmp_path / "bad.json"
    config_data["triggers"] = []
    path.write_text(json.dumps(config_data), encoding="utf-8")
    with pytest.raises(el.ConfigError) as caught:
        Config.load(path)
    assert str(caught.value).splitlines()[0] == f"{path}: invalid configuration (1 problem)"
    with pytest.raises(el.ConfigError, match=r"cannot read .*missing\.json"):
        Config.load(tmp_path / "missing.json")
