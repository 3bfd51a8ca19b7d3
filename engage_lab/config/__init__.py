"""Configuration: pydantic models, validation with JSON paths, history, JSON Schema."""

from __future__ import annotations

__all__ = ["Config"]


class Config:
    """Placeholder until the configuration model is built."""
