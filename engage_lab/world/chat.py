"""The hook for the chat-event step: recorded chat events come from the reference Chat
Manager run over the generated world (``engage_lab.world.recording``, the default).

``generate_world(..., chat_recorder=fn)`` calls ``fn(world)`` once, after the visitors'
navigation, variables, identities, threads, agents and their background load are drawn
and before anything is written. ``world`` is a ``WorldView``: every table as a pandas
DataFrame with the schema's column names and ids exactly as they will be written, times
as ``datetime64[ms, UTC]`` in **server time** (browser clock offsets are applied by the
writer, to chat events too), plus the agents' timelines (presence and background
conversations: the load web chats add to), the hidden truth (per-visitor engagement
effect, per-page category and visit number, the ``EngagementTruth`` parameters and its
functions in ``engage_lab.world.truth``), the configuration files named on the command
line and a dedicated random generator (its own SeedSequence child, so the step never
shifts the other draws). It returns a ``ChatRecording``:

* ``chat_events``: the schema's ``chat_events`` columns (``chat_event_id`` may be absent:
  the writer then numbers them ``s{seed}-ce-NNNNNNN`` in row order); rows in the order
  they should be written;
* ``conversations``: the web-chat conversations (``channel = "web_chat"``, ``visitor_id``,
  ``page_view_id``, ``outcome``; ``conversation_id`` may be absent: the writer numbers
  them ``s{seed}-wc-NNNNNN``); they are appended after the background conversations;
* ``truth``: any JSON-ready facts to keep under ``truth/chat.json`` (draws, engagements).

``generate_world`` (and so ``engage-lab generate``) uses ``default_chat_recorder()`` unless
told otherwise: the recording of the reference Chat Manager run over the world with a live
agent pool and the hidden behaviour (:func:`engage_lab.world.recording.record_chat`),
computed by its compiled twin :func:`engage_lab.world.recording_fast.record_chat_fast`
(``reference_chat_recorder()`` runs the Python reference itself). With
``chat_recorder=None`` no ``chat_events.jsonl`` is written and the summary says so
(``CHAT_STEP_NOT_BUILT``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from engage_lab.world.agents import AgentTimeline
from engage_lab.world.params import WorldParams

__all__ = [
    "CHAT_STEP_NOT_BUILT",
    "ChatRecorder",
    "ChatRecording",
    "WorldView",
    "default_chat_recorder",
    "reference_chat_recorder",
]

#: What the summary and ``truth/params.json`` say when no recorder runs (``chat_recorder=None``).
CHAT_STEP_NOT_BUILT = (
    "chat events not recorded: the chat-event step (the reference Chat Manager run over "
    "this world) was switched off; the configuration is recorded for it"
)


@dataclass(frozen=True)
class WorldView:
    """The generated world handed to the chat-event step (server time, final ids)."""

    mode: str
    seed: int
    timezone: str
    params: WorldParams
    #: ``source``, ``source_status``, ``visitors``, ``page_views``, ``var_changes``,
    #: ``identities``, ``threads``, ``agents``, ``presence``, ``conversations``.
    tables: Mapping[str, pd.DataFrame]
    #: Per agent (same order as ``tables["agents"]``).
    agent_timelines: list[AgentTimeline]
    #: ``visitor_id``, ``engagement_effect``, ``country``, ``device``.
    visitor_truth: pd.DataFrame
    #: ``page_view_id``, ``visit_id`` (as in ``truth/visits.jsonl``; the loader derives the
    #: same visits), ``page_category``, ``visit_number`` (1 = the visitor's first visit).
    page_truth: pd.DataFrame
    config_path: Path | None
    config_history_path: Path | None
    rng: np.random.Generator


@dataclass(frozen=True)
class ChatRecording:
    """What the chat-event step returns (see the module docstring)."""

    chat_events: pd.DataFrame
    conversations: pd.DataFrame
    truth: Mapping[str, object] = field(default_factory=dict)


class ChatRecorder(Protocol):
    """The chat-event step: ``recording = recorder(world)``."""

    def __call__(self, world: WorldView) -> ChatRecording: ...


def default_chat_recorder() -> ChatRecorder | None:
    """The chat-event step ``generate_world`` uses by default.

    :func:`engage_lab.world.recording_fast.record_chat_fast`: the reference Chat Manager's
    recording (:func:`engage_lab.world.recording.record_chat`: the same rows, ids and
    truth; the differential tests hold the two together) computed by one compiled pass,
    imported here so the generator does not depend on the engines at import.

    >>> default_chat_recorder().__name__
    'record_chat_fast'
    """
    from engage_lab.world.recording_fast import record_chat_fast

    return record_chat_fast


def reference_chat_recorder() -> ChatRecorder:
    """The reference recorder: :func:`engage_lab.world.recording.record_chat`, one
    :class:`~engage_lab.reference.VisitorSession` per visitor in Python (the spec).

    >>> reference_chat_recorder().__name__
    'record_chat'
    """
    from engage_lab.world.recording import record_chat

    return record_chat
