"""Read-only lists and dicts and the base of the configuration models: a validated
configuration cannot be changed in place, and every copy of one is validated.

The configuration models are frozen (attributes cannot be assigned), but a frozen model
still hands out its lists and dicts: ``cfg.triggers.append(...)`` or
``trigger.criteria[0]["value"] = "twenty"`` would change a validated configuration
behind the validator's back. Every list and dict a model holds is therefore a
:class:`FrozenList` / :class:`FrozenDict`: still a ``list`` / ``dict`` for readers (JSON,
pydantic, ``isinstance``, equality with plain lists and dicts), but every mutating method
raises ``TypeError`` and points at the validated edits of ``Config``.

>>> items = freeze([{"a": 1}])
>>> items == [{"a": 1}], isinstance(items, list)
(True, True)
>>> items[0]["a"] = 2
Traceback (most recent call last):
...
TypeError: a configuration is immutable; edit it with Config.edit or Config.with_... (each returns a new, validated Config)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn, Self

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

__all__ = ["FrozenDict", "FrozenList", "as_plain_data", "freeze"]

_MESSAGE = (
    "a configuration is immutable; edit it with Config.edit or Config.with_..."
    " (each returns a new, validated Config)"
)

#: Deeper values stay as they are: the validator refuses them (limits.MAX_NESTING) and
#: this keeps freezing a hostile value from recursing without end.
_FREEZE_DEPTH = 200


def _refuse(self: Any, *args: Any, **kwargs: Any) -> NoReturn:
    raise TypeError(_MESSAGE)


class FrozenList(list):  # type: ignore[type-arg]
    """A list whose mutating methods raise ``TypeError``."""

    __slots__ = ()
    append = extend = insert = pop = remove = sort = reverse = clear = _refuse
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse

    def __copy__(self) -> FrozenList:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenList:
        return self  # nothing inside can change, so sharing is a deep copy

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenList, (list(self),))


class FrozenDict(dict):  # type: ignore[type-arg]
    """A dict whose mutating methods raise ``TypeError``."""

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _refuse
    update = pop = popitem = clear = setdefault = _refuse

    def __copy__(self) -> FrozenDict:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenDict:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))


def freeze(value: Any, _depth: int = 0) -> Any:
    """``value`` with every list and dict in it read-only (other values as they are).

    >>> type(freeze({"a": [1]})["a"]).__name__
    'FrozenList'
    """
    if _depth > _FREEZE_DEPTH:
        return value
    if isinstance(value, FrozenList | FrozenDict):
        return value
    if isinstance(value, list):
        return FrozenList(freeze(item, _depth + 1) for item in value)
    if isinstance(value, dict):
        return FrozenDict((key, freeze(item, _depth + 1)) for key, item in value.items())
    return value


def as_plain_data(value: Any, _depth: int = 0) -> Any:
    """Models in ``value`` as the JSON data they were given from (lists and dicts walked).

    >>> from engage_lab.config.models import Source
    >>> as_plain_data({"source": Source(mode="messaging")})
    {'source': {'mode': 'messaging'}}
    """
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_unset=True)
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        return value.item()  # a slider's numpy.int64 / numpy.bool_ as the JSON value it means
    if _depth > 8:  # models sit near the top; deeper is raw JSON (maybe hostile: no recursion)
        return value
    if isinstance(value, list | tuple):
        return [as_plain_data(item, _depth + 1) for item in value]
    if isinstance(value, dict):
        return {key: as_plain_data(item, _depth + 1) for key, item in value.items()}
    return value


class _Model(BaseModel):
    """Frozen, strict, closed; its lists and dicts read-only; every copy validated."""

    model_config = ConfigDict(
        strict=True, frozen=True, extra="forbid", use_attribute_docstrings=True
    )

    @model_validator(mode="after")
    def _freeze_containers(self) -> Self:
        # Frozen models still hand out their lists and dicts: make those read-only too.
        for name, value in self.__dict__.items():
            if isinstance(value, list | dict):
                self.__dict__[name] = freeze(value)
        return self

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy; with ``update``, a new model validated like any other (``ConfigError``
        naming the JSON path when a value is refused), never an unchecked one.

        >>> from engage_lab.config.models import Source
        >>> Source(mode="live_chat").model_copy(update={"queuing_factor": "twenty"})
        Traceback (most recent call last):
        ...
        engage_lab.errors.ConfigError: queuing_factor: must be a number
        """
        if not update:
            return super().model_copy(deep=deep)
        values = {name: self.__dict__[name] for name in self.model_fields_set}
        values.update(update)
        return type(self)._validated(values)

    @classmethod
    def model_construct(cls, _fields_set: set[str] | None = None, **values: Any) -> Self:
        """Validates like the constructor: an unchecked model could hold any value."""
        return cls._validated(values)

    @classmethod
    def _validated(cls, values: dict[str, Any]) -> Self:
        from engage_lab.config.problems import problems_from_validation_error
        from engage_lab.errors import ConfigError

        try:
            return cls.model_validate(as_plain_data(values))
        except ValidationError as exc:
            raise ConfigError(problems_from_validation_error(cls, exc)) from exc
