"""The analyst's entry point: ``el.open(db)`` returns a ``Lab``."""

from __future__ import annotations

from engage_lab.errors import NotBuiltError

__all__ = ["Lab", "open"]


class Lab:
    """Placeholder until the data layer is built."""


def open(path: str) -> Lab:
    raise NotBuiltError("not built yet")
