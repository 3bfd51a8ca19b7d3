"""Conditions: one immutable tree for the product's criteria and GrowthBook-style expressions.

>>> from engage_lab import conditions
>>> conditions.evaluate({"page.count": {"$gte": 2}}, {"page": {"count": 3}})
True
"""

from __future__ import annotations

from engage_lab.conditions.criteria import parse_criteria
from engage_lab.conditions.evaluator import evaluate, evaluate_criteria
from engage_lab.conditions.expressions import parse_expression

__all__ = ["evaluate", "evaluate_criteria", "parse_criteria", "parse_expression"]
