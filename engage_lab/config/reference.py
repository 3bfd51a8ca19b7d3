"""The field reference of ``docs/configuration.md``, generated from the models.

The tables between the two markers of that file are the output of
:func:`field_tables_markdown`; a test fails when they differ, and
``python -m engage_lab.config.reference docs/configuration.md`` rewrites them.

>>> print(field_tables_markdown().splitlines()[2])
### Configuration (top level)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from engage_lab.config.schema import config_schema, history_schema

__all__ = ["BEGIN", "END", "field_tables_markdown", "rewrite_doc"]

BEGIN = "<!-- BEGIN GENERATED FIELD REFERENCE: python -m engage_lab.config.reference -->"
END = "<!-- END GENERATED FIELD REFERENCE -->"

#: (heading, definition name) in the order the reference lists them.
_SECTIONS = (
    ("Configuration (top level)", None),
    ("`source`", "Source"),
    ("`catalog`", "Catalog"),
    ("`catalog.buttons[]`", "Button"),
    ("`catalog.invitations[]`", "Invitation"),
    ("`catalog.messages[]`", "AutomaticMessage"),
    ("`custom_variables.<name>`", "CustomVariable"),
    ("`triggers[]`", "Trigger"),
    ("`triggers[].actions[]`: `show_chat_minimized`", "ShowChatMinimizedAction"),
    ("`triggers[].actions[]`: `show_and_open_chat`", "ShowAndOpenChatAction"),
    ("`triggers[].actions[]`: `show_item`", "ShowItemAction"),
    ("`triggers[].actions[]`: `automatic_message`", "AutomaticMessageAction"),
    ("`triggers[].actions[]`: `hide_other_elements`", "HideOtherElementsAction"),
    ("`triggers[].server_probability`: `product`", "ProductPolicy"),
    ("`triggers[].server_probability`: `reserve`", "ReservePolicy"),
    ("`triggers[].server_probability`: `curve`", "CurvePolicy"),
    ("`triggers[].extensions`", "TriggerExtensions"),
    ("`triggers[].criteria[]`", "Criterion"),
)
_HISTORY_SECTIONS = (
    ("Configuration history (top level)", None),
    ("`history[]`", "HistoryEntry"),
)


def _type_text(prop: dict[str, Any]) -> str:
    """A short, readable type for one property schema."""
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[-1]
    if "const" in prop:
        return f"`{json.dumps(prop['const'])}`"
    if "enum" in prop:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in prop["enum"])
    for key in ("anyOf", "oneOf"):
        if key in prop:
            return " or ".join(dict.fromkeys(_type_text(p) for p in prop[key]))
    kind = prop.get("type")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "array":
        if "prefixItems" in prop:
            return "[" + ", ".join(_type_text(p) for p in prop["prefixItems"]) + "]"
        return f"list of {_type_text(prop.get('items', {}))}" if prop.get("items") else "list"
    if kind == "object" and isinstance(prop.get("additionalProperties"), dict):
        return f"map of name → {_type_text(prop['additionalProperties'])}"
    text = kind or "any JSON"
    bounds = [
        f"{sign} {prop[key]}"
        for key, sign in (("minimum", "≥"), ("maximum", "≤"), ("exclusiveMinimum", ">"))
        if key in prop
    ]
    if prop.get("minLength"):
        bounds.append("non-empty")
    if prop.get("pattern") and kind == "string" and "custom_" in prop["pattern"]:
        bounds.append("`custom_...`")
    return text + (f" ({', '.join(bounds)})" if bounds else "")


def _table(definition: dict[str, Any]) -> list[str]:
    required = set(definition.get("required", []))
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for name, prop in definition.get("properties", {}).items():
        default = "required" if name in required else f"`{json.dumps(prop.get('default'))}`"
        if name not in required and "default" not in prop:
            default = "empty"
        meaning = prop.get("description", "").replace("|", "\\|").replace("\n", " ")
        lines.append(f"| `{name}` | {_type_text(prop)} | {default} | {meaning} |")
    return lines


def field_tables_markdown() -> str:
    """The generated field reference (markdown, between the markers)."""
    lines = [BEGIN, ""]
    for schema, sections in ((config_schema(), _SECTIONS), (history_schema(), _HISTORY_SECTIONS)):
        for heading, name in sections:
            definition = schema if name is None else schema["$defs"][name]
            lines += [f"### {heading}", ""]
            if name is not None and definition.get("description"):
                lines += [definition["description"].split("\n\n")[0].replace("\n", " "), ""]
            lines += [*_table(definition), ""]
    lines.append(END)
    return "\n".join(lines)


def rewrite_doc(path: str | Path) -> bool:
    """Replace the generated section of ``path``; return whether the file changed."""
    file = Path(path)
    text = file.read_text(encoding="utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    updated = text[:start] + field_tables_markdown() + text[end:]
    if updated != text:
        file.write_text(updated, encoding="utf-8")
    return updated != text


if __name__ == "__main__":  # pragma: no cover
    changed = rewrite_doc(sys.argv[1] if len(sys.argv) > 1 else "docs/configuration.md")
    print("updated" if changed else "unchanged")
