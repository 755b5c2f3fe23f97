"""The one AST for every expression kind, as parsed (before ``#name``/``:value`` resolution).

Trees are immutable and hold no request data, so they are cached by expression text.
A path element is a ``str`` (a bare name, or a ``#placeholder`` - bare names can never
start with ``#``) or an ``int`` (a list index).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

PathElement = Union[str, int]


@dataclass(frozen=True, slots=True)
class PathExpr:
    elements: tuple[PathElement, ...]


@dataclass(frozen=True, slots=True)
class ValueRef:
    name: str  # ":v"


@dataclass(frozen=True, slots=True)
class FuncCall:
    name: str
    args: tuple["Operand", ...]


@dataclass(frozen=True, slots=True)
class Arith:
    """``a + b`` / ``a - b`` (UpdateExpression SET values only)."""

    op: str
    left: "Operand"
    right: "Operand"


Operand = Union[PathExpr, ValueRef, FuncCall]
SetValue = Union[PathExpr, ValueRef, FuncCall, Arith]


@dataclass(frozen=True, slots=True)
class Compare:
    op: str  # = <> < <= > >=
    left: Operand
    right: Operand


@dataclass(frozen=True, slots=True)
class Between:
    operand: Operand
    low: Operand
    high: Operand


@dataclass(frozen=True, slots=True)
class In:
    operand: Operand
    items: tuple[Operand, ...]


@dataclass(frozen=True, slots=True)
class FuncCond:
    """A function call used as a whole condition, e.g. ``attribute_exists(a)``."""

    call: FuncCall


@dataclass(frozen=True, slots=True)
class And:
    left: "Condition"
    right: "Condition"


@dataclass(frozen=True, slots=True)
class Or:
    left: "Condition"
    right: "Condition"


@dataclass(frozen=True, slots=True)
class Not:
    operand: "Condition"


Condition = Union[Compare, Between, In, FuncCond, And, Or, Not]


@dataclass(frozen=True, slots=True)
class SetAction:
    path: PathExpr
    value: SetValue


@dataclass(frozen=True, slots=True)
class RemoveAction:
    path: PathExpr


@dataclass(frozen=True, slots=True)
class AddAction:
    path: PathExpr
    value: ValueRef


@dataclass(frozen=True, slots=True)
class DeleteAction:
    path: PathExpr
    value: ValueRef


Action = Union[SetAction, RemoveAction, AddAction, DeleteAction]


@dataclass(frozen=True, slots=True)
class UpdateTree:
    actions: tuple[Action, ...]  # in source order


@dataclass(frozen=True, slots=True)
class ProjectionTree:
    paths: tuple[PathExpr, ...]


def path_str(elements: tuple[PathElement, ...] | list[PathElement]) -> str:
    """AWS's rendering of a document path in messages: ``[a, b, [3]]``."""
    return "[" + ", ".join(f"[{e}]" if isinstance(e, int) else e for e in elements) + "]"
