"""Shared pieces of the SQL compilers: resolvers, results, context, character classes."""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from sqlglot import exp

from engage_lab.conditions import nodes as n
from engage_lab.conditions.vocabulary import WHITESPACE, is_mark

__all__ = [
    "CompiledCondition",
    "Resolver",
    "RowResolver",
    "char_class",
    "compatibility_folds",
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


def compatibility_folds() -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """What NFKD does beyond a canonical decomposition, for SQL engines that lack it.

    Returns ``(from, to, pairs)``: characters folded to one character (for
    ``TRANSLATE``) and multi-character folds below U+3000 (ligatures, ``…``, ``™``,
    fractions; for ``REPLACE``). Rarer multi-character folds (squared CJK, Arabic
    presentation forms) are left as they are: a documented difference. Computed once
    per process (a walk over every code point, about 0.3 s: :func:`warm_folds` starts
    it in the background); concurrent callers wait for the one computation.
    """
    with _FOLDS_LOCK:
        return _compatibility_folds()


_FOLDS_LOCK = threading.Lock()


def warm_folds() -> None:
    """Compute :func:`compatibility_folds` in a background thread (a caller that needs
    them sooner waits for that thread's result)."""
    if _compatibility_folds.cache_info().currsize == 0:
        threading.Thread(target=compatibility_folds, name="engage-lab-folds", daemon=True).start()


@lru_cache(maxsize=1)
def _compatibility_folds() -> tuple[str, str, tuple[tuple[str, str], ...]]:
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
