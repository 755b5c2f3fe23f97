"""Which IAM checks a DynamoDB request needs, and running them.

``checks_for(operation, request, ...)`` turns a validated request into the list of
``Check(action, resource_arn, context)`` IAM would evaluate, as DynamoDB does:

* item operations: the table (or ``table/T/index/I``) ARN, with ``dynamodb:LeadingKeys``
  (partition key values), ``dynamodb:Attributes`` (top-level attribute names the request
  reads or writes), ``dynamodb:Select``, ``dynamodb:ReturnValues`` and
  ``dynamodb:ReturnConsumedCapacity``;
* BatchGetItem / BatchWriteItem: one ``dynamodb:BatchGetItem`` / ``dynamodb:BatchWriteItem``
  check per requested item, against that item's table;
* TransactWriteItems / TransactGetItems: each entry checked as its own action
  (``dynamodb:PutItem``, ``UpdateItem``, ``DeleteItem``, ``ConditionCheckItem``, ``GetItem``);
* ListTables and other account-wide operations: resource ``*``; streams, backups,
  exports and tagging: the ARN named in the request.

``Authorizer.authorize(caller, operation, request)`` evaluates every check with the
caller's policies and raises ``AccessDeniedException`` for the first refusal.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from dynamodbforge.auth import errors as E
from dynamodbforge.auth.policy import ALLOW, DENY, evaluate
from dynamodbforge.auth.principals import ACCOUNT_ID, Principal


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated request's identity and the connection facts IAM conditions use."""

    principal: Principal
    source_ip: str | None = None
    secure_transport: bool = False


@dataclass(frozen=True, slots=True)
class Check:
    action: str
    resource: str
    context: dict[str, Any]


# TableName -> (partition key name, {index name: partition key name}) or None if unknown
KeyLookup = Callable[[str], "tuple[str | None, dict[str, str]] | None"]

_ACCOUNT_WIDE = frozenset({
    "ListTables", "DescribeEndpoints", "DescribeLimits", "ListBackups", "ListGlobalTables", "ListStreams",
    "ListExports", "ListImports", "ListContributorInsights", "DescribeReservedCapacity",
    "DescribeReservedCapacityOfferings", "PurchaseReservedCapacityOfferings",
})
_ARN_PARAMS = ("StreamArn", "BackupArn", "ResourceArn", "ExportArn", "ImportArn", "TableArn")


# --- expression scanning (names only; the operation itself parses and validates) ----------

_TOKEN = re.compile(r"\s*(#[A-Za-z0-9_]+|:[A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_]*|\d+|<>|<=|>=|[=<>(),.\[\]+-])")
_CLAUSES = {"SET", "REMOVE", "ADD", "DELETE"}


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            if text[pos:].strip() == "":
                break
            pos += 1  # skip anything unexpected; the operation reports real syntax errors
            continue
        out.append(match.group(1))
        pos = match.end()
    return out


def _resolve(token: str, names: dict[str, str] | None) -> str | None:
    if token.startswith("#"):
        return (names or {}).get(token)
    if token.startswith(":") or token in "()[],.=<>+-" or token.isdigit():
        return None
    return token


def _split_top(tokens: list[str]) -> list[list[str]]:
    parts: list[list[str]] = [[]]
    depth = 0
    for tok in tokens:
        if tok in "([":
            depth += 1
        elif tok in ")]":
            depth -= 1
        if tok == "," and depth == 0:
            parts.append([])
        else:
            parts[-1].append(tok)
    return [p for p in parts if p]


def projection_names(text: str, names: dict[str, str] | None) -> list[str]:
    """Top-level attribute names of a ProjectionExpression."""
    out = []
    for part in _split_top(_tokens(text)):
        name = _resolve(part[0], names)
        if name is not None and name not in out:
            out.append(name)
    return out


def update_target_names(text: str, names: dict[str, str] | None) -> list[str]:
    """Top-level attribute names an UpdateExpression writes (SET/REMOVE/ADD/DELETE targets)."""
    out: list[str] = []
    clause: list[str] = []
    clauses: list[list[str]] = []
    for tok in _tokens(text):
        if tok.upper() in _CLAUSES and not tok.startswith(("#", ":")):
            if clause:
                clauses.append(clause)
            clause = []
            continue
        clause.append(tok)
    if clause:
        clauses.append(clause)
    for body in clauses:
        for action in _split_top(body):
            name = _resolve(action[0], names)
            if name is not None and name not in out:
                out.append(name)
    return out


def _key_condition_value(text: str, values: dict[str, Any] | None, names: dict[str, str] | None,
                         hash_key: str) -> Any:
    tokens = _tokens(text)
    for i, tok in enumerate(tokens):
        if tok != "=" or i == 0 or i + 1 >= len(tokens):
            continue
        left, right = tokens[i - 1], tokens[i + 1]
        if _resolve(left, names) == hash_key and right.startswith(":"):
            return (values or {}).get(right)
        if left.startswith(":") and _resolve(right, names) == hash_key:
            return (values or {}).get(left)
    return None


def scalar_text(value: Any) -> str | None:
    """An AttributeValue as IAM sees it in dynamodb:LeadingKeys (S, N or B text)."""
    if isinstance(value, dict) and len(value) == 1:
        (kind, inner), = value.items()
        if kind in ("S", "N", "B") and isinstance(inner, str):
            return inner
    return None


# --- per-operation checks ---------------------------------------------------------

class _Builder:
    def __init__(self, region: str, keys: KeyLookup) -> None:
        self.region = region
        self.keys = keys
        self.checks: list[Check] = []

    def table_arn(self, table: str, index: str | None = None) -> str:
        arn = f"arn:aws:dynamodb:{self.region}:{ACCOUNT_ID}:table/{table}"
        return f"{arn}/index/{index}" if index else arn

    def hash_key(self, table: str, index: str | None = None) -> str | None:
        info = self.keys(table)
        if info is None:
            return None
        return info[1].get(index) if index else info[0]

    def leading_key(self, table: str, key: Any) -> list[str] | None:
        if not isinstance(key, dict):
            return None
        name = self.hash_key(table)
        if name is None:
            # Unknown table: a one-attribute key can only be the partition key.
            if len(key) != 1:
                return None
            name = next(iter(key))
        text = scalar_text(key.get(name))
        return [text] if text is not None else None

    def add(self, action: str, resource: str, context: dict[str, Any]) -> None:
        self.checks.append(Check("dynamodb:" + action, resource, {k: v for k, v in context.items() if v is not None}))


def _common(req: dict[str, Any]) -> dict[str, Any]:
    return {"dynamodb:returnconsumedcapacity": req.get("ReturnConsumedCapacity")}


def _read_attributes(spec: dict[str, Any]) -> tuple[list[str] | None, str]:
    names = spec.get("ExpressionAttributeNames")
    if "ProjectionExpression" in spec:
        return projection_names(spec["ProjectionExpression"], names), spec.get("Select", "SPECIFIC_ATTRIBUTES")
    if "AttributesToGet" in spec:
        return list(spec["AttributesToGet"]), spec.get("Select", "SPECIFIC_ATTRIBUTES")
    return None, spec.get("Select", "ALL_ATTRIBUTES")


def _get(b: _Builder, action: str, table: str, spec: dict[str, Any], key: Any, extra: dict[str, Any]) -> None:
    attrs, select = _read_attributes(spec)
    b.add(action, b.table_arn(table), {
        **extra, "dynamodb:leadingkeys": b.leading_key(table, key), "dynamodb:attributes": attrs,
        "dynamodb:select": select,
    })


def _write_context(b: _Builder, kind: str, table: str, spec: dict[str, Any]) -> dict[str, Any]:
    """LeadingKeys and Attributes of a Put / Update / Delete / ConditionCheck."""
    names = spec.get("ExpressionAttributeNames")
    if kind == "Put":
        item = spec.get("Item") or {}
        return {"dynamodb:leadingkeys": b.leading_key(table, item), "dynamodb:attributes": list(item)}
    key = spec.get("Key") or {}
    attrs = list(key) if isinstance(key, dict) else []
    if kind == "Update":
        if "UpdateExpression" in spec:
            targets = update_target_names(spec["UpdateExpression"], names)
        else:
            targets = list(spec.get("AttributeUpdates") or {})
        attrs += [a for a in targets if a not in attrs]
    return {"dynamodb:leadingkeys": b.leading_key(table, key), "dynamodb:attributes": attrs}


def checks_for(operation: str, req: dict[str, Any], region: str, keys: KeyLookup) -> list[Check]:
    b = _Builder(region, keys)
    common = _common(req)
    if operation in ("GetItem",):
        _get(b, "GetItem", req["TableName"], req, req.get("Key"), common)
    elif operation in ("PutItem", "UpdateItem", "DeleteItem"):
        kind = operation[: -len("Item")]
        ctx = _write_context(b, kind, req["TableName"], req)
        ctx.update(common, **{"dynamodb:returnvalues": req.get("ReturnValues")})
        b.add(operation, b.table_arn(req["TableName"]), ctx)
    elif operation in ("Query", "Scan"):
        table, index = req["TableName"], req.get("IndexName")
        attrs, select = _read_attributes(req)
        leading = None
        if operation == "Query":
            hash_key = b.hash_key(table, index)
            value = None
            if hash_key is not None and "KeyConditionExpression" in req:
                value = _key_condition_value(req["KeyConditionExpression"], req.get("ExpressionAttributeValues"),
                                             req.get("ExpressionAttributeNames"), hash_key)
            elif hash_key is not None and "KeyConditions" in req:
                cond = (req["KeyConditions"] or {}).get(hash_key) or {}
                value = (cond.get("AttributeValueList") or [None])[0]
            text = scalar_text(value)
            leading = [text] if text is not None else None
        b.add(operation, b.table_arn(table, index), {
            **common, "dynamodb:leadingkeys": leading, "dynamodb:attributes": attrs, "dynamodb:select": select,
        })
    elif operation == "BatchGetItem":
        for table, spec in (req.get("RequestItems") or {}).items():
            for key in spec.get("Keys") or [{}]:
                _get(b, "BatchGetItem", table, spec, key, common)
    elif operation == "BatchWriteItem":
        for table, entries in (req.get("RequestItems") or {}).items():
            for entry in entries or []:
                if "PutRequest" in entry:
                    ctx = _write_context(b, "Put", table, entry["PutRequest"])
                else:
                    ctx = _write_context(b, "Delete", table, entry.get("DeleteRequest") or {})
                b.add("BatchWriteItem", b.table_arn(table), {**common, **ctx})
    elif operation == "TransactWriteItems":
        actions = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                   "ConditionCheck": "ConditionCheckItem"}
        for entry in req.get("TransactItems") or []:
            for kind, action in actions.items():
                if kind in entry:
                    spec = entry[kind]
                    ctx = _write_context(b, kind, spec["TableName"], spec)
                    ctx["dynamodb:returnconsumedcapacity"] = req.get("ReturnConsumedCapacity")
                    b.add(action, b.table_arn(spec["TableName"]), ctx)
    elif operation == "TransactGetItems":
        for entry in req.get("TransactItems") or []:
            spec = entry.get("Get") or {}
            _get(b, "GetItem", spec["TableName"], spec, spec.get("Key"), common)
    elif operation in _ACCOUNT_WIDE:
        b.add(operation, "*", common)
    else:
        resource = next((req[p] for p in _ARN_PARAMS if isinstance(req.get(p), str)), None)
        if resource is None and isinstance(req.get("TableName"), str):
            resource = b.table_arn(req["TableName"])
        elif resource is None and isinstance(req.get("TargetTableName"), str):  # restores
            resource = b.table_arn(req["TargetTableName"])
        b.add(operation, resource or "*", common)
    return b.checks


# --- evaluation -----------------------------------------------------------------------

def request_context(caller: Caller, region: str, now: float) -> dict[str, Any]:
    p = caller.principal
    moment = datetime.fromtimestamp(now, timezone.utc)
    ctx: dict[str, Any] = {
        "aws:username": p.name,
        "aws:userid": p.user_id,
        "aws:principalarn": p.arn,
        "aws:principalaccount": ACCOUNT_ID,
        "aws:principaltype": "User",
        "aws:currenttime": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:epochtime": str(int(now)),
        "aws:securetransport": "true" if caller.secure_transport else "false",
        "aws:requestedregion": region,
        "aws:sourceip": caller.source_ip,
    }
    for key, value in p.tags.items():
        ctx["aws:principaltag/" + key.lower()] = value
    return {k: v for k, v in ctx.items() if v is not None}


def denial_message(principal: Principal, action: str, resource: str, decision: str) -> str:
    head = f"User: {principal.arn} is not authorized to perform: {action} on resource: {resource}"
    if decision == DENY:
        return head + " with an explicit deny in an identity-based policy"
    return head + f" because no identity-based policy allows the {action} action"


class Authorizer:
    """Called by Service after request validation, before the operation runs."""

    def __init__(self, region: str, keys: KeyLookup, clock: Callable[[], float] = time.time) -> None:
        self.region = region
        self.keys = keys
        self.clock = clock

    @classmethod
    def for_database(cls, db: Any) -> "Authorizer":
        def keys(table: str) -> tuple[str | None, dict[str, str]] | None:
            info = db.catalog.find(table)
            if info is None:
                return None
            return info.hash_key.name, _index_hash_keys(info.description)

        return cls(db.region, keys, db.clock)

    def authorize(self, caller: Caller, operation: str, request: dict[str, Any]) -> None:
        base = request_context(caller, self.region, self.clock())
        policies = caller.principal.policies
        seen: set[tuple[str, str, tuple]] = set()
        for check in checks_for(operation, request, self.region, self.keys):
            marker = (check.action, check.resource, _freeze(check.context))
            if marker in seen:
                continue
            seen.add(marker)
            decision = evaluate(policies, check.action, check.resource, {**base, **check.context})
            if decision != ALLOW:
                raise E.access_denied(denial_message(caller.principal, check.action, check.resource, decision))


def _freeze(context: dict[str, Any]) -> tuple:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in context.items()))


def _index_hash_keys(description: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    indexes: Iterable[Any] = (description.get("GlobalSecondaryIndexes") or []) + (
        description.get("LocalSecondaryIndexes") or [])
    for index in indexes:
        for element in index.get("KeySchema") or []:
            if element.get("KeyType") == "HASH":
                out[index["IndexName"]] = element["AttributeName"]
    return out
