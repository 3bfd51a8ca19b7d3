"""The configuration's pydantic models: source, catalog, custom variables, saved groups, triggers.

These classes define the JSON shape (field order here is the key order of the canonical
JSON form) and the checks one field can make alone. Checks that need several fields
(unknown items, duplicate ids, conditions against declared variables) live in
:mod:`engage_lab.config.validate`; the public :class:`~engage_lab.config.Config` in
:mod:`engage_lab.config.configuration` builds on :class:`ConfigFields`.

Every model is frozen and refuses unknown keys; values are strict (``"1"`` is not a
number, ``1`` is not a boolean) so a configuration means exactly what it says.

>>> source = Source.model_validate({"mode": "live_chat", "impossibility_delay": "2m 25s"})
>>> source.impossibility_delay, source.impossibility_delay_ms, source.visit_idle_ms
('2m 25s', 145000, 86400000)
>>> Trigger.model_validate({"id": "t", "label": "T", "only_if_agents_available": True,
...     "actions": [{"type": "show_item", "item": "b"}]}).policy
ProductPolicy(policy='product')
"""

from __future__ import annotations

import math
import zoneinfo
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from engage_lab.config.immutable import _Model
from engage_lab.config.limits import (
    MAX_DURATION_MS,
    MAX_DURATION_SECONDS,
    MAX_NUMBER,
    MAX_QUEUING_FACTOR,
    NUMBER_RANGE,
    out_of_range,
)
from engage_lab.durations import DURATION_PATTERN, DurationError, duration_ms
from engage_lab.timezones import is_known_timezone

__all__ = [
    "SCHEMA_VERSION",
    "Action",
    "AutomaticMessage",
    "AutomaticMessageAction",
    "Button",
    "Catalog",
    "ConfigFields",
    "CurvePoint",
    "CurvePolicy",
    "CustomVariable",
    "HideOtherElementsAction",
    "Invitation",
    "ProductPolicy",
    "ReservePolicy",
    "ServerProbability",
    "ShowAndOpenChatAction",
    "ShowChatMinimizedAction",
    "ShowItemAction",
    "Source",
    "Trigger",
    "TriggerExtensions",
]

#: The configuration format this engage_lab reads and writes.
SCHEMA_VERSION = 1


# --- leaf types: one clear message each, no union noise in error paths -------------------


def _finite(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("number", "must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError("number", "must be a finite number")
    return value


def _number(value: Any) -> int | float:
    number = _finite(value)
    if abs(number) > MAX_NUMBER:
        raise PydanticCustomError("number", out_of_range(number, NUMBER_RANGE))
    return number


def _queuing_factor(value: Any) -> int | float:
    number = _finite(value)
    if number < 0:
        raise PydanticCustomError(
            "queuing_factor", "must not be negative; 0 means no extra queue places"
        )
    if number > MAX_QUEUING_FACTOR:
        raise PydanticCustomError(
            "queuing_factor", out_of_range(number, f"[0, {MAX_QUEUING_FACTOR}]")
        )
    if Decimal(repr(number)).as_tuple().exponent < -2:  # type: ignore[operator]
        raise PydanticCustomError(
            "queuing_factor",
            "{value} has more than two decimals; the product keeps hundredths, e.g. 0.25",
            {"value": number},
        )
    return number


def _criteria_list(value: Any) -> list[Any]:
    # Only the list itself is checked here: each entry is reviewed by
    # engage_lab.conditions.check_criteria, so one bad entry gets one message.
    if not isinstance(value, list):
        raise PydanticCustomError("criteria", "must be a JSON array of criterion objects")
    return value


def _positive_seconds(value: Any) -> int | float:
    number = _finite(value)
    if number <= 0:
        raise PydanticCustomError(
            "seconds", "must be a positive number of seconds; remove the key for no minimum"
        )
    if number > MAX_DURATION_SECONDS:
        raise PydanticCustomError(
            "seconds", out_of_range(number, f"(0, {MAX_DURATION_SECONDS}] seconds (2**53 ms)")
        )
    return number


def _probability(value: Any) -> int | float:
    number = _number(value)
    if not 0 <= number <= 1:
        raise PydanticCustomError(
            "probability", "{value} is not a probability; use a value in [0, 1]", {"value": number}
        )
    return number


def _duration(value: Any) -> int | float | str:
    try:
        duration_ms(value)
    except DurationError as exc:
        raise PydanticCustomError("duration", str(exc)) from exc
    return value


def _bounded_duration(value: int | float | str) -> int | float | str:
    # The parsed length is bounded here; parsing itself is duration_ms's.
    if duration_ms(value) > MAX_DURATION_MS:
        raise PydanticCustomError(
            "duration",
            "{value} is longer than the longest duration the engines replay,"
            " 2**53 ms (about 285,000 years)",
            {"value": value},
        )
    return value


def _timezone(value: Any) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("timezone", "must be an IANA timezone name such as Europe/Paris")
    # Both engines must read the zone alike (engage_lab.timezones): zoneinfo alone also
    # loads posix/..., right/... and fails on a folder name with an OS error.
    if not is_known_timezone(value):
        raise PydanticCustomError(
            "timezone",
            "unknown timezone '{value}'; use an IANA name such as UTC or Europe/Paris",
            {"value": value},
        )
    return value


Number = Annotated[int | float, PlainValidator(_number), WithJsonSchema({"type": "number"})]
QueuingFactor = Annotated[
    int | float,
    PlainValidator(_queuing_factor),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": MAX_QUEUING_FACTOR}),
]
Probability = Annotated[
    int | float,
    PlainValidator(_probability),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 1}),
]
Duration = Annotated[
    int | float | str,
    PlainValidator(_duration),
    AfterValidator(_bounded_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": MAX_DURATION_MS / 1000},
                {"type": "string", "pattern": DURATION_PATTERN},
            ]
        }
    ),
]
TimeZoneName = Annotated[
    str, PlainValidator(_timezone), WithJsonSchema({"type": "string", "examples": ["UTC"]})
]
Identifier = Annotated[str, Field(min_length=1)]
Text = Annotated[str, Field(min_length=1)]


# --- source --------------------------------------------------------------------------------


class Source(_Model):
    """Settings of the chat source (one database holds one source)."""

    mode: Literal["live_chat", "messaging"]
    """`live_chat` or `messaging`: decides continuation, the messaging stage and offline items."""
    display: Literal["floating", "embedded"] = "floating"
    """`floating` (a window at the bottom right) or `embedded` (messaging only: the chat is placed in the page and configured triggers are ignored)."""
    timezone: TimeZoneName = "UTC"
    """IANA timezone in which the `time`, `hour` and `day_of_week` criteria read the clock."""
    visit_idle: Duration = "24h"
    """Gap that ends a visit: seconds or a duration string such as `"24h"`."""
    queuing_factor: QueuingFactor = 0
    """Extra queue places as a share of agent capacity (0 = none; at most two decimals)."""
    impossibility_delay: Duration = "8m"
    """Live chat only: an engaged conversation no agent took within this delay ends unserved (`0` disables)."""

    @property
    def visit_idle_ms(self) -> int:
        """The visit idle duration in milliseconds."""
        return duration_ms(self.visit_idle)

    @property
    def impossibility_delay_ms(self) -> int | None:
        """The impossibility delay in milliseconds; ``None`` when disabled or in messaging."""
        if self.mode != "live_chat":
            return None
        return duration_ms(self.impossibility_delay) or None

    @property
    def queuing_hundredths(self) -> int:
        """The source's queuing factor in hundredths, for exact integer arithmetic."""
        return round(100 * self.queuing_factor)

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        """The timezone as a :class:`zoneinfo.ZoneInfo`."""
        return zoneinfo.ZoneInfo(self.timezone)


# --- catalog -------------------------------------------------------------------------------


class Button(_Model):
    """A button of the catalog."""

    id: Identifier
    """Item id, unique across buttons, invitations and messages (events' `item_id`)."""
    label: Text
    """Name shown to administrators and in events' `item_label`."""
    online_offline: bool = False
    """Online/offline support: in live chat the item is shown even when a gated trigger is refused, in its offline look."""
    fixed: bool = False
    """Fixed positioning: the page must carry the item's placeholder, else the trigger is activated but not executed."""

    @property
    def kind(self) -> Literal["button"]:
        """The event's `item_type`."""
        return "button"


class Invitation(_Model):
    """An invitation (pop-up) of the catalog."""

    id: Identifier
    """Item id, unique across buttons, invitations and messages."""
    label: Text
    """Name shown to administrators and in events' `item_label`."""
    online_offline: bool = False
    """Online/offline support (live chat): shown in its offline look when a gated trigger is refused."""

    @property
    def kind(self) -> Literal["invitation"]:
        """The event's `item_type`."""
        return "invitation"

    @property
    def fixed(self) -> bool:
        """Invitations are never fixed."""
        return False


class AutomaticMessage(_Model):
    """An automatic message of the catalog (sent once per text per visit)."""

    id: Identifier
    """Message id, unique across buttons, invitations and messages."""
    text: Text
    """The message; two messages with the same text count as one."""


class Catalog(_Model):
    """The items triggers can show and the messages they can send."""

    buttons: list[Button] = Field(default_factory=list)
    """Buttons, fixed ones included (`fixed: true`)."""
    invitations: list[Invitation] = Field(default_factory=list)
    """Invitations."""
    messages: list[AutomaticMessage] = Field(default_factory=list)
    """Automatic messages."""


class CustomVariable(_Model):
    """The declaration of a custom variable (its name, the key, starts with `custom_`)."""

    type: Literal["string", "number", "boolean"]
    """Value type: decides which operators its criteria accept."""
    in_page_filling: bool = False
    """Filled by the Chat Manager from the page rather than by the site's `_fillCustomVariable` calls."""


# --- trigger actions -----------------------------------------------------------------------


class ShowChatMinimizedAction(_Model):
    """Start the chat and show its window minimized."""

    type: Literal["show_chat_minimized"]
    """Action kind."""


class ShowAndOpenChatAction(_Model):
    """Start the chat, show it and open it (only opens a chat already shown)."""

    type: Literal["show_and_open_chat"]
    """Action kind."""


class ShowItemAction(_Model):
    """Show one button or invitation of the catalog."""

    type: Literal["show_item"]
    """Action kind."""
    item: Identifier
    """Id of a catalog button or invitation."""


class AutomaticMessageAction(_Model):
    """Send an automatic message when the chat appears (never the only action)."""

    type: Literal["automatic_message"]
    """Action kind."""
    message: Identifier
    """Id of a catalog message."""


class HideOtherElementsAction(_Model):
    """Hide every item shown earlier on the page, fixed buttons included."""

    type: Literal["hide_other_elements"]
    """Action kind."""


Action = Annotated[
    ShowChatMinimizedAction
    | ShowAndOpenChatAction
    | ShowItemAction
    | AutomaticMessageAction
    | HideOtherElementsAction,
    Field(discriminator="type"),
]


# --- server probability policies -------------------------------------------------------------


class ProductPolicy(_Model):
    """The product's rule: p = 1 while load < capacity + extra queue places, else 0."""

    policy: Literal["product"]
    """Policy kind."""


class ReservePolicy(_Model):
    """Extension: p = 1 while more than `k` slots stay free, else 0."""

    policy: Literal["reserve"]
    """Policy kind."""
    k: Annotated[int, Field(ge=0, le=MAX_NUMBER)]
    """Slots kept free for visitors who ask on their own."""


def _curve_point(value: Any) -> list[int | float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise PydanticCustomError("curve_point", "must be a pair [x, p] of numbers")
    x, p = value
    try:
        _number(x)
        _probability(p)
    except PydanticCustomError as exc:
        raise PydanticCustomError(
            "curve_point", "[x, p]: {detail}", {"detail": exc.message()}
        ) from exc
    return [x, p]


#: One point ``[x, p]`` of a probability curve: ``p`` in [0, 1] at ``x``.
CurvePoint = Annotated[
    list[int | float],
    PlainValidator(_curve_point),
    WithJsonSchema(
        {
            "type": "array",
            "prefixItems": [
                {"type": "number"},
                {"type": "number", "minimum": 0, "maximum": 1},
            ],
            "minItems": 2,
            "maxItems": 2,
        }
    ),
]


class CurvePolicy(_Model):
    """Extension: p interpolated linearly between points, clamped to the end points."""

    policy: Literal["curve"]
    """Policy kind."""
    over: Literal["occupancy", "free_slots"]
    """What `x` measures."""
    points: Annotated[list[CurvePoint], Field(min_length=1)]
    """Pairs `[x, p]` sorted by strictly increasing `x`: `x` is occupancy (load / capacity) or free slots (capacity - load), `p` in [0, 1]."""


ServerProbability = Annotated[
    ProductPolicy | ReservePolicy | CurvePolicy, Field(discriminator="policy")
]


# --- triggers ------------------------------------------------------------------------------


class TriggerExtensions(_Model):
    """Caps beyond the product (engage_lab extensions)."""

    max_executions_per_visitor: Annotated[int, Field(ge=1, le=MAX_NUMBER)] | None = None
    """At most this many executions per visitor, over all visits."""
    min_seconds_between_executions: (
        Annotated[
            int | float,
            PlainValidator(_positive_seconds),
            WithJsonSchema(
                {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_DURATION_SECONDS}
            ),
        ]
        | None
    ) = None
    """Not executed again within this many seconds of its last execution for the visitor."""

    @property
    def min_ms_between_executions(self) -> int | None:
        """The minimum interval in milliseconds (``None`` when unset)."""
        if self.min_seconds_between_executions is None:
            return None
        return round(1000 * self.min_seconds_between_executions)


class Trigger(_Model):
    """A configured trigger: conditions, gating, actions and post-activation options."""

    id: Identifier
    """Trigger id, unique in the configuration (events' `trigger_id`)."""
    label: Text
    """Name agents see; events' `trigger_label`."""
    enabled: bool = True
    """A disabled trigger is never evaluated."""
    criteria: Annotated[
        list[dict[str, Any]],
        PlainValidator(_criteria_list),
        WithJsonSchema({"type": "array", "items": {"type": "object"}}),
    ] = Field(default_factory=list)
    """The product's conditions, combined with AND (empty: always matches)."""
    expression: dict[str, Any] | None = None
    """Extension: a GrowthBook-style condition, ANDed with the criteria."""
    only_if_agents_available: bool = False
    """"Execute only if agents are available": ask the server for a probability and draw."""
    queuing_factor: QueuingFactor | None = None
    """Replaces the source's queuing factor for this trigger (product policy)."""
    server_probability: ServerProbability | None = None
    """Extension: how the server answers for this gated trigger (default: the product's rule)."""
    actions: Annotated[list[Action], Field(min_length=1)]
    """What the trigger does when it executes, in order."""
    no_other_trigger_after: bool = False
    """After it executes, no other configured trigger activates for the rest of the visit."""
    once_per_visit: bool = False
    """Executes at most once per visit."""
    extensions: TriggerExtensions | None = None
    """Extension caps: at most N executions per visitor, not again within S seconds."""

    @property
    def gated(self) -> bool:
        """Whether the trigger asks the server ("execute only if agents are available")."""
        return self.only_if_agents_available

    @property
    def policy(self) -> ProductPolicy | ReservePolicy | CurvePolicy:
        """The server-probability policy in effect (the product's when none is set)."""
        return self.server_probability or ProductPolicy(policy="product")

    @property
    def item_ids(self) -> tuple[str, ...]:
        """Ids of the items its actions show, in action order."""
        return tuple(a.item for a in self.actions if isinstance(a, ShowItemAction))

    @property
    def message_ids(self) -> tuple[str, ...]:
        """Ids of the automatic messages its actions send."""
        return tuple(a.message for a in self.actions if isinstance(a, AutomaticMessageAction))

    @property
    def action_types(self) -> tuple[str, ...]:
        """The kinds of its actions, in order."""
        return tuple(a.type for a in self.actions)


class ConfigFields(_Model):
    """The top-level keys of a configuration (behaviour is added by ``Config``)."""

    schema_version: Literal[1]
    """Format version of this file; this engage_lab reads version 1."""
    source: Source
    """Source settings."""
    catalog: Catalog = Field(default_factory=Catalog)
    """Buttons, invitations and automatic messages."""
    custom_variables: dict[str, CustomVariable] = Field(default_factory=dict)
    """Declared custom variables by name (`custom_...`)."""
    saved_groups: dict[str, list[Any]] = Field(default_factory=dict)
    """Extension: named lists of values for `$inGroup` / `$notInGroup` in expressions."""
    triggers: Annotated[list[Trigger], Field(min_length=1)]
    """The configured triggers, evaluated in this order (at least one)."""
