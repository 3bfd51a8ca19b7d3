"""Compile the condition tree to SQL: visitors that emit sqlglot expressions.

``BaseCompiler`` walks the tree; each node kind has a ``visit_<NodeClass>`` method that
receives the node, the compiled children (when the children share the node's context)
and the context, and returns a sqlglot expression. A node kind without a handler raises
:class:`~engage_lab.errors.UnsupportedOperatorError`, so :func:`support_matrix` can list
what each dialect supports. Dialect specifics (JSON access, list functions, lambdas,
regexes, placeholders) are overridable methods; :class:`DuckDBCompiler` is the first
dialect. ``.sql(dialect)`` is called once, in :meth:`BaseCompiler.compile`.

Three-valued logic maps onto SQL's: an unknown operator compiles to ``NULL``, and SQL's
``AND`` / ``OR`` / ``NOT`` treat ``NULL`` exactly as GrowthBook treats "unknown"; the
top level is ``COALESCE(…, FALSE)``. Every other leaf is ``TRUE`` or ``FALSE``, never
``NULL``, whatever the attribute holds.

Where attributes come from is the :class:`Resolver`'s business (the engine supplies one).
:class:`RowResolver`, used by the tests, reads one table row:

* criteria: one column per criterion id (``page_title``, ``time``, ``custom_cart``…)
  holding a LIST of the visit's per-page values oldest first (the last one current):
  ``VARCHAR[]`` for string, day (``"Monday"``) and time (``"HH:MM"``) criteria,
  ``DOUBLE[]`` for numbers, ``BOOLEAN[]`` for booleans; ``NULL`` elements are not found;
* expressions: one ``JSON`` column ``attributes`` holding the attribute document.

Tunable thresholds — the numbers of criteria ``gte`` / ``lte`` (day ordinals and time
slots in minutes included) and of ``$gt`` / ``$gte`` / ``$lt`` / ``$lte`` — become named
parameters (``$p0``, ``$p1`` … in DuckDB), so a new value is a new binding, not a new
compilation. Normalization: DuckDB's ``strip_accents`` removes the marks of canonical
decompositions only, so the compilers add NFKD's compatibility folds themselves
(:func:`compatibility_folds`: every one-character fold, and multi-character folds below
U+3000 such as ``…`` and ``™``, and the ligatures U+FB00–FB17 such as ``ﬁ``). Known differences from the reference evaluator
(documented): rarer multi-character folds (squared CJK, Arabic presentation forms) are
not applied; strings order by code point in SQL, by UTF-16 unit in the
SDK (they differ only between U+E000–U+FFFF and astral characters); RE2's ``\\d``,
``\\w``, ``\\s`` are ASCII and its ``$`` does not match before a final newline.

>>> from engage_lab.conditions import parse_expression
>>> compiled = DuckDBCompiler().compile(parse_expression({"page.count": {"$gte": 3}}))
>>> compiled.params
{'p0': 3}
>>> "$p0" in compiled.sql
True
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, ClassVar, Protocol

from sqlglot import exp

from engage_lab.conditions import _growthbook as gb
from engage_lab.conditions import nodes as n
from engage_lab.conditions.checks import check_regex
from engage_lab.conditions.evaluator import group_values
from engage_lab.conditions.expressions import parse_expression
from engage_lab.conditions.vocabulary import DAYS, POSITIONS, WHITESPACE, is_mark
from engage_lab.errors import CompileError, UnsupportedOperatorError

__all__ = [
    "BaseCompiler",
    "CompiledCondition",
    "DuckDBCompiler",
    "Resolver",
    "RowResolver",
    "compile_condition",
    "format_support_matrix",
    "support_matrix",
]


class Resolver(Protocol):
    """Tells a compiler where the attributes of a condition live."""

    def criterion_values(self, criterion: str, kind: str) -> exp.Expression:
        """A LIST of the visit's values of ``criterion``, oldest page first."""
        ...

    def attributes(self) -> exp.Expression:
        """The JSON attribute document expressions read."""
        ...


@dataclass(frozen=True)
class RowResolver:
    """One row: a list column per criterion id, a JSON column of attributes."""

    table: str | None = None
    attributes_column: str = "attributes"

    def _column(self, name: str) -> exp.Expression:
        return exp.column(name, table=self.table, quoted=True)

    def criterion_values(self, criterion: str, kind: str) -> exp.Expression:
        return self._column(criterion)

    def attributes(self) -> exp.Expression:
        return self._column(self.attributes_column)


@dataclass(frozen=True)
class CompiledCondition:
    """A compiled condition: the SQL text, its named parameters and the expression."""

    sql: str
    params: dict[str, Any]
    expression: exp.Expression
    #: parameter name -> the node whose threshold it carries
    param_nodes: dict[str, n.Node] = field(default_factory=dict)


@dataclass(frozen=True)
class _Ctx:
    value: exp.Expression | None = None  # the JSON value (expressions) or element (criteria)
    doc: exp.Expression | None = None  # the JSON attribute document
    kind: str | None = None  # criteria: the value kind
    depth: int = 0  # lambda nesting, for unique variable names
    normalized: bool = False  # criteria: string elements already normalized
    visited: frozenset[str] = frozenset()  # saved groups being inlined


def char_class(chars: str) -> str:
    """A regex class body (without brackets) matching ``chars``, as ``\\x{…}`` ranges
    (RE2 and Java syntax)."""
    runs: list[list[int]] = []
    for code in sorted({ord(c) for c in chars}):
        if runs and code == runs[-1][1] + 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])
    return "".join(f"\\x{{{a:x}}}" if a == b else f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in runs)


_WS_CLASS = char_class(WHITESPACE)


@lru_cache(maxsize=1)
def compatibility_folds() -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """What NFKD does beyond a canonical decomposition, for SQL engines that lack it.

    Returns ``(from, to, pairs)``: characters folded to one character (for
    ``TRANSLATE``) and multi-character folds below U+3000 (ligatures, ``…``, ``™``,
    fractions; for ``REPLACE``). Rarer multi-character folds (squared CJK, Arabic
    presentation forms) are left as they are: a documented difference.
    """
    singles_from, singles_to, deleted, pairs = [], [], [], []
    for code in range(0x110000):
        char = chr(code)
        if not unicodedata.decomposition(char):
            continue
        folded = "".join(c for c in unicodedata.normalize("NFKD", char) if not is_mark(c))
        canonical = "".join(c for c in unicodedata.normalize("NFD", char) if not is_mark(c))
        if folded == canonical:
            continue
        if not folded:
            deleted.append(char)  # TRANSLATE deletes what has no counterpart
        elif len(folded) == 1:
            singles_from.append(char)
            singles_to.append(folded)
        elif code < 0x3000 or 0xFB00 <= code <= 0xFB17:  # ligatures such as U+FB01
            pairs.append((char, folded))
    return "".join(singles_from + deleted), "".join(singles_to), tuple(pairs)


def _and(parts: list[exp.Expression]) -> exp.Expression:
    return exp.and_(*parts) if parts else exp.true()


def _or(parts: list[exp.Expression]) -> exp.Expression:
    return exp.or_(*parts) if parts else exp.false()


def _paren(e: exp.Expression) -> exp.Expression:
    return exp.Paren(this=e)


@lru_cache(maxsize=1)
def _folds_by_cost() -> tuple[str, str, str, tuple[tuple[str, str], ...]]:
    singles_from, singles_to, pairs = compatibility_folds()
    spaces = "".join(f for f, t in zip(singles_from, singles_to, strict=False) if t == " ")
    keep = [(f, t) for f, t in zip(singles_from, singles_to, strict=False) if t != " "]
    deleted = singles_from[len(singles_to) :]
    return (
        spaces,
        "".join(f for f, _ in keep) + deleted,
        "".join(t for _, t in keep),
        pairs,
    )


class BaseCompiler:
    """Dialect-independent visitors; subclasses supply the dialect's functions."""

    dialect: ClassVar[str] = ""
    #: index of the first element in a list lambda's index argument
    lambda_index_base: ClassVar[int] = 1
    #: criteria tests on strings: node class -> how one normalized value meets one entry
    STRING_TESTS: ClassVar[dict[type, tuple[str, bool]]] = {
        n.Is: ("eq", False),
        n.IsNot: ("eq", True),
        n.Contains: ("contains", False),
        n.DoesNotContain: ("contains", True),
        n.StartsWith: ("starts_with", False),
        n.EndsWith: ("ends_with", False),
    }
    #: ordered expression operators and criteria thresholds -> sqlglot comparison
    COMPARISONS: ClassVar[dict[type, type[exp.Expression]]] = {
        n.OpLt: exp.LT,
        n.OpLte: exp.LTE,
        n.OpGt: exp.GT,
        n.OpGte: exp.GTE,
        n.Gte: exp.GTE,
        n.Lte: exp.LTE,
    }
    VERSION_COMPARISONS: ClassVar[dict[type, type[exp.Expression]]] = {
        n.OpVEq: exp.EQ,
        n.OpVNe: exp.NEQ,
        n.OpVLt: exp.LT,
        n.OpVLte: exp.LTE,
        n.OpVGt: exp.GT,
        n.OpVGte: exp.GTE,
    }

    def __init__(
        self,
        resolver: Resolver | None = None,
        saved_groups: Mapping[str, Any] | None = None,
        param_prefix: str = "p",
    ) -> None:
        self.resolver: Resolver = resolver if resolver is not None else RowResolver()
        self.saved_groups = saved_groups
        self.param_prefix = param_prefix
        self._params: dict[str, Any] = {}
        self._param_nodes: dict[str, n.Node] = {}

    # ------------------------------------------------------------------ entry points

    def compile(self, node: n.Node) -> CompiledCondition:
        """Compile ``node`` to a boolean SQL expression (never NULL) and its parameters."""
        self._params, self._param_nodes = {}, {}
        body = self.visit(node, _Ctx(doc=self.resolver.attributes()))
        expression = exp.func("COALESCE", body, exp.false())
        return CompiledCondition(
            sql=expression.sql(self.dialect),
            params=dict(self._params),
            expression=expression,
            param_nodes=dict(self._param_nodes),
        )

    def visit(self, node: n.Node, ctx: _Ctx) -> exp.Expression:
        method = getattr(self, f"visit_{type(node).__name__}", None)
        if method is None:
            raise UnsupportedOperatorError(self.dialect, getattr(node, "op", type(node).__name__))
        return method(node, ctx)

    def param(self, value: Any, node: n.Node) -> exp.Expression:
        """A named parameter carrying ``value`` (rebinding it needs no recompilation)."""
        name = f"{self.param_prefix}{len(self._params)}"
        self._params[name] = value
        self._param_nodes[name] = node
        return self.placeholder(name)

    # ------------------------------------------------------------------ dialect hooks

    def placeholder(self, name: str) -> exp.Expression:
        return exp.Placeholder(this=name)

    def call(self, name: str, *args: exp.Expression) -> exp.Expression:
        return exp.Anonymous(this=name, expressions=list(args))

    def var(self, ctx: _Ctx, name: str) -> exp.Expression:
        return exp.column(f"{name}{ctx.depth}")

    def lambda_(self, body: exp.Expression, *params: exp.Expression) -> exp.Expression:
        return exp.Lambda(this=body, expressions=[exp.to_identifier(p.name) for p in params])

    def list_transform(self, items: exp.Expression, fn: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def list_max(self, items: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def list_bool_or(self, items: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def list_length(self, items: exp.Expression) -> exp.Expression:
        return exp.ArraySize(this=items)

    def regex_search(self, text: exp.Expression, pattern: str) -> exp.Expression:
        raise NotImplementedError

    def regex_full_match(self, text: exp.Expression, pattern: str) -> exp.Expression:
        raise NotImplementedError

    def regex_replace_all(self, text: exp.Expression, pattern: str, by: str) -> exp.Expression:
        raise NotImplementedError

    def regex_group(self, text: exp.Expression, pattern: str, group: int) -> exp.Expression:
        raise NotImplementedError

    def strip_accents(self, text: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def map_characters(
        self, text: exp.Expression, pairs: tuple[tuple[str, str], ...]
    ) -> exp.Expression:
        """Replace each character found in ``pairs`` by its string (one CASE, not a deep
        chain of REPLACE calls, which would nest too deeply to generate)."""
        raise NotImplementedError

    # JSON documents
    def json_type(self, value: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def json_get(self, value: exp.Expression, key: str) -> exp.Expression:
        raise NotImplementedError

    def json_array_length(self, value: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def json_elements(self, value: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def json_keys(self, value: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def json_string(self, value: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def json_number(self, value: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def json_boolean(self, value: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def json_from_integer(self, value: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    #: JSON type names as ``json_type`` spells them, per GrowthBook type
    JSON_TYPES: ClassVar[dict[str, tuple[str, ...]]] = {}

    # ------------------------------------------------------------------ logic

    def visit_And(self, node: n.And, ctx: _Ctx) -> exp.Expression:
        return _paren(_and([self.visit(c, ctx) for c in node.children]))

    def visit_Or(self, node: n.Or, ctx: _Ctx) -> exp.Expression:
        if not node.children:
            return exp.true()
        return _paren(_or([self.visit(c, ctx) for c in node.children]))

    def visit_Not(self, node: n.Not, ctx: _Ctx) -> exp.Expression:
        return exp.not_(_paren(self.visit(node.child, ctx)))

    def visit_Const(self, node: n.Const, ctx: _Ctx) -> exp.Expression:
        return self.boolean(node.value)

    def visit_Unknown(self, node: n.Unknown, ctx: _Ctx) -> exp.Expression:
        return self.boolean(None)

    def boolean(self, value: bool | None) -> exp.Expression:
        if value is None:
            return exp.Cast(this=exp.null(), to=exp.DataType.build("BOOLEAN"))
        return exp.true() if value else exp.false()

    # ------------------------------------------------------------------ criteria

    def visit_Criterion(self, node: n.Criterion, ctx: _Ctx) -> exp.Expression:
        values = self.resolver.criterion_values(node.criterion, node.kind)
        count = self.list_length(values)
        x, i = self.var(ctx, "x"), self.var(ctx, "i")
        first, last, minimum = self._position_bounds(node.position, count)
        base = self.lambda_index_base
        index = exp.Add(this=i, expression=exp.Literal.number(1 - base)) if base != 1 else i
        normalized = node.kind == "string" and type(node.test) in self.STRING_TESTS
        # read each page value once (normalize, parse), not once per use in the tests
        values = self.read_values(values, node.kind, node.test, ctx)
        element = self.visit(
            node.test, _Ctx(value=x, kind=node.kind, depth=ctx.depth + 1, normalized=normalized)
        )
        in_range = exp.Between(this=index, low=first, high=last)
        hit = self.list_bool_or(
            self.list_transform(values, self.lambda_(_and([in_range, _paren(element)]), x, i))
        )
        return exp.Case(
            ifs=[
                exp.If(this=exp.GTE(this=count, expression=exp.Literal.number(minimum)), true=hit)
            ],
            default=self.boolean(type(node.test).not_found),
        )

    def _position_bounds(self, position: str, count: exp.Expression) -> tuple[Any, Any, int]:
        one = exp.Literal.number(1)
        if position == "any":
            return one, count, 1
        if position == "any_previous":
            return one, exp.Sub(this=count, expression=one), 2
        if position == "first":
            return one, one, 1
        back_first, back_last = POSITIONS[position]  # type: ignore[misc]

        def back(k: int) -> exp.Expression:
            return count if k == 0 else exp.Sub(this=count, expression=exp.Literal.number(k))

        return back(back_first), back(back_last), back_last + 1

    def element_value(self, ctx: _Ctx) -> exp.Expression:
        """The criterion's element, already read as its kind by :meth:`read_values`."""
        assert ctx.value is not None
        return ctx.value

    def read_values(
        self, values: exp.Expression, kind: str, test: n.CriterionTest, ctx: _Ctx
    ) -> exp.Expression:
        """Map the page values once, before the tests: days to ordinals, times to slots,
        strings under a string test to their normalized form (NULL: not found)."""
        y = self.var(ctx, "y")
        if kind == "day":
            name = self.normalize(y)
            ordinal = exp.Case(
                this=name,
                ifs=[
                    exp.If(this=exp.Literal.string(d), true=exp.Literal.number(k))
                    for k, d in enumerate(DAYS)
                ],
                default=exp.null(),
            )
            return self.list_transform(values, self.lambda_(ordinal, y))
        if kind == "time":
            return self.list_transform(values, self.lambda_(self.time_slot(y), y))
        if kind == "string" and type(test) in self.STRING_TESTS:
            return self.list_transform(values, self.lambda_(self.normalize(y), y))
        return values

    def time_slot(self, x: exp.Expression) -> exp.Expression:
        pattern = r"([0-9]{1,2}):([0-9]{2})(?::[0-9]{2}(?:\.[0-9]+)?)?"
        text = self.trim(x)
        hours = exp.cast(self.regex_group(text, pattern, 1), "INT")
        minutes = exp.cast(self.regex_group(text, pattern, 2), "INT")
        total = exp.Add(
            this=exp.Mul(this=hours, expression=exp.Literal.number(60)), expression=minutes
        )
        slot = exp.Sub(
            this=total, expression=exp.Mod(this=_paren(total), expression=exp.Literal.number(15))
        )
        valid = _and(
            [
                self.regex_full_match(text, pattern),
                exp.LTE(this=hours, expression=exp.Literal.number(23)),
                exp.LTE(this=minutes, expression=exp.Literal.number(59)),
            ]
        )
        return exp.Case(ifs=[exp.If(this=valid, true=slot)], default=exp.null())

    def trim(self, x: exp.Expression) -> exp.Expression:
        """Remove leading and trailing whitespace (Python's ``str.strip`` set)."""
        return self.regex_replace_all(x, f"^[{_WS_CLASS}]+|[{_WS_CLASS}]+$", "")

    def normalize(self, x: exp.Expression) -> exp.Expression:
        """Strip, remove accents, lowercase (the SQL side of ``vocabulary.normalize``)."""
        return exp.Lower(this=self.strip_accents(self.fold_compatibility(self.trim(x))))

    def fold_compatibility(self, text: exp.Expression) -> exp.Expression:
        """NFKD's compatibility folds (``ﬁ`` -> ``fi``, NBSP -> space, fullwidth -> ASCII).

        Space-like characters (NBSP …) are replaced by one cheap regex; the other folds
        (a long TRANSLATE and REPLACE chain, slow per row) run only on the rare values
        that hold such a character.
        """
        spaces, singles_from, singles_to, pairs = _folds_by_cost()
        spaced = self.regex_replace_all(text, f"[{char_class(spaces)}]", " ")
        folded = self.call(
            "TRANSLATE", spaced, exp.Literal.string(singles_from), exp.Literal.string(singles_to)
        )
        folded = self.map_characters(folded, pairs)
        rare = singles_from + "".join(c for c, _ in pairs)
        return exp.Case(
            ifs=[exp.If(this=self.regex_search(spaced, f"[{char_class(rare)}]"), true=folded)],
            default=spaced,
        )

    def _criterion_test(
        self, node: n.CriterionTest, ctx: _Ctx, test: exp.Expression
    ) -> exp.Expression:
        value = self.element_value(ctx)
        return exp.Case(
            ifs=[
                exp.If(
                    this=exp.Is(this=value, expression=exp.null()),
                    true=self.boolean(type(node).not_found),
                )
            ],
            default=test,
        )

    def _string_test(self, node: n.CriterionTest, ctx: _Ctx) -> exp.Expression:
        how, negate = self.STRING_TESTS[type(node)]
        assert ctx.value is not None
        text = ctx.value if ctx.normalized else self.normalize(ctx.value)
        entries = [exp.Literal.string(e) for e in node.values]  # type: ignore[attr-defined]
        if how == "eq":
            hits = exp.In(this=text, expressions=entries)
        else:
            fn = {"contains": "CONTAINS", "starts_with": "STARTS_WITH", "ends_with": "ENDS_WITH"}[
                how
            ]
            hits = _or([self.call(fn, text, e) for e in entries])
        return exp.not_(_paren(hits)) if negate else _paren(hits)

    def _scalar_is(self, node: n.Is, ctx: _Ctx) -> exp.Expression:
        value = self.element_value(ctx)
        literal = node.values[0]
        rhs = (
            exp.Boolean(this=literal) if isinstance(literal, bool) else exp.Literal.number(literal)
        )
        return exp.EQ(this=value, expression=rhs)

    def visit_Is(self, node: n.Is, ctx: _Ctx) -> exp.Expression:
        test = self._string_test(node, ctx) if ctx.kind == "string" else self._scalar_is(node, ctx)
        return self._criterion_test(node, ctx, test)

    def _visit_string(self, node: n.CriterionTest, ctx: _Ctx) -> exp.Expression:
        return self._criterion_test(node, ctx, self._string_test(node, ctx))

    visit_IsNot = visit_Contains = visit_DoesNotContain = _visit_string
    visit_StartsWith = visit_EndsWith = _visit_string

    def _visit_threshold(self, node: n.CriterionTest, ctx: _Ctx) -> exp.Expression:
        op = self.COMPARISONS[type(node)]
        test = op(this=self.element_value(ctx), expression=self.param(node.value, node))  # type: ignore[attr-defined]
        return self._criterion_test(node, ctx, test)

    visit_Gte = visit_Lte = _visit_threshold

    def _present(self, ctx: _Ctx) -> exp.Expression:
        value = self.element_value(ctx)
        if ctx.kind == "boolean":
            return exp.EQ(this=value, expression=exp.true())
        if ctx.kind == "string":
            return exp.NEQ(this=self.trim(value), expression=exp.Literal.string(""))
        return exp.true()

    def visit_IsPresent(self, node: n.IsPresent, ctx: _Ctx) -> exp.Expression:
        return self._criterion_test(node, ctx, self._present(ctx))

    def visit_IsNotPresent(self, node: n.IsNotPresent, ctx: _Ctx) -> exp.Expression:
        return self._criterion_test(node, ctx, exp.not_(_paren(self._present(ctx))))

    # ------------------------------------------------------------------ expressions: reading

    def path(self, doc: exp.Expression, path: str) -> exp.Expression:
        """GrowthBook's getPath: object keys, array indices and array ``length``."""
        current, pending = doc, []
        for segment in path.split("."):
            if segment != "length":
                pending.append(segment)
                continue
            if pending:
                current = self.json_get_path(current, pending)
                pending = []
            current = exp.Case(
                ifs=[
                    exp.If(
                        this=self.has_type(current, "array"),
                        true=self.json_from_integer(self.json_array_length(current)),
                    )
                ],
                default=self.json_get_path(current, ["length"]),
            )
        return self.json_get_path(current, pending) if pending else current

    def json_get_path(self, value: exp.Expression, segments: list[str]) -> exp.Expression:
        pointer = "".join("/" + s.replace("~", "~0").replace("/", "~1") for s in segments)
        return self.json_get(value, pointer)

    def has_type(self, value: exp.Expression, gb_type: str) -> exp.Expression:
        """Whether ``value`` has GrowthBook type ``gb_type`` (never NULL)."""
        if gb_type == "null":
            return _paren(
                exp.or_(
                    exp.Is(this=value, expression=exp.null()),
                    exp.EQ(this=self.json_type(value), expression=exp.Literal.string("NULL")),
                )
            )
        names = self.JSON_TYPES.get(gb_type, ())
        if not names:
            return exp.false()
        check = exp.In(
            this=self.json_type(value), expressions=[exp.Literal.string(t) for t in names]
        )
        return exp.func("COALESCE", check, exp.false())

    def equals_literal(
        self, value: exp.Expression, literal: Any, insensitive: bool = False
    ) -> exp.Expression:
        """GrowthBook's strict deep equality with a literal known at compile time."""
        kind = gb.get_type(literal)
        if kind == "null":
            return self.has_type(value, "null")
        if kind == "boolean":
            return _and(
                [
                    self.has_type(value, "boolean"),
                    exp.EQ(this=self.json_boolean(value), expression=exp.Boolean(this=literal)),
                ]
            )
        if kind == "number":
            return _and(
                [
                    self.has_type(value, "number"),
                    exp.EQ(this=self.json_number(value), expression=exp.Literal.number(literal)),
                ]
            )
        if kind == "string":
            text, lit = self.json_string(value), exp.Literal.string(literal)
            if insensitive:
                text, lit = exp.Lower(this=text), exp.Literal.string(literal.lower())
            return _and([self.has_type(value, "string"), exp.EQ(this=text, expression=lit)])
        if kind == "array":
            parts = [
                self.has_type(value, "array"),
                exp.EQ(
                    this=self.json_array_length(value), expression=exp.Literal.number(len(literal))
                ),
            ]
            parts += [
                self.equals_literal(self.json_get(value, f"/{k}"), v) for k, v in enumerate(literal)
            ]
            return _paren(_and(parts))
        return self._equals_object(value, literal)

    def _equals_object(self, value: exp.Expression, literal: dict[str, Any]) -> exp.Expression:
        order = gb.js_key_order(literal)
        other_keys = [k for k in order if not gb.is_array_index(k, 2**32 - 1)]
        index_keys = [int(k) for k in order if gb.is_array_index(k, 2**32 - 1)]
        keys = self.json_keys(value)
        k = exp.column("k")
        is_index = _and(
            [
                self.regex_full_match(k, "0|[1-9][0-9]{0,9}"),
                exp.LT(
                    this=exp.TryCast(this=k, to=exp.DataType.build("BIGINT")),
                    expression=exp.Literal.number(2**32 - 1),
                ),
            ]
        )
        others = self.list_filter(keys, self.lambda_(exp.not_(_paren(is_index)), k))
        indices = self.list_sort(
            self.list_transform(
                self.list_filter(keys, self.lambda_(is_index, k)),
                self.lambda_(exp.TryCast(this=k, to=exp.DataType.build("BIGINT")), k),
            )
        )
        parts = [
            self.has_type(value, "object"),
            exp.EQ(this=others, expression=self.string_list(other_keys)),
            exp.EQ(this=indices, expression=self.integer_list(index_keys)),
        ]
        parts += [
            self.equals_literal(self.json_get_path(value, [key]), literal[key]) for key in literal
        ]
        return _paren(_and(parts))

    def list_filter(self, items: exp.Expression, fn: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def list_sort(self, items: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def string_list(self, values: list[str]) -> exp.Expression:
        raise NotImplementedError

    def integer_list(self, values: list[int]) -> exp.Expression:
        raise NotImplementedError

    def any3(
        self, items: exp.Expression, var: exp.Expression, test: exp.Expression
    ) -> exp.Expression:
        """Three-valued "some element passes": TRUE, FALSE, or NULL (unknown, none TRUE)."""
        code = exp.Case(
            ifs=[
                exp.If(this=test, true=exp.Literal.number(2)),
                exp.If(this=exp.not_(_paren(test)), true=exp.Literal.number(0)),
            ],
            default=exp.Literal.number(1),
        )
        best = self.list_max(self.list_transform(items, self.lambda_(code, var)))
        return exp.Case(
            ifs=[
                exp.If(this=exp.EQ(this=best, expression=exp.Literal.number(2)), true=exp.true()),
                exp.If(
                    this=exp.EQ(this=best, expression=exp.Literal.number(1)),
                    true=self.boolean(None),
                ),
            ],
            default=exp.false(),
        )

    # ------------------------------------------------------------------ expressions: nodes

    def visit_Field(self, node: n.Field, ctx: _Ctx) -> exp.Expression:
        assert ctx.doc is not None
        return self.visit(
            node.test,
            _Ctx(
                value=self.path(ctx.doc, node.path),
                doc=ctx.doc,
                depth=ctx.depth,
                visited=ctx.visited,
            ),
        )

    def visit_Operators(self, node: n.Operators, ctx: _Ctx) -> exp.Expression:
        return _paren(_and([self.visit(t, ctx) for t in node.tests]))

    def visit_Equals(self, node: n.Equals, ctx: _Ctx) -> exp.Expression:
        return self.equals_literal(ctx.value, node.operand.value, node.insensitive)  # type: ignore[arg-type]

    def visit_OpEq(self, node: n.Node, ctx: _Ctx) -> exp.Expression:
        literal = node.operand.value  # type: ignore[attr-defined]
        if isinstance(literal, (list, dict)):
            return exp.false()
        return self.equals_literal(ctx.value, literal)  # type: ignore[arg-type]

    def visit_OpNe(self, node: n.Node, ctx: _Ctx) -> exp.Expression:
        return exp.not_(_paren(self.visit_OpEq(node, ctx)))

    def _visit_ordered(self, node: n.Node, ctx: _Ctx) -> exp.Expression:
        literal = node.operand.value  # type: ignore[attr-defined]
        op = self.COMPARISONS[type(node)]
        value = ctx.value
        assert value is not None
        if gb.get_type(literal) == "number":
            return _and(
                [
                    self.has_type(value, "number"),
                    op(this=self.json_number(value), expression=self.param(literal, node)),
                ]
            )
        if isinstance(literal, str):
            return _and(
                [
                    self.has_type(value, "string"),
                    op(this=self.json_string(value), expression=exp.Literal.string(literal)),
                ]
            )
        return exp.false()

    visit_OpLt = visit_OpLte = visit_OpGt = visit_OpGte = _visit_ordered

    def _visit_version(self, node: n.Node, ctx: _Ctx) -> exp.Expression:
        literal = node.operand.value  # type: ignore[attr-defined]
        value = ctx.value
        assert value is not None
        op = self.VERSION_COMPARISONS[type(node)]
        mismatch = self.boolean(isinstance(node, n.OpVNe))
        expected = exp.Literal.string(gb.padded_version(literal))
        if gb.get_type(literal) == "number":
            text = self.js_number_text(self.json_number(value))
            kind = "number"
        elif isinstance(literal, str):
            text, kind = self.json_string(value), "string"
        else:
            return mismatch
        compare = op(this=self.padded_version(text), expression=expected)
        return exp.Case(
            ifs=[exp.If(this=self.has_type(value, kind), true=compare)], default=mismatch
        )

    visit_OpVEq = visit_OpVNe = visit_OpVLt = visit_OpVLte = visit_OpVGt = visit_OpVGte = (
        _visit_version
    )

    def js_number_text(self, number: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def padded_version(self, text: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def membership(
        self, value: exp.Expression, values: list[Any], insensitive: bool, depth: int
    ) -> exp.Expression:
        """GrowthBook's isIn: the value, or one element of an array value, strictly equals one."""
        primitives = [v for v in values if gb.get_type(v) not in ("array", "object")]

        def one(candidate: exp.Expression) -> exp.Expression:
            return _or(
                [
                    self.equals_literal(candidate, v, insensitive and isinstance(v, str))
                    for v in primitives
                ]
            )

        e = exp.column(f"e{depth}")
        in_array = exp.func(
            "COALESCE",
            self.list_bool_or(
                self.list_transform(self.json_elements(value), self.lambda_(_paren(one(e)), e))
            ),
            exp.false(),
        )
        return exp.Case(
            ifs=[
                exp.If(this=self.has_type(value, "array"), true=in_array),
                exp.If(this=self.has_type(value, "object"), true=exp.false()),
            ],
            default=_paren(one(value)),
        )

    def _visit_in(self, node: n.Node, ctx: _Ctx) -> exp.Expression:
        values = node.operand.value  # type: ignore[attr-defined]
        if not isinstance(values, list):
            return exp.false()
        insensitive = isinstance(node, n.OpIni | n.OpNini)
        found = self.membership(ctx.value, values, insensitive, ctx.depth)  # type: ignore[arg-type]
        return exp.not_(_paren(found)) if isinstance(node, n.OpNin | n.OpNini) else found

    visit_OpIn = visit_OpNin = visit_OpIni = visit_OpNini = _visit_in

    def _visit_in_group(self, node: n.Node, ctx: _Ctx) -> exp.Expression:
        group_id = node.operand.value  # type: ignore[attr-defined]
        if not isinstance(group_id, str):
            return exp.false()
        groups = self.saved_groups
        entry = groups.get(group_id) if groups is not None else None
        if isinstance(entry, dict) and entry.get("type") not in ("list", "condition"):
            return self.boolean(None)
        values = group_values(groups, group_id)
        if values is None:
            return exp.false()
        found = self.membership(ctx.value, values, False, ctx.depth)  # type: ignore[arg-type]
        return found if isinstance(node, n.OpInGroup) else exp.not_(_paren(found))

    visit_OpInGroup = visit_OpNotInGroup = _visit_in_group

    def visit_SavedGroupRef(self, node: n.SavedGroupRef, ctx: _Ctx) -> exp.Expression:
        if node.group_id in ctx.visited:
            return exp.false()
        entry = self.saved_groups.get(node.group_id) if self.saved_groups is not None else None
        if not isinstance(entry, dict):
            return exp.false()
        if entry.get("type") == "list":
            key = (
                node.attribute_key if node.attribute_key is not None else entry.get("attributeKey")
            )
            values = entry.get("values")
            if not isinstance(key, str) or not isinstance(values, list):
                return exp.false()
            assert ctx.doc is not None
            return self.membership(self.path(ctx.doc, key), values, False, ctx.depth)
        if entry.get("type") == "condition":
            condition = entry.get("condition")
            if not isinstance(condition, dict):
                return exp.false()
            tree = parse_expression(condition, strict=False)
            inner = _Ctx(doc=ctx.doc, depth=ctx.depth, visited=ctx.visited | {node.group_id})
            return _paren(self.visit(tree, inner))
        return self.boolean(None)

    def _visit_regex(self, node: n.Node, ctx: _Ctx) -> exp.Expression:
        pattern = node.operand.value  # type: ignore[attr-defined]
        negate = isinstance(node, n.OpNotRegex | n.OpNotRegexi)
        insensitive = isinstance(node, n.OpRegexi | n.OpNotRegexi)
        try:
            re.compile(pattern)
        except (re.error, TypeError):
            return self.boolean(negate)  # as in GrowthBook: a broken pattern never matches
        problem = check_regex(pattern)
        if problem is not None:
            raise CompileError(f"{self.dialect}: {problem}")
        value = ctx.value
        assert value is not None
        found = _and(
            [
                self.has_type(value, "string"),
                self.regex_search(
                    self.json_string(value), ("(?i)" if insensitive else "") + pattern
                ),
            ]
        )
        return exp.not_(_paren(found)) if negate else found

    visit_OpRegex = visit_OpRegexi = visit_OpNotRegex = visit_OpNotRegexi = _visit_regex

    def visit_OpType(self, node: n.Node, ctx: _Ctx) -> exp.Expression:
        name = node.operand.value  # type: ignore[attr-defined]
        if name not in ("null", "boolean", "number", "string", "array", "object"):
            return exp.false()
        return self.has_type(ctx.value, name)  # type: ignore[arg-type]

    def visit_OpExists(self, node: n.OpExists, ctx: _Ctx) -> exp.Expression:
        is_null = self.has_type(ctx.value, "null")  # type: ignore[arg-type]
        return exp.not_(is_null) if node.flag else is_null

    def visit_OpNot(self, node: n.OpNot, ctx: _Ctx) -> exp.Expression:
        return exp.not_(_paren(self.visit(node.test, ctx)))

    def visit_OpSize(self, node: n.OpSize, ctx: _Ctx) -> exp.Expression:
        value = ctx.value
        assert value is not None
        length = self.json_from_integer(self.json_array_length(value))
        inner = self.visit(
            node.test, _Ctx(value=length, doc=ctx.doc, depth=ctx.depth, visited=ctx.visited)
        )
        return exp.Case(
            ifs=[exp.If(this=self.has_type(value, "array"), true=inner)], default=exp.false()
        )

    def visit_OpElemMatch(self, node: n.OpElemMatch, ctx: _Ctx) -> exp.Expression:
        value = ctx.value
        assert value is not None
        e = self.var(ctx, "e")
        inner = _Ctx(value=e, doc=e, depth=ctx.depth + 1, visited=ctx.visited)
        test = self.visit(node.test, inner)
        guarded = exp.Case(
            ifs=[exp.If(this=self.has_type(e, "null"), true=exp.false())], default=test
        )
        return exp.Case(
            ifs=[
                exp.If(
                    this=self.has_type(value, "array"),
                    true=self.any3(self.json_elements(value), e, guarded),
                )
            ],
            default=exp.false(),
        )

    def _visit_all(self, node: n.Node, ctx: _Ctx) -> exp.Expression:
        value = ctx.value
        assert value is not None
        e = self.var(ctx, "e")
        inner = _Ctx(value=e, doc=e, depth=ctx.depth + 1, visited=ctx.visited)
        parts = [self.any3(self.json_elements(value), e, self.visit(t, inner)) for t in node.tests]  # type: ignore[attr-defined]
        return exp.Case(
            ifs=[exp.If(this=self.has_type(value, "array"), true=_paren(_and(parts)))],
            default=exp.false(),
        )

    visit_OpAll = visit_OpAlli = _visit_all


class DuckDBCompiler(BaseCompiler):
    """DuckDB: JSON pointers, list lambdas (``LAMBDA x, i : …``), RE2 regexes, ``$name`` parameters."""

    dialect: ClassVar[str] = "duckdb"
    JSON_TYPES: ClassVar[dict[str, tuple[str, ...]]] = {
        "boolean": ("BOOLEAN",),
        "number": ("BIGINT", "UBIGINT", "DOUBLE", "HUGEINT"),
        "string": ("VARCHAR",),
        "array": ("ARRAY",),
        "object": ("OBJECT",),
    }

    def list_transform(self, items: exp.Expression, fn: exp.Expression) -> exp.Expression:
        return self.call("LIST_TRANSFORM", items, fn)

    def list_filter(self, items: exp.Expression, fn: exp.Expression) -> exp.Expression:
        return self.call("LIST_FILTER", items, fn)

    def list_sort(self, items: exp.Expression) -> exp.Expression:
        return self.call("LIST_SORT", items)

    def list_max(self, items: exp.Expression) -> exp.Expression:
        return self.call("LIST_MAX", items)

    def list_bool_or(self, items: exp.Expression) -> exp.Expression:
        return self.call("LIST_BOOL_OR", items)

    def list_length(self, items: exp.Expression) -> exp.Expression:
        return exp.func("COALESCE", self.call("LEN", items), exp.Literal.number(0))

    def string_list(self, values: list[str]) -> exp.Expression:
        return exp.cast(exp.Array(expressions=[exp.Literal.string(v) for v in values]), "VARCHAR[]")

    def integer_list(self, values: list[int]) -> exp.Expression:
        return exp.cast(exp.Array(expressions=[exp.Literal.number(v) for v in values]), "BIGINT[]")

    def regex_search(self, text: exp.Expression, pattern: str) -> exp.Expression:
        return self.call("REGEXP_MATCHES", text, exp.Literal.string(pattern))

    def regex_full_match(self, text: exp.Expression, pattern: str) -> exp.Expression:
        return self.call("REGEXP_FULL_MATCH", text, exp.Literal.string(pattern))

    def regex_replace_all(self, text: exp.Expression, pattern: str, by: str) -> exp.Expression:
        return self.call(
            "REGEXP_REPLACE",
            text,
            exp.Literal.string(pattern),
            exp.Literal.string(by),
            exp.Literal.string("g"),
        )

    def regex_group(self, text: exp.Expression, pattern: str, group: int) -> exp.Expression:
        return self.call(
            "REGEXP_EXTRACT", text, exp.Literal.string(f"^{pattern}$"), exp.Literal.number(group)
        )

    def strip_accents(self, text: exp.Expression) -> exp.Expression:
        return self.call("STRIP_ACCENTS", text)

    def map_characters(
        self, text: exp.Expression, pairs: tuple[tuple[str, str], ...]
    ) -> exp.Expression:
        ch = exp.column("ch")
        mapped = exp.Case(
            this=ch,
            ifs=[exp.If(this=exp.Literal.string(a), true=exp.Literal.string(b)) for a, b in pairs],
            default=ch,
        )
        characters = self.call("STRING_SPLIT", text, exp.Literal.string(""))
        return self.call(
            "ARRAY_TO_STRING",
            self.list_transform(characters, self.lambda_(mapped, ch)),
            exp.Literal.string(""),
        )

    def json_type(self, value: exp.Expression) -> exp.Expression:
        return self.call("JSON_TYPE", value)

    def json_get(self, value: exp.Expression, key: str) -> exp.Expression:
        return self.call("JSON_EXTRACT", value, exp.Literal.string(key))

    def json_array_length(self, value: exp.Expression) -> exp.Expression:
        return self.call("JSON_ARRAY_LENGTH", value)

    def json_elements(self, value: exp.Expression) -> exp.Expression:
        return self.call("JSON_EXTRACT", value, exp.Literal.string("$[*]"))

    def json_keys(self, value: exp.Expression) -> exp.Expression:
        return self.call("JSON_KEYS", value)

    def json_string(self, value: exp.Expression) -> exp.Expression:
        return self.call("JSON_EXTRACT_STRING", value, exp.Literal.string("$"))

    def json_number(self, value: exp.Expression) -> exp.Expression:
        return exp.TryCast(this=value, to=exp.DataType.build("DOUBLE"))

    def json_boolean(self, value: exp.Expression) -> exp.Expression:
        return exp.TryCast(this=value, to=exp.DataType.build("BOOLEAN"))

    def json_from_integer(self, value: exp.Expression) -> exp.Expression:
        return self.call("TO_JSON", exp.cast(value, "BIGINT"))

    def js_number_text(self, number: exp.Expression) -> exp.Expression:
        integral = _and(
            [
                exp.EQ(this=number, expression=self.call("TRUNC", number)),
                exp.LT(this=self.call("ABS", number), expression=exp.Literal.number("1e21")),
            ]
        )
        return exp.Case(
            ifs=[exp.If(this=integral, true=exp.cast(exp.cast(number, "HUGEINT"), "VARCHAR"))],
            default=exp.cast(number, "VARCHAR"),
        )

    def padded_version(self, text: exp.Expression) -> exp.Expression:
        stripped = self.regex_replace_all(text, r"^v|\+.*$", "")
        stripped = exp.Case(
            ifs=[
                exp.If(
                    this=exp.EQ(this=text, expression=exp.Literal.string("")),
                    true=exp.Literal.string("0"),
                )
            ],
            default=stripped,
        )
        parts = self.call("STRING_SPLIT_REGEX", stripped, exp.Literal.string("[-.]"))
        parts = exp.Case(
            ifs=[
                exp.If(
                    this=exp.EQ(this=self.call("LEN", parts), expression=exp.Literal.number(3)),
                    true=self.call("LIST_APPEND", parts, exp.Literal.string("~")),
                )
            ],
            default=parts,
        )
        p = exp.column("vp")
        pad = exp.Case(
            ifs=[
                exp.If(
                    this=_and(
                        [
                            self.regex_full_match(p, "[0-9]+"),
                            exp.LT(this=self.call("LENGTH", p), expression=exp.Literal.number(5)),
                        ]
                    ),
                    true=self.call("LPAD", p, exp.Literal.number(5), exp.Literal.string(" ")),
                )
            ],
            default=p,
        )
        return self.call(
            "ARRAY_TO_STRING",
            self.list_transform(parts, self.lambda_(pad, p)),
            exp.Literal.string("-"),
        )


def compile_condition(
    node: n.Node,
    dialect: str = "duckdb",
    resolver: Resolver | None = None,
    saved_groups: Mapping[str, Any] | None = None,
) -> CompiledCondition:
    """Compile a tree for ``dialect`` (see :data:`COMPILERS`).

    >>> from engage_lab.conditions import parse_criteria
    >>> c = compile_condition(parse_criteria([{"criterion": "visit_count", "operator": "gte", "value": 2}]))
    >>> c.params
    {'p0': 2}
    """
    compiler_class = COMPILERS.get(dialect)
    if compiler_class is None:
        raise CompileError(
            f"no compiler for dialect {dialect!r}; use one of {', '.join(COMPILERS)}"
        )
    return compiler_class(resolver, saved_groups).compile(node)


COMPILERS: dict[str, type[BaseCompiler]] = {"duckdb": DuckDBCompiler}

#: Every node kind a compiler may meet, by the name the matrix prints.
_NODE_KINDS: list[type] = [
    n.And, n.Or, n.Not, n.Const, n.Criterion, *n.CRITERIA_OPERATORS.values(),
    n.Field, n.Equals, n.Operators, n.SavedGroupRef, n.Unknown, n.Malformed,
    *n.EXPRESSION_OPERATORS.values(),
]  # fmt: skip


def support_matrix(compilers: list[type[BaseCompiler]] | None = None) -> dict[str, dict[str, bool]]:
    """Node kind (operator name where it has one) -> dialect -> has a handler.

    >>> support_matrix()["$regex"]
    {'duckdb': True}
    >>> support_matrix()["Malformed"]
    {'duckdb': False}
    """
    compilers = compilers or list(COMPILERS.values())
    matrix: dict[str, dict[str, bool]] = {}
    for kind in _NODE_KINDS:
        name = getattr(kind, "op", None)
        name = name if isinstance(name, str) else kind.__name__
        matrix[name] = {c.dialect: hasattr(c, f"visit_{kind.__name__}") for c in compilers}
    return matrix


def format_support_matrix(compilers: list[type[BaseCompiler]] | None = None) -> str:
    """The support matrix as a text table (``yes`` / ``-``)."""
    matrix = support_matrix(compilers)
    dialects = list(next(iter(matrix.values())))
    width = max(len(k) for k in matrix)
    lines = [" ".join([" " * width, *dialects])]
    for name, row in matrix.items():
        lines.append(
            " ".join(
                [
                    name.ljust(width),
                    *("yes".ljust(len(d)) if row[d] else "-".ljust(len(d)) for d in dialects),
                ]
            )
        )
    return "\n".join(lines)
