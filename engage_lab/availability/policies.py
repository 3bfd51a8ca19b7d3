"""The server's answer: availability policies as pure functions.

At an instant the agents give an :class:`AvailabilityState`: ``capacity`` (sum of the
soft limits of available agents), ``in_progress`` (conversations in progress on available
agents, all channels) and ``waiting`` (this source's web-chat conversations queued, not
yet started nor ended). ``load = in_progress + waiting``, ``free_slots = capacity -
load`` (negative while conversations wait), ``occupancy = load / capacity`` (``inf``
when ``capacity == 0``: with no agent available, a curve reads its right end point).

Policies (each tunable per trigger), each with one Python form, one vectorized numpy form
and one SQL form computing the same doubles:

* ``product`` — the product's rule: ``extra = capacity * pct // 100`` with ``pct =
  round(100 * queuing_factor)`` (at most two decimals, exact integers); ``p = 1`` while
  ``load < capacity + extra``, else ``0``.
* ``reserve`` (``reserve_k``) — keep ``k`` agent slots free: ``p = 1`` while
  ``free_slots > k``, else ``0``. The queuing factor does not apply (extra places are
  queue places, not slots), so ``reserve`` with ``k = 0`` is ``product`` with factor 0.
* ``curve`` — piecewise-linear ``p`` over ``occupancy`` or ``free_slots``: points sorted
  by ``x`` (strictly increasing after sorting, ``p`` in ``[0, 1]``); below the first point
  ``p0``, above the last ``p_last``; between ``x_i <= x < x_{i+1}``:
  ``p = p_i + (x - x_i) * (p_{i+1} - p_i) / (x_{i+1} - x_i)`` in doubles, evaluated in
  that order (so ``x == x_i`` gives ``p_i`` exactly).

>>> state = AvailabilityState(capacity=8, in_progress=8, waiting=1)
>>> policy_from_dict({"policy": "product"}, queuing_factor=0.25).probability(state)
1.0
>>> policy_from_dict({"policy": "reserve", "k": 0}).probability(state)
0.0
>>> policy_from_dict({"policy": "curve", "over": "occupancy",
...                   "points": [[0, 1], [1, 1], [1.5, 0]]}).probability(state)
0.75
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import numpy as np
from sqlglot import exp

from engage_lab.errors import ConfigError

__all__ = [
    "AvailabilityState",
    "CurvePolicy",
    "Policy",
    "ProductPolicy",
    "ReservePolicy",
    "extra_places",
    "policy_from_dict",
    "queuing_factor_percent",
]

CURVE_AXES = ("occupancy", "free_slots")
_DOUBLE = exp.DataType.build("DOUBLE")
_BIGINT = exp.DataType.build("BIGINT")


@dataclass(frozen=True, slots=True)
class AvailabilityState:
    """Capacity and load at one instant (see the module docstring for definitions).

    >>> s = AvailabilityState(capacity=4, in_progress=3, waiting=2)
    >>> s.load, s.free_slots, s.occupancy
    (5, -1, 1.25)
    >>> AvailabilityState(0, 0, 0).occupancy
    inf
    """

    capacity: int
    in_progress: int
    waiting: int

    @property
    def load(self) -> int:
        return self.in_progress + self.waiting

    @property
    def free_slots(self) -> int:
        return self.capacity - self.load

    @property
    def occupancy(self) -> float:
        return math.inf if self.capacity == 0 else self.load / self.capacity


# ----------------------------------------------------------------- queuing factor


def queuing_factor_percent(factor: float | int | str | Decimal) -> int:
    """The queuing factor in hundredths, exactly: ``round(100 * factor)``.

    Refuses negative factors and factors with more than two decimals.

    >>> queuing_factor_percent(0.25), queuing_factor_percent("1.5"), queuing_factor_percent(0)
    (25, 150, 0)
    >>> queuing_factor_percent(0.29)   # 100 * 0.29 is 28.999999999999996 in doubles
    29
    """
    if isinstance(factor, bool):
        raise ConfigError([f"queuing_factor: expected a number, got {factor!r}"])
    try:
        # str() of a float is its shortest round-trip text: 0.29 reads as Decimal("0.29").
        value = Decimal(str(factor)) if isinstance(factor, (float, int, str)) else Decimal(factor)
    except (InvalidOperation, TypeError, ValueError) as err:
        raise ConfigError([f"queuing_factor: expected a number, got {factor!r}"]) from err
    if not value.is_finite() or value < 0:
        raise ConfigError([f"queuing_factor: {factor!r} must be a finite number >= 0"])
    hundredths = value * 100
    if hundredths != hundredths.to_integral_value():
        raise ConfigError([f"queuing_factor: {factor!r} has more than two decimals"])
    return int(hundredths)


def extra_places(capacity: int, queuing_factor_pct: int) -> int:
    """Extra queue places ``floor(capacity * factor)`` in integers.

    >>> extra_places(8, 25), extra_places(8, 30), extra_places(0, 50)
    (2, 2, 0)
    """
    return capacity * queuing_factor_pct // 100


# ----------------------------------------------------------------- SQL helpers


def _param(
    name: str, value: float | int, prefix: str, inline: bool, params: dict[str, Any]
) -> exp.Expression:
    """A named placeholder (``$prefix_name`` in DuckDB) or an inline literal."""
    if inline:
        if isinstance(value, float):
            # Text to DOUBLE is correctly rounded: the same double as Python's.
            return exp.Literal.string(repr(value))
        return exp.Literal.number(value)
    key = f"{prefix}{name}"
    params[key] = value
    return exp.Placeholder(this=key)


def _double(node: exp.Expression) -> exp.Expression:
    return exp.cast(node, _DOUBLE)


def _sql_node(value: exp.Expression | str) -> exp.Expression:
    return exp.column(value) if isinstance(value, str) else value


def _binary(kind: type[exp.Binary], left: exp.Expression, right: exp.Expression) -> exp.Expression:
    return exp.paren(kind(this=left, expression=right), copy=False)


def _as_int_array(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


# ----------------------------------------------------------------- policies


class Policy:
    """Base of the policies: ``probability(state)``, numpy and SQL forms, ``to_dict``."""

    __slots__ = ()
    name: ClassVar[str]

    def probability(self, state: AvailabilityState) -> float:
        """``p`` in ``[0, 1]`` for one state."""
        raise NotImplementedError

    def probabilities(self, capacity: Any, in_progress: Any, waiting: Any) -> np.ndarray:
        """Vectorized :meth:`probability` over integer arrays (float64 result)."""
        raise NotImplementedError

    def sql(
        self,
        capacity: exp.Expression | str,
        load: exp.Expression | str,
        *,
        prefix: str = "",
        inline: bool = False,
    ) -> tuple[exp.Expression, dict[str, Any]]:
        """``p`` as a sqlglot DOUBLE expression over integer columns ``capacity``, ``load``.

        Tunable numbers become named placeholders ``prefix + name`` (DuckDB ``$name``),
        returned with their values for binding, so a slider can rebind without
        recompiling; ``inline=True`` writes them as literals instead (empty dict).
        """
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """The plain-data form :func:`policy_from_dict` reads back."""
        raise NotImplementedError


def _zero_one(condition: exp.Expression) -> exp.Expression:
    one, zero = _double(exp.Literal.number(1)), _double(exp.Literal.number(0))
    return exp.Case(ifs=[exp.If(this=condition, true=one)], default=zero)


@dataclass(frozen=True, slots=True)
class ProductPolicy(Policy):
    """The product's answer: 1 while ``load < capacity + extra places``, else 0.

    >>> p = ProductPolicy(queuing_factor=0.25)
    >>> p.queuing_factor_pct
    25
    >>> [p.probability(AvailabilityState(8, 8, w)) for w in (1, 2)]
    [1.0, 0.0]
    """

    name: ClassVar[str] = "product"
    # Equality is on the exact hundredths, so 0.25, "0.25" and Decimal("0.25") are equal.
    queuing_factor: float | int | str | Decimal = field(default=0, compare=False)
    queuing_factor_pct: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "queuing_factor_pct", queuing_factor_percent(self.queuing_factor))

    def probability(self, state: AvailabilityState) -> float:
        limit = state.capacity + extra_places(state.capacity, self.queuing_factor_pct)
        return 1.0 if state.load < limit else 0.0

    def probabilities(self, capacity: Any, in_progress: Any, waiting: Any) -> np.ndarray:
        cap = _as_int_array(capacity)
        load = _as_int_array(in_progress) + _as_int_array(waiting)
        limit = cap + cap * self.queuing_factor_pct // 100
        return np.where(load < limit, 1.0, 0.0)

    def sql(
        self,
        capacity: exp.Expression | str,
        load: exp.Expression | str,
        *,
        prefix: str = "",
        inline: bool = False,
    ) -> tuple[exp.Expression, dict[str, Any]]:
        params: dict[str, Any] = {}
        cap, ld = _sql_node(capacity), _sql_node(load)
        pct = _param("queuing_factor_pct", self.queuing_factor_pct, prefix, inline, params)
        pct = exp.cast(pct, _BIGINT)
        extra = _binary(
            exp.IntDiv, _binary(exp.Mul, cap, pct), exp.Literal.number(100)
        )  # floor(capacity * pct / 100); both engines divide non-negative integers
        return _zero_one(exp.LT(this=ld, expression=_binary(exp.Add, cap, extra))), params

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.name, "queuing_factor": self.queuing_factor_pct / 100}


@dataclass(frozen=True, slots=True)
class ReservePolicy(Policy):
    """Keep ``k`` agent slots free: 1 while ``capacity - load > k``, else 0.

    >>> r = ReservePolicy(k=2)
    >>> [r.probability(AvailabilityState(5, n, 0)) for n in (2, 3)]
    [1.0, 0.0]
    """

    name: ClassVar[str] = "reserve"
    k: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 0:
            raise ConfigError([f"policy.k: {self.k!r} must be an integer >= 0"])

    def probability(self, state: AvailabilityState) -> float:
        return 1.0 if state.free_slots > self.k else 0.0

    def probabilities(self, capacity: Any, in_progress: Any, waiting: Any) -> np.ndarray:
        free = _as_int_array(capacity) - _as_int_array(in_progress) - _as_int_array(waiting)
        return np.where(free > self.k, 1.0, 0.0)

    def sql(
        self,
        capacity: exp.Expression | str,
        load: exp.Expression | str,
        *,
        prefix: str = "",
        inline: bool = False,
    ) -> tuple[exp.Expression, dict[str, Any]]:
        params: dict[str, Any] = {}
        k = exp.cast(_param("k", self.k, prefix, inline, params), _BIGINT)
        free = _binary(exp.Sub, _sql_node(capacity), _sql_node(load))
        return _zero_one(exp.GT(this=free, expression=k)), params

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.name, "k": self.k}


def _check_points(points: Any) -> tuple[tuple[float, float], ...]:
    problems: list[str] = []
    if not isinstance(points, Sequence) or isinstance(points, str) or len(points) == 0:
        raise ConfigError(["policy.points: expected a non-empty list of [x, p] pairs"])
    clean: list[tuple[float, float]] = []
    for i, point in enumerate(points):
        ok = (
            isinstance(point, Sequence)
            and not isinstance(point, str)
            and len(point) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in point)
            and all(math.isfinite(v) for v in point)
        )
        if not ok:
            problems.append(f"policy.points[{i}]: expected [x, p] with finite numbers")
            continue
        x, p = float(point[0]), float(point[1])
        if not 0.0 <= p <= 1.0:
            problems.append(f"policy.points[{i}]: p = {point[1]!r} is not in [0, 1]")
        clean.append((x, p))
    clean.sort(key=lambda xp: xp[0])
    xs = [x for x, _ in clean]
    if len(set(xs)) != len(xs):
        problems.append("policy.points: two points share one x (steps need distinct x)")
    if problems:
        raise ConfigError(problems)
    return tuple(clean)


@dataclass(frozen=True, slots=True)
class CurvePolicy(Policy):
    """Piecewise-linear ``p`` over ``occupancy`` or ``free_slots``, clamped at the ends.

    >>> c = CurvePolicy(over="occupancy", points=((1.0, 0.0), (0.0, 1.0), (0.5, 1.0)))
    >>> c.points                                   # sorted by x
    ((0.0, 1.0), (0.5, 1.0), (1.0, 0.0))
    >>> [c.probability(AvailabilityState(4, n, 0)) for n in (0, 3, 4, 9)]
    [1.0, 0.5, 0.0, 0.0]
    >>> c.probability(AvailabilityState(0, 0, 0))   # no capacity: occupancy inf
    0.0
    """

    name: ClassVar[str] = "curve"
    over: str = "occupancy"
    points: tuple[tuple[float, float], ...] = ((0.0, 1.0),)

    def __post_init__(self) -> None:
        if self.over not in CURVE_AXES:
            raise ConfigError([f"policy.over: {self.over!r} is not one of {list(CURVE_AXES)}"])
        object.__setattr__(self, "points", _check_points(self.points))

    def value_at(self, x: float) -> float:
        """``p`` at abscissa ``x`` (the interpolation rule of the module docstring).

        >>> CurvePolicy(over="free_slots", points=((0, 0), (4, 1))).value_at(1)
        0.25
        """
        pts = self.points
        if x <= pts[0][0]:
            return pts[0][1]
        for (x0, p0), (x1, p1) in itertools.pairwise(pts):
            if x0 <= x < x1:
                return p0 + (x - x0) * (p1 - p0) / (x1 - x0)
        return pts[-1][1]

    def _x(self, state: AvailabilityState) -> float:
        return state.occupancy if self.over == "occupancy" else float(state.free_slots)

    def probability(self, state: AvailabilityState) -> float:
        return self.value_at(self._x(state))

    def probabilities(self, capacity: Any, in_progress: Any, waiting: Any) -> np.ndarray:
        cap = _as_int_array(capacity)
        load = _as_int_array(in_progress) + _as_int_array(waiting)
        if self.over == "occupancy":
            with np.errstate(divide="ignore", invalid="ignore"):
                x = np.where(cap == 0, np.inf, load.astype(np.float64) / np.maximum(cap, 1))
        else:
            x = (cap - load).astype(np.float64)
        pts = self.points
        out = np.full(x.shape, pts[-1][1], dtype=np.float64)
        for (x0, p0), (x1, p1) in reversed(list(itertools.pairwise(pts))):
            seg = (x >= x0) & (x < x1)
            out[seg] = p0 + (x[seg] - x0) * (p1 - p0) / (x1 - x0)
        out[x <= pts[0][0]] = pts[0][1]
        return out

    def sql(
        self,
        capacity: exp.Expression | str,
        load: exp.Expression | str,
        *,
        prefix: str = "",
        inline: bool = False,
    ) -> tuple[exp.Expression, dict[str, Any]]:
        params: dict[str, Any] = {}
        cap, ld = _sql_node(capacity), _sql_node(load)
        xs = [
            _double(_param(f"x{i}", x, prefix, inline, params))
            for i, (x, _) in enumerate(self.points)
        ]
        ps = [
            _double(_param(f"p{i}", p, prefix, inline, params))
            for i, (_, p) in enumerate(self.points)
        ]
        if self.over == "occupancy":
            x = _binary(exp.Div, _double(ld), _double(cap))
        else:
            x = _double(_binary(exp.Sub, cap, ld))
        ifs: list[exp.If] = []
        if self.over == "occupancy":
            # capacity 0: occupancy is infinite, the curve reads its right end point.
            ifs.append(exp.If(this=exp.EQ(this=cap, expression=exp.Literal.number(0)), true=ps[-1]))
        ifs.append(exp.If(this=exp.LTE(this=x, expression=xs[0]), true=ps[0]))
        for i in range(len(self.points) - 1):
            x0, x1, p0, p1 = xs[i], xs[i + 1], ps[i], ps[i + 1]
            slope_part = _binary(
                exp.Div,
                _binary(exp.Mul, _binary(exp.Sub, x, x0), _binary(exp.Sub, p1, p0)),
                _binary(exp.Sub, x1, x0),
            )
            ifs.append(
                exp.If(this=exp.LT(this=x, expression=x1), true=_binary(exp.Add, p0, slope_part))
            )
        return exp.Case(ifs=ifs, default=ps[-1]), params

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.name, "over": self.over, "points": [list(p) for p in self.points]}


_KEYS = {
    "product": {"policy", "queuing_factor"},
    "reserve": {"policy", "k"},
    "curve": {"policy", "over", "points"},
}
_ALIASES = {"reserve_k": "reserve"}


def policy_from_dict(
    data: Mapping[str, Any] | None, *, queuing_factor: float | int | str | Decimal = 0
) -> Policy:
    """Build a policy from plain data (the configuration's JSON).

    ``None`` or ``{}`` is the product policy. ``queuing_factor`` is the default of the
    product policy (the source's or trigger's factor); a ``queuing_factor`` key in the
    dict overrides it. Problems raise :class:`~engage_lab.errors.ConfigError` with paths
    relative to the policy object.

    >>> policy_from_dict({"policy": "reserve_k", "k": 2})
    ReservePolicy(k=2)
    >>> policy_from_dict(None, queuing_factor="0.5").to_dict()
    {'policy': 'product', 'queuing_factor': 0.5}
    """
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError([f"policy: expected an object, got {type(data).__name__}"])
    kind = data.get("policy", "product")
    kind = _ALIASES.get(kind, kind) if isinstance(kind, str) else kind
    if kind not in _KEYS:
        raise ConfigError([f"policy.policy: {kind!r} is not one of {sorted(_KEYS)}"])
    unknown = sorted(set(data) - _KEYS[kind])
    if unknown:
        raise ConfigError([f"policy.{key}: unknown key for policy {kind!r}" for key in unknown])
    if kind == "product":
        return ProductPolicy(queuing_factor=data.get("queuing_factor", queuing_factor))
    if kind == "reserve":
        if "k" not in data:
            raise ConfigError(["policy.k: required for policy 'reserve'"])
        return ReservePolicy(k=data["k"])
    missing = [
        f"policy.{key}: required for policy 'curve'" for key in ("points",) if key not in data
    ]
    if missing:
        raise ConfigError(missing)
    return CurvePolicy(over=data.get("over", "occupancy"), points=data["points"])
