"""engage_lab: replay and tune proactive web-chat triggers over recorded visitor sessions.

>>> import engage_lab as el
>>> issubclass(el.LoadError, el.EngageLabError)
True
"""

from __future__ import annotations

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

__version__ = "0.1.0"

__all__ = [
    "CompileError",
    "ConditionError",
    "ConfigError",
    "DatabaseError",
    "EngageLabError",
    "EngineError",
    "LoadError",
    "NotBuiltError",
    "UnsupportedOperatorError",
    "__version__",
]
