"""The per-request compiled expression objects handed to operations."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dynamodbforge.expressions import comparisons as C
from dynamodbforge.expressions import projection as P
from dynamodbforge.expressions import update as U
from dynamodbforge.expressions.evaluate import Predicate

AV = dict[str, Any]
Item = dict[str, AV]
_EMPTY: Item = {}


class Condition:
    """A compiled ConditionExpression / FilterExpression."""

    __slots__ = ("_predicate", "text")

    def __init__(self, predicate: Predicate, text: str) -> None:
        self._predicate = predicate
        self.text = text

    def evaluate(self, item: Item | None) -> bool:
        """True when ``item`` (None = no item) satisfies the condition."""
        return self._predicate(item if item is not None else _EMPTY)


class Projection:
    """A compiled ProjectionExpression."""

    __slots__ = ("paths", "top_level_names", "_root")

    def __init__(self, paths: tuple[tuple, ...]) -> None:
        self.paths = paths
        self.top_level_names: frozenset[str] = frozenset(p[0] for p in paths)
        self._root = P.build(paths)

    def apply(self, item: Item) -> Item:
        return P.project_map(item, self._root)


class Update:
    """A compiled UpdateExpression."""

    __slots__ = ("paths", "touched_top_level_names", "only_removes", "_actions", "_trie", "_updated")

    def __init__(self, actions: list[U.CompiledAction]) -> None:
        self._actions = actions
        self.paths: tuple[tuple, ...] = tuple(a.path for a in actions)
        # nothing but REMOVE / DELETE: on an item that does not exist it does nothing, and
        # UpdateItem then creates no item (as DynamoDB; an update with no action at all does)
        self.only_removes = bool(actions) and all(a.kind in ("REMOVE", "DELETE") for a in actions)
        self.touched_top_level_names: frozenset[str] = frozenset(p[0] for p in self.paths)
        self._trie = U.build_trie(actions)
        self._updated = P.build(self.paths)

    def apply(self, item: Item, item_exists: bool = True) -> U.UpdateResult:
        """The updated copy of ``item``; ``item_exists=False`` when UpdateItem creates it."""
        new_item = U.apply_actions(self._actions, self._trie, item, item_exists)
        return U.UpdateResult(new_item, set(self.touched_top_level_names), self.paths)

    def project_updated(self, item: Item) -> Item:
        """``item`` reduced to the updated paths (ReturnValues UPDATED_OLD / UPDATED_NEW)."""
        return P.project_map(item, self._updated)


@dataclass(frozen=True, slots=True)
class KeyCondition:
    """A validated KeyConditionExpression: hash equality plus an optional sort-key test."""

    hash_key: str
    hash_value: AV
    range_key: str | None = None
    range_op: str | None = None  # '=', '<', '<=', '>', '>=', 'BETWEEN', 'begins_with'
    range_values: tuple[AV, ...] = ()

    def range_matches(self, value: AV | None) -> bool:
        """Whether a sort-key value satisfies the range condition (True when there is none)."""
        op = self.range_op
        if op is None:
            return True
        if value is None:
            return False
        if op == "begins_with":
            return C.begins_with(value, self.range_values[0])
        if op == "=":
            return C.equal(value, self.range_values[0])
        if op == "BETWEEN":
            lo = C.order(value, self.range_values[0])
            hi = C.order(value, self.range_values[1])
            return lo is not None and hi is not None and lo >= 0 and hi <= 0
        c = C.order(value, self.range_values[0])
        if c is None:
            return False
        return {"<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0}[op]
