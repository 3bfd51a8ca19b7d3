"""Arguments of the commands: text that must be UTF-8, and the ``--db`` to open.

Python keeps the bytes of an argument that is not UTF-8 as lone surrogates
(``surrogateescape``). A file name to read may be such bytes (Python opens it as it
is), but a seed, an instant, a segment or a load id is text the database stores or
compares, and neither DuckDB nor Arrow (``--out``) takes a surrogate: such an argument
is refused as a usage error naming the option.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import engage_lab as el
from engage_lab.cli._output import visible
from engage_lab.errors import EngageLabError

__all__ = ["open_existing", "utf8_text"]


def utf8_text(value: str) -> str:
    """An argparse ``type``: the argument as it is, if it is UTF-8 text.

    >>> utf8_text("2026")
    '2026'
    >>> utf8_text(b"20\\xff".decode("utf-8", "surrogateescape"))
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: not UTF-8 text: 20\\xff
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError(f"not UTF-8 text: {visible(value)}") from None
    return value


def open_existing(db: str, *, read_only: bool) -> el.Lab:
    """The database at ``db``, which must exist; ``read_only`` when the command only reads
    it (``replay``, ``compare``), so a file this user may not write still replays."""
    if not Path(db).is_file():
        raise EngageLabError(f"no database at {visible(db)} (create one with engage-lab load)")
    return el.open(db, read_only=read_only)
