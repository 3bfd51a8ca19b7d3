"""Property: any valid configuration written canonically reads back equal, byte for byte."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from engage_lab.config import Config

_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)
_hundredths = st.integers(min_value=0, max_value=300).map(lambda n: n / 100)
_factor = st.one_of(st.integers(min_value=0, max_value=3), _hundredths)
_duration = st.one_of(
    st.integers(min_value=1, max_value=10_000),
    st.sampled_from(["8m", "2m 25s", "24h", "1.5h", "90", "30 minutes"]),
)


@st.composite
def configs(draw) -> dict:
    mode = draw(st.sampled_from(["live_chat", "messaging"]))
    source: dict = {"mode": mode}  # keys in model order: the canonical form
    if draw(st.booleans()):
        source["visit_idle"] = draw(_duration)
    if draw(st.booleans()):
        source["queuing_factor"] = draw(_factor)
    if mode == "live_chat" and draw(st.booleans()):
        source["impossibility_delay"] = draw(st.one_of(st.just(0), _duration))
    n_items = draw(st.integers(min_value=1, max_value=3))
    buttons = [
        {"id": f"b{i}", "label": draw(_text), "fixed": draw(st.booleans())} for i in range(n_items)
    ]
    messages = [{"id": "m0", "text": draw(_text)}]
    triggers = []
    for t in range(draw(st.integers(min_value=1, max_value=4))):
        trigger: dict = {"id": f"t{t}", "label": draw(_text)}
        if draw(st.booleans()):
            trigger["enabled"] = draw(st.booleans())
        amount = draw(st.one_of(st.integers(-5, 500), st.floats(-5, 500, allow_nan=False)))
        trigger["criteria"] = draw(
            st.sampled_from(
                [
                    [],
                    [{"criterion": "custom_cart_amount", "operator": "gte", "value": amount}],
                    [
                        {"value": draw(_text), "operator": "contains", "criterion": "page_title"},
                        {"criterion": "page_path", "when": "previous", "operator": "is_present"},
                    ],
                ]
            )
        )
        gated = draw(st.booleans())
        if gated:
            trigger["only_if_agents_available"] = True
            if draw(st.booleans()):
                trigger["queuing_factor"] = draw(_factor)
            elif draw(st.booleans()):
                trigger["server_probability"] = {"policy": "reserve", "k": draw(st.integers(0, 5))}
        trigger["actions"] = [
            {"type": "show_item", "item": f"b{draw(st.integers(0, n_items - 1))}"}
        ]
        if draw(st.booleans()):
            trigger["actions"].append({"type": "automatic_message", "message": "m0"})
        if draw(st.booleans()):
            trigger["extensions"] = {"min_seconds_between_executions": draw(st.integers(1, 999))}
        triggers.append(trigger)
    return {
        "schema_version": 1,
        "source": source,
        "catalog": {"buttons": buttons, "messages": messages},
        "custom_variables": {"custom_cart_amount": {"type": "number"}},
        "triggers": triggers,
    }


@settings(max_examples=150, deadline=None)
@given(configs())
def test_canonical_round_trip(data):
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    cfg = Config.from_json(text)
    assert cfg.to_json() == text
    assert Config.from_json(cfg.to_json()) == cfg
    # the same data written compactly reads to an equal configuration
    assert Config.from_json(json.dumps(data)) == cfg
