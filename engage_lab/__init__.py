"""engage_lab: replay and tune proactive web-chat triggers over recorded visitor sessions.

>>> import engage_lab as el
>>> issubclass(el.LoadError, el.EngageLabError)
True
"""

# ruff: noqa: E402
from __future__ import annotations

from engage_lab import numba_cache

numba_cache.ensure()  # before any kernel is defined: the imports below come after

from engage_lab import conditions
from engage_lab.config import Config, ConfigHistory
from engage_lab.errors import (
    CompileError,
    ConditionError,
    ConfigError,
    DatabaseError,
    EngageLabError,
    EngineError,
    LoadError,
    NotBuiltError,
    UnsupportedOperatorError,
)
from engage_lab.lab import Lab, open

__version__ = "0.1.0"

__all__ = [
    "CompileError",
    "ConditionError",
    "Config",
    "ConfigError",
    "ConfigHistory",
    "DatabaseError",
    "EngageLabError",
    "EngineError",
    "Lab",
    "LoadError",
    "NotBuiltError",
    "UnsupportedOperatorError",
    "__version__",
    "conditions",
    "open",
]
