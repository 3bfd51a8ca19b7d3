"""Conditions: one immutable tree for the product's criteria and GrowthBook-style expressions."""

from __future__ import annotations

__all__: list[str] = []
