"""Conditions: one immutable tree for the product's criteria and GrowthBook-style expressions.

Parse once (:func:`parse_criteria`, :func:`parse_expression`), then evaluate
(:func:`evaluate`, :func:`evaluate_criteria`), review (:func:`check_criteria`,
:func:`check_expression`), walk (:func:`criteria_nodes`, :func:`time_thresholds`) or
compile to SQL (:mod:`engage_lab.conditions.compiler`). Node classes live in
:mod:`engage_lab.conditions.nodes`; every fact about a criterion (its kind, source,
operators …) in :mod:`engage_lab.conditions.registry`; the attribute vocabulary of
expressions in :mod:`engage_lab.conditions.vocabulary`. A configuration parses its
triggers' conditions once, when it loads, into
:class:`~engage_lab.conditions.parsed.TriggerConditions` (:mod:`engage_lab.conditions.parsed`).

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
from engage_lab.conditions.parsed import TriggerConditions, parse_trigger_conditions
from engage_lab.conditions.registry import CRITERIA, CriterionFacts
from engage_lab.conditions.walking import TimeThreshold, criteria_nodes, time_thresholds

__all__ = [
    "CRITERIA",
    "CriterionFacts",
    "Node",
    "TimeThreshold",
    "TriggerConditions",
    "check_criteria",
    "check_expression",
    "check_regex",
    "criteria_nodes",
    "evaluate",
    "evaluate_criteria",
    "nodes",
    "parse_criteria",
    "parse_expression",
    "parse_trigger_conditions",
    "time_thresholds",
]
