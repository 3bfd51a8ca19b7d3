"""Durations as the product writes them: "chronic duration" strings or plain seconds.

The product's settings take durations such as ``"8m"`` or ``"2m 25s"`` (number-plus-unit
pairs, the format of the Ruby ``chronic_duration`` library) and ``0`` to turn a timer
off. A configuration keeps the value exactly as it was written, so it round-trips; the
engines read it through :func:`duration_ms`, an exact integer count of milliseconds.

>>> duration_ms("2m 25s")
145000
>>> duration_ms(90)
90000
>>> duration_ms("1.5h")
5400000
"""

from __future__ import annotations

import re
from decimal import Decimal

__all__ = ["DURATION_PATTERN", "DurationError", "duration_ms"]

#: Milliseconds per unit. Months and years are left out on purpose: their length varies.
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


class DurationError(ValueError):
    """A duration that cannot be read; the message says what to write instead."""


def duration_ms(value: int | float | str) -> int:
    """Milliseconds in a duration: a number of seconds or a chronic-duration string.

    Parameters
    ----------
    value
        A non-negative number of seconds (``480``, ``1.5``), or a string of
        number-unit pairs (``"8m"``, ``"2m 25s"``, ``"24h"``, ``"1 hour 30 minutes"``);
        a string holding only a number is seconds, as in ``chronic_duration``.

    Returns
    -------
    int
        The exact number of milliseconds.

    Raises
    ------
    DurationError
        When the value is negative, not a duration, or finer than a millisecond.

    >>> duration_ms("8m")
    480000
    >>> duration_ms("0")
    0
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise DurationError('must be a number of seconds or a duration string such as "8m"')
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
