"""Durations: one parser, and one meaning of a bare number — seconds.

The product states its durations in seconds (page visit duration, visit duration, the
delays of its settings) and writes its settings as "chronic duration" strings
(``"8m"``, ``"2m 25s"``, the format of the Ruby ``chronic_duration`` library). Every
duration engage_lab reads goes through :func:`duration_ms`, so a value means the same
wherever it is written:

* a configuration's ``"visit_idle": 1800`` or ``"impossibility_delay": "2m 25s"``;
* ``Lab.load(..., visit_idle=1800)`` and ``engage-lab load ... --visit-idle 1800``.

A bare number (``1800``, ``1.5``, ``"1800"``) is **seconds**. A string of number-unit
pairs (``"24h"``, ``"1h30m"``, ``"1 hour 30 minutes"``, ``"250ms"``) reads each pair
with its unit. Refused, each with a message that says what to write: a number after
unit pairs with no unit of its own (``"1h30"``: 30 minutes or 30 seconds?), unknown
units (months and years are left out on purpose: their length varies), negative or
non-finite values, and anything finer than a millisecond.

>>> duration_ms("2m 25s")
145000
>>> duration_ms(1800)
1800000
>>> duration_ms("1800")
1800000
>>> duration_ms("1.5h")
5400000
>>> duration_ms("1h30")
Traceback (most recent call last):
...
engage_lab.durations.DurationError: "1h30" ends with a number without a unit (30 minutes? 30 seconds?); write "1h30m" or "1h30s"
"""

from __future__ import annotations

import re
from decimal import Decimal

__all__ = ["DURATION_PATTERN", "DurationError", "duration_ms"]

#: Milliseconds per unit.
_UNIT_MS: dict[str, int] = {}
for _names, _ms in (
    (("ms", "msec", "msecs", "millisecond", "milliseconds"), 1),
    (("s", "sec", "secs", "second", "seconds"), 1_000),
    (("m", "min", "mins", "minute", "minutes"), 60_000),
    (("h", "hr", "hrs", "hour", "hours"), 3_600_000),
    (("d", "day", "days"), 86_400_000),
    (("w", "wk", "wks", "week", "weeks"), 604_800_000),
):
    for _name in _names:
        _UNIT_MS[_name] = _ms

_NUMBER = r"\d+(?:\.\d+)?"
_PAIR = re.compile(rf"({_NUMBER})\s*([a-z]+)")
#: The accepted string shapes: one plain number of seconds, or number-unit pairs.
DURATION_PATTERN = rf"^\s*(?:{_NUMBER}|(?:{_NUMBER}\s*[A-Za-z]+[\s,]*)+)\s*$"
_WHOLE = re.compile(DURATION_PATTERN)
#: Pairs followed by a last number with no unit: the ambiguous ``1h30``.
_UNITLESS_TAIL = re.compile(rf"^\s*(?:{_NUMBER}\s*[A-Za-z]+[\s,]*)+({_NUMBER})\s*$")


class DurationError(ValueError):
    """A duration that cannot be read; the message says what to write instead."""


def duration_ms(value: int | float | str) -> int:
    """Milliseconds in a duration: a number of seconds or a string of number-unit pairs.

    Parameters
    ----------
    value
        A non-negative number of seconds (``480``, ``1.5``), a string holding only such a
        number (``"480"``), or a string of number-unit pairs (``"8m"``, ``"2m 25s"``,
        ``"24h"``, ``"1 hour 30 minutes"``). Units: ``ms``, ``s``, ``m``, ``h``, ``d``,
        ``w`` and their long names.

    Returns
    -------
    int
        The exact number of milliseconds (``0`` for a zero duration; callers that need a
        positive one say so).

    Raises
    ------
    DurationError
        When the value is negative, not finite, not a duration, ambiguous or finer than
        a millisecond.

    >>> duration_ms("8m")
    480000
    >>> duration_ms(0.25)
    250
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise DurationError(
            'must be a number of seconds or a duration string such as "8m", '
            f"not {type(value).__name__}"
        )
    if isinstance(value, str):
        total = _string_ms(value)
    else:
        total = Decimal(repr(value)) * 1000
        if not total.is_finite():
            raise DurationError("must be a finite number of seconds")
        if total < 0:
            raise DurationError("must not be negative")
    if total != total.to_integral_value():
        raise DurationError("must be a whole number of milliseconds")
    return int(total)


def _string_ms(text: str) -> Decimal:
    lowered = text.strip().lower()
    if re.fullmatch(_NUMBER, lowered):
        return Decimal(lowered) * 1000
    tail = _UNITLESS_TAIL.match(lowered)
    if tail:
        number, written = tail.group(1), text.strip()
        raise DurationError(
            f'"{written}" ends with a number without a unit ({number} minutes? {number} '
            f'seconds?); write "{written}m" or "{written}s"'
        )
    if not _WHOLE.match(text):
        raise DurationError(
            f'cannot read duration "{text}"; write number-unit pairs such as "8m", '
            '"2m 25s" or "24h", or a number of seconds'
        )
    total = Decimal(0)
    for number, unit in _PAIR.findall(lowered):
        if unit not in _UNIT_MS:
            raise DurationError(
                f'unknown unit "{unit}" in duration "{text}"; use ms, s, m, h, d or w'
            )
        total += Decimal(number) * _UNIT_MS[unit]
    return total
