"""SQL visitors for GrowthBook expressions over a JSON attribute document."""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from engage_lab.conditions import _growthbook as gb
from engage_lab.conditions import nodes as n
from engage_lab.conditions.checks import MAX_ELEM_MATCH_NESTING
from engage_lab.conditions.evaluator import group_values
from engage_lab.conditions.expressions import parse_expression
from engage_lab.conditions.regex import INSENSITIVE_PREFIX, re2_problem
from engage_lab.conditions.sql_common import (
    _and,
    _Ctx,
    _or,
    _paren,
)
from engage_lab.conditions.vocabulary import lower
from engage_lab.errors import CompileError

__all__ = ["ExpressionVisitors"]

#: the SQL type of a bound list of values, per GrowthBook type


def _double(number: Any) -> float:
    """A JSON number as the double SQL compares (an integer beyond doubles: infinite)."""
    try:
        return float(number)
    except OverflowError:
        return float("inf") if number > 0 else float("-inf")


class ExpressionVisitors:
    """Expression visitors of :class:`~engage_lab.conditions.compiler.BaseCompiler` (a
    mixin: the dialect hooks and class tables live on the compiler)."""

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
        """The value at a condition's attribute path (a JSON pointer, bound)."""
        pointer = "".join("/" + s.replace("~", "~0").replace("/", "~1") for s in segments)
        return self.json_get(value, self.bind(pointer))

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
        """GrowthBook's strict deep equality with a literal known at compile time (bound)."""
        kind = gb.get_type(literal)
        if kind == "null":
            return self.has_type(value, "null")
        if kind == "boolean":
            return _and(
                [
                    self.has_type(value, "boolean"),
                    exp.EQ(this=self.json_boolean(value), expression=self.bind(literal)),
                ]
            )
        if kind == "number":
            return _and(
                [
                    self.has_type(value, "number"),
                    exp.EQ(this=self.json_number(value), expression=self.bind(literal, "DOUBLE")),
                ]
            )
        if kind == "string":
            text = self.json_string(value)
            if insensitive:
                text, literal = exp.Lower(this=text), lower(literal)
            return _and(
                [self.has_type(value, "string"), exp.EQ(this=text, expression=self.bind(literal))]
            )
        if kind == "array":
            parts = [
                self.has_type(value, "array"),
                exp.EQ(
                    this=self.json_array_length(value), expression=self.bind(len(literal), "BIGINT")
                ),
            ]
            parts += [
                self.equals_literal(self.json_get(value, self.bind(f"/{k}")), v)
                for k, v in enumerate(literal)
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
        """Three-valued "some element passes": TRUE, FALSE, or NULL (unknown, none TRUE).

        Each element's test is evaluated once (2 / 0 / 1 for TRUE / FALSE / NULL) and the
        list once: the best code 2 is TRUE, 1 NULL, 0 or none FALSE, read from a constant
        list so the code appears once. (``NULLIF(best, 1) = 2`` read the same, but DuckDB
        expands ``NULLIF`` as a macro that copies ``best``: the query doubled with each
        nested ``$elemMatch`` / ``$all`` and planning grew about 3.5x per level.)"""
        code = exp.func(
            "coalesce",
            exp.Mul(this=exp.cast(_paren(test), "INT"), expression=exp.Literal.number(2)),
            exp.Literal.number(1),
        )
        best = self.list_max(self.list_transform(items, self.lambda_(code, var)))
        by_code = exp.Array(expressions=[exp.false(), self.boolean(None), exp.true()])
        first = self.lambda_index_base  # the index of code 0
        return self.list_element(
            by_code,
            exp.Add(
                this=exp.func("coalesce", best, exp.Literal.number(0)),
                expression=exp.Literal.number(first),
            ),
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
                    op(this=self.json_string(value), expression=self.bind(literal)),
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
        expected = self.bind(gb.padded_version(literal))
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
        """GrowthBook's isIn: the value, or one element of an array value, strictly equals one.

        The strings and the numbers of ``values`` are each ONE bound list parameter, met
        by a hash semi-join (``x IN (SELECT UNNEST($p))``) outside list lambdas, by
        ``LIST_CONTAINS`` inside them (DuckDB allows no subquery there): a 10,000-value
        ``$in`` is one comparison per candidate, not 10,000 OR'ed ones."""
        primitives = [v for v in values if gb.get_type(v) not in ("array", "object")]
        strings = [v for v in primitives if isinstance(v, str)]
        if insensitive:
            strings = [lower(v) for v in strings]
        numbers = [_double(v) for v in primitives if gb.get_type(v) == "number"]
        self._check_finite(numbers)  # NaN, inf: refused, as everywhere in a condition
        others = [v for v in primitives if gb.get_type(v) in ("boolean", "null")]
        lists = []
        if strings:
            lists.append(("string", self.bind(tuple(sorted(set(strings))), "VARCHAR[]")))
        if numbers:
            lists.append(("number", self.bind(tuple(sorted(set(numbers))), "DOUBLE[]")))

        def one(candidate: exp.Expression, in_lambda: bool) -> exp.Expression:
            parts = [self.equals_literal(candidate, v) for v in dict.fromkeys(others)]
            for kind, items in lists:
                if kind == "string":
                    read = self.json_string(candidate)
                    read = exp.Lower(this=read) if insensitive else read
                else:
                    read = self.json_number(candidate)
                found = self.in_list(read, items.copy(), in_lambda)
                parts.append(_and([self.has_type(candidate, kind), found]))
            return _or(parts)

        e = exp.column(f"e{depth}")
        if depth == 0:  # outside any lambda: the elements as rows of a subquery
            rows = exp.select(self.call("UNNEST", self.json_elements(value)).as_(e.name))
            found_any = exp.select(exp.func("BOOL_OR", _paren(one(e, False)))).from_(
                rows.subquery(f"u{depth}")
            )
            in_array = exp.func("COALESCE", exp.Subquery(this=found_any), exp.false())
        else:
            in_array = exp.func(
                "COALESCE",
                self.list_bool_or(
                    self.list_transform(
                        self.json_elements(value), self.lambda_(_paren(one(e, True)), e)
                    )
                ),
                exp.false(),
            )
        return exp.Case(
            ifs=[
                exp.If(this=self.has_type(value, "array"), true=in_array),
                exp.If(this=self.has_type(value, "object"), true=exp.false()),
            ],
            default=_paren(one(value, depth > 0)),
        )

    def in_list(
        self, item: exp.Expression, items: exp.Expression, in_lambda: bool
    ) -> exp.Expression:
        """Whether ``item`` (never NULL here) is one of ``items`` (a list)."""
        if in_lambda:
            return self.call("LIST_CONTAINS", items, item)
        return exp.In(this=item, query=exp.select(self.call("UNNEST", items)).subquery())

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
        if insensitive and isinstance(pattern, str):
            pattern = INSENSITIVE_PREFIX + pattern
        if not isinstance(pattern, str) or re2_problem(pattern) is not None:
            # as the reference (conditions.regex) and GrowthBook: a pattern RE2 does not
            # compile never matches
            return self.boolean(negate)
        value = ctx.value
        assert value is not None
        found = _and(
            [
                self.has_type(value, "string"),
                self.regex_search(self.json_string(value), self.bind(pattern)),
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

    def _array_level(self, ctx: _Ctx) -> None:
        """Refuse a list lambda past the validator's nesting limit (DuckDB's planning
        doubles with each one), for trees that did not pass the validator."""
        if ctx.depth >= MAX_ELEM_MATCH_NESTING:
            raise CompileError(
                f"{self.dialect}: $elemMatch / $all / $alli nest more than"
                f" {MAX_ELEM_MATCH_NESTING} levels deep"
            )

    def visit_OpElemMatch(self, node: n.OpElemMatch, ctx: _Ctx) -> exp.Expression:
        self._array_level(ctx)
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
        self._array_level(ctx)
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
