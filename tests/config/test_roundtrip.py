"""Examples validate and round-trip byte for byte; the canonical form; model helpers."""

from __future__ import annotations

import copy
import json

import pytest

import engage_lab as el
from engage_lab.config import Config, ConfigHistory, packaged, packaged_names, packaged_text
from tests.config.conftest import DATA_CONFIGS, example_paths

CONFIG_PATHS = [p for p in example_paths() if not p.name.startswith("history")]


def test_the_examples_required_by_the_issue_exist():
    names = {p.name for p in example_paths()}
    for mode in ("live-chat", "messaging"):
        assert f"production-{mode}.json" in names
        assert len([n for n in names if n.startswith(f"variant-{mode}-")]) >= 2
    assert "history-live-chat.json" in names


@pytest.mark.parametrize("path", CONFIG_PATHS, ids=lambda p: p.name)
def test_example_round_trips_byte_for_byte(path):
    text = path.read_text(encoding="utf-8")
    cfg = el.Config.load(path)
    assert cfg.to_json() == text
    assert Config.from_json(text).to_json().encode("utf-8") == path.read_bytes()


def test_history_example_round_trips_byte_for_byte():
    path = DATA_CONFIGS / "history-live-chat.json"
    assert ConfigHistory.load(path).to_json() == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("mode", ["live_chat", "messaging"])
def test_production_examples_have_the_triggers_the_issue_asks_for(mode):
    cfg = el.Config.load(DATA_CONFIGS / f"production-{mode.replace('_', '-')}.json")
    assert cfg.mode == mode
    triggers = cfg.triggers
    assert len(triggers) >= 5
    fixed = [t for t in triggers if any(cfg.item(i).fixed for i in t.item_ids)]
    assert fixed and not fixed[0].gated
    assert any(t.once_per_visit for t in triggers)
    assert any(t.no_other_trigger_after for t in triggers)
    funnel = [t for t in triggers if any(c.get("when") == "previous" for c in t.criteria)]
    assert funnel and any(
        c["criterion"] == "page_path" and c["value"].startswith("/checkout")
        for c in funnel[0].criteria
    )
    gated_cart = [
        t
        for t in triggers
        if t.gated
        and {"page_visit_duration", "custom_cart_amount"} <= {c["criterion"] for c in t.criteria}
    ]
    assert gated_cart and cfg.item(gated_cart[0].item_ids[0]).kind == "invitation"
    assert cfg.custom_variable_types == {
        "custom_cart_amount": "number",
        "custom_logged_in": "boolean",
        "custom_plan": "string",
    }
    if mode == "live_chat":
        assert any(b.online_offline for b in cfg.catalog.buttons)


def test_variants_differ_from_their_production():
    prod = el.Config.load(DATA_CONFIGS / "production-live-chat.json")
    for path in CONFIG_PATHS:
        if path.name.startswith("variant-"):
            variant = el.Config.load(path)
            assert variant != prod or "messaging" in path.name
            base = "live-chat" if "live-chat" in path.name else "messaging"
            assert variant != el.Config.load(DATA_CONFIGS / f"production-{base}.json")


def test_packaged_copies_equal_data_configs():
    names = packaged_names()
    assert names == sorted(p.stem for p in example_paths())
    for path in example_paths():
        assert packaged_text(path.stem) == path.read_text(encoding="utf-8"), path.name
    assert packaged("production-messaging.json") == el.Config.load(
        DATA_CONFIGS / "production-messaging.json"
    )
    assert el.config.production("live_chat").mode == "live_chat"
    with pytest.raises(KeyError, match="no packaged configuration"):
        packaged("production-nope")


# --- the canonical form ----------------------------------------------------------------


def test_only_given_keys_are_written_and_defaults_are_read(config_data):
    cfg = Config.from_dict(config_data)
    out = json.loads(cfg.to_json())
    assert out["source"] == {"mode": "live_chat"}
    assert "enabled" not in out["triggers"][0]
    assert cfg.triggers[0].enabled is True
    assert cfg.source.visit_idle_ms == 24 * 3600 * 1000
    assert cfg.source.impossibility_delay_ms == 8 * 60 * 1000


def test_an_explicit_default_is_kept(config_data):
    config_data["triggers"][0]["enabled"] = True
    config_data["source"]["queuing_factor"] = 0
    out = json.loads(Config.from_dict(config_data).to_json())
    assert out["triggers"][0]["enabled"] is True
    assert out["source"]["queuing_factor"] == 0


def test_numbers_keep_int_or_float(config_data):
    config_data["source"]["queuing_factor"] = 1.0
    config_data["triggers"][1]["criteria"][0]["value"] = 100.0
    config_data["triggers"][1]["queuing_factor"] = 2
    text = Config.from_dict(config_data).to_json()
    assert '"queuing_factor": 1.0' in text
    assert '"value": 100.0' in text
    assert '"queuing_factor": 2\n' in text or '"queuing_factor": 2,' in text


def test_keys_come_out_in_model_order_and_raw_conditions_keep_theirs(config_data):
    reordered = {k: config_data[k] for k in reversed(list(config_data))}
    reordered["triggers"][1]["criteria"][0] = {
        "value": 100,
        "operator": "gte",
        "criterion": "custom_cart_amount",
    }
    text = Config.from_dict(reordered).to_json()
    keys = list(json.loads(text))
    assert keys == [
        "schema_version",
        "source",
        "catalog",
        "custom_variables",
        "saved_groups",
        "triggers",
    ]
    assert list(json.loads(text)["triggers"][1]["criteria"][0]) == [
        "value",
        "operator",
        "criterion",
    ]
    # canonical output is a fixed point
    assert Config.from_json(text).to_json() == text


def test_canonical_text_shape(config_data):
    config_data["catalog"]["messages"][0]["text"] = "Besoin d'aide ? Écrivez-nous"
    text = Config.from_dict(config_data).to_json()
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert text.splitlines()[1] == '  "schema_version": 1,'
    assert "Écrivez-nous" in text  # written as itself, not \u escaped
    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"


def test_non_canonical_input_gives_equal_configs():
    text = (DATA_CONFIGS / "production-live-chat.json").read_text(encoding="utf-8")
    compact = json.dumps(json.loads(text), separators=(",", ":"))
    assert Config.from_json(compact) == Config.from_json(text)
    assert Config.from_json(compact).to_json() == text


# --- helpers for the engines ------------------------------------------------------------


def test_models_are_frozen(config_data):
    cfg = Config.from_dict(config_data)
    with pytest.raises(Exception, match="frozen"):
        cfg.triggers[0].enabled = False  # type: ignore[misc]
    with pytest.raises(Exception, match="frozen"):
        cfg.source = None  # type: ignore[misc,assignment]


def test_lookups(config_data):
    cfg = Config.from_dict(config_data)
    assert cfg.trigger("t-cart").gated is True
    assert cfg.trigger("t-cart").item_ids == ("i-cart",)
    assert cfg.trigger("t-cart").message_ids == ("m-hello",)
    assert cfg.trigger("t-cart").action_types == ("show_item", "automatic_message")
    assert cfg.item("b-help").kind == "button" and cfg.item("i-cart").kind == "invitation"
    assert cfg.message("m-hello").text == "Hello!"
    for lookup, unknown in ((cfg.trigger, "zz"), (cfg.item, "m-hello"), (cfg.message, "b-help")):
        with pytest.raises(KeyError):
            lookup(unknown)


def test_enabled_triggers_keep_list_order(config_data):
    config_data["triggers"][1]["enabled"] = False
    cfg = Config.from_dict(config_data)
    assert [t.id for t in cfg.enabled_triggers] == ["t-button", "t-open"]


def test_effective_queuing_factor_and_policy(config_data):
    config_data["source"]["queuing_factor"] = 0.3
    cfg = Config.from_dict(config_data)
    assert cfg.effective_queuing_factor("t-cart") == 0.3
    assert cfg.queuing_hundredths("t-cart") == 30  # not 29 (0.3 * 100 = 29.999...)
    assert cfg.policy("t-cart").to_dict() == {"policy": "product", "queuing_factor": 0.3}
    data = copy.deepcopy(config_data)
    data["triggers"][1]["queuing_factor"] = 1.15
    cfg = Config.from_dict(data)
    assert cfg.queuing_hundredths(cfg.trigger("t-cart")) == 115
    data["triggers"][1].pop("queuing_factor")
    data["triggers"][1]["server_probability"] = {
        "policy": "curve",
        "over": "occupancy",
        "points": [[0, 1], [1, 0]],
    }
    curve = Config.from_dict(data).policy("t-cart")
    assert curve.to_dict() == {
        "policy": "curve",
        "over": "occupancy",
        "points": [[0.0, 1.0], [1.0, 0.0]],
    }


def test_caps_in_milliseconds(config_data):
    config_data["triggers"][1]["extensions"] = {
        "max_executions_per_visitor": 2,
        "min_seconds_between_executions": 1.5,
    }
    ext = Config.from_dict(config_data).trigger("t-cart").extensions
    assert ext.max_executions_per_visitor == 2 and ext.min_ms_between_executions == 1500


def test_impossibility_delay_disabled_and_messaging(config_data):
    config_data["source"]["impossibility_delay"] = 0
    assert Config.from_dict(config_data).source.impossibility_delay_ms is None
    config_data["source"] = {"mode": "messaging", "timezone": "Europe/Paris"}
    cfg = Config.from_dict(config_data)
    assert cfg.source.impossibility_delay_ms is None
    assert str(cfg.source.tzinfo) == "Europe/Paris"


def test_save_writes_the_canonical_text(tmp_path, config_data):
    cfg = Config.from_dict(config_data)
    cfg.save(tmp_path / "c.json")
    assert (tmp_path / "c.json").read_text(encoding="utf-8") == cfg.to_json()
    assert Config.load(tmp_path / "c.json") == cfg


def test_later_edits_of_the_input_do_not_reach_the_config(config_data):
    config_data["triggers"][2]["expression"] = {"$or": [{"page.path": "/a"}]}
    cfg = Config.from_dict(config_data)
    config_data["triggers"][1]["criteria"][0]["value"] = 1
    config_data["triggers"][2]["expression"]["$or"].append({"page.path": "/b"})
    assert cfg.trigger("t-cart").criteria[0]["value"] == 100
    assert cfg.trigger("t-open").expression == {"$or": [{"page.path": "/a"}]}


def test_equal_configurations_hash_alike(config_data):
    a, b = Config.from_dict(config_data), Config.from_dict(config_data)
    a.to_json()  # using one must not make it differ from the other
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    config_data["triggers"][0]["label"] = "Other"
    c = Config.from_dict(config_data)
    assert c != a and len({a, c}) == 2
