"""Lambda event-filter patterns (an event source mapping's FilterCriteria).

A record is delivered when any pattern matches it.  A pattern is a JSON object whose
keys mirror the record's; a leaf is a list of matchers, one of which must match the
record's value (or one element of it when the value is a list).  Matchers: a literal
(string, number, null), ``{"prefix": s}``, ``{"suffix": s}``, ``{"equals-ignore-case": s}``,
``{"anything-but": v | [v...] | {"prefix": s}}``, ``{"numeric": [op, n, (op, n)]}`` and
``{"exists": bool}``.  DynamoDB numbers are strings on the wire (``{"N": "5"}``); numeric
matchers compare them as numbers.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

_MISSING = object()


class FilterError(ValueError):
    pass


def compile_filters(criteria: Any) -> list[dict[str, Any]]:
    """The patterns of a FilterCriteria ({"Filters": [{"Pattern": "<json>"}]}); FilterError if invalid."""
    if criteria is None:
        return []
    if not isinstance(criteria, dict) or not isinstance(criteria.get("Filters", []), list):
        raise FilterError("FilterCriteria must be an object with a list of Filters")
    patterns = []
    for entry in criteria.get("Filters", []):
        text = entry.get("Pattern") if isinstance(entry, dict) else None
        if not isinstance(text, str):
            raise FilterError("Each filter needs a Pattern string")
        try:
            pattern = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise FilterError(f"Invalid filter pattern definition: {text}") from None
        if not isinstance(pattern, dict):
            raise FilterError(f"Invalid filter pattern definition: {text}")
        _check(pattern, text)
        patterns.append(pattern)
    return patterns


def _check(pattern: dict[str, Any], text: str) -> None:
    for value in pattern.values():
        if isinstance(value, dict):
            _check(value, text)
        elif not isinstance(value, list):
            raise FilterError(f"Invalid filter pattern definition: {text}")


def matches_any(patterns: list[dict[str, Any]], record: dict[str, Any]) -> bool:
    return not patterns or any(_match(p, record) for p in patterns)


def _match(pattern: dict[str, Any], value: Any) -> bool:
    for key, sub in pattern.items():
        field = value.get(key, _MISSING) if isinstance(value, dict) else _MISSING
        if isinstance(sub, dict):
            if field is _MISSING or not _match(sub, field):
                return False
        elif not any(_leaf(m, field) for m in sub):
            return False
    return True


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            return None
    return None


def _leaf(matcher: Any, field: Any) -> bool:
    if isinstance(matcher, dict) and len(matcher) == 1 and "exists" in matcher:
        return (field is not _MISSING) == bool(matcher["exists"])
    if field is _MISSING:
        return False
    if isinstance(field, list):
        return any(_leaf(matcher, element) for element in field)
    if not isinstance(matcher, dict):
        if isinstance(matcher, (int, float)) and not isinstance(matcher, bool):
            number = _number(field)
            return number is not None and number == _number(matcher)
        return matcher == field
    ((op, arg),) = matcher.items() if len(matcher) == 1 else ((None, None),)
    if op == "prefix":
        return isinstance(field, str) and field.startswith(arg)
    if op == "suffix":
        return isinstance(field, str) and field.endswith(arg)
    if op == "equals-ignore-case":
        return isinstance(field, str) and isinstance(arg, str) and field.lower() == arg.lower()
    if op == "anything-but":
        if isinstance(arg, dict):
            return not _leaf(arg, field)
        values = arg if isinstance(arg, list) else [arg]
        return not any(_leaf(v, field) for v in values)
    if op == "numeric":
        number = _number(field)
        if number is None or not isinstance(arg, list):
            return False
        for i in range(0, len(arg) - 1, 2):
            bound = _number(arg[i + 1])
            if bound is None:
                return False
            comparison = arg[i]
            ok = {
                "=": number == bound, "<": number < bound, "<=": number <= bound,
                ">": number > bound, ">=": number >= bound,
            }.get(comparison)
            if not ok:
                return False
        return True
    return False
