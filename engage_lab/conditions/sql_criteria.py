"""SQL visitors for criteria: positions as list index ranges, one test per page value."""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from engage_lab.conditions import nodes as n
from engage_lab.conditions.sql_common import (
    _WS_CLASS,
    _and,
    _Ctx,
    _folds_by_cost,
    _or,
    _paren,
    char_class,
)
from engage_lab.conditions.vocabulary import DAYS, POSITIONS

__all__ = ["CriteriaVisitors"]


class CriteriaVisitors:
    """Criteria visitors of :class:`~engage_lab.conditions.compiler.BaseCompiler` (a mixin:
    the dialect hooks and class tables live on the compiler)."""

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
        values: tuple[str, ...] = node.values  # type: ignore[attr-defined]
        if how == "eq" and len(values) > 1:  # one list parameter, however long the list
            hits = self.list_contains(self.bind(values, "VARCHAR[]"), text)
        elif how == "eq":
            hits = exp.EQ(this=text, expression=self.bind(values[0]))
        else:
            fn = {"contains": "CONTAINS", "starts_with": "STARTS_WITH", "ends_with": "ENDS_WITH"}[
                how
            ]
            hits = _or([self.call(fn, text, self.bind(e)) for e in values])
        return exp.not_(_paren(hits)) if negate else _paren(hits)

    def _scalar_is(self, node: n.Is, ctx: _Ctx) -> exp.Expression:
        value = self.element_value(ctx)
        literal = node.values[0]
        rhs = self.bind(literal) if isinstance(literal, bool) else self.bind(literal, "DOUBLE")
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
