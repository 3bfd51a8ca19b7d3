"""Configuration: pydantic models, validation with JSON paths, history, JSON Schema.

>>> from engage_lab.config import Config
>>> Config.check_json('{"schema_version": 1, "source": {"mode": "live_chat"}, "triggers": []}')
['triggers: at least one trigger is required (a trigger with no criteria always matches)']
"""

from __future__ import annotations

from engage_lab.config.configuration import Config
from engage_lab.config.history import (
    ConfigHistory,
    HistoryEntry,
    NoConfigurationInEffectError,
    load_any,
)
from engage_lab.config.models import (
    SCHEMA_VERSION,
    AutomaticMessage,
    Button,
    Catalog,
    CurvePolicy,
    CustomVariable,
    Invitation,
    ProductPolicy,
    ReservePolicy,
    Source,
    Trigger,
    TriggerExtensions,
)
from engage_lab.config.packaged import (
    packaged,
    packaged_history,
    packaged_names,
    packaged_text,
    production,
)
from engage_lab.config.schema import config_schema, history_schema, schema_json
from engage_lab.durations import duration_ms

__all__ = [
    "SCHEMA_VERSION",
    "AutomaticMessage",
    "Button",
    "Catalog",
    "Config",
    "ConfigHistory",
    "CurvePolicy",
    "CustomVariable",
    "HistoryEntry",
    "Invitation",
    "NoConfigurationInEffectError",
    "ProductPolicy",
    "ReservePolicy",
    "Source",
    "Trigger",
    "TriggerExtensions",
    "config_schema",
    "duration_ms",
    "history_schema",
    "load_any",
    "packaged",
    "packaged_history",
    "packaged_names",
    "packaged_text",
    "production",
    "schema_json",
]
