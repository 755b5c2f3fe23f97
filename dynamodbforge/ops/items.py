"""Single-item operations: PutItem, GetItem, UpdateItem, DeleteItem.

Put, Update and Delete are validated into a ``WriteAction`` before anything is
read; ``execute`` then reads the old item, evaluates the condition and writes the
new item inside one write batch, so a conditional write is atomic against every
other writer and its change record commits with it.  Transactions run the same
actions, several in one batch.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Callable

import orjson

from dynamodbforge import capacity, errors  # capacity
from dynamodbforge import indexes  # secondary indexes
from dynamodbforge.catalog import TableInfo
from dynamodbforge.database import Database
from dynamodbforge.expressions import ExpressionContext
from dynamodbforge.expressions import legacy  # Expected, AttributeUpdates, AttributesToGet
from dynamodbforge.protocol import attributes
from dynamodbforge.storage import keycodec
from dynamodbforge.storage.engine import ChangeRecord, WriteBatch
from dynamodbforge.ttl import state as ttl_state  # --ttl-hide-expired

MAX_ITEM_BYTES = 400 * 1024  # "Item size has exceeded the maximum allowed size"


# --- keys ----------------------------------------------------------------------

def partition_prefix(info: TableInfo, hash_value: dict[str, Any]) -> bytes:
    """Storage prefix of one partition: table, 4-byte hash of the partition key, the key.

    Like DynamoDB, items are laid out in partition-key hash order: Scan returns them in
    that order and a parallel-scan segment is a contiguous range of hash values.
    """
    encoded = keycodec.encode(info.hash_key.type, hash_value[info.hash_key.type])
    return info.item_prefix + zlib.crc32(encoded).to_bytes(4, "big") + encoded


def storage_key(info: TableInfo, item: dict[str, Any]) -> bytes:
    """The ordered storage key of an item (or key) of ``info``'s table."""
    out = partition_prefix(info, item[info.hash_key.name])
    r = info.range_key
    if r is not None:
        out += keycodec.encode(r.type, item[r.name][r.type])
    return out


def key_of(info: TableInfo, item: dict[str, Any]) -> dict[str, Any]:
    return {name: item[name] for name in info.key_names}


# --- capacity (the math lives in dynamodbforge/capacity.py) ------------------------

read_units = capacity.read_units
write_units = capacity.write_units


# --- the shared read-modify-write path ------------------------------------------

def write_in_batch(
    db: Database,
    batch: WriteBatch,
    info: TableInfo,
    key: dict[str, Any],
    compute: Callable[[dict[str, Any] | None], dict[str, Any] | None],
    transaction_id: str | None = None,
    user_identity: str | None = None,  # "dynamodb.amazonaws.com" for TTL deletions
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Read-modify-write one item inside an open write batch, with its change record."""
    skey = storage_key(info, key)
    old_raw = batch.get(skey)
    old = orjson.loads(old_raw) if old_raw is not None else None
    new = compute(old)
    if new == old:
        return old, new  # nothing changes: no write, no change record (as AWS streams)
    new_raw = orjson.dumps(new) if new is not None else None
    indexes.maintain(db, batch, info, skey, old, new)  # index entries, in this same batch
    if new_raw is None:
        batch.delete(skey)
    else:
        batch.put(skey, new_raw)
    old_size = attributes.item_size(old) if old is not None else 0
    new_size = attributes.item_size(new) if new is not None else 0
    batch.log_change(  # its size change is what the table's statistics add up (Catalog.stats)
        ChangeRecord(
            table=info.name,
            keys=orjson.dumps(key_of(info, old if new is None else new)),  # type: ignore[arg-type]
            old_image=old_raw,
            new_image=new_raw,
            timestamp=db.clock(),
            origin=db.region,
            transaction_id=transaction_id,
            user_identity=user_identity,
            size_delta=new_size - old_size,
        )
    )
    return old, new


# --- validated write actions (shared by the single-item ops and transactions) ------

@dataclass(slots=True)
class WriteAction:
    """A validated single-item write: which item, under what condition, becoming what.

    Built (and fully validated) before anything is read; ``condition_holds`` and
    ``compute`` are pure functions of the old item, so they can run inside any
    write batch — one item's, or a transaction's.
    """

    info: TableInfo
    key: dict[str, Any]
    kind: str  # Put, Update, Delete or ConditionCheck
    condition: Any = None
    return_old_on_failure: bool = False
    item: dict[str, Any] | None = None  # Put
    update: Any = None  # Update
    update_legacy: bool = False  # the Update came from AttributeUpdates
    new_size: int = 0

    def condition_holds(self, old: dict[str, Any] | None) -> bool:
        return self.condition is None or self.condition.evaluate(old)

    def failure(self, old: dict[str, Any] | None) -> errors.DynamoDBError:
        return errors.conditional_check_failed(old if self.return_old_on_failure and old is not None else None)

    def compute(self, old: dict[str, Any] | None) -> dict[str, Any] | None:
        if self.kind == "Put":
            return self.item
        if self.kind == "Delete":
            return None
        if self.kind == "ConditionCheck":
            return old
        if old is None and self.update is not None and self.update.only_removes:
            return None  # removing from an item that does not exist: no item (DynamoDB)
        base = old if old is not None else dict(self.key)
        if self.update is None:
            return base
        result = self.update.apply(base, item_exists=old is not None)
        new = result.new_item
        if old is None:
            self.new_size = attributes.item_size(new)
        else:
            # Sizes add up per top-level attribute and the update changed only those it
            # names: the old size (needed for statistics anyway) adjusted by them, rather
            # than a second walk of the whole item.
            size = attributes.item_size(old)
            for name in result.updated_attributes:
                if name in old:
                    size -= attributes.attribute_size(name, old[name])
                if name in new:
                    size += attributes.attribute_size(name, new[name])
            attributes.remember_size(new, size)
            self.new_size = size
        if self.new_size > MAX_ITEM_BYTES:
            raise errors.validation("Item size to update has exceeded the maximum allowed size")
        indexes.check_item_keys(self.info, new, updating=True)
        return new

    def units(self, old: dict[str, Any] | None, new: dict[str, Any] | None) -> float:
        """Write units: the larger of the item before and after, 1 KB each."""
        return write_units(max(attributes.item_size(old) if old else 0, attributes.item_size(new) if new else 0))


def _context(spec: dict[str, Any]) -> ExpressionContext:
    return ExpressionContext(spec.get("ExpressionAttributeNames"), spec.get("ExpressionAttributeValues"))


def _compile_condition(ctx: ExpressionContext, spec: dict[str, Any]) -> Any:
    if "Expected" in spec:  # the legacy condition, through the same comparison closures
        return legacy.expected(spec["Expected"], spec.get("ConditionalOperator"))
    return ctx.condition(spec["ConditionExpression"]) if "ConditionExpression" in spec else None


def check_key(check: Callable[[dict[str, Any], TableInfo], Any], key: dict[str, Any], info: TableInfo) -> None:
    """``check(key, info)`` (attributes.validate_key or validate_item_key), its errors the
    item's own (errors.item_level) unless they refuse the whole request (an empty key value)."""
    try:
        check(key, info)
    except errors.DynamoDBError as exc:
        if errors.is_request_level(exc):
            raise
        raise errors.item_level(exc) from None


def _compile_expressions(spec: dict[str, Any], enveloped: bool, updating: bool = False) -> tuple[Any, Any]:
    """A write's (update, condition), compiled before its table is looked up.  ``enveloped``:
    a write of its own, whose request errors DynamoDB's newer framework reports in its
    envelope (errors.enveloped); not inside a transaction."""
    try:
        ctx = _context(spec)
        update = None
        if updating:
            update = ctx.update(spec["UpdateExpression"]) if "UpdateExpression" in spec else None
            if "AttributeUpdates" in spec:
                update = legacy.attribute_updates(spec["AttributeUpdates"])
        cond = _compile_condition(ctx, spec)
        ctx.check_unused()
    except errors.DynamoDBError as exc:
        raise (errors.enveloped(exc) if enveloped else exc) from None
    return update, cond


def prepare_put(db: Database, spec: dict[str, Any], reader: Any = None, enveloped: bool = False) -> WriteAction:
    _, cond = _compile_expressions(spec, enveloped)
    info = db.catalog.get(spec["TableName"], reader)
    item = spec["Item"]
    check_key(attributes.validate_item_key, item, info)
    size = attributes.item_size(item)
    if size > MAX_ITEM_BYTES:
        raise errors.item_level(errors.validation(attributes.MSG_ITEM_TOO_BIG))
    indexes.check_item_keys(info, item)
    return WriteAction(info, key_of(info, item), "Put", cond, _return_old(spec), item=item, new_size=size)


def prepare_delete(db: Database, spec: dict[str, Any], reader: Any = None, enveloped: bool = False) -> WriteAction:
    return _prepare_keyed(db, spec, "Delete", reader, enveloped)


def prepare_condition_check(db: Database, spec: dict[str, Any], reader: Any = None) -> WriteAction:
    return _prepare_keyed(db, spec, "ConditionCheck", reader)


def _prepare_keyed(db: Database, spec: dict[str, Any], kind: str, reader: Any, enveloped: bool = False) -> WriteAction:
    """A Delete or ConditionCheck: a Key and an optional condition."""
    _, cond = _compile_expressions(spec, enveloped)
    info = db.catalog.get(spec["TableName"], reader)
    key = spec["Key"]
    check_key(attributes.validate_key, key, info)
    return WriteAction(info, key, kind, cond, _return_old(spec))


def prepare_update(db: Database, spec: dict[str, Any], reader: Any = None, enveloped: bool = False) -> WriteAction:
    update, cond = _compile_expressions(spec, enveloped, updating=True)
    info = db.catalog.get(spec["TableName"], reader)
    key = spec["Key"]
    check_key(attributes.validate_key, key, info)
    if update is not None:
        for name in update.touched_top_level_names:
            if name in info.key_names:
                raise errors.validation(
                    "One or more parameter values were invalid: Cannot update attribute "
                    f"{name}. This attribute is part of the key"
                )
        text = spec.get("UpdateExpression")
        if text is not None:  # in AWS's order (dynalite's updateItem.js)
            ctx = _context(spec)
            if indexes.table_indexes(info).all:
                indexes.check_update_key_types(info, ctx.update_value_types(text))
            if "." in text or "[" in text:  # paths it writes or reads, e.g. SET f = d[1]
                indexes.check_scalar_key_paths(info, ctx.update_heads(text, nested=True))
    return WriteAction(info, key, "Update", cond, _return_old(spec), update=update,
                       update_legacy="AttributeUpdates" in spec)


def _return_old(spec: dict[str, Any]) -> bool:
    return spec.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"


def execute(db: Database, action: WriteAction) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Run one action atomically: read, check the condition, write, log."""

    def compute(old: dict[str, Any] | None) -> dict[str, Any] | None:
        if not action.condition_holds(old):
            raise action.failure(old)
        return action.compute(old)

    # Conditions and sizes are checked before the first write; without indexes (whose
    # maintenance can still refuse an item) nothing can raise after it, so the batch
    # needs no undo of its own (storage: write(undo_alone=False)).
    undo_alone = bool(indexes.table_indexes(action.info).maintained)
    try:
        with db.engine.write(undo_alone=undo_alone) as batch:
            return write_in_batch(db, batch, action.info, action.key, compute)
    except errors.DynamoDBError as exc:
        # a value worked out from the item (SET k = other) of the wrong type for an index key:
        # DynamoDB's words for it (values known beforehand were refused in prepare_update)
        if action.kind == "Update" and action.update is not None and not action.update_legacy \
                and (exc.message or "").startswith(indexes.INVALID + "Type mismatch for Index Key"):
            raise errors.validation(indexes.UPDATE_TO_UNSUPPORTED_TYPE) from None
        raise


def _with_capacity(out: dict[str, Any], req: dict[str, Any], info: TableInfo, units: float,
                   key: dict[str, Any], kind: str = capacity.WRITE) -> dict[str, Any]:
    return capacity.attach(out, req, capacity.Usage(info, kind).add(units, key))


# --- PutItem, DeleteItem, UpdateItem ---------------------------------------------

def _answer(db: Database, req: dict[str, Any], action: WriteAction, old: dict[str, Any] | None,
            new: dict[str, Any] | None, attributes_out: dict[str, Any] | None) -> dict[str, Any]:
    """The response every single-item write shares: Attributes, collection metrics, capacity."""
    out: dict[str, Any] = {"Attributes": attributes_out} if attributes_out else {}
    out = indexes.add_item_collection_metrics(db, req, action.info, action.key, out)
    usage = capacity.Usage(action.info, capacity.WRITE).add(action.units(old, new), action.key)
    indexes.charge_writes(usage, action.info, old, new)
    return capacity.attach(out, req, usage)


def put_item(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    action = prepare_put(db, req, enveloped=True)
    old, new = execute(db, action)
    return _answer(db, req, action, old, new, old if req.get("ReturnValues") == "ALL_OLD" else None)


def delete_item(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    action = prepare_delete(db, req, enveloped=True)
    old, new = execute(db, action)
    return _answer(db, req, action, old, new, old if req.get("ReturnValues") == "ALL_OLD" else None)


def update_item(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    action = prepare_update(db, req, enveloped=True)
    old, new = execute(db, action)
    rv = req.get("ReturnValues", "NONE")
    attrs: dict[str, Any] | None = None
    if rv == "ALL_OLD":
        attrs = old
    elif rv == "ALL_NEW":
        attrs = new
    elif rv == "UPDATED_OLD" and old is not None and action.update is not None:
        attrs = action.update.project_updated(old)
    elif rv == "UPDATED_NEW" and new is not None and action.update is not None:
        attrs = action.update.project_updated(new)
    return _answer(db, req, action, old, new, attrs)


# --- GetItem -------------------------------------------------------------------

def get_item(db: Database, req: dict[str, Any]) -> dict[str, Any] | bytes:
    proj = None
    if "ProjectionExpression" in req or "ExpressionAttributeNames" in req:
        ctx = ExpressionContext(req.get("ExpressionAttributeNames"), None)
        proj = ctx.projection(req["ProjectionExpression"]) if "ProjectionExpression" in req else None
        ctx.check_unused()
    elif "AttributesToGet" in req:
        proj = legacy.attributes_to_get(req["AttributesToGet"])
    info = db.catalog.get(req["TableName"])
    key = req["Key"]
    attributes.validate_key(key, info)
    if proj is not None and "ProjectionExpression" in req:
        indexes.check_scalar_key_paths(info, indexes.nested_heads(proj.paths))
    raw = db.engine.get(storage_key(info, key))
    # with --ttl-hide-expired an expired, not yet deleted item reads as absent
    hidden = ttl_state.hidden_predicate(db, info)
    if hidden is not None and raw is not None and hidden(orjson.loads(raw)):
        raw = None
    mode = req.get("ReturnConsumedCapacity", "NONE")
    consistent = bool(req.get("ConsistentRead"))
    if proj is None and mode == "NONE":
        # Fast path: the stored bytes are the response's item, verbatim.
        units = capacity.read_units_for_raw(raw, consistent)  # no parse for items <= 4 KB
        if units is None:
            units = read_units(attributes.item_size(orjson.loads(raw)), consistent)  # type: ignore[arg-type]
        capacity.record(capacity.Usage(info, capacity.READ).add(units, key))
        return b'{"Item":' + raw + b"}" if raw is not None else b"{}"
    out: dict[str, Any] = {}
    item = orjson.loads(raw) if raw is not None else None
    if item is not None:
        out["Item"] = proj.apply(item) if proj is not None else item
    units = read_units(attributes.item_size(item) if item else 0, consistent)
    return _with_capacity(out, req, info, units, key, capacity.READ)
