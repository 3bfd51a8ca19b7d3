"""``engage-lab load`` and ``engage-lab unload`` (built by the data work)."""

from __future__ import annotations

import argparse

from engage_lab.errors import NotBuiltError


def _not_built(args: argparse.Namespace) -> int:
    raise NotBuiltError("not built yet")


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``load`` and ``unload``."""
    load = commands.add_parser("load", help="load files or folders of JSONL / CSV / Parquet")
    load.add_argument("paths", nargs="+", metavar="PATH")
    load.add_argument("--db", required=True)
    load.add_argument("--visit-idle", default="24h")
    load.set_defaults(func=_not_built)
    unload = commands.add_parser("unload", help="undo one load as a whole")
    unload.add_argument("load_id")
    unload.add_argument("--db", required=True)
    unload.set_defaults(func=_not_built)
