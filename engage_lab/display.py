"""Text from the outside, made safe to show on a terminal: one helper for every output.

Ids, labels, file names, timezones and error messages quoting them come from
configurations, data files and the command line. Printed as they are, they can drive the
terminal: ESC starts colour, cursor and screen-clearing sequences, OSC 8 makes hidden
links, ``\\r`` overwrites what was printed, a bidi override (U+202E) shows text reversed,
and rich reads ``[red]...[/red]`` or ``[link=...]`` as markup. So every such text goes
through :func:`visible` before it is printed, and through :func:`literal` when rich
prints it:

* control characters (C0, DEL, C1) are shown as Python escapes (``\\x1b``, ``\\r``,
  ``\\n``, ``\\t``), so the text stays recognisable and on one line;
* the invisible formatting characters that reorder or split a line (bidi embeddings,
  overrides, isolates and marks; the line and paragraph separators) are shown as
  ``\\u202e``-style escapes: a reversed id would read as another id;
* a byte that was not UTF-8 (a command-line argument or file name, which Python keeps as
  a lone surrogate) is shown as ``\\xff``; printing the surrogate itself would fail;
* everything else is kept as it is (letters of every script, emoji, ``[``, ``\\``).

:func:`literal` wraps the visible text in a :class:`rich.text.Text`, which rich never
reads as markup or emoji codes. JSON output needs none of this: ``json.dumps`` escapes
every control character and keeps the exact value.

>>> visible("[red]x[/red]")
'[red]x[/red]'
>>> visible("\\x1b[2Jgone")
'\\\\x1b[2Jgone'
>>> visible("\\u202eevil")
'\\\\u202eevil'
>>> visible("line one\\nline two", newlines=True)
'line one\\nline two'
>>> literal("[link=http://evil]x[/link]").plain
'[link=http://evil]x[/link]'
"""

from __future__ import annotations

import unicodedata

from rich.text import Text

__all__ = ["literal", "visible"]

#: Characters that reorder or break a line without being control characters.
_LAYOUT = frozenset(
    "\u061c\u200e\u200f\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _shown(char: str) -> str:
    code = ord(char)
    if char in _NAMED:
        return _NAMED[char]
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _hidden(char: str) -> bool:
    return char in _LAYOUT or unicodedata.category(char) in ("Cc", "Cs")


def visible(value: object, *, newlines: bool = False) -> str:
    """``str(value)`` with every character that could drive a terminal shown as an escape.

    Parameters
    ----------
    value
        Any value; its ``str`` is shown.
    newlines
        Keep ``\\n`` as a line break, for text of several lines composed by engage_lab
        itself (a value from the outside is shown with ``newlines=False``, so it stays on
        its line).

    >>> visible("a\\rb\\x9bc\\x7f")
    'a\\\\rb\\\\x9bc\\\\x7f'
    >>> visible("caf\\u00e9 \\u2713")
    'caf\u00e9 \u2713'
    >>> visible(b"\\xff".decode("utf-8", "surrogateescape"))
    '\\\\xff'
    """
    text = str(value)
    if text.isprintable() and not any(c in _LAYOUT for c in text):
        return text  # the common case: nothing to escape
    return "".join(_shown(c) if _hidden(c) and not (newlines and c == "\n") else c for c in text)


def literal(value: object, style: str = "") -> Text:
    """:func:`visible` text as a rich :class:`~rich.text.Text`: never read as markup.

    >>> literal("[bold]x[/bold]").plain
    '[bold]x[/bold]'
    """
    return Text(visible(value), style=style)
