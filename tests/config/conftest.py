"""Shared helpers: a small valid configuration to break in one place per test."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

DATA_CONFIGS = Path(__file__).resolve().parents[2] / "data" / "configs"


def minimal_config(mode: str = "live_chat") -> dict[str, Any]:
    """A small valid configuration (written here, independent of the examples)."""
    return {
        "schema_version": 1,
        "source": {"mode": mode},
        "catalog": {
            "buttons": [{"id": "b-help", "label": "Help"}],
            "invitations": [{"id": "i-cart", "label": "Cart"}],
            "messages": [{"id": "m-hello", "text": "Hello!"}],
        },
        "custom_variables": {"custom_cart_amount": {"type": "number"}},
        "saved_groups": {"vip": ["gold"]},
        "triggers": [
            {
                "id": "t-button",
                "label": "Button",
                "actions": [{"type": "show_item", "item": "b-help"}],
            },
            {
                "id": "t-cart",
                "label": "Cart",
                "criteria": [{"criterion": "custom_cart_amount", "operator": "gte", "value": 100}],
                "only_if_agents_available": True,
                "actions": [
                    {"type": "show_item", "item": "i-cart"},
                    {"type": "automatic_message", "message": "m-hello"},
                ],
            },
            {
                "id": "t-open",
                "label": "Open",
                "actions": [{"type": "show_and_open_chat"}],
            },
        ],
    }


@pytest.fixture
def config_data() -> dict[str, Any]:
    return copy.deepcopy(minimal_config())


def example_paths() -> list[Path]:
    return sorted(DATA_CONFIGS.glob("*.json"))
