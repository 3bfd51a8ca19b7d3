"""``engage-lab validate`` and ``engage-lab schema``.

``validate FILE`` accepts a configuration or a configuration history (a top-level
``history`` key): exit 0 and one ``OK`` line on stdout when valid; exit 1 and every
problem on stderr (``json.path: message``, one a line) when not.
``schema`` prints the JSON Schema generated from the configuration models
(``--history`` for the history file).
"""

from __future__ import annotations

import argparse
import sys

from engage_lab.cli._output import error_text, say, visible
from engage_lab.config import Config, ConfigHistory, load_any, schema_json
from engage_lab.errors import ConfigError

#: Exit codes shared with the dispatcher: 0 valid, 1 invalid.
EXIT_OK, EXIT_INVALID = 0, 1


def _summary(config: Config) -> str:
    gated = sum(t.gated for t in config.triggers)
    items = len(config.catalog.buttons) + len(config.catalog.invitations)
    return (
        f"{config.source.mode}, {len(config.triggers)} triggers"
        f" ({len(config.enabled_triggers)} enabled, {gated} gated), {items} items,"
        f" {len(config.catalog.messages)} messages,"
        f" {len(config.custom_variables)} custom variables"
    )


def _history_summary(history: ConfigHistory) -> str:
    first, last = history.history[0].effective_at, history.history[-1].effective_at
    return (
        f"configuration history, {history.mode}, {len(history.history)} configurations"
        f" from {first} to {last}"
    )


def _validate(args: argparse.Namespace) -> int:
    try:
        loaded = load_any(args.config)
    except ConfigError as exc:
        # Every problem, not the error's shortened rendering: the user fixes them all at once.
        if exc.headline is None:  # the file could not be read at all
            say(error_text("validate", exc), err=True)
            return EXIT_INVALID
        say(visible(exc.headline), err=True)
        for line in exc.problems:
            say(f"  {visible(line)}", err=True)
        return EXIT_INVALID
    if isinstance(loaded, ConfigHistory):
        say(f"OK {visible(args.config)}: {_history_summary(loaded)}")
    else:
        say(f"OK {visible(args.config)}: configuration, {_summary(loaded)}")
    return EXIT_OK


def _schema(args: argparse.Namespace) -> int:
    sys.stdout.write(schema_json("history" if args.history else "config"))
    return EXIT_OK


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``validate`` and ``schema``."""
    validate = commands.add_parser(
        "validate",
        help="validate a configuration (or configuration history) JSON file",
        description="Exit 0 if the file is valid, 1 with every problem listed if not.",
    )
    validate.add_argument("config", help="configuration or configuration-history JSON file")
    validate.set_defaults(func=_validate)
    schema = commands.add_parser(
        "schema",
        help="print the configuration JSON Schema",
        description="Print the JSON Schema generated from the configuration models.",
    )
    schema.add_argument(
        "--history", action="store_true", help="the schema of a configuration-history file"
    )
    schema.set_defaults(func=_schema)
