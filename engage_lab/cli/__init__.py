"""The ``engage-lab`` command line: one ``main()``, commands over the public API only.

Each command lives in a small module that registers its parser; ``main`` turns every
``EngageLabError`` into one clear message on stderr and a non-zero exit code, never a
traceback (a usage error is one line too). Everything printed goes through
:mod:`engage_lab.cli._output`, which shows control characters of input as escapes.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import IO, NoReturn

from engage_lab.cli import _config, _data, _later, _world
from engage_lab.cli._output import error_text, say, visible
from engage_lab.errors import EngageLabError, MissingSeedError, NotBuiltError

__all__ = ["main"]

#: Exit codes: 0 success, 1 a problem with the input (invalid data or configuration),
#: 2 a usage problem or a command that is not built yet.
EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
#: Exit code when stdout's reader went away (a shell's code for death by SIGPIPE).
EXIT_BROKEN_PIPE = 128 + 13
#: How to give the gating draws a seed on the command line.
SEED_HINT = "pass --seed SEED"


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors whose quoted arguments are shown visibly.

    Subcommand parsers are of the same class (``add_subparsers`` uses the parent's).
    """

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {visible(message)} (see {self.prog} --help)\n")

    def _print_message(self, message: str, file: IO[str] | None = None) -> None:
        super()._print_message(visible(message, newlines=True), file)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command of the stable interface."""
    parser = _Parser(
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
        code = int(args.func(args) or EXIT_OK)
        sys.stdout.flush()  # a closed pipe shows here, not at the interpreter's exit
        return code
    except BrokenPipeError:
        return _reader_went_away()
    except MissingSeedError:
        # The engines say `seed=` (the Python API); here it is an option.
        say(error_text(args.command, MissingSeedError(SEED_HINT)), err=True)
        return EXIT_INVALID
    except NotBuiltError as exc:
        say(error_text(args.command, exc), err=True)
        return EXIT_USAGE
    except EngageLabError as exc:
        say(error_text(args.command, exc), err=True)
        return EXIT_INVALID
    except KeyboardInterrupt:
        say(f"engage-lab {args.command}: interrupted", err=True)
        return 130


def _reader_went_away() -> int:
    """The reader of stdout closed it (``engage-lab load ... | head``): leave quietly.

    As the Python documentation's note on SIGPIPE advises, stdout is pointed at devnull
    so the interpreter's last flush does not fail again, and the exit code is the one a
    shell gives a program killed by SIGPIPE (128 + 13), as ``cat``, ``grep`` or ``seq``
    end in such a pipe.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_BROKEN_PIPE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
