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

No value of a condition is written into the SQL text: every string, number, boolean,
regular expression, list of ``$in`` / saved-group values, attribute path and version
reaches the engine as a named parameter (``$p0``, ``$p1`` … in DuckDB) collected in
:attr:`CompiledCondition.params`, typed by an explicit ``CAST`` where SQL could not infer
it (numbers ``DOUBLE``, lists ``VARCHAR[]`` / ``DOUBLE[]`` / ``BOOLEAN[]``). A list is
one parameter, tested with ``list_contains``, however many values it holds. Tunable
thresholds — the numbers of criteria ``gte`` / ``lte`` (day ordinals and time slots in
minutes included) and of ``$gt`` / ``$gte`` / ``$lt`` / ``$lte`` — get a parameter of
their own (:meth:`BaseCompiler.param`), so a new value is a new binding, not a new
compilation; other equal values share one (:meth:`BaseCompiler.bind`). A non-finite
number (``inf``, ``nan``) is a :class:`~engage_lab.errors.CompileError`: SQL has no
literal for it and no configuration may hold it. The SQL text holds only the compiler's
own constants (function names, JSON type names, its normalization tables). Normalization: DuckDB's ``strip_accents`` removes the marks of canonical
decompositions only, so the compilers add NFKD's compatibility folds themselves
(:func:`compatibility_folds`: every one-character fold, and multi-character folds below
U+3000 such as ``…`` and ``™``, and the ligatures U+FB00–FB17 such as ``ﬁ``). Known differences from the reference evaluator
(documented): rarer multi-character folds (squared CJK, Arabic presentation forms) are
not applied; strings order by code point in SQL, by UTF-16 unit in the
SDK (they differ only between U+E000–U+FFFF and astral characters). Regexes are RE2 in
both (:mod:`engage_lab.conditions.regex`).

>>> from engage_lab.conditions import parse_expression
>>> compiled = DuckDBCompiler().compile(parse_expression({"page.count": {"$gte": 3}}))
>>> compiled.params
{'p0': '/page/count', 'p1': 3}
>>> "$p1" in compiled.sql and "/page/count" not in compiled.sql
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

from sqlglot import exp

from engage_lab.conditions import nodes as n
from engage_lab.conditions.sql_common import (
    CompiledCondition,
    Resolver,
    RowResolver,
    _and,
    _Ctx,
    _or,
    _paren,
    compatibility_folds,
)
from engage_lab.conditions.sql_criteria import CriteriaVisitors
from engage_lab.conditions.sql_expressions import ExpressionVisitors
from engage_lab.errors import CompileError, UnsupportedOperatorError

__all__ = [
    "BaseCompiler",
    "CompiledCondition",
    "DuckDBCompiler",
    "Resolver",
    "RowResolver",
    "compatibility_folds",
    "compile_condition",
    "format_support_matrix",
    "placeholder_names",
    "support_matrix",
]


class BaseCompiler(CriteriaVisitors, ExpressionVisitors):
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
        self._bound: dict[tuple[Any, ...], str] = {}

    # ------------------------------------------------------------------ entry points

    def compile(self, node: n.Node) -> CompiledCondition:
        """Compile ``node`` to a boolean SQL expression (never NULL) and its parameters."""
        self._params, self._param_nodes, self._bound = {}, {}, {}
        body = self.visit(node, _Ctx(doc=self.resolver.attributes()))
        expression = exp.func("COALESCE", body, exp.false())
        used = placeholder_names(expression)
        return CompiledCondition(
            sql=expression.sql(self.dialect),
            params={k: v for k, v in self._params.items() if k in used},
            expression=expression,
            param_nodes={k: v for k, v in self._param_nodes.items() if k in used},
        )

    def visit(self, node: n.Node, ctx: _Ctx) -> exp.Expression:
        method = getattr(self, f"visit_{type(node).__name__}", None)
        if method is None:
            raise UnsupportedOperatorError(self.dialect, getattr(node, "op", type(node).__name__))
        return method(node, ctx)

    def param(self, value: Any, node: n.Node) -> exp.Expression:
        """A tunable threshold of ``node``: a named parameter of its own (rebinding it
        needs no recompilation)."""
        self._check_finite(value)
        name = f"{self.param_prefix}{len(self._params)}"
        self._params[name] = value
        self._param_nodes[name] = node
        return self.placeholder(name)

    def bind(self, value: Any, sql_type: str | None = None) -> exp.Expression:
        """A value of the condition (a string, a number, a pattern, a list) as a named
        parameter, cast to ``sql_type`` when given; equal values share one parameter
        (the same test compiles to the same SQL). A tuple is bound as a list."""
        self._check_finite(value)
        key = (sql_type, _value_key(value))
        name = self._bound.get(key)
        if name is None:
            name = f"{self.param_prefix}{len(self._params)}"
            self._params[name] = list(value) if isinstance(value, tuple) else value
            self._bound[key] = name
        placeholder = self.placeholder(name)
        return placeholder if sql_type is None else exp.cast(placeholder, sql_type)

    def _check_finite(self, value: Any) -> None:
        values = value if isinstance(value, list | tuple) else (value,)
        for item in values:
            if isinstance(item, float) and not math.isfinite(item):
                raise CompileError(
                    f"{self.dialect}: {item!r} is not a finite number; a condition compares"
                    " with finite numbers only"
                )

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

    def list_element(self, items: exp.Expression, index: exp.Expression) -> exp.Expression:
        """The element of ``items`` at ``index`` (counted from ``lambda_index_base``)."""
        raise NotImplementedError

    def list_length(self, items: exp.Expression) -> exp.Expression:
        return exp.ArraySize(this=items)

    def list_contains(self, items: exp.Expression, value: exp.Expression) -> exp.Expression:
        """Whether the list ``items`` holds ``value`` (a bound list's membership test)."""
        raise NotImplementedError

    # Regex hooks take the compiler's own patterns as ``str`` (written as literals) and a
    # condition's patterns as a bound parameter (an expression).
    def regex_search(self, text: exp.Expression, pattern: str | exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def regex_full_match(
        self, text: exp.Expression, pattern: str | exp.Expression
    ) -> exp.Expression:
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

    def json_get(self, value: exp.Expression, key: str | exp.Expression) -> exp.Expression:
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

    def list_element(self, items: exp.Expression, index: exp.Expression) -> exp.Expression:
        return self.call("LIST_EXTRACT", items, index)

    def list_length(self, items: exp.Expression) -> exp.Expression:
        return exp.func("COALESCE", self.call("LEN", items), exp.Literal.number(0))

    def string_list(self, values: list[str]) -> exp.Expression:
        return self.bind(tuple(values), "VARCHAR[]")

    def integer_list(self, values: list[int]) -> exp.Expression:
        return self.bind(tuple(values), "BIGINT[]")

    def list_contains(self, items: exp.Expression, value: exp.Expression) -> exp.Expression:
        return self.call("LIST_CONTAINS", items, value)

    def regex_search(self, text: exp.Expression, pattern: str | exp.Expression) -> exp.Expression:
        return self.call("REGEXP_MATCHES", text, _text(pattern))

    def regex_full_match(
        self, text: exp.Expression, pattern: str | exp.Expression
    ) -> exp.Expression:
        return self.call("REGEXP_FULL_MATCH", text, _text(pattern))

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

    def json_get(self, value: exp.Expression, key: str | exp.Expression) -> exp.Expression:
        return self.call("JSON_EXTRACT", value, _text(key))

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


def placeholder_names(expression: exp.Expression) -> set[str]:
    """The names of the parameters ``expression`` reads (a value bound for a part of the
    tree that compiled away is not passed: DuckDB refuses parameters it does not read)."""
    return {p.name for p in expression.find_all(exp.Placeholder)}


def _text(value: str | exp.Expression) -> exp.Expression:
    """The compiler's own constant text as a literal; a bound parameter as it is."""
    return exp.Literal.string(value) if isinstance(value, str) else value


def _value_key(value: Any) -> tuple[Any, ...]:
    """Equal values of one type share a parameter (``1``, ``1.0`` and ``True`` do not)."""
    if isinstance(value, list | tuple):
        return ("list", *(_value_key(v) for v in value))
    return (type(value).__name__, value)


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
    >>> compile_condition(parse_criteria([{"criterion": "page_path", "operator": "is", "value": "/it's"}])).params
    {'p0': "/it's"}
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
