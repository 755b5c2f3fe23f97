"""BatchGetItem and BatchWriteItem.

BatchWriteItem applies all its puts and deletes in one atomic write batch (AWS only
promises each item individually; doing more is allowed and cheaper).  Nothing is
ever left unprocessed by this server except BatchGetItem keys beyond the 16 MB
response limit, which come back in UnprocessedKeys as AWS returns them.
"""
from __future__ import annotations

from typing import Any

import orjson

from dynamodbforge import capacity as cap  # capacity
from dynamodbforge import errors, indexes
from dynamodbforge.database import Database
from dynamodbforge.expressions import ExpressionContext
from dynamodbforge.expressions import legacy  # AttributesToGet
from dynamodbforge.ops.items import MAX_ITEM_BYTES, read_units, storage_key, write_in_batch, write_units
from dynamodbforge.protocol import attributes
from dynamodbforge.ttl import state as ttl_state  # --ttl-hide-expired

MAX_GET_KEYS = 100  # "Too many items requested for the BatchGetItem call"
MAX_RESPONSE_BYTES = 16 * 1024 * 1024  # BatchGetItem returns at most 16 MB


def batch_get_item(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    request_items: dict[str, Any] = req["RequestItems"]
    if sum(len(r["Keys"]) for r in request_items.values()) > MAX_GET_KEYS:
        raise errors.validation("Too many items requested for the BatchGetItem call")
    plans = []
    for name, spec in request_items.items():
        ctx = ExpressionContext(spec.get("ExpressionAttributeNames"), None)
        proj = ctx.projection(spec["ProjectionExpression"]) if "ProjectionExpression" in spec else None
        if "AttributesToGet" in spec:
            proj = legacy.attributes_to_get(spec["AttributesToGet"])
        ctx.check_unused()
        plans.append((name, spec, proj))
    responses: dict[str, list[dict[str, Any]]] = {}
    unprocessed: dict[str, Any] = {}
    usages: dict[str, cap.Usage] = {}
    size = 0
    full = False
    with db.engine.read() as reader:
        tables = {name: db.catalog.get(name, reader) for name, _, _ in plans}
        for name, spec, proj in plans:
            info = tables[name]
            seen: set[bytes] = set()
            skeys = []
            for key in spec["Keys"]:
                attributes.validate_key(key, info)
                skey = storage_key(info, key)
                if skey in seen:
                    raise errors.validation("Provided list of item keys contains duplicates")
                seen.add(skey)
                skeys.append((skey, key))
            out = responses.setdefault(name, [])
            consistent = bool(spec.get("ConsistentRead"))
            hidden = ttl_state.hidden_predicate(db, info, reader)  # --ttl-hide-expired
            for skey, key in skeys:
                if full:  # once the response is full, every remaining key is unprocessed
                    pending = unprocessed.setdefault(name, {k: v for k, v in spec.items() if k != "Keys"})
                    pending.setdefault("Keys", []).append(key)
                    continue
                raw = reader.get(skey)
                item = orjson.loads(raw) if raw is not None else None
                if hidden is not None and item is not None and hidden(item):
                    item = None
                item_bytes = attributes.item_size(item) if item is not None else 0
                if size + item_bytes > MAX_RESPONSE_BYTES:  # the item would pass 16 MB
                    full = True
                    pending = unprocessed.setdefault(name, {k: v for k, v in spec.items() if k != "Keys"})
                    pending.setdefault("Keys", []).append(key)
                    continue
                usage = usages.get(name) or usages.setdefault(name, cap.Usage(info, cap.READ))
                usage.add(read_units(item_bytes, consistent), key)
                if item is not None:
                    size += item_bytes
                    out.append(proj.apply(item) if proj is not None else item)
    result: dict[str, Any] = {"Responses": responses, "UnprocessedKeys": unprocessed}
    consumed = cap.report_many(req, list(usages.values()))
    if consumed is not None:
        result["ConsumedCapacity"] = consumed
    return result


def batch_write_item(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    request_items: dict[str, Any] = req["RequestItems"]
    usages: dict[str, cap.Usage] = {}
    with db.engine.write() as batch:
        tables = {name: db.catalog.get(name, batch) for name in request_items}
        planned = []
        seen: set[bytes] = set()
        for name, requests in request_items.items():
            info = tables[name]
            for entry in requests:
                if "PutRequest" in entry:
                    item = entry["PutRequest"]["Item"]
                    attributes.validate_item_key(item, info, as_schema=True)
                    if attributes.item_size(item) > MAX_ITEM_BYTES:
                        raise errors.validation("Item size has exceeded the maximum allowed size")
                    key = {k: item[k] for k in info.key_names}
                    new: dict[str, Any] | None = item
                else:
                    key = entry["DeleteRequest"]["Key"]
                    attributes.validate_key(key, info)
                    new = None
                skey = storage_key(info, key)
                if skey in seen:
                    raise errors.validation("Provided list of item keys contains duplicates")
                seen.add(skey)
                planned.append((info, key, new))
        for info, key, new in planned:
            old, _ = write_in_batch(db, batch, info, key, lambda _old, _new=new: _new)
            size = max(attributes.item_size(new) if new else 0, attributes.item_size(old) if old else 0)
            usage = usages.get(info.name) or usages.setdefault(info.name, cap.Usage(info, cap.WRITE))
            usage.add(write_units(size), key)
            indexes.charge_writes(usage, info, old, new)
    result: dict[str, Any] = {"UnprocessedItems": {}}
    collections = indexes.item_collection_metrics_by_table(db, req, [(i, k) for i, k, _ in planned])
    if collections is not None:
        result["ItemCollectionMetrics"] = collections
    consumed = cap.report_many(req, list(usages.values()))
    if consumed is not None:
        result["ConsumedCapacity"] = consumed
    return result
