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

import copy
import os
from typing import TYPE_CHECKING, Any, Self

from pydantic import (
    ModelWrapValidatorHandler,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from engage_lab.conditions.parsed import TriggerConditions, parse_trigger_conditions
from engage_lab.config import editing
from engage_lab.config.immutable import as_plain_data
from engage_lab.config.jsontext import canonical_json, parse_json
from engage_lab.config.limits import MAX_DOCUMENT_DEPTH, nesting_depth
from engage_lab.config.models import (
    AutomaticMessage,
    Button,
    ConfigFields,
    Invitation,
    Trigger,
)
from engage_lab.config.problems import problems_from_validation_error, sort_problems
from engage_lab.config.validate import semantic_problems
from engage_lab.errors import ConfigError

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
            # the caller checked the raw data and parses a configuration it keeps (a
            # hostile one it discards may not parse: 1e400, 5,000 digits, deep nesting)
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
        depth = nesting_depth(data)
        if depth > MAX_DOCUMENT_DEPTH:
            # Too deep to copy or hand to pydantic (recursion): the hostile part's own
            # problem names its path, else one line says how deep it is.
            problems = sort_problems(semantic_problems(data), ConfigFields) or [
                f"the configuration nests {depth} levels of objects and arrays; at most"
                f" {MAX_DOCUMENT_DEPTH} are allowed"
            ]
            return None, problems
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
        if problems or config is None:
            return None, problems
        config._parse_conditions()  # once, when it loads
        return config, problems

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

    # --- pydantic's doors lead to the same checks and the same errors -----------------

    @model_validator(mode="wrap")
    @classmethod
    def _problems_with_paths(
        cls, data: Any, handler: ModelWrapValidatorHandler[Self], info: ValidationInfo
    ) -> Self:
        # Config(...) says what from_dict says: JSON paths, not pydantic's loc tuples.
        # (Inside from_dict and a history's validation, the caller gathers the problems.)
        structure_only = bool(info.context and info.context.get(_STRUCTURE_ONLY))
        if not structure_only and nesting_depth(data) > MAX_DOCUMENT_DEPTH:
            problems = cls._build(as_plain_data(data))[1]  # refused before any recursion
            raise ConfigError(problems, headline=_headline(problems))
        try:
            return handler(data)
        except ValidationError as exc:
            if structure_only:
                raise
            problems = semantic_problems(as_plain_data(data))
            problems += problems_from_validation_error(cls, exc)
            problems = sort_problems(problems, ConfigFields)
            raise ConfigError(problems, headline=_headline(problems)) from exc

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Self:
        """Like :meth:`from_dict`: every problem as ``json.path: message`` in a ``ConfigError``."""
        context = kwargs.get("context")
        if context and context.get(_STRUCTURE_ONLY):
            return super().model_validate(obj, **kwargs)
        if isinstance(obj, cls):
            return obj
        return cls.from_dict(as_plain_data(obj))  # type: ignore[return-value]

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **kwargs: Any) -> Self:
        """Like :meth:`from_json`."""
        text = json_data.decode("utf-8") if isinstance(json_data, bytearray) else json_data
        return cls.from_json(text)  # type: ignore[return-value]

    @classmethod
    def _validated(cls, values: dict[str, Any]) -> Config:
        # model_copy(update=...) and model_construct land here: the whole checks of from_dict.
        return cls.from_dict(as_plain_data(values))

    # --- validated edits: each returns a new Config, or raises ConfigError -----------

    def _edited(self, data: dict[str, Any], what: str) -> Config:
        config, problems = type(self)._build(data)
        if config is None:
            count = len(problems)
            raise ConfigError(
                problems,
                headline=f"{what}: refused, the configuration would be invalid"
                f" ({count} problem{'s' if count != 1 else ''})",
            )
        return config

    def edit(self, path: str, value: Any) -> Config:
        """A copy with ``value`` at the JSON ``path``, validated as a whole.

        ``path`` is written as problem messages write it (``source.queuing_factor``,
        ``triggers[1].criteria[2].value``, ``saved_groups["big spenders"]``); a key may be
        new, a list entry must exist. ``value`` is JSON data or a model
        (a :class:`~engage_lab.config.Trigger`, a policy …).

        >>> cfg = Config.from_dict({"schema_version": 1, "source": {"mode": "live_chat"},
        ...     "triggers": [{"id": "t", "label": "T", "actions": [{"type": "show_chat_minimized"}],
        ...                   "criteria": [{"criterion": "page_visit_duration",
        ...                                 "operator": "gte", "value": 30}]}]})
        >>> cfg.edit("triggers[0].criteria[0].value", 45).trigger("t").criteria[0]["value"]
        45
        >>> cfg.edit("triggers[0].criteria[0].value", "twenty")
        Traceback (most recent call last):
        ...
        engage_lab.errors.ConfigError: edit triggers[0].criteria[0].value: refused, the configuration would be invalid (1 problem)
        triggers[0].criteria[0].value: 'twenty' is not a number; write a number without quotes
        """
        data = editing.set_at(self.to_dict(), path, as_plain_data(value))
        return self._edited(data, f"edit {path}")

    def delete(self, path: str) -> Config:
        """A copy without the key or list entry at the JSON ``path`` (a key falls back to
        its default), validated as a whole.

        >>> cfg = Config.from_dict({"schema_version": 1,
        ...     "source": {"mode": "live_chat", "queuing_factor": 0.5},
        ...     "triggers": [{"id": "t", "label": "T", "actions": [{"type": "show_chat_minimized"}]}]})
        >>> cfg.delete("source.queuing_factor").source.queuing_factor
        0
        """
        return self._edited(editing.deleted_at(self.to_dict(), path), f"delete {path}")

    def with_threshold(self, trigger_id: str, criterion: int | str, value: Any) -> Config:
        """A copy with a new value for one criterion (or expression operand) of a trigger.

        ``criterion`` is the criterion's position in the trigger's ``criteria``, its
        criterion id when the trigger has one criterion of that id, or a path inside the
        trigger such as ``'expression["page.count"]["$gte"]'``.

        >>> cfg = Config.from_dict({"schema_version": 1, "source": {"mode": "live_chat"},
        ...     "triggers": [{"id": "t", "label": "T", "actions": [{"type": "show_chat_minimized"}],
        ...                   "criteria": [{"criterion": "page_visit_duration",
        ...                                 "operator": "gte", "value": 30}]}]})
        >>> cfg.with_threshold("t", "page_visit_duration", 60).trigger("t").criteria[0]["value"]
        60
        >>> cfg.with_threshold("t", 0, 1e400)
        Traceback (most recent call last):
        ...
        engage_lab.errors.ConfigError: threshold of t: refused, the configuration would be invalid (1 problem)
        triggers[0].criteria[0].value: must be a finite number
        """
        data = self.to_dict()
        path = editing.criterion_path(data, trigger_id, criterion)
        data = editing.set_at(data, path, as_plain_data(value))
        return self._edited(data, f"threshold of {trigger_id}")

    def _with_trigger_key(self, trigger_id: str, key: str, value: Any, what: str) -> Config:
        data = self.to_dict()
        path: list[str | int] = ["triggers", editing.trigger_index(data, trigger_id), key]
        if value is None:
            data["triggers"][path[1]].pop(key, None)  # back to the default
        else:
            data = editing.set_at(data, path, as_plain_data(value))
        return self._edited(data, what)

    def enable_trigger(self, trigger_id: str, on: bool = True) -> Config:
        """A copy with the trigger enabled (``on=True``) or disabled.

        >>> cfg = Config.from_dict({"schema_version": 1, "source": {"mode": "live_chat"},
        ...     "triggers": [{"id": "t", "label": "T", "actions": [{"type": "show_chat_minimized"}]}]})
        >>> cfg.enable_trigger("t", False).enabled_triggers
        ()
        """
        return self._with_trigger_key(trigger_id, "enabled", on, f"enable {trigger_id}")

    def with_gating(self, trigger_id: str, on: bool) -> Config:
        """A copy where the trigger asks the server first (``only_if_agents_available``).

        Turning gating off is refused while the trigger has a ``server_probability``
        (it applies only to gated triggers): remove it first with ``with_policy(id, None)``.

        >>> cfg = Config.from_dict({"schema_version": 1, "source": {"mode": "live_chat"},
        ...     "triggers": [{"id": "t", "label": "T", "actions": [{"type": "show_chat_minimized"}]}]})
        >>> cfg.with_gating("t", True).trigger("t").gated
        True
        """
        return self._with_trigger_key(
            trigger_id, "only_if_agents_available", on, f"gating of {trigger_id}"
        )

    def with_policy(self, trigger_id: str, policy: Any) -> Config:
        """A copy with the gated trigger's server-probability policy: a
        :class:`~engage_lab.config.ReservePolicy` / :class:`~engage_lab.config.CurvePolicy`
        / :class:`~engage_lab.config.ProductPolicy` or its JSON, or ``None`` for the
        product's rule (the key removed).

        >>> cfg = Config.from_dict({"schema_version": 1, "source": {"mode": "live_chat"},
        ...     "triggers": [{"id": "t", "label": "T", "only_if_agents_available": True,
        ...                   "actions": [{"type": "show_chat_minimized"}]}]})
        >>> cfg.with_policy("t", {"policy": "reserve", "k": 2}).trigger("t").policy
        ReservePolicy(policy='reserve', k=2)
        >>> cfg.with_policy("t", {"policy": "reserve", "k": -1})
        Traceback (most recent call last):
        ...
        engage_lab.errors.ConfigError: policy of t: refused, the configuration would be invalid (1 problem)
        triggers[0].server_probability.k: must be at least 0
        """
        return self._with_trigger_key(
            trigger_id, "server_probability", policy, f"policy of {trigger_id}"
        )

    def with_queuing_factor(self, value: float | None, trigger_id: str | None = None) -> Config:
        """A copy with the source's queuing factor, or one trigger's own (``None``: the
        trigger follows the source again).

        >>> cfg = Config.from_dict({"schema_version": 1, "source": {"mode": "live_chat"},
        ...     "triggers": [{"id": "t", "label": "T", "only_if_agents_available": True,
        ...                   "actions": [{"type": "show_chat_minimized"}]}]})
        >>> cfg.with_queuing_factor(0.5).effective_queuing_factor("t")
        0.5
        >>> cfg.with_queuing_factor(0.75, "t").effective_queuing_factor("t")
        0.75
        """
        if trigger_id is not None:
            return self._with_trigger_key(
                trigger_id, "queuing_factor", value, f"queuing factor of {trigger_id}"
            )
        return self.edit("source.queuing_factor", 0 if value is None else value)

    def move_trigger(self, trigger_id: str, to: int) -> Config:
        """A copy with the trigger at position ``to`` (0 first, -1 last): the order in
        which triggers are evaluated.

        >>> cfg = Config.from_dict({"schema_version": 1, "source": {"mode": "live_chat"},
        ...     "triggers": [{"id": i, "label": i, "actions": [{"type": "show_chat_minimized"}]}
        ...                  for i in ("a", "b", "c")]})
        >>> [t.id for t in cfg.move_trigger("c", 0).triggers]
        ['c', 'a', 'b']
        """
        return self._edited(editing.moved(self.to_dict(), trigger_id, to), f"move {trigger_id}")

    def duplicate_trigger(self, trigger_id: str, new_id: str, label: str | None = None) -> Config:
        """A copy with a copy of the trigger under ``new_id`` (and ``label``, if given),
        placed right after it.

        >>> cfg = Config.from_dict({"schema_version": 1, "source": {"mode": "live_chat"},
        ...     "triggers": [{"id": "a", "label": "A", "actions": [{"type": "show_chat_minimized"}]}]})
        >>> [t.id for t in cfg.duplicate_trigger("a", "a2").triggers]
        ['a', 'a2']
        >>> cfg.duplicate_trigger("a", "a")
        Traceback (most recent call last):
        ...
        engage_lab.errors.ConfigError: duplicate a: refused, the configuration would be invalid (1 problem)
        triggers[1].id: duplicate trigger id 'a' (also triggers[0]); give each trigger its own id
        """
        data = editing.duplicated(self.to_dict(), trigger_id, new_id, label)
        return self._edited(data, f"duplicate {trigger_id}")

    def remove_trigger(self, trigger_id: str) -> Config:
        """A copy without the trigger (a configuration keeps at least one).

        >>> cfg = Config.from_dict({"schema_version": 1, "source": {"mode": "live_chat"},
        ...     "triggers": [{"id": i, "label": i, "actions": [{"type": "show_chat_minimized"}]}
        ...                  for i in ("a", "b")]})
        >>> [t.id for t in cfg.remove_trigger("a").triggers]
        ['b']
        """
        data = self.to_dict()
        path: list[str | int] = ["triggers", editing.trigger_index(data, trigger_id)]
        return self._edited(editing.deleted_at(data, path), f"remove {trigger_id}")

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
