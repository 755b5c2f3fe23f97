"""On-demand backups: CreateBackup, DescribeBackup, ListBackups, DeleteBackup,
RestoreTableFromBackup, and scheduled backups with retention.

CreateBackup opens a read snapshot (common.open_snapshot) *in the request*, records the
backup as CREATING and answers; a background task then copies the table's key range
from that snapshot, in chunks, into ``<data-dir>/backups/<backup-id>.sqlite3`` (written
as ``.part`` and renamed when complete) and marks the backup AVAILABLE.  Writers are
never paused: the snapshot is a separate WAL reader.

Backup file: ``kv(k, v)`` with k the item key *without* the table prefix, and
``meta(k, v)`` with the source TableDescription.
"""
from __future__ import annotations

import os
import sqlite3
import time
from typing import Any

import orjson

from dynamodbforge import errors
from dynamodbforge.backups import common as C
from dynamodbforge.backups import loader
from dynamodbforge.catalog import TABLE_PREFIX, Catalog, TableInfo
from dynamodbforge.database import Database

USER, SYSTEM = "USER", "SYSTEM"


def _file(db: Database, backup_id: str) -> str:
    return os.path.join(C.backups_dir(db), f"{backup_id}.sqlite3")


# --- descriptions ------------------------------------------------------------------------------

def _details(meta: dict[str, Any]) -> dict[str, Any]:
    out = {
        "BackupArn": meta["arn"],
        "BackupName": meta["name"],
        "BackupSizeBytes": meta["size"],
        "BackupStatus": meta["status"],
        "BackupType": meta["type"],
        "BackupCreationDateTime": meta["created"],
    }
    if meta.get("expires") is not None:
        out["BackupExpiryDateTime"] = meta["expires"]
    return out


def _summary(meta: dict[str, Any]) -> dict[str, Any]:
    src = meta["source"]
    out = {"TableName": src["TableName"], "TableId": src["TableId"], "TableArn": src["TableArn"]}
    details = _details(meta)
    out.update({k: details[k] for k in ("BackupArn", "BackupName", "BackupCreationDateTime")})
    if "BackupExpiryDateTime" in details:
        out["BackupExpiryDateTime"] = details["BackupExpiryDateTime"]
    out.update({"BackupStatus": meta["status"], "BackupType": meta["type"], "BackupSizeBytes": meta["size"]})
    return out


def _index_details(index: dict[str, Any]) -> dict[str, Any]:
    out = {k: index[k] for k in ("IndexName", "KeySchema", "Projection") if k in index}
    if "ProvisionedThroughput" in index:
        pt = index["ProvisionedThroughput"]
        out["ProvisionedThroughput"] = {"ReadCapacityUnits": pt.get("ReadCapacityUnits", 0),
                                        "WriteCapacityUnits": pt.get("WriteCapacityUnits", 0)}
    return out


def _description(meta: dict[str, Any]) -> dict[str, Any]:
    src = meta["source"]
    pt = src.get("ProvisionedThroughput", {})
    source = {
        "TableName": src["TableName"],
        "TableId": src["TableId"],
        "TableArn": src["TableArn"],
        "TableSizeBytes": meta["size"],
        "KeySchema": src["KeySchema"],
        "TableCreationDateTime": src["CreationDateTime"],
        "ProvisionedThroughput": {"ReadCapacityUnits": pt.get("ReadCapacityUnits", 0),
                                  "WriteCapacityUnits": pt.get("WriteCapacityUnits", 0)},
        "ItemCount": meta["item_count"],
        "BillingMode": src.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED"),
    }
    features: dict[str, Any] = {}
    if src.get("LocalSecondaryIndexes"):
        features["LocalSecondaryIndexes"] = [_index_details(i) for i in src["LocalSecondaryIndexes"]]
    if src.get("GlobalSecondaryIndexes"):
        features["GlobalSecondaryIndexes"] = [_index_details(i) for i in src["GlobalSecondaryIndexes"]]
    if src.get("StreamSpecification"):
        features["StreamDescription"] = src["StreamSpecification"]
    if meta.get("ttl"):
        features["TimeToLiveDescription"] = meta["ttl"]
    if src.get("SSEDescription"):
        features["SSEDescription"] = src["SSEDescription"]
    out = {"BackupDetails": _details(meta), "SourceTableDetails": source}
    if features:
        out["SourceTableFeatureDetails"] = features
    return out


def _get(db: Database, arn: str, reader: Any = None) -> dict[str, Any]:
    meta = C.load(reader or db.engine, C.BACKUP_PREFIX + C.id_of_arn(arn).encode())
    if meta is None or meta["arn"] != arn:
        raise C.backup_not_found(arn)
    return meta


def _ttl_description(db: Database, info: Any) -> dict[str, Any] | None:
    try:
        from dynamodbforge.ttl import state as ttl_state

        config = ttl_state.load_config(db.engine, info)
        if config is not None and config.status != "DISABLED":
            return {"TimeToLiveStatus": config.status, "AttributeName": config.attribute}
    except Exception:  # TTL is another module's business; a backup never fails because of it
        C.log.debug("no TTL description for the backup", exc_info=True)
    return None


# --- CreateBackup ------------------------------------------------------------------------------

def create_backup(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    meta = start_backup(db, C.table_name_of(req["TableName"]), req["BackupName"], USER)
    return {"BackupDetails": _details(meta)}


def start_backup(db: Database, table: str, name: str, backup_type: str, scheduled: bool = False) -> dict[str, Any]:
    info = db.catalog.find(table)
    if info is None:
        raise C.table_not_found(table)
    if info.description.get("_Loading"):
        raise C.table_in_use(table)
    backup_id = C.new_id(db)
    snap = C.open_snapshot(db)
    try:
        raw_desc = C.snapshot_get(snap, TABLE_PREFIX + table.encode())
        if raw_desc is None:
            raise C.table_not_found(table)
        source = orjson.loads(raw_desc)
        count, size = Catalog.stats(C.SnapshotReader(snap), TableInfo.from_json(raw_desc))
        meta = {
            "id": backup_id,
            "arn": C.resource_arn(db, table, "backup", backup_id),
            "name": name,
            "status": "CREATING",
            "type": backup_type,
            "scheduled": scheduled,
            "created": db.now(),
            "expires": None,
            "size": size,
            "item_count": count,
            "uid": source["uid"],
            "source": {k: v for k, v in source["description"].items() if not k.startswith("_")},
            "sequence": C.snapshot_sequence(snap),
            "ttl": _ttl_description(db, info),
        }
        with db.engine.write() as batch:
            for other in C.scan(batch, C.BACKUP_PREFIX):
                if other["status"] == "CREATING" and other["source"]["TableArn"] == meta["source"]["TableArn"]:
                    raise C.backup_in_use()
            C.save(batch, C.BACKUP_PREFIX + backup_id.encode(), meta)
    except BaseException:
        snap.close()
        raise
    C.run_background(f"backup-{backup_id}", lambda: _copy(db, meta, snap))
    return meta


def _copy(db: Database, meta: dict[str, Any], snap: sqlite3.Connection) -> None:
    started = time.monotonic()
    path = _file(db, meta["id"])
    part = path + ".part"
    count = 0
    try:
        if os.path.exists(part):
            os.remove(part)
        out = sqlite3.connect(part, isolation_level=None)
        try:
            out.execute("PRAGMA journal_mode=OFF")
            out.execute("PRAGMA synchronous=OFF")
            out.execute("CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID")
            out.execute("CREATE TABLE meta (k TEXT PRIMARY KEY, v BLOB NOT NULL)")
            out.execute("INSERT INTO meta VALUES ('backup', ?)", (orjson.dumps(meta),))
            batch: list[tuple[bytes, bytes]] = []
            for pair in C.snapshot_items(snap, meta["uid"]):
                batch.append(pair)
                if len(batch) >= 5000:
                    out.execute("BEGIN")
                    out.executemany("INSERT INTO kv VALUES (?, ?)", batch)
                    out.execute("COMMIT")
                    count += len(batch)
                    batch.clear()
            if batch:
                out.execute("BEGIN")
                out.executemany("INSERT INTO kv VALUES (?, ?)", batch)
                out.execute("COMMIT")
                count += len(batch)
        finally:
            out.close()
        with open(part, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(part, path)
    finally:
        snap.close()
    with C.task_database(db) as tdb:
        C.update(tdb, C.BACKUP_PREFIX + meta["id"].encode(), lambda m: m.update(status="AVAILABLE"))
    C.log.info("backup %s of %s: %d items copied in %.2fs", meta["id"], meta["source"]["TableName"], count,
               time.monotonic() - started)


# --- DescribeBackup, ListBackups, DeleteBackup ---------------------------------------------------

def describe_backup(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    return {"BackupDescription": _description(_get(db, req["BackupArn"]))}


def list_backups(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    table = C.table_name_of(req["TableName"]) if "TableName" in req else None
    lower, upper = req.get("TimeRangeLowerBound"), req.get("TimeRangeUpperBound")
    wanted = req.get("BackupType", USER)
    limit = req.get("Limit")
    start = C.id_of_arn(req["ExclusiveStartBackupArn"]) if "ExclusiveStartBackupArn" in req else None
    with db.engine.read() as reader:
        metas = C.scan(reader, C.BACKUP_PREFIX)
    out: list[dict[str, Any]] = []
    last = None
    for meta in metas:  # ordered by id, i.e. by creation time
        if start is not None and meta["id"] <= start:
            continue
        if table is not None and meta["source"]["TableName"] != table:
            continue
        if wanted != "ALL" and meta["type"] != wanted:
            continue
        if lower is not None and meta["created"] < lower:
            continue
        if upper is not None and meta["created"] >= upper:
            continue
        if limit is not None and len(out) >= limit:
            last = out[-1]["BackupArn"]
            break
        out.append(_summary(meta))
    result: dict[str, Any] = {"BackupSummaries": out}
    if last is not None:
        result["LastEvaluatedBackupArn"] = last
    return result


def delete_backup(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    arn = req["BackupArn"]
    with db.engine.write() as batch:
        meta = _get(db, arn, batch)
        if meta["status"] == "CREATING" or meta.get("restoring", 0) > 0:
            raise C.backup_in_use()
        batch.delete(C.BACKUP_PREFIX + meta["id"].encode())
    _remove_file(db, meta["id"])
    meta["status"] = "DELETED"
    return {"BackupDescription": _description(meta)}


def _remove_file(db: Database, backup_id: str) -> None:
    try:
        os.remove(_file(db, backup_id))
    except FileNotFoundError:
        pass


# --- RestoreTableFromBackup ----------------------------------------------------------------------

def restore_table_from_backup(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    target, arn = req["TargetTableName"], req["BackupArn"]
    if db.catalog.find(target) is not None:
        raise C.table_already_exists(target)
    meta = _get(db, arn)
    if meta["status"] != "AVAILABLE":
        raise C.backup_in_use()
    create_req = loader.creation_request(meta["source"], target, req)
    summary = {"SourceBackupArn": arn, "SourceTableArn": meta["source"]["TableArn"],
               "RestoreDateTime": meta["created"], "RestoreInProgress": True}
    info = loader.create_target(db, create_req, {"RestoreSummary": summary}, C.table_already_exists(target))
    C.update(db, C.BACKUP_PREFIX + meta["id"].encode(), lambda m: m.update(restoring=m.get("restoring", 0) + 1))
    from dynamodbforge.ops.tables import _describe, _public

    response = {"TableDescription": _public(_describe(db, info, "CREATING"))}
    C.run_background(f"restore-{target}", lambda: _restore(db, meta, info))
    return response


def _restore(db: Database, meta: dict[str, Any], info: Any) -> None:
    started = time.monotonic()
    label = f"restore of backup {meta['id']}"
    try:
        with C.task_database(db) as tdb:
            conn = sqlite3.connect(_file(db, meta["id"]), check_same_thread=False)
            try:
                cur = conn.execute("SELECT k, v FROM kv ORDER BY k")

                def pairs():  # type: ignore[no-untyped-def]
                    while rows := cur.fetchmany(2000):
                        yield from rows

                count, _ = loader.load_pairs(tdb, info, pairs(), label, meta["item_count"])
            finally:
                conn.close()
            loader.finish(tdb, info, label, count, started)
    finally:
        C.update(db, C.BACKUP_PREFIX + meta["id"].encode(),
                 lambda m: m.update(restoring=max(0, m.get("restoring", 0) - 1)))


# --- scheduled backups ---------------------------------------------------------------------------

def scheduled_round(db: Database, retention: int) -> list[str]:
    """Back up every table once (BackupType SYSTEM) and keep the newest ``retention``
    scheduled backups per table.  Returns the new backup ids."""
    with db.engine.read() as reader:
        names = db.catalog.names(reader, None)
    made = []
    for table in names:
        try:
            meta = start_backup(db, table, f"{table}-scheduled-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}",
                                SYSTEM, scheduled=True)
            made.append(meta["id"])
        except errors.DynamoDBError as exc:
            C.log.info("scheduled backup of %s skipped: %s", table, exc.message)
    prune_scheduled(db, retention)
    return made


def prune_scheduled(db: Database, retention: int) -> int:
    with db.engine.read() as reader:
        metas = [m for m in C.scan(reader, C.BACKUP_PREFIX) if m.get("scheduled")]
    by_table: dict[str, list[dict[str, Any]]] = {}
    for meta in metas:
        by_table.setdefault(meta["source"]["TableArn"], []).append(meta)
    removed = 0
    for group in by_table.values():
        group.sort(key=lambda m: m["id"])
        for meta in group[:-retention] if retention > 0 else group:
            if meta["status"] != "AVAILABLE" or meta.get("restoring", 0) > 0:
                continue
            with db.engine.write() as batch:
                batch.delete(C.BACKUP_PREFIX + meta["id"].encode())
            _remove_file(db, meta["id"])
            removed += 1
    return removed
