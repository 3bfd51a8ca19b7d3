"""``engage-lab load`` and ``engage-lab unload``."""

from __future__ import annotations

import argparse

import engage_lab as el
from engage_lab.cli._args import open_existing, utf8_text
from engage_lab.cli._output import say, visible


def _load(args: argparse.Namespace) -> int:
    with el.open(args.db) as lab:
        report = lab.load(*args.paths, visit_idle=args.visit_idle)
        say(report)
        say()
        say(lab.quality())
    return 0


def _unload(args: argparse.Namespace) -> int:
    with open_existing(args.db, read_only=False) as lab:  # nothing to undo in a new file
        removed = lab.unload(args.load_id)
    total = sum(removed.values())
    say(f"unloaded {visible(args.load_id)}: {total} records removed")
    width = max(len(t) for t in removed)
    for table, count in removed.items():
        if count:
            say(f"  {table:<{width}}  {count:>10,}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``load`` and ``unload``."""
    load = commands.add_parser("load", help="load files or folders of JSONL / CSV / Parquet")
    load.add_argument("paths", nargs="+", metavar="PATH")
    load.add_argument("--db", required=True)
    load.add_argument(
        "--visit-idle",
        type=utf8_text,
        default=None,
        metavar="DURATION",
        help="visit idle duration (24h, 30m, 1h30m, or a bare number of seconds: 1800 is 30m); "
        "default: the database's (24h)",
    )
    load.set_defaults(func=_load)
    unload = commands.add_parser("unload", help="undo one load as a whole")
    unload.add_argument("load_id", type=utf8_text)
    unload.add_argument("--db", required=True)
    unload.set_defaults(func=_unload)
