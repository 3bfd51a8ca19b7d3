"""Where each trigger's conditions hold: candidate instants and condition masks, in SQL.

Between two consecutive *candidate instants* of a page view nothing a condition reads
changes: the instants are the page start, every variable change and identity set inside
the page, every crossing of a time-growing threshold (both the ``>= X`` and ``> X``
instants, relative to the page or visit start), and every local clock boundary (15 min,
or 1 min for ``time.time``) when a condition reads the clock. The truth of a condition
is therefore a step function of time, and evaluating it at the candidate instants gives
its exact intervals (each interval starts at one of them): the same as intersecting,
uniting and complementing each condition's intervals, computed in one set-based query.

For each (page view, instant) row, each trigger gets a 4-bit *mask*: bit ``2*shown +
opened`` is set when the trigger's conditions hold with the chat in that state (chat-state
criteria are the only order-dependent reads; a trigger that does not read the chat has
all four bits equal). Rows whose masks equal the previous row's of the same page view are
dropped: the sequential pass reads the mask in force at ``t`` as the last row at or before
``t``.

The conditions are compiled by :class:`~engage_lab.conditions.compiler.DuckDBCompiler`
with a resolver that reads the values at the row's instant (current page) and the
visit's earlier pages by their final state (a window list over the page views of the
visit). Thresholds stay named parameters (``t<k>_p<n>``) so a slider re-binds them.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from dataclasses import replace as dataclass_replace
from typing import Any

from sqlglot import exp

from engage_lab.conditions.compiler import DuckDBCompiler
from engage_lab.conditions.vocabulary import DAYS
from engage_lab.engine.plan import Plan, TriggerPlan

__all__ = ["ConditionQuery", "condition_query", "instants_sql", "past_lists_sql"]

INST = "_el_inst"
PAST = "_el_past"
MASKS = "_el_masks"

_INSTANTS_SQL = """
CREATE OR REPLACE TEMP TABLE _el_inst AS
SELECT DISTINCT pvi, t FROM (
    SELECT pvi, s AS t FROM _el_pv WHERE active AND s < lim
    UNION ALL
    SELECT v.pvi, v.c FROM _el_vc v JOIN _el_pv p USING (pvi)
    WHERE p.active AND v.c > p.s AND v.c < p.lim
    UNION ALL
    SELECT p.pvi, epoch_ms(i.set_at) FROM identities i JOIN _el_pv p USING (visitor_id)
    WHERE p.active AND epoch_ms(i.set_at) > p.s AND epoch_ms(i.set_at) < p.lim
    UNION ALL
    SELECT pvi, s + d FROM _el_pv, unnest($page_offsets::BIGINT[]) AS o(d)
    WHERE active AND s + d < lim
    UNION ALL
    SELECT pvi, vstart + d FROM _el_pv, unnest($visit_offsets::BIGINT[]) AS o(d)
    WHERE active AND vstart + d > s AND vstart + d < lim
    UNION ALL
    SELECT pvi, unnest(range((s // $step + 1) * $step, lim, $step)) AS t FROM _el_pv
    WHERE active AND $step > 0 AND (s // $step + 1) * $step < lim
)
"""


def instants_sql() -> str:
    """The statement building ``_el_inst`` (params: page_offsets, visit_offsets, step)."""
    return _INSTANTS_SQL


def _col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


def _num(value: int | float) -> exp.Expression:
    return exp.Literal.number(value)


def _local(t: exp.Expression) -> exp.Expression:
    """The local wall-clock timestamp of ``t`` (ms) in the source timezone ($tz)."""
    seconds = exp.cast(exp.IntDiv(this=t, expression=_num(1000)), "DOUBLE")
    return exp.func("timezone", exp.Placeholder(this="tz"), exp.func("to_timestamp", seconds))


def _coerce(value: exp.Expression, kind: str) -> exp.Expression:
    """A JSON variable value read as ``kind`` (the reference's ``read_page_value``)."""
    jtype = exp.func("json_type", value)
    text = exp.func("json_extract_string", value, exp.Literal.string("$"))
    numeric = exp.Tuple(
        expressions=[exp.Literal.string(x) for x in ("BIGINT", "UBIGINT", "DOUBLE", "HUGEINT")]
    )
    is_number = exp.In(this=jtype, expressions=numeric.expressions)
    is_text = exp.EQ(this=jtype, expression=exp.Literal.string("VARCHAR"))
    is_bool = exp.EQ(this=jtype, expression=exp.Literal.string("BOOLEAN"))
    if kind == "number":
        parsed = exp.TryCast(this=exp.func("trim", text), to=exp.DataType.build("DOUBLE"))
        finite = exp.func("isfinite", parsed)
        return exp.Case(
            ifs=[
                exp.If(this=is_number, true=exp.cast(text, "DOUBLE")),
                exp.If(this=exp.and_(is_text, finite), true=parsed),
            ],
            default=exp.null(),
        )
    if kind == "boolean":
        low = exp.Lower(this=exp.func("trim", text))
        return exp.Case(
            ifs=[
                exp.If(this=is_bool, true=exp.cast(text, "BOOLEAN")),
                exp.If(
                    this=exp.and_(
                        is_text,
                        exp.In(
                            this=low,
                            expressions=[exp.Literal.string("true"), exp.Literal.string("false")],
                        ),
                    ),
                    true=exp.EQ(this=low, expression=exp.Literal.string("true")),
                ),
            ],
            default=exp.null(),
        )
    # string: numbers as JavaScript writes them (integral doubles without ".0")
    as_double = exp.cast(text, "DOUBLE")
    integral = exp.and_(
        exp.EQ(this=as_double, expression=exp.func("trunc", as_double)),
        exp.LT(this=exp.func("abs", as_double), expression=_num(1e21)),
    )
    number_text = exp.Case(
        ifs=[exp.If(this=integral, true=exp.cast(exp.cast(as_double, "HUGEINT"), "VARCHAR"))],
        default=exp.cast(as_double, "VARCHAR"),
    )
    return exp.Case(
        ifs=[
            exp.If(this=is_text, true=text),
            exp.If(this=is_bool, true=text),
            exp.If(this=is_number, true=number_text),
        ],
        default=exp.null(),
    )


def value_at(
    criterion: str, kind: str, t: exp.Expression, *, past: bool, table: str = "p"
) -> exp.Expression:
    """A criterion's value on a page at instant ``t`` (``past``: its final state, with
    ``t`` its end): the scalar the compiler's lists hold."""
    s, vstart = _col("s", table), _col("vstart", table)
    if criterion == "page_visit_duration":
        return exp.Div(
            this=exp.cast(exp.Sub(this=t, expression=s), "DOUBLE"), expression=_num(1000)
        )
    if criterion == "visit_duration":
        return exp.Div(
            this=exp.cast(exp.Sub(this=t, expression=vstart), "DOUBLE"), expression=_num(1000)
        )
    if criterion == "page_visit_count":
        return exp.cast(_col("idx", table), "DOUBLE")
    if criterion == "visit_count":
        return exp.cast(_col("vcount", table), "DOUBLE")
    if criterion in ("page_url", "page_path", "page_title"):
        return _normalized(_col(criterion[len("page_") :], table))
    if criterion in ("identity", "signed_identity"):
        at = _col("id_at" if criterion == "identity" else "signed_at", "ids")
        state_t = exp.Sub(this=t, expression=_num(1)) if past else t
        return exp.func("coalesce", exp.LTE(this=at, expression=state_t), exp.false())
    if criterion == "time":
        return exp.func("strftime", _local(t), exp.Literal.string("%H:%M"))
    if criterion == "hour":
        return exp.cast(exp.func("hour", _local(t)), "DOUBLE")
    if criterion == "day_of_week":
        return exp.Lower(this=exp.func("strftime", _local(t), exp.Literal.string("%A")))
    if criterion.startswith("custom_"):
        value = _coerce(_col("value", _var_alias(criterion, past)), kind)
        return _normalized(value) if kind == "string" else value
    raise ValueError(f"no value for criterion {criterion!r}")


def _var_alias(name: str, past: bool) -> str:
    return ("pv_" if past else "v_") + name


def _var_join(select: exp.Select, name: str, t: exp.Expression, past: bool) -> exp.Select:
    """Attach the value of variable ``name`` in force at ``t`` (past: the page's last)."""
    alias = _var_alias(name, past)
    source = (
        exp.select("pvi", "c", "value")
        .from_("_el_vc")
        .where(exp.column("name").eq(exp.Placeholder(this=f"var_{name}")))
    )
    if past:
        last = (
            exp.select(
                "pvi", exp.func("arg_max", exp.column("value"), exp.column("c")).as_("value")
            )
            .from_(source.subquery())
            .group_by("pvi")
        )
        return select.join(
            last.subquery(alias),
            on=_col("pvi", alias).eq(_col("pvi", "p")),
            join_type="left",
            copy=False,
        )
    on = exp.and_(
        _col("pvi", alias).eq(_col("pvi", "i")),
        exp.GTE(this=t, expression=_col("c", alias)),
    )
    join = exp.Join(this=source.subquery(alias), on=on, kind="LEFT", method="ASOF")
    return select.join(join, copy=False)


def past_lists_sql(plan: Plan) -> str | None:
    """``_el_past``: per page view, the list of each past-reading criterion's final values
    on the earlier pages of its visit (oldest first)."""
    needed = [(c, kind) for c, (kind, past) in sorted(plan.criteria.items()) if past]
    if not needed:
        return None
    end = _col("e", "p")
    select = exp.select(
        _col("pvi", "p"), _col("visitor_id", "p"), _col("visit_id", "p"), _col("idx", "p")
    )
    select = select.from_(
        exp.Table(
            this=exp.to_identifier("_el_pv"), alias=exp.TableAlias(this=exp.to_identifier("p"))
        ),
        copy=False,
    )
    select = select.join(
        exp.Table(
            this=exp.to_identifier("_el_id"), alias=exp.TableAlias(this=exp.to_identifier("ids"))
        ),
        on=_col("visitor_id", "ids").eq(_col("visitor_id", "p")),
        join_type="left",
        copy=False,
    )
    finals = []
    for criterion, kind in needed:
        if criterion.startswith("custom_"):
            select = _var_join(select, criterion, end, past=True)
        finals.append(value_at(criterion, kind, end, past=True).as_(f"f_{criterion}"))
    select = select.select(*finals, copy=False)
    window_cols = []
    for criterion, _ in needed:
        window = exp.Window(
            this=exp.func("list", _col(f"f_{criterion}")),
            partition_by=[_col("visitor_id"), _col("visit_id")],
            order=exp.Order(expressions=[exp.Ordered(this=_col("idx"))]),
            spec=exp.WindowSpec(
                kind="ROWS",
                start="UNBOUNDED",
                start_side="PRECEDING",
                end=_num(1),
                end_side="PRECEDING",
            ),
        )
        window_cols.append(
            exp.func("coalesce", window, exp.Array(expressions=[])).as_(f"past_{criterion}")
        )
    outer = exp.select(_col("pvi"), *window_cols).from_(select.subquery("f"))
    with deep_sql():
        return exp.Create(
            this=exp.to_table(PAST),
            kind="TABLE",
            replace=True,
            properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
            expression=outer,
        ).sql("duckdb")


class _PreNormalizedCompiler(DuckDBCompiler):
    """The DuckDB compiler reading string values the engine normalized once per row.

    Criteria string tests normalize the page value (strip, compatibility folds, accents,
    lowercase) inside every test; the engine supplies values already normalized (once per
    row and criterion, with the same SQL), so the tests compare them as they are.
    """

    def normalize(self, x: exp.Expression) -> exp.Expression:
        return x

    def visit_Criterion(self, node: Any, ctx: Any) -> exp.Expression:
        # The base class tests each list element against the position's bounds inside
        # the lambda, which captures the row's list length: DuckDB then runs the lambda
        # row by row (~0.4 ms a row). Slicing the list to the position first keeps the
        # lambda free of captures, with the same result.
        changes: dict[str, Any] = {"kind": node.kind, "depth": ctx.depth + 1}
        if "normalized" in {f.name for f in dataclass_fields(ctx)}:
            changes["normalized"] = node.kind == "string" and type(node.test) in self.STRING_TESTS
        if node.position == "current":
            # the current page alone: test the row's scalar, no list at all
            scalar = self.resolver.current_value(node.criterion)
            if hasattr(self, "read_values"):  # the compiler reads values before the tests
                scalar = self._read_scalar(scalar, node.kind)
            return self.visit(node.test, dataclass_replace(ctx, value=scalar, **changes))
        full = self.resolver.criterion_values(node.criterion, node.kind)
        count = self.list_length(full)
        first, last, minimum = self._position_bounds(node.position, count)
        values = exp.func("list_slice", full, first, last)
        if hasattr(self, "read_values"):
            values = self.read_values(values, node.kind, node.test, ctx)
        x = self.var(ctx, "x")
        element = self.visit(node.test, dataclass_replace(ctx, value=x, **changes))
        hit = self.list_bool_or(self.list_transform(values, self.lambda_(element, x)))
        return exp.Case(
            ifs=[exp.If(this=exp.GTE(this=count, expression=_num(minimum)), true=hit)],
            default=self.boolean(type(node.test).not_found),
        )

    def _read_scalar(self, value: exp.Expression, kind: str) -> exp.Expression:
        """A current value read as its kind (days to ordinals, times to slots)."""
        if kind == "day":
            return exp.Case(
                this=value,
                ifs=[exp.If(this=exp.Literal.string(d), true=_num(k)) for k, d in enumerate(DAYS)],
                default=exp.null(),
            )
        if kind == "time":
            return self.time_slot(value)
        return value

    def trim(self, x: exp.Expression) -> exp.Expression:
        # values are normalized (so trimmed) by the engine; times are exact "HH:MM"
        return x

    def time_slot(self, x: exp.Expression) -> exp.Expression:
        # the engine's times are exact "HH:MM": no regex (a regex inside a list lambda
        # is compiled again for every row)
        hours = exp.cast(exp.Substring(this=x, start=_num(1), length=_num(2)), "INT")
        minutes = exp.cast(exp.Substring(this=x, start=_num(4), length=_num(2)), "INT")
        total = exp.Add(this=exp.Mul(this=hours, expression=_num(60)), expression=minutes)
        return exp.Sub(
            this=total, expression=exp.Mod(this=exp.Paren(this=total), expression=_num(15))
        )


_NORMALIZER = DuckDBCompiler()


def _normalized(value: exp.Expression) -> exp.Expression:
    """``normalize(value)``; ASCII text (as many bytes as characters) has no compatibility
    fold nor accent, so it only needs the trim and lowercase (the folds cost ~1 ms a row)."""
    ascii_only = exp.EQ(this=exp.func("strlen", value), expression=exp.func("length", value))
    return exp.Case(
        ifs=[exp.If(this=ascii_only, true=exp.Lower(this=_NORMALIZER.trim(value)))],
        default=_NORMALIZER.normalize(value),
    )


@dataclass
class _Resolver:
    plan: Plan
    chat: tuple[bool, bool]

    def criterion_values(self, criterion: str, kind: str) -> exp.Expression:
        if criterion == "chat_shown":
            return exp.Array(expressions=[exp.true() if self.chat[0] else exp.false()])
        if criterion == "chat_opened":
            return exp.Array(expressions=[exp.true() if self.chat[1] else exp.false()])
        current = exp.Array(expressions=[_col(f"c_{criterion}")])
        _, past = self.plan.criteria[criterion]
        if not past:
            return current
        return exp.func("list_concat", _col(f"past_{criterion}"), current)

    def current_value(self, criterion: str) -> exp.Expression:
        if criterion == "chat_shown":
            return exp.true() if self.chat[0] else exp.false()
        if criterion == "chat_opened":
            return exp.true() if self.chat[1] else exp.false()
        return _col(f"c_{criterion}")

    def attributes(self) -> exp.Expression:
        return _col("attributes")


@dataclass(frozen=True)
class ConditionQuery:
    """The statement building ``_el_masks`` and its parameters (thresholds included)."""

    sql: str
    params: dict[str, Any]
    #: parameter name -> (trigger index, compiler param name) of condition thresholds
    threshold_params: dict[str, tuple[int, str]]


def _trigger_mask(k: int, tp: TriggerPlan, plan: Plan, params: dict[str, Any]) -> exp.Expression:
    variants = (
        [(False, False), (False, True), (True, False), (True, True)]
        if tp.reads_chat
        else [(False, False)]
    )
    bits: list[exp.Expression] = []
    for shown, opened in variants:
        parts: list[exp.Expression] = []
        compiler = _PreNormalizedCompiler(
            _Resolver(plan, (shown, opened)),
            plan.config.saved_groups,
            param_prefix=f"t{k}_{int(shown)}{int(opened)}_p",
        )
        if tp.criteria_tree is not None:
            compiled = compiler.compile(tp.criteria_tree)
            params.update(compiled.params)
            parts.append(compiled.expression)
        if tp.expression_tree is not None:
            compiled = compiler.compile(tp.expression_tree)
            params.update(compiled.params)
            parts.append(compiled.expression)
        holds = exp.and_(*parts) if parts else exp.true()
        bits.append(holds)
    if not tp.reads_chat:
        return exp.Case(ifs=[exp.If(this=bits[0], true=_num(15))], default=_num(0))
    total: exp.Expression = _num(0)
    for bit, holds in enumerate(bits):
        total = exp.Add(
            this=total,
            expression=exp.Case(ifs=[exp.If(this=holds, true=_num(1 << bit))], default=_num(0)),
        )
    return total


@contextmanager
def deep_sql():
    """Room for sqlglot's recursive generator: the normalization's compatibility folds
    nest a few hundred ``REPLACE`` calls."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


def condition_query(plan: Plan, attributes: exp.Expression | None = None) -> ConditionQuery:
    """Build the statement computing ``_el_masks(pvi, t, m0 … m{k-1})`` (compressed rows)."""
    with deep_sql():
        return _condition_query(plan, attributes)


def _condition_query(plan: Plan, attributes: exp.Expression | None) -> ConditionQuery:
    params: dict[str, Any] = {}
    t = _col("t", "i")
    select = exp.select(_col("pvi", "i"), t)
    select = select.from_(
        exp.Table(this=exp.to_identifier(INST), alias=exp.TableAlias(this=exp.to_identifier("i"))),
        copy=False,
    )
    select = select.join(
        exp.Table(
            this=exp.to_identifier("_el_pv"), alias=exp.TableAlias(this=exp.to_identifier("p"))
        ),
        on=_col("pvi", "p").eq(_col("pvi", "i")),
        copy=False,
    )
    select = select.join(
        exp.Table(
            this=exp.to_identifier("_el_id"), alias=exp.TableAlias(this=exp.to_identifier("ids"))
        ),
        on=_col("visitor_id", "ids").eq(_col("visitor_id", "p")),
        join_type="left",
        copy=False,
    )
    if any(past for _, past in plan.criteria.values()):
        select = select.join(
            exp.Table(
                this=exp.to_identifier(PAST), alias=exp.TableAlias(this=exp.to_identifier("pl"))
            ),
            on=_col("pvi", "pl").eq(_col("pvi", "i")),
            join_type="left",
            copy=False,
        )
    for criterion, (kind, _) in sorted(plan.criteria.items()):
        if criterion.startswith("custom_"):
            select = _var_join(select, criterion, t, past=False)
            params[f"var_{criterion}"] = criterion
        select = select.select(
            value_at(criterion, kind, t, past=False).as_(f"c_{criterion}"), copy=False
        )
    for criterion, (_, past) in sorted(plan.criteria.items()):
        if past:
            select = select.select(_col(f"past_{criterion}", "pl"), copy=False)
    if attributes is not None:
        select = select.select(attributes.as_("attributes"), copy=False)
    masks = [_trigger_mask(k, tp, plan, params).as_(f"m{k}") for k, tp in enumerate(plan.triggers)]
    evaluated = exp.select(_col("pvi"), _col("t"), *masks, copy=False).from_(
        select.subquery("st", copy=False), copy=False
    )
    mask_cols = [f"m{k}" for k in range(len(plan.triggers))]
    changed = [
        exp.NullSafeNEQ(
            this=_col(m),
            expression=exp.Window(
                this=exp.func("lag", _col(m)),
                partition_by=[_col("pvi")],
                order=exp.Order(expressions=[exp.Ordered(this=_col("t"))]),
            ),
        )
        for m in mask_cols
    ]
    keep = exp.or_(*changed) if changed else exp.true()
    flagged = exp.select("*", keep.as_("keep")).from_(
        evaluated.subquery("ev", copy=False), copy=False
    )
    final = (
        exp.select(_col("pvi"), _col("t"), *[_col(m) for m in mask_cols])
        .from_(flagged.subquery("fl", copy=False), copy=False)
        .where(_col("keep"), copy=False)
        .order_by(_col("pvi"), _col("t"))
    )
    statement = exp.Create(
        this=exp.to_table(MASKS),
        kind="TABLE",
        replace=True,
        properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
        expression=final,
    )
    thresholds = {
        name: (0, name) for name in params if "_p" in name and not name.startswith("var_")
    }
    return ConditionQuery(statement.sql("duckdb"), params, thresholds)
