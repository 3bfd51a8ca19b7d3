"""Agent availability shared by both engines: policies, state from logs, simulated agents.

* :mod:`~engage_lab.availability.policies` — the server's answer as pure functions.
* :mod:`~engage_lab.availability.state` — capacity / load / waiting at instants, from the
  ``agents``, ``presence`` and ``conversations`` tables (Python timeline and DuckDB SQL).
* :mod:`~engage_lab.availability.pool` — the simulated agent side (event-driven pool).

>>> from engage_lab.availability import AvailabilityState, policy_from_dict
>>> policy_from_dict({"policy": "product"}).probability(AvailabilityState(2, 1, 0))
1.0
"""

from __future__ import annotations

from engage_lab.availability.policies import (
    AvailabilityState,
    CurvePolicy,
    Policy,
    ProductPolicy,
    ReservePolicy,
    extra_places,
    policy_from_dict,
    queuing_factor_percent,
)
from engage_lab.availability.pool import AgentPool, ConversationRecord, simulate_conversations
from engage_lab.availability.state import (
    Timeline,
    state_at,
    states_at_sql,
    timeline_sql,
    to_ms,
    to_ms_array,
)

__all__ = [
    "AgentPool",
    "AvailabilityState",
    "ConversationRecord",
    "CurvePolicy",
    "Policy",
    "ProductPolicy",
    "ReservePolicy",
    "Timeline",
    "extra_places",
    "policy_from_dict",
    "queuing_factor_percent",
    "simulate_conversations",
    "state_at",
    "states_at_sql",
    "timeline_sql",
    "to_ms",
    "to_ms_array",
]
