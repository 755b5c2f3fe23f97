"""KeyConditionExpression rules on top of the (already resolved and checked) condition AST."""
from __future__ import annotations

from typing import Any

from dynamodbforge import errors
from dynamodbforge.expressions import ast as A
from dynamodbforge.expressions.compiled import KeyCondition

AV = dict[str, Any]

_FLIP = {"=": "=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_NOT_ALLOWED_FUNCTIONS = ("attribute_exists", "attribute_not_exists", "attribute_type", "contains")


def _invalid(message: str) -> errors.DynamoDBError:
    return errors.validation(message)


def _collect(node: A.Condition, names: dict, values: dict, conds: dict[str, tuple[str, list[AV]]]) -> None:
    if isinstance(node, A.And):
        _collect(node.left, names, values, conds)
        _collect(node.right, names, values, conds)
        return
    if isinstance(node, A.Or):
        raise _invalid("Invalid operator used in KeyConditionExpression: OR")
    if isinstance(node, A.Not):
        raise _invalid("Invalid operator used in KeyConditionExpression: NOT")
    if isinstance(node, A.In):
        raise _invalid("Invalid operator used in KeyConditionExpression: IN")
    if isinstance(node, A.Compare):
        if node.op == "<>":
            raise _invalid("Invalid operator used in KeyConditionExpression: <>")
        op, operands = node.op, [node.left, node.right]
    elif isinstance(node, A.Between):
        op, operands = "BETWEEN", [node.operand, node.low, node.high]
    else:
        assert isinstance(node, A.FuncCond)
        if node.call.name in _NOT_ALLOWED_FUNCTIONS:
            raise _invalid(f"Invalid operator used in KeyConditionExpression: {node.call.name}")
        op, operands = "begins_with", list(node.call.args)
    if any(isinstance(o, A.FuncCall) for o in operands):
        raise _invalid("KeyConditionExpressions cannot contain nested operations")
    if op in ("BETWEEN", "begins_with") and not isinstance(operands[0], A.PathExpr):
        raise _invalid(
            f"Invalid condition in KeyConditionExpression: {op} operator must have the key attribute as its "
            "first operand"
        )
    attr: str | None = None
    position = 0
    for i, operand in enumerate(operands):
        if isinstance(operand, A.PathExpr):
            if attr is not None:
                raise _invalid("Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition")
            if len(operand.elements) > 1:
                raise _invalid("KeyConditionExpressions cannot have conditions on nested attributes")
            element = operand.elements[0]
            attr = names[element] if element[0] == "#" else element  # type: ignore[index]
            position = i
    if attr is None:
        raise _invalid("Invalid condition in KeyConditionExpression: No key attribute specified")
    if attr in conds:
        raise _invalid("Invalid KeyConditionExpression: KeyConditionExpressions must only contain one condition per key")
    if position != 0:
        op = _FLIP[op]
    conds[attr] = (op, [values[o.name] for o in operands if isinstance(o, A.ValueRef)])


def collect_key_conditions(tree: A.Condition, names: dict, values: dict) -> dict[str, tuple[str, list[AV]]]:
    """Each attribute's (operator, values) in a key condition; raises the errors that need no
    key schema."""
    conds: dict[str, tuple[str, list[AV]]] = {}
    _collect(tree, names, values, conds)
    return conds


def build_key_condition(
    tree: A.Condition,
    names: dict,
    values: dict,
    hash_key: str,
    range_key: str | None,
    key_types: dict[str, str] | None,
    conds: dict[str, tuple[str, list[AV]]] | None = None,
) -> KeyCondition:
    """Validate a resolved key condition against the key schema, AWS's checks in AWS's order
    (``conds``: collect_key_conditions' answer, when the caller has it already)."""
    if conds is None:
        conds = collect_key_conditions(tree, names, values)
    if len(conds) > 2:
        raise _invalid(
            f"The number of query conditions ({len(conds)}) exceeds the number of key attributes defined in the "
            f"schema ({1 if range_key is None else 2})"
        )
    if range_key is None and len(conds) > 1:
        raise _invalid("Query key condition not supported")
    for key, is_hash in ((hash_key, True), (range_key, False)):
        if key is None:
            continue
        if key not in conds:
            if is_hash or len(conds) > 1:
                raise _invalid(f"Query condition missed key schema element: {key}")
            continue
        op, operand_values = conds[key]
        expected = (key_types or {}).get(key)
        if expected is not None and any(expected not in v for v in operand_values):
            raise _invalid(
                "One or more parameter values were invalid: Condition parameter type does not match schema type"
            )
        if is_hash and op != "=":
            raise _invalid("Query key condition not supported")
    hash_op, hash_values = conds[hash_key]
    if range_key is not None and range_key in conds:
        range_op, range_values = conds[range_key]
        return KeyCondition(hash_key, hash_values[0], range_key, range_op, tuple(range_values))
    return KeyCondition(hash_key, hash_values[0])
