"""``engage-lab validate`` and ``engage-lab schema`` (built by the configuration work)."""

from __future__ import annotations

import argparse

from engage_lab.errors import NotBuiltError


def _not_built(args: argparse.Namespace) -> int:
    raise NotBuiltError("not built yet")


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``validate`` and ``schema``."""
    validate = commands.add_parser("validate", help="validate a configuration JSON file")
    validate.add_argument("config")
    validate.set_defaults(func=_not_built)
    schema = commands.add_parser("schema", help="print the configuration JSON Schema")
    schema.set_defaults(func=_not_built)
