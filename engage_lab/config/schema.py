"""The JSON Schema of configurations and histories, generated from the pydantic models.

``engage-lab schema`` prints :func:`config_schema`; because it is generated from the same
classes that validate, it never drifts from them. The schema describes the shape
(keys, types, enumerations, ranges); the checks across fields (ids, references,
conditions against declared variables) are only made by the validator.

>>> schema = config_schema()
>>> schema["required"]
['schema_version', 'source', 'triggers']
>>> sorted(schema["properties"]) == sorted(
...     ["schema_version", "source", "catalog", "custom_variables", "saved_groups", "triggers"])
True
"""

from __future__ import annotations

from typing import Any

from engage_lab.config.configuration import Config
from engage_lab.config.history import ConfigHistory
from engage_lab.config.jsontext import canonical_json

__all__ = [
    "CRITERION_IDS",
    "OPERATORS",
    "POSITIONS",
    "config_schema",
    "history_schema",
    "schema_json",
]

_DIALECT = "https://json-schema.org/draft/2020-12/schema"

#: Built-in criterion ids; custom variables add ``custom_<name>``.
CRITERION_IDS = (
    "chat_opened",
    "chat_shown",
    "day_of_week",
    "time",
    "hour",
    "identity",
    "signed_identity",
    "page_path",
    "page_url",
    "page_title",
    "page_visit_count",
    "page_visit_duration",
    "visit_count",
    "visit_duration",
)
#: Historical positions (``when``), default ``current``.
POSITIONS = (
    "current",
    "previous",
    "previous_2",
    "previous_3",
    "previous_4",
    "previous_5",
    "any_of_previous_2",
    "any_of_previous_3",
    "any_of_previous_4",
    "any_of_previous_5",
    "current_or_previous",
    "current_or_any_of_previous_2",
    "current_or_any_of_previous_3",
    "current_or_any_of_previous_4",
    "any",
    "any_previous",
    "first",
)
#: Criteria operators.
OPERATORS = (
    "is",
    "is_not",
    "is_present",
    "is_not_present",
    "gte",
    "lte",
    "contains",
    "does_not_contain",
    "starts_with",
    "ends_with",
)

_CRITERION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "One condition of the product's form: criterion, position, operator, value.",
    "properties": {
        "criterion": {
            "description": "A built-in criterion or a declared custom variable (custom_<name>).",
            "anyOf": [
                {"enum": list(CRITERION_IDS)},
                {"type": "string", "pattern": "^custom_[A-Za-z0-9_]+$"},
            ],
        },
        "when": {
            "description": "Historical position: the pages looked at.",
            "enum": list(POSITIONS),
            "default": "current",
        },
        "operator": {
            "description": "Allowed operators depend on the criterion's type.",
            "enum": list(OPERATORS),
        },
        "value": {
            "description": "Typed like the criterion; absent for is_present / is_not_present.",
            "type": ["string", "number", "boolean"],
        },
    },
    "required": ["criterion", "operator"],
    "additionalProperties": False,
}


def _with_criteria(schema: dict[str, Any]) -> dict[str, Any]:
    """Describe criteria entries (raw JSON in the models, checked by engage_lab.conditions)."""
    trigger = schema["$defs"]["Trigger"]["properties"]
    trigger["criteria"]["items"] = {"$ref": "#/$defs/Criterion"}
    trigger["expression"]["anyOf"][0]["description"] = (
        "A GrowthBook-style condition over page.*, visit.*, visitor.*, time.*, chat.*, vars.*"
    )
    schema["$defs"]["Criterion"] = _CRITERION_SCHEMA
    return schema


def config_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a configuration file."""
    schema = _with_criteria(Config.model_json_schema(mode="validation"))
    schema["title"] = "engage_lab configuration"
    schema["description"] = "A trigger configuration of one chat source (docs/configuration.md)."
    return {"$schema": _DIALECT, **schema}


def history_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a configuration-history file."""
    schema = _with_criteria(ConfigHistory.model_json_schema(mode="validation"))
    schema["title"] = "engage_lab configuration history"
    schema["description"] = "Configurations with the instant each took effect."
    schema["$defs"]["Config"]["description"] = "A configuration (see the configuration schema)."
    return {"$schema": _DIALECT, **schema}


def schema_json(kind: str = "config") -> str:
    """The schema of ``kind`` (``config`` or ``history``) as canonical JSON text."""
    if kind not in ("config", "history"):
        raise ValueError(f"unknown schema kind {kind!r}; use config or history")
    return canonical_json(config_schema() if kind == "config" else history_schema())
