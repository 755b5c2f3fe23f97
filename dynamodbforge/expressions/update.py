"""Update executors: SET/REMOVE/ADD/DELETE applied to an item with DynamoDB's semantics.

Every right-hand side is read from the *original* item before anything is written, and
list indexes refer to positions in the original list (``REMOVE a[1] SET a[3] = :v``
touches original elements 1 and 3).  The input item is never mutated: only the maps and
lists on the paths being written are copied; everything else is shared.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from dynamodbforge import errors
from dynamodbforge.expressions.comparisons import SET_TYPES, av_type
from dynamodbforge.expressions.evaluate import OperandFn, get_path
from dynamodbforge.protocol import attributes, numbers

AV = dict[str, Any]
Item = dict[str, AV]

REFERS_TO_MISSING = "The provided expression refers to an attribute that does not exist in the item"
INCORRECT_TYPE = "An operand in the update expression has an incorrect data type"
INVALID_PATH = "The document path provided in the update expression is invalid for update"

SET, REMOVE, NOOP = 0, 1, 2
_UNCHANGED = object()


# --- SET value closures -------------------------------------------------------

def required(f: OperandFn) -> Callable[[Item], AV]:
    """A path operand of SET: missing is an error, not a value."""
    def value(item: Item) -> AV:
        v = f(item)
        if v is None:
            raise errors.validation(REFERS_TO_MISSING)
        return v

    return value


def if_not_exists_fn(path: OperandFn, default: Callable[[Item], AV]) -> Callable[[Item], AV]:
    return lambda item: path(item) or default(item)


def list_append_fn(f: Callable[[Item], AV], g: Callable[[Item], AV]) -> Callable[[Item], AV]:
    def append(item: Item) -> AV:
        a, b = f(item), g(item)
        if "L" not in a or "L" not in b:
            raise errors.validation(INCORRECT_TYPE)
        return {"L": a["L"] + b["L"]}

    return append


def arith_fn(op: str, f: Callable[[Item], AV], g: Callable[[Item], AV]) -> Callable[[Item], AV]:
    compute = numbers.add if op == "+" else numbers.subtract

    def arith(item: Item) -> AV:
        a, b = f(item), g(item)
        if "N" not in a or "N" not in b:
            raise errors.validation(INCORRECT_TYPE)
        return {"N": compute(a["N"], b["N"])}

    return arith


# --- ADD / DELETE ---------------------------------------------------------------

def add_value(current: AV | None, operand: AV) -> AV:
    if current is None:
        return operand
    t = av_type(operand)
    if t != av_type(current):
        raise errors.validation(INCORRECT_TYPE)
    if t == "N":
        return {"N": numbers.add(current["N"], operand["N"])}
    existing = current[t]
    present = set(existing)
    extra = [x for x in operand[t] if x not in present]
    return {t: attributes.sort_set(t, existing + extra)} if extra else current


def delete_value(current: AV | None, operand: AV) -> tuple[int, AV | None]:
    if current is None:
        return NOOP, None
    t = av_type(operand)
    if t != av_type(current) or t not in SET_TYPES:
        raise errors.validation(INCORRECT_TYPE)
    drop = set(operand[t])
    kept = [x for x in current[t] if x not in drop]
    if not kept:
        return REMOVE, None
    return SET, {t: kept}


# --- compiled actions and the path trie -----------------------------------------

@dataclass(slots=True)
class CompiledAction:
    kind: str  # "SET" | "REMOVE" | "ADD" | "DELETE"
    path: tuple
    value: Callable[[Item], AV] | None = None  # SET: computes the new value
    operand: AV | None = None  # ADD / DELETE

    def compute(self, item: Item) -> tuple[int, AV | None]:
        if self.kind == "SET":
            return SET, self.value(item)  # type: ignore[misc]
        if self.kind == "REMOVE":
            return REMOVE, None
        current = get_path(item, self.path)
        if self.kind == "ADD":
            return SET, add_value(current, self.operand)  # type: ignore[arg-type]
        return delete_value(current, self.operand)  # type: ignore[arg-type]


class _Node:
    __slots__ = ("slot", "children", "by_index", "only_removes")

    def __init__(self) -> None:
        self.slot: int | None = None
        self.children: dict[Any, _Node] = {}
        self.by_index = False
        self.only_removes = True


def build_trie(actions: list[CompiledAction]) -> _Node:
    """Paths never overlap or conflict (checked at resolve time), so this is a clean tree."""
    root = _Node()
    for slot, action in enumerate(actions):
        node = root
        removes = action.kind in ("REMOVE", "DELETE")
        for element in action.path:
            node.by_index = type(element) is int
            node.only_removes = node.only_removes and removes
            node = node.children.setdefault(element, _Node())
        node.slot = slot
        node.only_removes = removes
    return root


def _apply_map(m: dict, node: _Node, ops: list, lenient: bool) -> dict:
    out = dict(m)
    for name, child in node.children.items():
        if child.slot is not None:
            kind, value = ops[child.slot]
            if kind == SET:
                out[name] = value
            elif kind == REMOVE:
                out.pop(name, None)
        else:
            new = _apply_nested(m.get(name), child, ops, lenient)
            if new is not _UNCHANGED:
                out[name] = new
    return out


def _apply_list(lst: list, node: _Node, ops: list, lenient: bool) -> list:
    out = list(lst)
    n = len(lst)
    removed: set[int] = set()
    appended: list[AV] = []
    for index in sorted(node.children):
        child = node.children[index]
        if child.slot is not None:
            kind, value = ops[child.slot]
            if kind == SET:
                if index < n:
                    out[index] = value
                else:
                    appended.append(value)
            elif kind == REMOVE and index < n:
                removed.add(index)
        else:
            current = lst[index] if index < n else None
            new = _apply_nested(current, child, ops, lenient)
            if new is not _UNCHANGED:
                out[index] = new
    if removed:
        out = [v for i, v in enumerate(out) if i not in removed]
    return out + appended if appended else out


def _apply_nested(current: AV | None, node: _Node, ops: list, lenient: bool) -> Any:
    key = "L" if node.by_index else "M"
    inner = current.get(key) if current is not None else None
    if inner is None:
        if lenient and node.only_removes:
            return _UNCHANGED
        raise errors.validation(INVALID_PATH)
    if node.by_index:
        return {"L": _apply_list(inner, node, ops, lenient)}
    return {"M": _apply_map(inner, node, ops, lenient)}


@dataclass(slots=True)
class UpdateResult:
    new_item: Item
    updated_attributes: set[str] = field(default_factory=set)  # top-level names touched
    updated_paths: tuple[tuple, ...] = ()  # every action's resolved document path


def apply_actions(actions: list[CompiledAction], root: _Node, item: Item, item_exists: bool) -> Item:
    """Compute every action against ``item`` first, then write them all."""
    ops = [action.compute(item) for action in actions]
    return _apply_map(item, root, ops, lenient=not item_exists)
