"""Creating a restored / imported table and loading items into it.

The target table is created through the ordinary CreateTable path (request validation,
``ops.tables.create_table``) so whatever CreateTable sets up — secondary indexes, streams
metadata — is set up the same way.  While items are loaded its description carries
``_Loading`` (DescribeTable reports CREATING) and, for restores, a ``RestoreSummary`` with
``RestoreInProgress: true``.  Items are written in chunks of ``LOAD_CHUNK`` per write
batch, so other writers wait at most one chunk; secondary-index entries are written with
each item through ``indexes.maintain`` (so a restore rebuilds its indexes).  No change
records are written: a restored table starts without history, as on AWS.
"""
from __future__ import annotations

import copy
import time
from typing import Any, Iterable, Iterator

import orjson

from dynamodbforge import errors, indexes
from dynamodbforge.backups.common import LOAD_CHUNK, OPTIONS, log
from dynamodbforge.catalog import Catalog, TableInfo
from dynamodbforge.database import Database
from dynamodbforge.protocol import attributes

_INDEX_STATIC = ("IndexName", "KeySchema", "Projection")


def _index_request(index: dict[str, Any], billing: str, gsi: bool) -> dict[str, Any]:
    out = {k: copy.deepcopy(index[k]) for k in _INDEX_STATIC if k in index}
    if gsi and billing == "PROVISIONED" and "ProvisionedThroughput" in index:
        pt = index["ProvisionedThroughput"]
        out["ProvisionedThroughput"] = {"ReadCapacityUnits": pt["ReadCapacityUnits"],
                                        "WriteCapacityUnits": pt["WriteCapacityUnits"]}
    return out


def creation_request(source: dict[str, Any], target: str, req: dict[str, Any]) -> dict[str, Any]:
    """A CreateTable request for ``target`` from a source TableDescription and the *Override fields."""
    billing = req.get("BillingModeOverride") or source.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    out: dict[str, Any] = {
        "TableName": target,
        "AttributeDefinitions": copy.deepcopy(source["AttributeDefinitions"]),
        "KeySchema": copy.deepcopy(source["KeySchema"]),
        "BillingMode": billing,
    }
    if billing == "PROVISIONED":
        pt = req.get("ProvisionedThroughputOverride") or source.get("ProvisionedThroughput") or {}
        rcu, wcu = pt.get("ReadCapacityUnits") or 0, pt.get("WriteCapacityUnits") or 0
        if not rcu or not wcu:
            raise errors.validation(
                "One or more parameter values were invalid: ProvisionedThroughputOverride must be specified "
                "when BillingModeOverride is PROVISIONED"
            )
        out["ProvisionedThroughput"] = {"ReadCapacityUnits": rcu, "WriteCapacityUnits": wcu}
    if "GlobalSecondaryIndexOverride" in req:
        gsis = req["GlobalSecondaryIndexOverride"]
    else:
        gsis = [_index_request(i, billing, True) for i in source.get("GlobalSecondaryIndexes", [])]
    if gsis:
        out["GlobalSecondaryIndexes"] = gsis
    if "LocalSecondaryIndexOverride" in req:
        lsis = req["LocalSecondaryIndexOverride"]
    else:
        lsis = [_index_request(i, billing, False) for i in source.get("LocalSecondaryIndexes", [])]
    if lsis:
        out["LocalSecondaryIndexes"] = lsis
    if "TableClassSummary" in source:
        out["TableClass"] = source["TableClassSummary"]["TableClass"]
    # Attribute definitions: only those the key schemas use (indexes may have been dropped).
    used = {k["AttributeName"] for k in out["KeySchema"]}
    for index in out.get("GlobalSecondaryIndexes", []) + out.get("LocalSecondaryIndexes", []):
        used.update(k["AttributeName"] for k in index["KeySchema"])
    out["AttributeDefinitions"] = [d for d in out["AttributeDefinitions"] if d["AttributeName"] in used]
    return out


def create_target(db: Database, create_req: dict[str, Any], extra: dict[str, Any],
                  exists_error: Any) -> TableInfo:
    """Create the target table (CREATING while loading); ``extra`` goes into its description."""
    from dynamodbforge.ops import tables
    from dynamodbforge.protocol.validate import validate_request

    if db.catalog.find(create_req["TableName"]) is not None:
        raise exists_error
    validate_request("CreateTable", create_req)
    try:
        tables.create_table(db, create_req)
    except errors.DynamoDBError as exc:
        if exc.type_name == "ResourceInUseException":
            raise exists_error from None
        raise
    with db.engine.write() as batch:
        info = db.catalog.find(create_req["TableName"], batch)
        assert info is not None
        desc = copy.deepcopy(info.description)
        desc.update(extra)
        desc["_Loading"] = True
        info = TableInfo.from_description(info.uid, desc)
        Catalog.save(batch, info)
    return info


def _current(db: Database, batch: Any, name: str, uid: int) -> TableInfo | None:
    info = db.catalog.find(name, batch)
    return info if info is not None and info.uid == uid else None


def load_pairs(db: Database, info: TableInfo, pairs: Iterable[tuple[bytes, bytes]], label: str,
               total: int | None = None) -> tuple[int, int]:
    """Write (key suffix, item bytes) pairs — keys unique, table new — in chunks; (count, bytes)."""
    count = size = 0
    started = last_log = time.monotonic()
    it: Iterator[tuple[bytes, bytes]] = iter(pairs)
    while True:
        chunk = []
        for pair in it:
            chunk.append(pair)
            if len(chunk) >= LOAD_CHUNK:
                break
        if not chunk:
            break
        parsed = [orjson.loads(v) for _, v in chunk]
        chunk_size = sum(attributes.item_size(item) for item in parsed)
        with db.engine.write() as batch:
            current = _current(db, batch, info.name, info.uid)
            if current is None:  # the table was deleted meanwhile: stop
                log.warning("%s: target table %s disappeared; stopping", label, info.name)
                return count, size
            prefix = info.item_prefix
            with_indexes = bool(indexes.table_indexes(current).maintained)
            for (suffix, raw), item in zip(chunk, parsed):
                batch.put(prefix + suffix, raw)
                if with_indexes:  # index entries, in the same batch as the item
                    indexes.maintain(db, batch, current, prefix + suffix, None, item)
            Catalog.adjust_stats(batch, info, len(chunk), chunk_size)
        before = count
        count += len(chunk)
        size += chunk_size
        every = OPTIONS.progress_every
        if count // every != before // every or time.monotonic() - last_log > 5:
            last_log = time.monotonic()
            of = f"/{total}" if total is not None else ""
            log.info("%s: %d%s items loaded into %s (%.1fs)", label, count, of, info.name, last_log - started)
    return count, size


def finish(db: Database, info: TableInfo, label: str, count: int, started: float) -> None:
    """Mark the table ACTIVE (RestoreInProgress false)."""
    with db.engine.write() as batch:
        current = _current(db, batch, info.name, info.uid)
        if current is None:
            return
        desc = copy.deepcopy(current.description)
        desc.pop("_Loading", None)
        if "RestoreSummary" in desc:
            desc["RestoreSummary"]["RestoreInProgress"] = False
        Catalog.save(batch, TableInfo.from_description(current.uid, desc))
    log.info("%s: %s is ACTIVE with %d items after %.2fs", label, info.name, count, time.monotonic() - started)
