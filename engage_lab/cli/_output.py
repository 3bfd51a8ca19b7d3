"""Every line the CLI prints goes through here, so no text from the outside drives the terminal.

Ids, labels, file names and error messages quoting them come from configurations, data
and the command line; :func:`engage_lab.display.visible` shows their control characters
as escapes (:func:`say` applies it to every line, keeping only the CLI's own line
breaks), and the rich console never reads markup or emoji codes (tables get
:func:`engage_lab.display.literal` cells). ``--json`` output is written as it is:
``json.dumps`` already escapes every control character and keeps the exact values.
"""

from __future__ import annotations

import sys

from rich.console import Console

from engage_lab.display import literal, visible
from engage_lab.errors import EngageLabError

__all__ = ["console", "error_text", "literal", "say", "visible"]


def say(text: object = "", *, err: bool = False) -> None:
    """Print text the CLI composed (values from the outside in it are shown visibly)."""
    print(visible(text, newlines=True), file=sys.stderr if err else sys.stdout)


def error_text(command: str, exc: BaseException) -> str:
    """The message of a user error: one line, or for an error listing problems (a refused
    load, an invalid configuration) its headline and one line per problem."""
    if not (isinstance(exc, EngageLabError) and hasattr(exc, "problems")):
        # a value quoted in a one-line message keeps its line breaks escaped: one line
        return f"engage-lab {command}: {visible(exc)}"
    text = str(exc)
    for line in [getattr(exc, "headline", None), *exc.problems]:
        if line and visible(line) != line:  # a problem quoting a value with a line break
            text = text.replace(line, visible(line))
    return f"engage-lab {command}: {visible(text, newlines=True)}"


class _PipeConsole(Console):
    """A console that leaves a closed stdout to ``cli.main`` (rich exits with status 1)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


def console() -> Console:
    """The console for tables on stdout: no markup, no emoji codes, no highlighting."""
    return _PipeConsole(file=sys.stdout, highlight=False, markup=False, emoji=False, width=140)
