"""``Config``: a validated, immutable trigger configuration, with exact JSON round-trip.

>>> import engage_lab as el
>>> text = '''{
...   "schema_version": 1,
...   "source": {"mode": "live_chat"},
...   "catalog": {"buttons": [{"id": "help", "label": "Help"}]},
...   "triggers": [{"id": "t1", "label": "Help button",
...                 "actions": [{"type": "show_item", "item": "help"}]}]
... }'''
>>> cfg = el.Config.from_json(text)
>>> cfg.trigger("t1").item_ids
('help',)
>>> el.Config.from_json(cfg.to_json()) == cfg
True
"""

from __future__ import annotations

import contextlib
import copy
import os
from typing import TYPE_CHECKING, Any, Self

from pydantic import PrivateAttr, ValidationError, ValidationInfo, model_validator

from engage_lab.conditions.parsed import TriggerConditions, parse_trigger_conditions
from engage_lab.config.jsontext import canonical_json, parse_json
from engage_lab.config.models import (
    AutomaticMessage,
    Button,
    ConfigFields,
    Invitation,
    Trigger,
)
from engage_lab.config.problems import problems_from_validation_error, sort_problems
from engage_lab.config.validate import semantic_problems
from engage_lab.errors import ConditionError, ConfigError

if TYPE_CHECKING:
    from engage_lab.availability import Policy

__all__ = ["Config", "read_text"]

#: Skips the cross-field checks during the first, structural pass (they run on the raw data).
_STRUCTURE_ONLY = "engage_lab.structure_only"


def read_text(path: str | os.PathLike[str]) -> str:
    """The text of a configuration file, or a ``ConfigError`` naming the file."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise ConfigError([f"cannot read {os.fspath(path)}: {exc.strerror}"]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{os.fspath(path)} is not UTF-8 text: {exc.reason}"]) from exc


class Config(ConfigFields):
    """A trigger configuration: source settings, catalog, variables, saved groups, triggers.

    Build it with :meth:`load`, :meth:`from_json` or :meth:`from_dict`; each raises
    :class:`~engage_lab.ConfigError` listing every problem (``json.path: message``).
    Instances are immutable; :meth:`to_json` writes the canonical form, so a canonical
    file round-trips byte for byte.
    """

    #: The triggers' parsed conditions (:meth:`conditions`) and the fields they were
    #: parsed from (a copy that replaces those fields parses again).
    _parsed: tuple[Any, Any, tuple[TriggerConditions, ...]] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check_across_fields(self, info: ValidationInfo) -> Self:
        # Direct pydantic use (Config.model_validate) gets the same checks as from_dict.
        if info.context and info.context.get(_STRUCTURE_ONLY):
            # the caller checked the raw data: a configuration it keeps parses; one it
            # discards may not, and is not parsed here
            with contextlib.suppress(ConditionError):
                self._parse_conditions()
            return self
        problems = semantic_problems(self.to_dict())
        if problems:
            raise ConfigError(sort_problems(problems, ConfigFields))
        self._parse_conditions()  # once, when it loads
        return self

    def _parse_conditions(self) -> tuple[TriggerConditions, ...]:
        parsed = self._parsed
        if (
            parsed is None
            or parsed[0] is not self.triggers
            or parsed[1] is not self.custom_variables
        ):
            declared = self.custom_variable_types
            trees = tuple(
                parse_trigger_conditions(t.criteria, t.expression, declared, f"triggers[{k}]")
                for k, t in enumerate(self.triggers)
            )
            parsed = self._parsed = (self.triggers, self.custom_variables, trees)
        return parsed[2]

    def conditions(self, trigger: Trigger | str) -> TriggerConditions:
        """The trigger's criteria and expression, parsed once when the configuration
        loaded (:class:`~engage_lab.conditions.parsed.TriggerConditions`): what the
        engines, the world generator and the reference read instead of the JSON.

        >>> cfg = Config.from_dict({"schema_version": 1, "source": {"mode": "live_chat"},
        ...     "triggers": [{"id": "t", "label": "T", "actions": [{"type": "show_chat_minimized"}],
        ...                   "criteria": [{"criterion": "page_url", "operator": "contains",
        ...                                 "value": "Cart"}]}]})
        >>> cfg.conditions("t").criteria[0].test
        Contains(values=('cart',))
        """
        parsed = self._parse_conditions()
        for k, candidate in enumerate(self.triggers):
            if candidate is trigger:
                return parsed[k]
        wanted = trigger if isinstance(trigger, str) else trigger.id
        for k, candidate in enumerate(self.triggers):
            if candidate.id == wanted:
                return parsed[k]
        raise KeyError(f"no trigger {wanted!r} in this configuration")

    def __eq__(self, other: object) -> bool:
        # Equal fields, equal configurations: the parsed conditions (private, derived from
        # the fields, possibly not parsed yet on a copy) do not count.
        if not isinstance(other, Config):
            return NotImplemented
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        # Equal configurations hash alike, so engines and widgets can cache by Config
        # (pydantic's frozen hash fails on the list fields).
        return hash(self.to_json())

    # --- building ---------------------------------------------------------------------

    @classmethod
    def _build(cls, data: Any) -> tuple[Config | None, list[str]]:
        if not isinstance(data, dict):
            return None, ["the configuration must be a JSON object"]
        if "history" in data and "triggers" not in data:
            return None, [
                "this is a configuration history, not a configuration; load it with"
                " engage_lab.config.ConfigHistory.load"
            ]
        # A private copy: raw conditions are kept as given, and the caller's later edits
        # to its dict must not reach an immutable Config.
        data = copy.deepcopy(data)
        problems = semantic_problems(data)
        config = None
        try:
            config = cls.model_validate(data, context={_STRUCTURE_ONLY: True})
        except ValidationError as exc:
            problems += problems_from_validation_error(cls, exc)
        problems = sort_problems(problems, ConfigFields)
        return (None if problems else config), problems

    @classmethod
    def check(cls, data: Any) -> list[str]:
        """Every problem of a configuration given as parsed JSON (empty when valid).

        >>> Config.check({"schema_version": 1, "source": {"mode": "chat"}, "triggers": []})
        ['source.mode: must be one of live_chat, messaging', 'triggers: at least one trigger is required (a trigger with no criteria always matches)']
        """
        return cls._build(data)[1]

    @classmethod
    def check_json(cls, text: str | bytes) -> list[str]:
        """Every problem of a configuration's JSON text (empty when valid); never raises.

        >>> Config.check_json('{"schema_version": 1,')
        ['line 1, column 22: Expecting property name enclosed in double quotes']
        """
        data, problems = parse_json(text)
        return problems if problems else cls.check(data)

    @classmethod
    def from_dict(cls, data: Any) -> Config:
        """A configuration from parsed JSON; ``ConfigError`` lists every problem."""
        config, problems = cls._build(data)
        if config is None:
            raise ConfigError(problems, headline=_headline(problems))
        return config

    @classmethod
    def from_json(cls, text: str | bytes) -> Config:
        """A configuration from JSON text; ``ConfigError`` lists every problem.

        >>> Config.from_json('{"schema_version": 2}')
        Traceback (most recent call last):
        ...
        engage_lab.errors.ConfigError: invalid configuration (3 problems)
        schema_version: unsupported schema version 2; this engage_lab reads version 1
        source: is required; add this key
        triggers: is required; add this key
        """
        data, problems = parse_json(text)
        if problems:
            raise ConfigError(problems, headline=_headline(problems, "invalid JSON"))
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Config:
        """A configuration from a JSON file; ``ConfigError`` names the file and every problem."""
        text = read_text(path)
        data, problems = parse_json(text)
        if not problems:
            config, problems = cls._build(data)
            if config is not None:
                return config
        raise ConfigError(
            problems, headline=_headline(problems, f"{os.fspath(path)}: invalid configuration")
        )

    # --- writing ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The configuration as JSON data: only the keys that were given, in model order."""
        return self.model_dump(mode="json", exclude_unset=True)

    def to_json(self) -> str:
        """The configuration as canonical JSON text (see :mod:`engage_lab.config.jsontext`)."""
        return canonical_json(self.to_dict())

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_json` to ``path`` (UTF-8)."""
        with open(path, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(self.to_json())

    # --- what the engines read ------------------------------------------------------------

    @property
    def mode(self) -> str:
        """The source mode, ``live_chat`` or ``messaging``."""
        return self.source.mode

    @property
    def enabled_triggers(self) -> tuple[Trigger, ...]:
        """The enabled triggers, in list order."""
        return tuple(t for t in self.triggers if t.enabled)

    def trigger(self, trigger_id: str) -> Trigger:
        """The trigger with this id (``KeyError`` if none)."""
        for trigger in self.triggers:
            if trigger.id == trigger_id:
                return trigger
        raise KeyError(f"no trigger {trigger_id!r} in this configuration")

    def item(self, item_id: str) -> Button | Invitation:
        """The button or invitation with this id (``KeyError`` if none)."""
        for item in (*self.catalog.buttons, *self.catalog.invitations):
            if item.id == item_id:
                return item
        raise KeyError(f"no button or invitation {item_id!r} in the catalog")

    def message(self, message_id: str) -> AutomaticMessage:
        """The automatic message with this id (``KeyError`` if none)."""
        for message in self.catalog.messages:
            if message.id == message_id:
                return message
        raise KeyError(f"no automatic message {message_id!r} in the catalog")

    @property
    def custom_variable_types(self) -> dict[str, str]:
        """Declared custom variables: name → ``string`` / ``number`` / ``boolean``."""
        return {name: var.type for name, var in self.custom_variables.items()}

    def _trigger_of(self, trigger: Trigger | str) -> Trigger:
        return self.trigger(trigger) if isinstance(trigger, str) else trigger

    def effective_queuing_factor(self, trigger: Trigger | str) -> int | float:
        """The trigger's queuing factor, else the source's.

        >>> cfg = Config.from_dict({"schema_version": 1,
        ...     "source": {"mode": "live_chat", "queuing_factor": 0.25},
        ...     "triggers": [{"id": "a", "label": "A", "actions": [{"type": "show_chat_minimized"}]},
        ...                  {"id": "b", "label": "B", "queuing_factor": 0.5,
        ...                   "actions": [{"type": "show_chat_minimized"}]}]})
        >>> cfg.effective_queuing_factor("a"), cfg.effective_queuing_factor("b")
        (0.25, 0.5)
        """
        own = self._trigger_of(trigger).queuing_factor
        return self.source.queuing_factor if own is None else own

    def policy(self, trigger: Trigger | str) -> Policy:
        """The server-probability policy of a gated trigger, ready to answer.

        The product policy carries the effective queuing factor.

        >>> cfg = Config.from_dict({"schema_version": 1,
        ...     "source": {"mode": "live_chat", "queuing_factor": 0.25},
        ...     "triggers": [{"id": "a", "label": "A", "only_if_agents_available": True,
        ...                   "actions": [{"type": "show_chat_minimized"}]}]})
        >>> cfg.policy("a")
        ProductPolicy(queuing_factor=0.25)
        """
        from engage_lab.availability import policy_from_dict

        chosen = self._trigger_of(trigger)
        data = None if chosen.server_probability is None else chosen.server_probability.model_dump()
        return policy_from_dict(data, queuing_factor=self.effective_queuing_factor(chosen))

    def queuing_hundredths(self, trigger: Trigger | str) -> int:
        """The effective queuing factor in hundredths: extra places are
        ``capacity * queuing_hundredths // 100``, exactly, in integers."""
        return round(100 * self.effective_queuing_factor(trigger))


def _headline(problems: list[str], what: str = "invalid configuration") -> str:
    count = len(problems)
    return f"{what} ({count} problem{'s' if count != 1 else ''})"
