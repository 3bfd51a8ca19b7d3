"""What engines need to know about a tree: its criteria and its time thresholds.

The fast engine and the reference Chat Manager walk the tree instead of re-reading JSON:
:func:`criteria_nodes` lists the criteria (criterion, position, operator, values) and
:func:`time_thresholds` the thresholds on attributes that grow with time, from which
the exact instant a condition turns true can be computed.

>>> from engage_lab.conditions import parse_criteria, parse_expression
>>> tree = parse_criteria([{"criterion": "page_visit_duration", "operator": "gte", "value": 30},
...                        {"criterion": "page_url", "operator": "contains", "value": "cart"}])
>>> [(c.criterion, c.position, c.test.op) for c in criteria_nodes(tree)]
[('page_visit_duration', 'current', 'gte'), ('page_url', 'current', 'contains')]
>>> time_thresholds(tree)
[TimeThreshold(attribute='page_visit_duration', operator='gte', value=30, position='current')]
>>> time_thresholds(parse_expression({"visit.duration": {"$gt": 60}}))
[TimeThreshold(attribute='visit.duration', operator='$gt', value=60, position='current')]
"""

from __future__ import annotations

from dataclasses import dataclass

from engage_lab.conditions import nodes as n
from engage_lab.conditions.vocabulary import TIME_GROWING_ATTRIBUTES, TIME_GROWING_CRITERIA

__all__ = ["TimeThreshold", "criteria_nodes", "time_thresholds"]

_EXPRESSION_THRESHOLDS = (n.OpGt, n.OpGte, n.OpLt, n.OpLte)


@dataclass(frozen=True, slots=True)
class TimeThreshold:
    """A threshold on a time-growing attribute: ``attribute operator value``.

    ``attribute`` is a criterion id (``page_visit_duration``, ``visit_duration``) or an
    expression path (``page.duration``, ``visit.duration``); ``operator`` is ``gte`` /
    ``lte`` or ``$gt`` / ``$gte`` / ``$lt`` / ``$lte``; ``position`` the criterion's
    position (expressions: ``current``).
    """

    attribute: str
    operator: str
    value: float
    position: str = "current"


def criteria_nodes(tree: n.Node) -> list[n.Criterion]:
    """Every :class:`~engage_lab.conditions.nodes.Criterion` of the tree, in order."""
    return [node for node in n.walk(tree) if isinstance(node, n.Criterion)]


def time_thresholds(tree: n.Node) -> list[TimeThreshold]:
    """Every threshold on an attribute that grows with time, in tree order."""
    out: list[TimeThreshold] = []
    for node in n.walk(tree):
        if isinstance(node, n.Criterion) and node.criterion in TIME_GROWING_CRITERIA:
            if isinstance(node.test, n.Gte | n.Lte):
                out.append(
                    TimeThreshold(node.criterion, node.test.op, node.test.value, node.position)
                )
        elif isinstance(node, n.Field) and node.path in TIME_GROWING_ATTRIBUTES:
            tests = node.test.tests if isinstance(node.test, n.Operators) else (node.test,)
            for test in tests:
                if isinstance(test, _EXPRESSION_THRESHOLDS):
                    value = test.operand.value
                    if isinstance(value, (int, float)) and not isinstance(value, bool):
                        out.append(TimeThreshold(node.path, test.op, value))
    return out
