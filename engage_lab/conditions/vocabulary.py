"""The words conditions are made of: criteria, positions, value kinds, attributes.

Criteria (the product's form)
-----------------------------
``BUILTIN_CRITERIA`` maps each built-in criterion id to the kind its values are read as
(every other fact about a criterion is in :mod:`engage_lab.conditions.registry`):
``string`` (normalized, comma lists), ``number``, ``boolean``, ``day`` (Monday … Sunday,
ordered Monday first) and ``time`` (``"HH:MM"``, read as its 15-minute slot). The
legacy ``hour`` criterion is a ``number`` from 0 to 23. A custom variable ``<name>`` is
the criterion ``custom_<name>``; its kind comes from its declaration (``string``,
``number`` or ``boolean``). Declarations may be keyed ``<name>`` or ``custom_<name>``:
both are looked up, the bare name first.

Positions select pages of the visit (oldest first, the last one current): see
:func:`position_range`.

Expressions (GrowthBook-style JSON): the attribute vocabulary
---------------------------------------------------------------
Attributes are nested objects; conditions address them with dotted paths.

=====================  =======  ==========================================================
path                   type     meaning
=====================  =======  ==========================================================
``page.url``           string   the whole URL of the current page
``page.path``          string   the path (with query string) of the current page
``page.title``         string   the document title
``page.referrer``      string   the referrer of the current page (may be null)
``page.device``        string   the device class recorded with the page view
``page.count``         number   pages viewed so far in the visit, the current one included
``page.duration``      number   seconds on the current page (grows with time)
``visit.count``        number   visits so far, the current one included
``visit.duration``     number   seconds since the visit's first page started (grows)
``visit.urls``         array    URLs of the visit's pages so far, oldest first
``visit.paths``        array    paths of the visit's pages so far, oldest first
``visitor.id``         string   the visitor (browser) id
``visitor.identity``   boolean  an identity has been set
``visitor.signed_identity``  boolean  a JWT-signed identity has been set
``time.day_of_week``   string   ``"Monday"`` … ``"Sunday"`` in the source timezone
``time.time``          string   ``"HH:MM"`` in the source timezone (the exact minute)
``time.hour``          number   0–23 in the source timezone
``chat.shown``         boolean  the chat window is on screen
``chat.opened``        boolean  the chat window is open (not minimized)
``vars.<name>``        any      the custom variable ``<name>`` (missing: null)
=====================  =======  ==========================================================

``TIME_GROWING_ATTRIBUTES`` (``page.duration``, ``visit.duration``) and
``TIME_GROWING_CRITERIA`` (``page_visit_duration``, ``visit_duration``) only take
threshold operators, so the instant a condition turns true is exact.

>>> position_range("any_of_previous_3", 5)
(2, 4)
>>> normalize("  Crème Brûlée ")
'creme brulee'
>>> split_entries("a, , B")
('a', 'b')
>>> split_entries(" , ")
('',)
>>> time_slot("19:59"), parse_day("sunday")
(1185, 6)
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from engage_lab.conditions.registry import CRITERIA, CUSTOM_PREFIX

__all__ = [
    "ATTRIBUTE_ROOTS",
    "BUILTIN_CRITERIA",
    "DAYS",
    "EXPRESSION_ATTRIBUTES",
    "POSITIONS",
    "TIME_GROWING_ATTRIBUTES",
    "TIME_GROWING_CRITERIA",
    "WHITESPACE",
    "custom_declaration",
    "is_mark",
    "js_number_text",
    "normalize",
    "parse_day",
    "parse_time_value",
    "position_range",
    "split_entries",
    "time_slot",
]

#: Built-in criterion id -> value kind (the registry's, :mod:`engage_lab.conditions.registry`).
BUILTIN_CRITERIA: dict[str, str] = {c.id: c.kind for c in CRITERIA.values()}

TIME_GROWING_CRITERIA = frozenset(c.id for c in CRITERIA.values() if c.grows_with_time)
TIME_GROWING_ATTRIBUTES = frozenset({"page.duration", "visit.duration"})

EXPRESSION_ATTRIBUTES: dict[str, str] = {
    "page.url": "string",
    "page.path": "string",
    "page.title": "string",
    "page.referrer": "string",
    "page.device": "string",
    "page.count": "number",
    "page.duration": "number",
    "visit.count": "number",
    "visit.duration": "number",
    "visit.urls": "array",
    "visit.paths": "array",
    "visitor.id": "string",
    "visitor.identity": "boolean",
    "visitor.signed_identity": "boolean",
    "time.day_of_week": "string",
    "time.time": "string",
    "time.hour": "number",
    "chat.shown": "boolean",
    "chat.opened": "boolean",
}
ATTRIBUTE_ROOTS = frozenset({"page", "visit", "visitor", "time", "chat", "vars"})

#: The days of the week, Monday first (weeks run Monday to Sunday): the one list of
#: day names; ``DAYS`` is their normalized (lowercase) form, as criteria compare them.
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DAYS = tuple(day.lower() for day in DAY_NAMES)

#: Positions: name -> (first, last) page offsets back from the current page
#: (0 = current), or ``None`` for the two open-ended ones and the first page.
POSITIONS: dict[str, tuple[int, int] | None] = {
    "current": (0, 0),
    "previous": (1, 1),
    **{f"previous_{k}": (k, k) for k in range(2, 6)},
    **{f"any_of_previous_{k}": (k, 1) for k in range(2, 6)},
    "current_or_previous": (1, 0),
    **{f"current_or_any_of_previous_{k}": (k, 0) for k in range(2, 5)},
    "any": None,
    "any_previous": None,
    "first": None,
}

# Python's str.isspace() set, spelled out so the SQL compilers can use the same class.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


def position_range(position: str, pages: int) -> tuple[int, int]:
    """The 1-based inclusive page range (first, last) that ``position`` selects.

    The range is clipped to the visit; ``first > last`` means no page (not found).

    >>> position_range("current", 3), position_range("previous", 1), position_range("first", 4)
    ((3, 3), (1, 0), (1, 1))
    """
    if position == "any":
        return (1, pages)
    if position == "any_previous":
        return (1, pages - 1)
    if position == "first":
        return (1, min(1, pages))
    back = POSITIONS[position]
    assert back is not None
    first, last = pages - back[0], pages - back[1]
    first = max(first, 1)
    return (first, last) if last >= first else (1, 0)


def lower(text: str) -> str:
    """Lowercase as DuckDB's ``lower``: each code point by its one-character mapping.

    Python's ``str.lower`` looks at context (a final capital sigma becomes ``ς``) and maps
    ``İ`` to two code points; SQL can do neither, so both engines use this.

    >>> lower("ΟΣ Straße İ"), "ΟΣ".lower()
    ('οσ straße i', 'ος')
    """
    if text.isascii():
        return text.lower()
    return "".join(c.lower()[0] for c in text)


def normalize(text: str) -> str:
    """Strip, NFKD without combining marks, lowercase: how strings are compared.

    Combining marks are the characters of Unicode general category M (Mn, Mc, Me), the
    set DuckDB's ``strip_accents`` removes too, so SQL and Python agree.
    """
    text = text.strip()
    decomposed = unicodedata.normalize("NFKD", text)
    return lower("".join(c for c in decomposed if not is_mark(c)))


def is_mark(char: str) -> bool:
    """A combining mark: Unicode general category M."""
    return unicodedata.category(char)[0] == "M"


def split_entries(value: str) -> tuple[str, ...]:
    """A comma-separated list, each entry normalized; empty entries dropped unless all are."""
    entries = tuple(normalize(part) for part in value.split(","))
    kept = tuple(e for e in entries if e)
    return kept if kept else ("",)


def parse_day(value: Any) -> int | None:
    """The ordinal of a day name (Monday = 0), case and spaces ignored; else ``None``."""
    if not isinstance(value, str):
        return None
    name = normalize(value)
    return DAYS.index(name) if name in DAYS else None


_TIME = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::[0-9]{2}(?:\.[0-9]+)?)?")


def parse_time_value(value: Any) -> int | None:
    """Minutes since midnight of ``"HH:MM"`` (seconds allowed and ignored); else ``None``."""
    if not isinstance(value, str):
        return None
    match = _TIME.fullmatch(value.strip())
    if match is None:
        return None
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours > 23 or minutes > 59:
        return None
    return hours * 60 + minutes


def time_slot(value: Any) -> int | None:
    """The start (minutes since midnight) of the 15-minute slot ``value`` falls in."""
    minutes = parse_time_value(value)
    return None if minutes is None else minutes - minutes % 15


def custom_declaration(criterion: str, declarations: Any) -> str | None:
    """The declared kind of ``custom_<name>``: key ``<name>`` first, then ``custom_<name>``."""
    if declarations is None or not criterion.startswith(CUSTOM_PREFIX):
        return None
    bare = criterion[len(CUSTOM_PREFIX) :]
    if bare in declarations:
        return declarations[bare]
    return declarations.get(criterion)


def js_number_text(value: float) -> str:
    """A number as JavaScript's ``String(n)`` writes it (``2.0`` -> ``"2"``)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)
