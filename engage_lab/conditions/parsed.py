"""A trigger's conditions parsed once: the structure every consumer reads.

A configuration parses each trigger's ``criteria`` and ``expression`` when it loads
(:meth:`engage_lab.config.Config.conditions`) into one immutable
:class:`TriggerConditions`; the reference Chat Manager, the fast engine and the world
generator read it and never the raw JSON.

Custom variables: a criterion ``custom_<name>`` reads the variable ``custom_<name>``
with the kind its declaration gives (``custom_variables``, keyed ``<name>`` or
``custom_<name>``, the bare name first). A configuration must declare every custom
variable its criteria read: :func:`parse_trigger_conditions` refuses an undeclared one
with its JSON path, as the validator does. Only the standalone
:func:`~engage_lab.conditions.evaluate_criteria` (no configuration) infers an undeclared
variable's kind from the pages' values. A name that is neither a registered criterion nor
``custom_<name>`` is refused by the parser: it never becomes a variable read.

>>> parsed = parse_trigger_conditions(
...     [{"criterion": "page_visit_duration", "operator": "gte", "value": 45},
...      {"criterion": "custom_cart", "operator": "gte", "value": 1}],
...     {"vars.custom_plan": "pro"}, {"custom_cart": "number"}, "triggers[0]")
>>> [(c.criterion, c.facts.source) for c in parsed.criteria]
[('page_visit_duration', 'duration'), ('custom_cart', 'var')]
>>> parsed.time_reads.page_offsets
(45000, 45001)
>>> parse_trigger_conditions([{"criterion": "custom_basket", "operator": "is_present"}],
...                          None, {}, "triggers[2]")
Traceback (most recent call last):
...
engage_lab.errors.ConditionError: triggers[2].criteria[0].criterion: undeclared custom variable: custom_basket
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engage_lab.conditions import nodes as n
from engage_lab.conditions.criteria import parse_criteria
from engage_lab.conditions.expressions import parse_expression
from engage_lab.conditions.walking import TimeReads, time_reads

__all__ = ["TriggerConditions", "parse_trigger_conditions"]


@dataclass(frozen=True, slots=True)
class TriggerConditions:
    """A trigger's parsed conditions: its criteria (ANDed, in order) and its expression.

    ``time_reads`` are the offsets and clock step at which they can change with time
    alone (:func:`~engage_lab.conditions.walking.time_reads`), computed once.
    """

    criteria: tuple[n.Criterion, ...]
    expression: n.Node | None
    time_reads: TimeReads

    @property
    def criteria_tree(self) -> n.And:
        """The criteria as one :class:`~engage_lab.conditions.nodes.And` node."""
        return n.And(self.criteria)

    @property
    def always(self) -> bool:
        """Neither criteria nor an expression: the trigger always matches."""
        return not self.criteria and self.expression is None


def parse_trigger_conditions(
    criteria: Any,
    expression: Any,
    custom_variables: Mapping[str, str],
    path: str = "trigger",
) -> TriggerConditions:
    """Parse a trigger's ``criteria`` list and ``expression`` (or ``None``).

    ``custom_variables`` maps declared names to ``string`` / ``number`` / ``boolean``;
    ``path`` is the trigger's JSON path. Expressions are parsed as the GrowthBook SDK
    reads them (unknown operators evaluate as unknown); the validator refuses them
    first. Raises :class:`~engage_lab.errors.ConditionError` naming the JSON path.
    """
    tree = parse_criteria(list(criteria or ()), dict(custom_variables), f"{path}.criteria")
    parsed = tuple(c for c in tree.children if isinstance(c, n.Criterion))
    expr = None
    if expression is not None:
        expr = parse_expression(expression, f"{path}.expression", strict=False)
    return TriggerConditions(parsed, expr, time_reads(parsed, expr))
