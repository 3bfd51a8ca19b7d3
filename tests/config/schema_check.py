"""A small JSON Schema (2020-12) checker for the keywords our generated schemas use.

``jsonschema`` is not a dependency; this covers exactly the keywords found in the
configuration schemas, and :func:`unsupported_keywords` proves nothing else is used.
"""

from __future__ import annotations

import re
from typing import Any

ANNOTATIONS = {"title", "description", "default", "examples", "discriminator", "format", "$schema"}
ASSERTIONS = {
    "$ref",
    "$defs",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "prefixItems",
    "minItems",
    "maxItems",
    "enum",
    "const",
    "anyOf",
    "oneOf",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "minLength",
    "pattern",
}


def unsupported_keywords(schema: Any, found: set[str] | None = None) -> set[str]:
    """Keywords of ``schema`` this checker does not implement."""
    found = set() if found is None else found
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key not in ANNOTATIONS | ASSERTIONS:
                found.add(key)
            if key in ("properties", "$defs"):
                for sub in value.values():
                    unsupported_keywords(sub, found)
            elif key in ("items", "additionalProperties") and isinstance(value, dict):
                unsupported_keywords(value, found)
            elif key in ("anyOf", "oneOf", "prefixItems"):
                for sub in value:
                    unsupported_keywords(sub, found)
    return found


def _type_ok(value: Any, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return {
        "string": str,
        "boolean": bool,
        "object": dict,
        "array": list,
        "null": type(None),
    }[name] is type(value)


def errors(schema: dict, value: Any, root: dict | None = None, path: str = "$") -> list[str]:
    """Every violation of ``schema`` by ``value``, as ``path: keyword`` strings."""
    root = schema if root is None else root
    out: list[str] = []
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        out += errors(root["$defs"][name], value, root, path)
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_type_ok(value, n) for n in names):
            return [*out, f"{path}: type {names}"]
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{path}: enum")
    if "const" in schema and value != schema["const"]:
        out.append(f"{path}: const")
    for key in ("anyOf", "oneOf"):
        if key in schema:
            passing = sum(not errors(s, value, root, path) for s in schema[key])
            if passing == 0 or (key == "oneOf" and passing > 1):
                out.append(f"{path}: {key} ({passing} match)")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        out += [f"{path}.{k}: required" for k in schema.get("required", []) if k not in value]
        for key, item in value.items():
            if key in props:
                out += errors(props[key], item, root, f"{path}.{key}")
            elif schema.get("additionalProperties") is False:
                out.append(f"{path}.{key}: additionalProperties")
            elif isinstance(schema.get("additionalProperties"), dict):
                out += errors(schema["additionalProperties"], item, root, f"{path}.{key}")
    if isinstance(value, list):
        prefix = schema.get("prefixItems", [])
        for i, item in enumerate(value):
            sub = prefix[i] if i < len(prefix) else schema.get("items")
            if sub is not None:
                out += errors(sub, item, root, f"{path}[{i}]")
        if len(value) < schema.get("minItems", 0):
            out.append(f"{path}: minItems")
        if len(value) > schema.get("maxItems", len(value)):
            out.append(f"{path}: maxItems")
    if _type_ok(value, "number"):
        if "minimum" in schema and value < schema["minimum"]:
            out.append(f"{path}: minimum")
        if "maximum" in schema and value > schema["maximum"]:
            out.append(f"{path}: maximum")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            out.append(f"{path}: exclusiveMinimum")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            out.append(f"{path}: minLength")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            out.append(f"{path}: pattern")
    return out
