"""Conditions: one immutable tree for the product's criteria and GrowthBook-style expressions.

Parse once (:func:`parse_criteria`, :func:`parse_expression`), then evaluate
(:func:`evaluate`, :func:`evaluate_criteria`), review (:func:`check_criteria`,
:func:`check_expression`), walk (:func:`criteria_nodes`, :func:`time_thresholds`) or
compile to SQL (:mod:`engage_lab.conditions.compiler`). Node classes live in
:mod:`engage_lab.conditions.nodes`; the attribute vocabulary of expressions in
:mod:`engage_lab.conditions.vocabulary`.

>>> from engage_lab import conditions
>>> conditions.evaluate({"page.count": {"$gte": 2}}, {"page": {"count": 3}})
True
"""

from __future__ import annotations

from engage_lab.conditions import nodes
from engage_lab.conditions.checks import check_criteria, check_expression, check_regex
from engage_lab.conditions.criteria import parse_criteria
from engage_lab.conditions.evaluator import evaluate, evaluate_criteria
from engage_lab.conditions.expressions import parse_expression
from engage_lab.conditions.nodes import Node
from engage_lab.conditions.walking import TimeThreshold, criteria_nodes, time_thresholds

__all__ = [
    "Node",
    "TimeThreshold",
    "check_criteria",
    "check_expression",
    "check_regex",
    "criteria_nodes",
    "evaluate",
    "evaluate_criteria",
    "nodes",
    "parse_criteria",
    "parse_expression",
    "time_thresholds",
]
