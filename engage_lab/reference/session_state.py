"""Per-visit and per-page state the Chat Manager keeps, and the configuration in force.

* :class:`ChatState`: what is on screen on a page view (the chat, visible items);
* :class:`VisitState`: what lasts for a visit (executions for "once per visit", "no other
  trigger" blocks, automatic messages sent, the past pages' final states);
* :func:`config_resolver`: the configuration in force at an instant.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engage_lab.config import Config, ConfigHistory
from engage_lab.config.history import NoConfigurationInEffectError
from engage_lab.reference.history import PageView
from engage_lab.reference.protocols import Conversation, Engagement

__all__ = ["ChatState", "EngagedConversation", "VisitState", "config_resolver"]


def config_resolver(config: Config | ConfigHistory) -> Callable[[int], Config | None]:
    """``t -> configuration in force at t`` (None before a history's first entry)."""
    if isinstance(config, Config):
        return lambda t: config

    def at(t: int) -> Config | None:
        try:
            return config.at(t)
        except NoConfigurationInEffectError:
            return None

    return at


@dataclass
class ChatState:
    """What is on screen on a page view: the chat (shown, opened) and visible items
    (``item_id -> (item_type, mode)``, in the order they appeared)."""

    shown: bool = False
    opened: bool = False
    items: dict[str, tuple[str, str]] = field(default_factory=dict)

    def copy(self) -> ChatState:
        return ChatState(self.shown, self.opened, dict(self.items))

    @property
    def anything_visible(self) -> bool:
        return self.shown or bool(self.items)


@dataclass
class VisitState:
    """State that lasts for a visit: options, automatic messages, past pages."""

    visit_id: str
    count: int
    start: int
    executions: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    no_other_by: set[str] = field(default_factory=set)
    messages_sent: set[str] = field(default_factory=set)
    pages: list[PageView] = field(default_factory=list)
    final_values: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class EngagedConversation:
    """An honoured engagement and the conversation it started."""

    engagement: Engagement
    conversation: Conversation
