"""The criteria registry: every fact about a built-in criterion, in one place.

One :class:`CriterionFacts` per criterion id, in :data:`CRITERIA`. Everything that needs
to know something about a criterion reads it here: the parser and the validator (its
value kind, the operators it takes, its value range), the JSON Schema (the ids), the
reference Chat Manager and the fast engine (where its value comes from, whether it is
fixed for a page view, whether a past page's end changes it), the world generator
(whether a recording must follow moved page ends).

A criterion's **source** says where its value comes from (:data:`SOURCES`):

``page``      a fact of the page view, fixed all page long: ``reads`` is a ``page_views``
              column (:data:`PAGE_COLUMNS`: ``path``, ``url``, ``title``) or a count
              (``page_index``: 1-based position in the visit; ``visit_index``: 1-based
              position of the visit among the visitor's);
``duration``  seconds since the start of ``reads`` (``page`` or ``visit``): grows with
              time, so only ``gte`` / ``lte`` (the instant it turns true is exact);
``clock``     the wall clock in the source timezone: ``reads`` is ``time`` (``"HH:MM"``),
              ``hour`` (0–23) or ``day_of_week`` (``"Monday"`` …);
``identity``  whether an identity (``reads``: ``identity``) or a signed one (``signed``)
              was set;
``chat``      the chat state maintained by the triggers' own actions (``shown``,
              ``opened``);
``var``       a custom variable: not registered here, the criterion ``custom_<name>``
              with the kind its declaration gives (:func:`custom_facts`).

A past page is read by its final state: for every source but ``page`` that state
depends on when the page ended (:attr:`CriterionFacts.end_matters`).

Adding a criterion is one entry in :data:`CRITERIA` plus its semantics: the reference's
value (``engage_lab.reference.state``) and the fast engine's SQL
(``engage_lab.engine.static``, ``engage_lab.engine.leaves``);
``tests/conditions/test_registry.py`` fails until every consumer handles it.

>>> CRITERIA["page_title"].page_column, CRITERIA["page_title"].end_matters
('title', False)
>>> CRITERIA["visit_duration"].operators
('gte', 'lte')
>>> facts_of("custom_cart", "number").source
'var'
>>> facts_of("cart")
Traceback (most recent call last):
...
KeyError: "unknown criterion 'cart'; use one of chat_opened, chat_shown, day_of_week, time, hour, identity, signed_identity, page_path, page_url, page_title, page_visit_count, page_visit_duration, visit_count, visit_duration or custom_<name>"
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from engage_lab.conditions.nodes import CRITERIA_OPERATORS

__all__ = [
    "CRITERIA",
    "CRITERION_HINT",
    "CUSTOM_PREFIX",
    "KINDS",
    "PAGE_COLUMNS",
    "SOURCES",
    "VARIABLE_KINDS",
    "CriterionFacts",
    "custom_facts",
    "facts_of",
    "is_custom",
    "unknown_criterion_message",
]

#: Where a criterion's value comes from (see the module docstring).
SOURCES = ("page", "duration", "clock", "identity", "var", "chat")
#: The value kinds criteria are read as (``day``: ordinal, Monday = 0; ``time``: the
#: 15-minute slot in minutes since midnight).
KINDS = ("string", "number", "boolean", "day", "time")
#: The kinds a custom variable may be declared with.
VARIABLE_KINDS = ("string", "number", "boolean")
#: The ``page_views`` columns page criteria read.
PAGE_COLUMNS = ("path", "url", "title")
#: A custom variable ``<name>`` is the criterion ``custom_<name>``.
CUSTOM_PREFIX = "custom_"

_READS: dict[str, tuple[str, ...]] = {
    "page": (*PAGE_COLUMNS, "page_index", "visit_index"),
    "duration": ("page", "visit"),
    "clock": ("time", "hour", "day_of_week"),
    "identity": ("identity", "signed"),
    "chat": ("shown", "opened"),
}


@dataclass(frozen=True, slots=True)
class CriterionFacts:
    """What the project knows about one criterion (see the module docstring).

    ``minimum`` / ``maximum`` / ``whole`` bound the values a configuration may compare a
    number criterion with (``value_name`` names one in messages); ``meaning`` is the one-line description the documentation
    and the JSON Schema show.
    """

    id: str
    kind: str
    source: str
    reads: str
    meaning: str
    minimum: float | None = None
    maximum: float | None = None
    whole: bool = False
    #: how messages name one value when it is out of range ("an hour")
    value_name: str = "a value"

    def __post_init__(self) -> None:
        # a malformed entry fails at import, not deep inside an engine
        if self.kind not in KINDS:
            raise ValueError(f"criterion {self.id}: unknown kind {self.kind!r}")
        if self.source not in SOURCES:
            raise ValueError(f"criterion {self.id}: unknown source {self.source!r}")
        if self.source != "var" and self.reads not in _READS[self.source]:
            raise ValueError(
                f"criterion {self.id}: a {self.source} criterion cannot read {self.reads!r}"
            )
        if self.source == "duration" and self.kind != "number":
            raise ValueError(f"criterion {self.id}: a duration is a number")

    @property
    def page_column(self) -> str | None:
        """The ``page_views`` column a page criterion reads (``None``: not a column)."""
        return self.reads if self.source == "page" and self.reads in PAGE_COLUMNS else None

    @property
    def fixed_in_page(self) -> bool:
        """Its value on a page view is the same at every instant of it."""
        return self.source == "page"

    @property
    def end_matters(self) -> bool:
        """A past page's value (its final state) depends on when that page ended."""
        return self.source != "page"

    @property
    def grows_with_time(self) -> bool:
        """It grows with time: only thresholds (``gte`` / ``lte``) are allowed."""
        return self.source == "duration"

    @property
    def operators(self) -> tuple[str, ...]:
        """The operators it takes, in the operators' registry order."""
        if self.grows_with_time:
            return ("gte", "lte")
        return tuple(op for op, cls in CRITERIA_OPERATORS.items() if self.kind in cls.kinds)


def _entries(*facts: CriterionFacts) -> dict[str, CriterionFacts]:
    return {f.id: f for f in facts}


#: Every built-in criterion by id, in the documentation's order.
CRITERIA: dict[str, CriterionFacts] = _entries(
    CriterionFacts("chat_opened", "boolean", "chat", "opened",
                   "the chat window is open (not minimized)"),
    CriterionFacts("chat_shown", "boolean", "chat", "shown", "the chat window is on screen"),
    CriterionFacts("day_of_week", "day", "clock", "day_of_week",
                   '"Monday" … "Sunday" in the source timezone; weeks run Monday to Sunday'),
    CriterionFacts("time", "time", "clock", "time",
                   '"HH:MM" from "00:00" to "23:45" on 15-minute slots, source timezone'),
    CriterionFacts("hour", "number", "clock", "hour",
                   "legacy: the hour 0–23 in the source timezone",
                   minimum=0, maximum=23, whole=True, value_name="an hour"),
    CriterionFacts("identity", "boolean", "identity", "identity", "an identity has been set"),
    CriterionFacts("signed_identity", "boolean", "identity", "signed",
                   "a JWT-signed identity has been set (implies identity)"),
    CriterionFacts("page_path", "string", "page", "path",
                   "the URL without scheme, domain and anchor (query string kept)"),
    CriterionFacts("page_url", "string", "page", "url", "the whole URL"),
    CriterionFacts("page_title", "string", "page", "title", "the document title"),
    CriterionFacts("page_visit_count", "number", "page", "page_index",
                   "pages viewed so far in the visit, the current one included", minimum=0),
    CriterionFacts("page_visit_duration", "number", "duration", "page",
                   "seconds on the current page (grows with time)", minimum=0),
    CriterionFacts("visit_count", "number", "page", "visit_index",
                   "visits so far, the current one included", minimum=0),
    CriterionFacts("visit_duration", "number", "duration", "visit",
                   "seconds since the visit's first page started (grows with time)", minimum=0),
)  # fmt: skip


def is_custom(criterion: object) -> bool:
    """``custom_<name>`` with a non-empty name: a custom variable's criterion id."""
    return (
        isinstance(criterion, str)
        and criterion.startswith(CUSTOM_PREFIX)
        and len(criterion) > len(CUSTOM_PREFIX)
    )


@functools.lru_cache(maxsize=1024)
def custom_facts(criterion: str, kind: str) -> CriterionFacts:
    """The facts of the custom variable criterion ``custom_<name>`` read as ``kind``."""
    if kind not in VARIABLE_KINDS:
        raise ValueError(f"a custom variable is a string, number or boolean, not {kind!r}")
    return CriterionFacts(criterion, kind, "var", criterion, "a declared custom variable")


#: What a criterion id may be, for messages.
CRITERION_HINT = f"use one of {', '.join(CRITERIA)} or custom_<name>"


def unknown_criterion_message(criterion: object) -> str:
    """The message for a criterion id that is neither registered nor ``custom_<name>``."""
    return f"unknown criterion {criterion!r}; {CRITERION_HINT}"


def facts_of(criterion: str, kind: str | None = None) -> CriterionFacts:
    """The facts of a criterion id: a registered one, or ``custom_<name>`` read as ``kind``.

    Raises ``KeyError`` for any other name: an unknown criterion never becomes a
    variable read.
    """
    facts = CRITERIA.get(criterion)
    if facts is not None:
        return facts
    if not is_custom(criterion):
        raise KeyError(unknown_criterion_message(criterion))
    if kind is None:
        raise KeyError(f"{criterion} is a custom variable: its kind comes from its declaration")
    return custom_facts(criterion, kind)
