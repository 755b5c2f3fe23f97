"""The legacy (pre-expression) parameters, compiled into the expression objects.

Expected, QueryFilter, ScanFilter (+ ConditionalOperator), KeyConditions,
AttributesToGet and AttributeUpdates become the same ``Condition`` / ``KeyCondition``
/ ``Projection`` / ``Update`` objects the expression language produces, built from
the same closures (``evaluate.py``) over the same value semantics
(``comparisons.py``): there is no second evaluator.

Request-only shape rules (argument counts, value types) are checked earlier, in
``protocol/validate.py``; what needs the table's key schema is checked here.
"""
from __future__ import annotations

from typing import Any

from dynamodbforge import errors
from dynamodbforge.expressions import comparisons as C
from dynamodbforge.expressions import evaluate as E
from dynamodbforge.expressions import update as U
from dynamodbforge.expressions.compiled import Condition, KeyCondition, Projection, Update
from dynamodbforge.protocol import numbers

AV = dict[str, Any]
Item = dict[str, AV]

_ORDERED = {"LT": "<", "LE": "<=", "GT": ">", "GE": ">="}
_KEY_OPS = {"EQ": "=", "LT": "<", "LE": "<=", "GT": ">", "GE": ">=", "BETWEEN": "BETWEEN",
            "BEGINS_WITH": "begins_with"}
_NOT_INDEXABLE = frozenset(("NULL", "NOT_NULL", "NE", "CONTAINS", "NOT_CONTAINS", "IN"))
TYPE_MISMATCH = "Type mismatch for attribute to update"


# --- conditions -----------------------------------------------------------------

def comparison(name: str, op: str, values: list[AV]) -> E.Predicate:
    """One legacy ``ComparisonOperator`` on top-level attribute ``name``, as a predicate."""
    f = E.path_fn((name,))
    consts = [E.const_fn(v) for v in values]
    if op == "EQ":
        return E.compare_fn("=", f, consts[0])
    if op == "NE":
        return E.compare_fn("<>", f, consts[0])
    if op in _ORDERED:
        return E.compare_fn(_ORDERED[op], f, consts[0])
    if op == "NULL":
        return E.exists_fn(f, False)
    if op == "NOT_NULL":
        return E.exists_fn(f, True)
    if op == "CONTAINS":
        return E.binary_fn(C.contains, f, consts[0])
    if op == "NOT_CONTAINS":
        # Unlike ``NOT contains(a, :v)``, NOT_CONTAINS is false when the attribute is absent.
        return E.and_fn(E.exists_fn(f, True), E.not_fn(E.binary_fn(C.contains, f, consts[0])))
    if op == "BEGINS_WITH":
        return E.binary_fn(C.begins_with, f, consts[0])
    if op == "IN":
        return E.in_fn(f, consts)
    if op == "BETWEEN":
        return E.between_fn(f, consts[0], consts[1])
    raise errors.validation(f"Unsupported comparison operator {op}")  # unreachable after validation


def _combine(predicates: list[E.Predicate], conditional_operator: str | None) -> E.Predicate:
    join = E.or_fn if conditional_operator == "OR" else E.and_fn
    out = predicates[0]
    for p in predicates[1:]:
        out = join(out, p)
    return out


def _values(cond: dict[str, Any]) -> list[AV]:
    if "AttributeValueList" in cond:
        return list(cond["AttributeValueList"])
    return [cond["Value"]] if "Value" in cond else []


def expected(expected_map: dict[str, Any], conditional_operator: str | None = None) -> Condition | None:
    """The legacy ``Expected`` map (``Exists``/``Value`` or ``ComparisonOperator``)."""
    predicates = []
    for name, cond in expected_map.items():
        cond = cond or {}
        op = cond.get("ComparisonOperator")
        if op is None:
            if cond.get("Exists") is False:
                op = "NULL"
            else:
                op = "EQ"  # Exists true/absent with a Value: the attribute must equal it
        predicates.append(comparison(name, op, _values(cond)))
    if not predicates:
        return None
    return Condition(_combine(predicates, conditional_operator), "")


def filter_conditions(conds: dict[str, Any], conditional_operator: str | None = None) -> Condition | None:
    """QueryFilter / ScanFilter."""
    predicates = [
        comparison(name, cond["ComparisonOperator"], list(cond.get("AttributeValueList") or ()))
        for name, cond in conds.items()
    ]
    if not predicates:
        return None
    return Condition(_combine(predicates, conditional_operator), "")


def key_conditions(
    conds: dict[str, Any], hash_key: str, range_key: str | None, key_types: dict[str, str]
) -> KeyCondition:
    """Legacy KeyConditions validated against the key schema, AWS's checks in AWS's order."""
    for key, is_hash in ((hash_key, True), (range_key, False)):
        if key is None:
            continue
        if is_hash and range_key is None and len(conds) > 1:
            raise errors.validation("Query key condition not supported")
        cond = conds.get(key)
        if cond is None:
            if is_hash or len(conds) > 1:
                raise errors.validation(f"Query condition missed key schema element: {key}")
            continue
        op = cond["ComparisonOperator"]
        if op in _NOT_INDEXABLE:
            raise errors.validation("Attempted conditional constraint is not an indexable operation")
        expected_type = key_types[key]
        if any(expected_type not in v for v in cond.get("AttributeValueList") or ()):
            raise errors.validation(
                "One or more parameter values were invalid: Condition parameter type does not match schema type"
            )
        if is_hash and op != "EQ":
            raise errors.validation("Query key condition not supported")
    hash_value = conds[hash_key]["AttributeValueList"][0]
    if range_key is not None and range_key in conds:
        cond = conds[range_key]
        return KeyCondition(hash_key, hash_value, range_key, _KEY_OPS[cond["ComparisonOperator"]],
                            tuple(cond["AttributeValueList"]))
    return KeyCondition(hash_key, hash_value)


# --- AttributesToGet ------------------------------------------------------------

def attributes_to_get(names: list[str]) -> Projection:
    return Projection(tuple((name,) for name in names))


# --- AttributeUpdates -------------------------------------------------------------

class _LegacyAction(U.CompiledAction):
    """PUT / ADD / DELETE of a top-level attribute with the legacy API's semantics.

    ADD also appends to lists (the expression ADD does not), and type mismatches
    report the legacy message.
    """

    __slots__ = ()

    def compute(self, item: Item) -> tuple[int, AV | None]:
        if self.kind == "SET" or self.kind == "REMOVE":
            return U.CompiledAction.compute(self, item)
        operand = self.operand
        assert operand is not None
        t = C.av_type(operand)
        current = item.get(self.path[0])
        if current is not None and C.av_type(current) != t:
            raise errors.validation(TYPE_MISMATCH)
        if self.kind == "ADD":
            if current is None:
                return U.SET, operand
            if t == "N":
                return U.SET, {"N": numbers.add(current["N"], operand["N"])}
            if t == "L":
                return U.SET, {"L": current["L"] + operand["L"]}
            return U.SET, U.add_value(current, operand)
        if current is None:
            return U.NOOP, None
        return U.delete_value(current, operand)


def attribute_updates(updates: dict[str, Any]) -> Update | None:
    actions: list[U.CompiledAction] = []
    for name, spec in updates.items():
        spec = spec or {}
        action = spec.get("Action", "PUT")
        value = spec.get("Value")
        if action == "PUT":
            actions.append(_LegacyAction("SET", (name,), value=E.const_fn(value)))  # type: ignore[arg-type]
        elif action == "DELETE" and value is None:
            actions.append(_LegacyAction("REMOVE", (name,)))
        else:
            actions.append(_LegacyAction(action, (name,), operand=value))
    return Update(actions) if actions else None
