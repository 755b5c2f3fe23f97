"""Projecting an item onto resolved document paths (ProjectionExpression, UPDATED_OLD/NEW).

List elements keep their relative order (``l[2], l[0]`` gives ``[l0, l2]``), missing
paths are omitted, and a map or list that ends up with nothing selected is omitted.
"""
from __future__ import annotations

from typing import Any

AV = dict[str, Any]
Item = dict[str, AV]


class _Node:
    __slots__ = ("leaf", "children", "by_index")

    def __init__(self) -> None:
        self.leaf = False
        self.children: dict[Any, _Node] = {}
        self.by_index = False


def build(paths: list[tuple] | tuple[tuple, ...]) -> _Node:
    root = _Node()
    for path in paths:
        node = root
        for element in path:
            if node.leaf:
                break  # an ancestor is already projected whole
            node.by_index = type(element) is int
            node = node.children.setdefault(element, _Node())
        else:
            node.leaf = True
            node.children = {}
    return root


def _value(v: AV, node: _Node) -> AV | None:
    if node.leaf:
        return v
    if node.by_index:
        lst = v.get("L")
        if lst is None:
            return None
        n = len(lst)
        out = []
        for index in sorted(node.children):
            if index < n:
                pv = _value(lst[index], node.children[index])
                if pv is not None:
                    out.append(pv)
        return {"L": out} if out else None
    m = v.get("M")
    if m is None:
        return None
    sub = project_map(m, node)
    return {"M": sub} if sub else None


def project_map(m: dict, node: _Node) -> dict:
    out = {}
    for name, child in node.children.items():
        v = m.get(name)
        if v is not None:
            pv = v if child.leaf else _value(v, child)
            if pv is not None:
                out[name] = pv
    return out
