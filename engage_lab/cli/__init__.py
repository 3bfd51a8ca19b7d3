"""The ``engage-lab`` command line: one ``main()``, commands over the public API only.

Each command lives in a small module that registers its parser; ``main`` turns every
``EngageLabError`` into one clear message on stderr and a non-zero exit code, never a
traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from engage_lab.cli import _config, _data, _later, _world
from engage_lab.errors import EngageLabError, NotBuiltError

__all__ = ["main"]

#: Exit codes: 0 success, 1 a problem with the input (invalid data or configuration),
#: 2 a usage problem or a command that is not built yet.
EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command of the stable interface."""
    parser = argparse.ArgumentParser(
        prog="engage-lab",
        description="Replay and tune proactive web-chat triggers over recorded sessions.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (_data, _config, _world, _later):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code (also used by the console script)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or EXIT_OK)
    except NotBuiltError as exc:
        print(f"engage-lab {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except EngageLabError as exc:
        print(f"engage-lab {args.command}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print(f"engage-lab {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
