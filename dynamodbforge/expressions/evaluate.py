"""Closure builders: a resolved expression becomes nested Python closures.

An *operand* closure maps an item (dict of attribute name -> AV) to an AV or ``None``
(missing); a *predicate* closure maps an item to ``bool``.  Building closures once per
request keeps evaluation free of tree walking and type dispatch on the hot path.
"""
from __future__ import annotations

from typing import Any, Callable

from dynamodbforge.expressions import comparisons as C

AV = dict[str, Any]
Item = dict[str, AV]
OperandFn = Callable[[Item], "AV | None"]
Predicate = Callable[[Item], bool]


def get_path(item: Item, elements: tuple) -> AV | None:
    """The value at a resolved document path, or None when any step is missing."""
    cur = item.get(elements[0])
    for element in elements[1:]:
        if cur is None:
            return None
        if type(element) is int:
            lst = cur.get("L")
            if lst is None or element >= len(lst):
                return None
            cur = lst[element]
        else:
            m = cur.get("M")
            if m is None:
                return None
            cur = m.get(element)
    return cur


def path_fn(elements: tuple) -> OperandFn:
    if len(elements) == 1:
        name = elements[0]
        return lambda item: item.get(name)
    return lambda item: get_path(item, elements)


def const_fn(value: AV) -> OperandFn:
    return lambda item: value


def size_fn(f: OperandFn) -> OperandFn:
    def size(item: Item) -> AV | None:
        v = f(item)
        if v is None:
            return None
        n = C.size(v)
        return None if n is None else {"N": str(n)}

    return size


def compare_fn(op: str, f: OperandFn, g: OperandFn) -> Predicate:
    if op == "=":
        def eq(item: Item) -> bool:
            a, b = f(item), g(item)
            return a is not None and b is not None and C.equal(a, b)
        return eq
    if op == "<>":
        def ne(item: Item) -> bool:
            a, b = f(item), g(item)
            return a is None or b is None or not C.equal(a, b)
        return ne
    accept = {"<": (-1,), "<=": (-1, 0), ">": (1,), ">=": (1, 0)}[op]

    def ordered(item: Item) -> bool:
        a, b = f(item), g(item)
        if a is None or b is None:
            return False
        return C.order(a, b) in accept

    return ordered


def between_fn(f: OperandFn, lo: OperandFn, hi: OperandFn) -> Predicate:
    def between(item: Item) -> bool:
        v, a, b = f(item), lo(item), hi(item)
        if v is None or a is None or b is None:
            return False
        low = C.order(v, a)
        if low is None or low < 0:
            return False
        high = C.order(v, b)
        return high is not None and high <= 0

    return between


def in_fn(f: OperandFn, items: list[OperandFn]) -> Predicate:
    def is_in(item: Item) -> bool:
        v = f(item)
        if v is None:
            return False
        for g in items:
            w = g(item)
            if w is not None and C.equal(v, w):
                return True
        return False

    return is_in


def exists_fn(f: OperandFn, want: bool) -> Predicate:
    if want:
        return lambda item: f(item) is not None
    return lambda item: f(item) is None


def type_fn(f: OperandFn, g: OperandFn) -> Predicate:
    def has_type(item: Item) -> bool:
        v, t = f(item), g(item)
        return v is not None and t is not None and "S" in t and C.av_type(v) == t["S"]

    return has_type


def binary_fn(test: Callable[[AV, AV], bool], f: OperandFn, g: OperandFn) -> Predicate:
    def check(item: Item) -> bool:
        a, b = f(item), g(item)
        return a is not None and b is not None and test(a, b)

    return check


def and_fn(p: Predicate, q: Predicate) -> Predicate:
    return lambda item: p(item) and q(item)


def or_fn(p: Predicate, q: Predicate) -> Predicate:
    return lambda item: p(item) or q(item)


def not_fn(p: Predicate) -> Predicate:
    return lambda item: not p(item)
