"""``engage-lab generate`` (built by the world-generator work)."""

from __future__ import annotations

import argparse

from engage_lab.errors import NotBuiltError


def _not_built(args: argparse.Namespace) -> int:
    raise NotBuiltError("not built yet")


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``generate``."""
    generate = commands.add_parser("generate", help="generate a realistic recorded world")
    generate.add_argument("--out", required=True)
    generate.add_argument("--visitors", type=int, required=True)
    generate.add_argument("--seed", type=int, required=True)
    generate.add_argument("--mode", choices=["live_chat", "messaging"], default="live_chat")
    generate.add_argument("--days", type=int, default=28)
    generate.add_argument("--config")
    generate.add_argument("--config-history")
    generate.set_defaults(func=_not_built)
