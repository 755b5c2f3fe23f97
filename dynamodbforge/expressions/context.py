"""ExpressionContext: one per request; compiles its expressions and tracks used names/values."""
from __future__ import annotations

from typing import Any, Callable

import orjson

from dynamodbforge import errors
from dynamodbforge.expressions import parser as Pa
from dynamodbforge.expressions import resolve as R
from dynamodbforge.expressions.compiled import Condition, KeyCondition, Projection, Update
from dynamodbforge.expressions.keycondition import build_key_condition, collect_key_conditions
from dynamodbforge.expressions.parser import ExpressionError

MAX_EXPRESSION_BYTES = 4096

# Compiled expressions by (kind, text, names, values): clients send the same few
# expressions over and over (UpdateItem's compile was a quarter of its CPU time).
# Compiled expressions are immutable and items are never mutated once built, so one
# compiled object can serve every request that asks for it.
_RESOLVED: dict[Any, tuple[Any, frozenset[str], frozenset[str]]] = {}
_RESOLVED_MAX = 1024
_SIZE_SUFFIX_PARAMS = ("ConditionExpression", "FilterExpression")


class ExpressionContext:
    """Compiles the expressions of one request against its ExpressionAttributeNames/Values."""

    __slots__ = ("names", "values", "_used_names", "_used_values", "_key_condition")

    def __init__(self, names: dict[str, str] | None, values: dict[str, dict[str, Any]] | None) -> None:
        self.names: dict[str, str] = names or {}
        self.values: dict[str, dict[str, Any]] = values or {}
        self._used_names: set[str] = set()
        self._used_values: set[str] = set()
        # (text, tree, each attribute's conditions once check_key_condition_rules ran)
        self._key_condition: tuple[str, Any, Any] | None = None

    # --- compile ---------------------------------------------------------------
    def _parse(self, kind: str, text: str, param: str) -> Any:
        if not text.strip():
            raise errors.validation(f"Invalid {param}: The expression can not be empty;")
        size = len(text.encode("utf-8")) if not text.isascii() else len(text)
        if size > MAX_EXPRESSION_BYTES:
            suffix = f" expression size: {size}" if param in _SIZE_SUFFIX_PARAMS else ""
            raise errors.validation(
                f"Invalid {param}: Expression size has exceeded the maximum allowed size;{suffix}"
            )
        parsed = Pa.parse(kind, text)
        if parsed.static_error is not None:
            raise errors.validation(f"Invalid {param}: {parsed.static_error}")
        return parsed.tree

    def _compile(self, kind: Any, text: str, param: str, order: tuple[str, ...],
                 resolve: Callable[[Any, R.Resolver], Any], cache: bool = True) -> Any:
        """Parse and resolve one expression (the resolution cached unless ``cache`` is False);
        errors read "Invalid <param>: ..."."""
        tree = self._parse(kind, text, param)
        key: Any = None
        if cache:
            try:  # the same expression with the same names and values compiles to the same thing
                key = (kind, text, tuple(self.names.items()), orjson.dumps(self.values) if self.values else b"")
            except TypeError:  # a value orjson cannot encode: don't cache
                pass
        hit = _RESOLVED.get(key) if key is not None else None
        if hit is not None:
            compiled, used_names, used_values = hit
            self._used_names.update(used_names)
            self._used_values.update(used_values)
            return compiled
        used_names, used_values = set(), set()
        try:
            with Pa.deep_recursion():
                compiled = resolve(tree, R.Resolver(self.names, self.values, used_names, used_values, order))
        except ExpressionError as e:
            raise errors.validation(f"Invalid {param}: {e.message}") from None
        finally:
            self._used_names |= used_names
            self._used_values |= used_values
        if key is not None:
            if len(_RESOLVED) >= _RESOLVED_MAX:
                del _RESOLVED[next(iter(_RESOLVED))]  # the oldest: one at a time, no burst of garbage
            _RESOLVED[key] = (compiled, frozenset(used_names), frozenset(used_values))
        return compiled

    def condition(self, text: str, param: str = "ConditionExpression") -> Condition:
        """Compile a ConditionExpression (or, with ``param``, a FilterExpression)."""
        return self._compile(Pa.CONDITION, text, param, R.CONDITION_ORDER,
                             lambda tree, resolver: R.resolve_condition(tree, text, resolver))

    def update(self, text: str) -> Update:
        """Compile an UpdateExpression."""
        return self._compile(Pa.UPDATE, text, "UpdateExpression", R.UPDATE_ORDER, R.resolve_update)

    def projection(self, text: str) -> Projection:
        """Compile a ProjectionExpression."""
        return self._compile(Pa.PROJECTION, text, "ProjectionExpression", R.PROJECTION_ORDER,
                             R.resolve_projection)

    def key_condition(
        self,
        text: str,
        hash_key: str,
        range_key: str | None = None,
        key_types: dict[str, str] | None = None,
    ) -> KeyCondition:
        """Compile and validate a KeyConditionExpression for a key schema.

        ``key_types`` (attribute name -> "S"/"N"/"B") enables AWS's
        "Condition parameter type does not match schema type" check.
        """
        tree = self.check_key_condition(text)
        assert self._key_condition is not None
        return build_key_condition(tree, self.names, self.values, hash_key, range_key, key_types,
                                   self._key_condition[2])

    def check_key_condition(self, text: str) -> Any:
        """A KeyConditionExpression's checks that need no table (Query makes them before it
        looks the table up, as DynamoDB does); its parse tree.  Done once per request."""
        if self._key_condition is not None and self._key_condition[0] == text:
            return self._key_condition[1]
        tree = self._parse(Pa.CONDITION, text, "KeyConditionExpression")
        # resolved only for its checks: not cached, since a Query names a new partition value
        # almost every time, and caching each would only push every other expression out
        self._compile(Pa.CONDITION, text, "KeyConditionExpression", R.WRITTEN_ORDER,
                      lambda parsed, resolver: R.resolve_condition(parsed, text, resolver), cache=False)
        self._key_condition = (text, tree, None)
        return tree

    def check_key_condition_rules(self, text: str) -> None:
        """A (checked) KeyConditionExpression's rules that need no key schema: operators,
        nesting, one condition per attribute; DynamoDB makes them before it looks the table
        up, after every expression's own errors (dynalite's query.js, recorded from DynamoDB)."""
        tree = self.check_key_condition(text)
        self._key_condition = (text, tree, collect_key_conditions(tree, self.names, self.values))

    def condition_heads(self, text: str, nested: bool = False) -> set[str]:
        """the top-level attribute names a (valid, compiled) condition refers to; with
        ``nested``, only those it reaches into (``a.b``, ``a[0]``)."""
        return self._path_heads(Pa.CONDITION, text, nested)

    def update_heads(self, text: str, nested: bool = False) -> set[str]:
        """the same for a (valid, compiled) UpdateExpression: the paths it writes and reads."""
        return self._path_heads(Pa.UPDATE, text, nested)

    def update_value_types(self, text: str) -> dict[str, str]:
        """Of a (valid, compiled) UpdateExpression: each top-level attribute it SETs or ADDs to a
        value whose type is known before any item is read (a ``:value``, ``a + b``,
        ``list_append(...)``), and that type."""
        from dynamodbforge.expressions import ast as A

        types: dict[str, str] = {}
        for action in Pa.parse(Pa.UPDATE, text).tree.actions:
            if not isinstance(action, (A.SetAction, A.AddAction)) or len(action.path.elements) != 1:
                continue
            value = action.value
            if isinstance(value, A.ValueRef):
                av = self.values.get(value.name)
                if not av:
                    continue
                kind = next(iter(av))
            elif isinstance(value, A.Arith):
                kind = "N"
            elif isinstance(value, A.FuncCall) and value.name == "list_append":
                kind = "L"
            else:
                continue
            name = action.path.elements[0]
            if isinstance(name, str):
                types[self.names.get(name, name) if name.startswith("#") else name] = kind
        return types

    def _path_heads(self, kind: str, text: str, nested: bool) -> set[str]:
        from dynamodbforge.expressions import ast as A

        heads: set[str] = set()

        def walk(node: object) -> None:
            if isinstance(node, A.PathExpr):
                first = node.elements[0]
                if isinstance(first, str) and (not nested or len(node.elements) > 1):
                    heads.add(self.names.get(first, first) if first.startswith("#") else first)
            elif isinstance(node, tuple):
                for element in node:
                    walk(element)
            elif not isinstance(node, (str, int, A.ValueRef)) and hasattr(node, "__slots__"):
                for field in node.__slots__:  # every AST node is a slotted dataclass
                    walk(getattr(node, field))

        walk(Pa.parse(kind, text).tree)
        return heads

    # --- after all expressions ---------------------------------------------------
    def check_unused(self) -> None:
        """AWS's errors for names/values no expression used (names are checked first)."""
        unused = [k for k in self.names if k not in self._used_names]
        if unused:
            raise errors.validation(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: {" + ", ".join(unused) + "}"
            )
        unused = [k for k in self.values if k not in self._used_values]
        if unused:
            raise errors.validation(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {" + ", ".join(unused) + "}"
            )
