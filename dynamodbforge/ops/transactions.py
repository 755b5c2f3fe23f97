"""TransactWriteItems and TransactGetItems: all-or-nothing, serializable.

A write transaction is the single-item ``WriteAction``s of its members run inside
one write batch: every condition is checked against the same state, then every
write is applied, each with a change record carrying the transaction's id, and
the batch commits atomically.  Writers are serialized by the engine, so the
transaction is serializable with respect to every other write.  Reads use one
snapshot.  ClientRequestToken answers are kept in the engine for 10 minutes.
"""
from __future__ import annotations

import hashlib
import uuid
from typing import Any

import orjson

from dynamodbforge import capacity as cap  # capacity
from dynamodbforge import errors, indexes
from dynamodbforge.database import Database
from dynamodbforge.expressions import ExpressionContext
from dynamodbforge.ops import items
from dynamodbforge.protocol import attributes
from dynamodbforge.ttl import state as ttl_state  # --ttl-hide-expired

MAX_ACTIONS = 100  # "Member must have length less than or equal to 100"
MAX_REQUEST_BYTES = 4 * 1024 * 1024  # transactions carry at most 4 MB of items
IDEMPOTENCY_SECONDS = 600  # ClientRequestToken is valid for 10 minutes
TOKEN_PREFIX = b"\x00X"

_PREPARE = {
    "Put": items.prepare_put,
    "Update": items.prepare_update,
    "Delete": items.prepare_delete,
    "ConditionCheck": items.prepare_condition_check,
}


def _cancelled(reasons: list[dict[str, Any]]) -> errors.DynamoDBError:
    codes = ", ".join(r["Code"] for r in reasons)
    return errors.DynamoDBError(
        "TransactionCanceledException",
        f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
        extra={"CancellationReasons": reasons},
        message_key="Message",
    )


def _item_cancelled(count: int, i: int, exc: errors.DynamoDBError) -> errors.DynamoDBError:
    """An item's own error (a key of the wrong type, too big an item) cancels the transaction
    with its reason at its place; the actions after it are not looked at (DynamoDB, per
    ScyllaDB Alternator's test_transact_write_cancellation_reasons_validationerror)."""
    reasons: list[dict[str, Any]] = [{"Code": "None"} for _ in range(count)]
    reasons[i] = {"Code": "ValidationError", "Message": exc.message or ""}
    return _cancelled(reasons)


def _request_digest(req: dict[str, Any]) -> str:
    material = {k: v for k, v in req.items() if k != "ClientRequestToken"}
    return hashlib.sha256(orjson.dumps(material, option=orjson.OPT_SORT_KEYS)).hexdigest()


def transact_write_items(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    entries = req["TransactItems"]
    actions: list[items.WriteAction] = []
    for i, entry in enumerate(entries):
        kinds = [k for k in _PREPARE if k in entry]
        if len(kinds) != 1:
            raise errors.validation(
                "TransactItems can only contain one of Check, Put, Update or Delete"
            )
        try:
            actions.append(_PREPARE[kinds[0]](db, entry[kinds[0]]))
        except errors.DynamoDBError as exc:
            if not errors.is_item_level(exc):
                raise
            raise _item_cancelled(len(entries), i, exc) from None
    seen: set[bytes] = set()
    total = 0
    for action in actions:
        skey = items.storage_key(action.info, action.key)
        if skey in seen:
            raise errors.validation("Transaction request cannot include multiple operations on one item")
        seen.add(skey)
        total += action.new_size
    if total > MAX_REQUEST_BYTES:
        raise errors.validation("Transaction request cannot be larger than 4 MB")

    token = req.get("ClientRequestToken")
    digest = _request_digest(req) if token else ""
    txid = str(uuid.uuid4())
    usages: dict[str, cap.Usage] = {}
    with db.engine.write() as batch:
        if token:
            previous = batch.get(TOKEN_PREFIX + token.encode())
            if previous is not None:
                record = orjson.loads(previous)
                if db.clock() - record["ts"] < IDEMPOTENCY_SECONDS:
                    if record["digest"] != digest:
                        raise errors.DynamoDBError(
                            "IdempotentParameterMismatchException",
                            "The request uses the same client token as a previous, but non-identical request.",
                        )
                    return _replayed(req, record["response"], actions, batch)
        olds = []
        reasons: list[dict[str, Any]] = []
        failed = False
        for action in actions:
            raw = batch.get(items.storage_key(action.info, action.key))
            old = orjson.loads(raw) if raw is not None else None
            olds.append(old)
            if action.condition_holds(old):
                reasons.append({"Code": "None"})
                continue
            failed = True
            reason: dict[str, Any] = {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}
            if action.return_old_on_failure and old is not None:
                reason["Item"] = old
            reasons.append(reason)
        if failed:
            raise _cancelled(reasons)
        news = []
        for i, (action, old) in enumerate(zip(actions, olds)):
            try:
                news.append(action.compute(old))
            except errors.DynamoDBError as exc:
                if errors.is_request_level(exc):  # an empty index key value
                    raise
                reasons = [{"Code": "None"} for _ in actions]
                reasons[i] = {"Code": "ValidationError", "Message": exc.message or ""}
                raise _cancelled(reasons) from None
        for action, old, new in zip(actions, olds, news):
            if action.kind != "ConditionCheck":
                items.write_in_batch(db, batch, action.info, action.key, lambda _o, _n=new: _n, transaction_id=txid)
            units = cap.TRANSACTION_FACTOR * action.units(old, new)  # transactional writes cost twice
            usage = usages.get(action.info.name) or usages.setdefault(
                action.info.name, cap.Usage(action.info, cap.WRITE, transactional=True))
            usage.add(units, action.key)
            indexes.charge_writes(usage, action.info, old, new, cap.TRANSACTION_FACTOR)
        response: dict[str, Any] = {}
        collections = indexes.item_collection_metrics_by_table(
            db, req, [(a.info, a.key) for a in actions if a.kind != "ConditionCheck"])
        if collections is not None:
            response["ItemCollectionMetrics"] = collections
        consumed = cap.report_many(req, list(usages.values()))
        if consumed is not None:
            response["ConsumedCapacity"] = consumed
        if token:
            batch.put(
                TOKEN_PREFIX + token.encode(),
                orjson.dumps({"ts": db.clock(), "digest": digest, "response": response}),
            )
    return response


def _replayed(req: dict[str, Any], response: dict[str, Any], actions: list[items.WriteAction],
              batch: Any) -> dict[str, Any]:
    """The answer to a same-token replay: the first call's, except that what it consumed is a
    transactional read of each item as it is now (DynamoDB reports read capacity on a replay,
    recomputed against the item size: Ketlark's conformance capture, eu-west-2)."""
    out = {k: v for k, v in response.items() if k != "ConsumedCapacity"}
    usages: dict[str, cap.Usage] = {}
    for action in actions:
        raw = batch.get(items.storage_key(action.info, action.key))
        size = attributes.item_size(orjson.loads(raw)) if raw is not None else 0
        usage = usages.get(action.info.name) or usages.setdefault(
            action.info.name, cap.Usage(action.info, cap.READ, transactional=True))
        usage.add(cap.TRANSACTION_FACTOR * cap.read_units(size, True), action.key)
    consumed = cap.report_many(req, list(usages.values()))
    if consumed is not None:
        out["ConsumedCapacity"] = consumed
    return out


def transact_get_items(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    plans = []
    for entry in req["TransactItems"]:
        spec = entry["Get"]
        ctx = ExpressionContext(spec.get("ExpressionAttributeNames"), None)
        proj = ctx.projection(spec["ProjectionExpression"]) if "ProjectionExpression" in spec else None
        ctx.check_unused()
        plans.append((spec, proj))
    responses: list[dict[str, Any]] = []
    usages: dict[str, cap.Usage] = {}
    with db.engine.read() as reader:
        seen: set[bytes] = set()
        keyed = []
        for i, (spec, proj) in enumerate(plans):
            info = db.catalog.get(spec["TableName"], reader)
            try:
                items.check_key(attributes.validate_key, spec["Key"], info)
            except errors.DynamoDBError as exc:
                if not errors.is_item_level(exc):
                    raise
                raise _item_cancelled(len(plans), i, exc) from None
            skey = items.storage_key(info, spec["Key"])
            if skey in seen:
                raise errors.validation("Transaction request cannot include multiple operations on one item")
            seen.add(skey)
            keyed.append((info, skey, proj, spec["Key"]))  # the key, for capacity
        for info, skey, proj, spec_key in keyed:
            raw = reader.get(skey)
            item = orjson.loads(raw) if raw is not None else None
            hidden = ttl_state.hidden_predicate(db, info, reader)  # --ttl-hide-expired
            if hidden is not None and item is not None and hidden(item):
                item = None
            size = attributes.item_size(item) if item is not None else 0
            usage = usages.get(info.name) or usages.setdefault(
                info.name, cap.Usage(info, cap.READ, transactional=True))
            usage.add(cap.TRANSACTION_FACTOR * cap.read_units(size, True), spec_key)
            if item is not None and proj is not None:
                item = proj.apply(item) or None  # a projection matching nothing: no Item (DynamoDB)
            responses.append({"Item": item} if item is not None else {})
    out: dict[str, Any] = {"Responses": responses}
    consumed = cap.report_many(req, list(usages.values()))
    if consumed is not None:
        out["ConsumedCapacity"] = consumed
    return out
