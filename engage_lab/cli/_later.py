"""Commands of the stable interface that later work builds; each says so and exits 2."""

from __future__ import annotations

import argparse

from engage_lab.errors import NotBuiltError


def _not_built(args: argparse.Namespace) -> int:
    raise NotBuiltError("not built yet")


def register(commands: argparse._SubParsersAction) -> None:
    """Add the commands that are declared but not built yet."""
    replay = commands.add_parser("replay", help="replay a configuration (not built yet)")
    replay.add_argument("config")
    replay.add_argument("--db", required=True)
    replay.add_argument("--engine", choices=["fast", "reference"], default="fast")
    replay.add_argument("--counterfactual", action="store_true")
    replay.add_argument("--seed")
    replay.add_argument("--json", action="store_true")
    replay.add_argument("--out")
    replay.set_defaults(func=_not_built)

    compare = commands.add_parser("compare", help="compare two configurations (not built yet)")
    compare.add_argument("a")
    compare.add_argument("b")
    compare.add_argument("--db", required=True)
    compare.add_argument("--json", action="store_true")
    compare.set_defaults(func=_not_built)

    for name, text in (("lab", "JupyterLab on notebooks/"), ("dashboard", "Voila dashboard")):
        cmd = commands.add_parser(name, help=f"{text} (not built yet)")
        cmd.set_defaults(func=_not_built)
