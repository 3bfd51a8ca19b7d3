"""The condition tree: one small immutable node per kind, for criteria and expressions alike.

Both forms parse once into these nodes; the reference evaluator
(:mod:`engage_lab.conditions.evaluator`) and the SQL compilers
(:mod:`engage_lab.conditions.compiler`) are visitors over them, and engines walk them
with :func:`walk`, :func:`criteria_nodes` and :func:`time_thresholds`.

Three families of nodes:

* **logic** (both forms): :class:`And`, :class:`Or`, :class:`Not`, :class:`Const`;
* **criteria**: :class:`Criterion` holds a criterion id, a historical position and one
  test (:class:`Is`, :class:`IsNot`, :class:`IsPresent`, :class:`IsNotPresent`,
  :class:`Gte`, :class:`Lte`, :class:`Contains`, :class:`DoesNotContain`,
  :class:`StartsWith`, :class:`EndsWith`) whose values are already normalized;
* **expressions** (GrowthBook semantics): :class:`Field` tests the attribute at a dotted
  path with a value test: :class:`Equals` (a literal), :class:`Operators` (an operator
  object: all its operators must hold), one class per ``$`` operator
  (:class:`OpEq` … :class:`OpType`), :class:`SavedGroupRef` (``$savedGroup``),
  :class:`Unknown` (an operator this evaluator does not know: neither true nor false,
  as in the SDK) and :class:`Malformed` (a shape on which the SDK raises, which fails
  the whole expression).

Operands of expression operators are JSON values kept as canonical JSON text
(:class:`Json`), so nodes are hashable and ``1``, ``1.0`` and ``true`` stay distinct.

>>> Json.of([1, "a"]).value
[1, 'a']
>>> Field("page.duration", OpGte(Json.of(30))) == Field("page.duration", OpGte(Json.of(30)))
True
>>> EXPRESSION_OPERATORS["$gte"] is OpGte and CRITERIA_OPERATORS["gte"] is Gte
True
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from engage_lab.conditions.registry import CriterionFacts

__all__ = [
    "CRITERIA_OPERATORS",
    "EXPRESSION_OPERATORS",
    "And",
    "Const",
    "Contains",
    "Criterion",
    "CriterionTest",
    "DoesNotContain",
    "EndsWith",
    "Equals",
    "Field",
    "Gte",
    "Is",
    "IsNot",
    "IsNotPresent",
    "IsPresent",
    "Json",
    "Lte",
    "Malformed",
    "Node",
    "Not",
    "OpAll",
    "OpAlli",
    "OpElemMatch",
    "OpEq",
    "OpExists",
    "OpGt",
    "OpGte",
    "OpIn",
    "OpInGroup",
    "OpIni",
    "OpLt",
    "OpLte",
    "OpNe",
    "OpNin",
    "OpNini",
    "OpNot",
    "OpNotInGroup",
    "OpNotRegex",
    "OpNotRegexi",
    "OpRegex",
    "OpRegexi",
    "OpSize",
    "OpType",
    "OpVEq",
    "OpVGt",
    "OpVGte",
    "OpVLt",
    "OpVLte",
    "OpVNe",
    "Operators",
    "Or",
    "SavedGroupRef",
    "StartsWith",
    "Unknown",
    "children",
    "walk",
]


@dataclass(frozen=True, slots=True)
class Json:
    """A JSON value kept as canonical text (hashable; ``1``, ``1.0`` and ``true`` differ)."""

    text: str

    @classmethod
    def of(cls, value: Any) -> Json:
        """Wrap a Python JSON value (dict key order is kept: it matters to equality)."""
        return cls(json.dumps(value, ensure_ascii=False, allow_nan=True, separators=(",", ":")))

    @property
    def value(self) -> Any:
        """The Python value (a fresh object each time: callers may not mutate shared state)."""
        return _decode(self.text)


def _decode(text: str) -> Any:
    return json.loads(text)


class Node:
    """Base of every node; subclasses are frozen slotted dataclasses."""

    __slots__ = ()


# ----------------------------------------------------------------------------- logic


@dataclass(frozen=True, slots=True)
class And(Node):
    """All children hold (empty: true). Three-valued: false wins, then unknown."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or(Node):
    """At least one child holds (empty: true, as in GrowthBook). Three-valued."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not(Node):
    """The child does not hold (unknown stays unknown)."""

    child: Node


@dataclass(frozen=True, slots=True)
class Const(Node):
    """A constant: ``True``, ``False`` or ``None`` (unknown)."""

    value: bool | None


# ----------------------------------------------------------------------------- criteria


class CriterionTest(Node):
    """A criteria operator; ``op`` is its JSON name, ``kinds`` the value kinds it applies to,
    ``not_found`` its result on a value that is missing (a missing value fails every test
    but the negative ones)."""

    __slots__ = ()
    op: ClassVar[str]
    kinds: ClassVar[frozenset[str]]
    not_found: ClassVar[bool]
    #: whether the value is a comma-separated list (strings only)
    takes_list: ClassVar[bool] = False
    #: whether the operator needs a value at all
    takes_value: ClassVar[bool] = True


_ALL_KINDS = frozenset({"string", "number", "boolean", "day", "time"})
_ORDERED_KINDS = frozenset({"number", "day", "time"})
_STRING = frozenset({"string"})


@dataclass(frozen=True, slots=True)
class Is(CriterionTest):
    """Equal to one of the values (strings: any entry of the normalized list)."""

    values: tuple[Any, ...]
    op: ClassVar[str] = "is"
    kinds: ClassVar[frozenset[str]] = _ALL_KINDS
    not_found: ClassVar[bool] = False
    takes_list: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class IsNot(CriterionTest):
    """Equal to none of the entries (strings only)."""

    values: tuple[str, ...]
    op: ClassVar[str] = "is_not"
    kinds: ClassVar[frozenset[str]] = _STRING
    not_found: ClassVar[bool] = True
    takes_list: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Contains(CriterionTest):
    """Contains one of the entries."""

    values: tuple[str, ...]
    op: ClassVar[str] = "contains"
    kinds: ClassVar[frozenset[str]] = _STRING
    not_found: ClassVar[bool] = False
    takes_list: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class DoesNotContain(CriterionTest):
    """Contains none of the entries."""

    values: tuple[str, ...]
    op: ClassVar[str] = "does_not_contain"
    kinds: ClassVar[frozenset[str]] = _STRING
    not_found: ClassVar[bool] = True
    takes_list: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class StartsWith(CriterionTest):
    """Starts with one of the entries."""

    values: tuple[str, ...]
    op: ClassVar[str] = "starts_with"
    kinds: ClassVar[frozenset[str]] = _STRING
    not_found: ClassVar[bool] = False
    takes_list: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class EndsWith(CriterionTest):
    """Ends with one of the entries."""

    values: tuple[str, ...]
    op: ClassVar[str] = "ends_with"
    kinds: ClassVar[frozenset[str]] = _STRING
    not_found: ClassVar[bool] = False
    takes_list: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Gte(CriterionTest):
    """At least ``value`` (numbers; day ordinal Monday=0; time slot in minutes)."""

    value: float
    op: ClassVar[str] = "gte"
    kinds: ClassVar[frozenset[str]] = _ORDERED_KINDS
    not_found: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class Lte(CriterionTest):
    """At most ``value`` (numbers; day ordinal Monday=0; time slot in minutes)."""

    value: float
    op: ClassVar[str] = "lte"
    kinds: ClassVar[frozenset[str]] = _ORDERED_KINDS
    not_found: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class IsPresent(CriterionTest):
    """Found and not blank (booleans: true)."""

    op: ClassVar[str] = "is_present"
    kinds: ClassVar[frozenset[str]] = _ALL_KINDS
    not_found: ClassVar[bool] = False
    takes_value: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class IsNotPresent(CriterionTest):
    """Missing or blank (booleans: false or missing)."""

    op: ClassVar[str] = "is_not_present"
    kinds: ClassVar[frozenset[str]] = _ALL_KINDS
    not_found: ClassVar[bool] = True
    takes_value: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class Criterion(Node):
    """One criterion: ``test`` holds on at least one page that ``position`` selects.

    ``kind`` is the value kind the pages' values are read as: ``string``, ``number``,
    ``boolean``, ``day`` (ordinal, Monday = 0) or ``time`` (minutes since midnight of
    the 15-minute slot). ``source`` keeps the criterion's value as written.
    """

    criterion: str
    position: str
    kind: str
    test: CriterionTest
    source: Json = field(default=Json("null"), compare=True)

    @property
    def facts(self) -> CriterionFacts:
        """The criterion's facts (:mod:`engage_lab.conditions.registry`): its source, the
        page column it reads, whether a past page's end matters …"""
        from engage_lab.conditions.registry import facts_of  # the registry reads this module

        return facts_of(self.criterion, self.kind)


CRITERIA_OPERATORS: dict[str, type[CriterionTest]] = {
    cls.op: cls
    for cls in (
        Is,
        IsNot,
        IsPresent,
        IsNotPresent,
        Gte,
        Lte,
        Contains,
        DoesNotContain,
        StartsWith,
        EndsWith,
    )
}


# ----------------------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class Field(Node):
    """The attribute at dotted ``path`` passes ``test`` (a value test)."""

    path: str
    test: Node


@dataclass(frozen=True, slots=True)
class Equals(Node):
    """Literal deep equality of JSON types (``insensitive``: strings compared lowercased)."""

    operand: Json
    insensitive: bool = False


@dataclass(frozen=True, slots=True)
class Operators(Node):
    """An operator object: every operator holds (three-valued; empty: true)."""

    tests: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class SavedGroupRef(Node):
    """``$savedGroup``: resolved against the saved groups given at evaluation time."""

    group_id: str
    attribute_key: str | None = None


@dataclass(frozen=True, slots=True)
class Unknown(Node):
    """An operator (or saved-group type) this evaluator does not know: unknown, not false."""

    op: str


@dataclass(frozen=True, slots=True)
class Malformed(Node):
    """A shape on which GrowthBook's evaluator raises: reaching it fails the whole expression."""

    reason: str


class _Operand(Node):
    """An operator with one JSON operand."""

    __slots__ = ()
    op: ClassVar[str]
    operand: Json


def _operand_class(name: str, op: str, doc: str) -> type[_Operand]:
    cls = type(
        name,
        (_Operand,),
        {"__annotations__": {"operand": "Json"}, "op": op, "__doc__": doc, "__module__": __name__},
    )
    return dataclass(frozen=True, slots=True)(cls)


# One line per operator: the name, its JSON spelling and what it tests.
OpEq = _operand_class("OpEq", "$eq", "Strict equality of two primitives of one JSON type.")
OpNe = _operand_class("OpNe", "$ne", "Negation of ``$eq``.")
OpLt = _operand_class("OpLt", "$lt", "Less than: two numbers or two strings only.")
OpLte = _operand_class("OpLte", "$lte", "Less or equal: two numbers or two strings only.")
OpGt = _operand_class("OpGt", "$gt", "Greater than: two numbers or two strings only.")
OpGte = _operand_class("OpGte", "$gte", "Greater or equal: two numbers or two strings only.")
OpVEq = _operand_class("OpVEq", "$veq", "Version equal (padded version strings).")
OpVNe = _operand_class("OpVNe", "$vne", "Version not equal (true on a type mismatch).")
OpVLt = _operand_class("OpVLt", "$vlt", "Version less than.")
OpVLte = _operand_class("OpVLte", "$vlte", "Version less or equal.")
OpVGt = _operand_class("OpVGt", "$vgt", "Version greater than.")
OpVGte = _operand_class("OpVGte", "$vgte", "Version greater or equal.")
OpIn = _operand_class("OpIn", "$in", "Equal to an element (arrays: intersect).")
OpNin = _operand_class("OpNin", "$nin", "Negation of ``$in`` (false if the operand is no list).")
OpIni = _operand_class("OpIni", "$ini", "``$in`` with strings lowercased.")
OpNini = _operand_class("OpNini", "$nini", "``$nin`` with strings lowercased.")
OpInGroup = _operand_class("OpInGroup", "$inGroup", "``$in`` over a saved group's values.")
OpNotInGroup = _operand_class("OpNotInGroup", "$notInGroup", "Negation of ``$inGroup``.")
OpRegex = _operand_class("OpRegex", "$regex", "A string the pattern finds a match in.")
OpRegexi = _operand_class("OpRegexi", "$regexi", "``$regex`` ignoring case.")
OpNotRegex = _operand_class("OpNotRegex", "$notRegex", "Not ``$regex`` (true on errors).")
OpNotRegexi = _operand_class("OpNotRegexi", "$notRegexi", "Not ``$regexi`` (true on errors).")
OpType = _operand_class("OpType", "$type", "The attribute's JSON type name equals the operand.")


@dataclass(frozen=True, slots=True)
class OpExists(Node):
    """``$exists``: the attribute is non-null iff ``flag`` (the operand's truthiness)."""

    flag: bool
    op: ClassVar[str] = "$exists"


@dataclass(frozen=True, slots=True)
class OpNot(Node):
    """Value-level ``$not``: the value test does not hold."""

    test: Node
    op: ClassVar[str] = "$not"


@dataclass(frozen=True, slots=True)
class OpSize(Node):
    """``$size``: the array's length passes ``test``."""

    test: Node
    op: ClassVar[str] = "$size"


@dataclass(frozen=True, slots=True)
class OpElemMatch(Node):
    """``$elemMatch``: some non-null element passes ``test`` (a value test when
    ``on_value``, else a condition over the element's fields)."""

    test: Node
    on_value: bool
    op: ClassVar[str] = "$elemMatch"


@dataclass(frozen=True, slots=True)
class OpAll(Node):
    """``$all``: the array has, for each test, an element passing it."""

    tests: tuple[Node, ...]
    op: ClassVar[str] = "$all"


@dataclass(frozen=True, slots=True)
class OpAlli(Node):
    """``$alli``: ``$all`` with literal strings compared lowercased."""

    tests: tuple[Node, ...]
    op: ClassVar[str] = "$alli"


EXPRESSION_OPERATORS: dict[str, type[Node]] = {
    cls.op: cls  # type: ignore[attr-defined]
    for cls in (
        OpEq,
        OpNe,
        OpLt,
        OpLte,
        OpGt,
        OpGte,
        OpVEq,
        OpVNe,
        OpVLt,
        OpVLte,
        OpVGt,
        OpVGte,
        OpIn,
        OpNin,
        OpIni,
        OpNini,
        OpInGroup,
        OpNotInGroup,
        OpRegex,
        OpRegexi,
        OpNotRegex,
        OpNotRegexi,
        OpType,
        OpExists,
        OpNot,
        OpSize,
        OpElemMatch,
        OpAll,
        OpAlli,
    )
}


# ----------------------------------------------------------------------------- walking


def children(node: Node) -> tuple[Node, ...]:
    """The direct child nodes of ``node``, in order.

    >>> children(And((Const(True), Not(Const(False)))))
    (Const(value=True), Not(child=Const(value=False)))
    """
    out: list[Node] = []
    for f in fields(node):  # type: ignore[arg-type]
        value = getattr(node, f.name)
        if isinstance(value, Node):
            out.append(value)
        elif isinstance(value, tuple):
            out.extend(v for v in value if isinstance(v, Node))
    return tuple(out)


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents before children (depth first, in order).

    >>> [type(n).__name__ for n in walk(Or((Const(True), Not(Const(None)))))]
    ['Or', 'Const', 'Not', 'Const']
    """
    yield node
    for child in children(node):
        yield from walk(child)
