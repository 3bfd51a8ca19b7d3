"""Configurations shipped inside the package (copies of ``data/configs/``).

The world generator records its histories with "the packaged production configuration
of the mode"; these copies travel with the installed package, so it needs no checkout.

>>> packaged("production-live-chat").mode
'live_chat'
>>> "production-messaging" in packaged_names()
True
"""

from __future__ import annotations

from importlib import resources

from engage_lab.config.configuration import Config
from engage_lab.config.history import ConfigHistory

__all__ = ["packaged", "packaged_history", "packaged_names", "packaged_text", "production"]


def packaged_names() -> list[str]:
    """Names of the packaged files, without ``.json``, sorted."""
    folder = resources.files("engage_lab.config") / "packaged"
    return sorted(p.name[: -len(".json")] for p in folder.iterdir() if p.name.endswith(".json"))


def packaged_text(name: str) -> str:
    """The text of one packaged file (``name`` with or without ``.json``)."""
    stem = name.removesuffix(".json")
    if stem not in packaged_names():
        raise KeyError(f"no packaged configuration {name!r}; known: {', '.join(packaged_names())}")
    path = resources.files("engage_lab.config") / "packaged" / f"{stem}.json"
    return path.read_text(encoding="utf-8")


def packaged(name: str) -> Config:
    """A packaged configuration, e.g. ``packaged("production-messaging")``."""
    return Config.from_json(packaged_text(name))


def packaged_history(name: str) -> ConfigHistory:
    """A packaged configuration history, e.g. ``packaged_history("history-live-chat")``."""
    return ConfigHistory.from_json(packaged_text(name))


def production(mode: str) -> Config:
    """The packaged production configuration of ``mode`` (``live_chat`` or ``messaging``).

    >>> production("messaging").source.mode
    'messaging'
    """
    if mode not in ("live_chat", "messaging"):
        raise ValueError(f"unknown mode {mode!r}; use live_chat or messaging")
    return packaged("production-" + mode.replace("_", "-"))
