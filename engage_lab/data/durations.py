"""Durations written the way people write them: ``24h``, ``30m``, ``90s``, ``1h30m``.

>>> parse_duration("1h30m")
5400000
>>> parse_duration("2d")
172800000
"""

from __future__ import annotations

import re

from engage_lab.errors import ConfigError

__all__ = ["format_duration", "parse_duration"]

_UNITS_MS = {"d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1_000, "ms": 1}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|d|h|m|s)")


def parse_duration(text: str | int) -> int:
    """Milliseconds of a duration (``1h30m``, ``90s``, ``250ms``; an int is milliseconds).

    Raises
    ------
    ConfigError
        The text is not a positive duration.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        if text <= 0:
            raise ConfigError([f"duration: must be positive, got {text}"])
        return text
    compact = str(text).strip().lower().replace(" ", "")
    parts = _PART.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise ConfigError([f"duration: not a duration: {text!r} (write e.g. 24h, 30m, 90s, 1h30m)"])
    total = sum(float(n) * _UNITS_MS[u] for n, u in parts)
    if total <= 0 or total != int(total):
        raise ConfigError([f"duration: must be a positive number of milliseconds: {text!r}"])
    return int(total)


def format_duration(ms: int) -> str:
    """The shortest ``1h30m`` form of a duration in milliseconds.

    >>> format_duration(86_400_000)
    '24h'
    >>> format_duration(5_400_000)
    '1h30m'
    """
    out = []
    rest = ms
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)):
        count, rest = divmod(rest, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out) or "0s"
