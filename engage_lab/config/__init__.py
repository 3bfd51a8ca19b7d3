"""Configuration: pydantic models, validation with JSON paths, history, JSON Schema.

>>> from engage_lab.config import Config
>>> Config.check_json('{"schema_version": 1, "source": {"mode": "live_chat"}, "triggers": []}')
['triggers: at least one trigger is required (a trigger with no criteria always matches)']
"""

from __future__ import annotations

from engage_lab.config.configuration import Config
from engage_lab.config.durations import duration_ms
from engage_lab.config.models import (
    SCHEMA_VERSION,
    AutomaticMessage,
    Button,
    Catalog,
    CurvePoint,
    CurvePolicy,
    CustomVariable,
    Invitation,
    ProductPolicy,
    ReservePolicy,
    Source,
    Trigger,
    TriggerExtensions,
)

__all__ = [
    "SCHEMA_VERSION",
    "AutomaticMessage",
    "Button",
    "Catalog",
    "Config",
    "CurvePoint",
    "CurvePolicy",
    "CustomVariable",
    "Invitation",
    "ProductPolicy",
    "ReservePolicy",
    "Source",
    "Trigger",
    "TriggerExtensions",
    "duration_ms",
]
