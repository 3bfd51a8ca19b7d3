"""Read-only lists and dicts, so a validated configuration cannot be changed in place.

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

from typing import Any, NoReturn

__all__ = ["FrozenDict", "FrozenList", "freeze"]

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
