"""Point-in-time recovery: UpdateContinuousBackups, DescribeContinuousBackups,
RestoreTableToPointInTime — and the state of a table at an instant (also used by exports).

How a past state is computed: take one read snapshot (the table's items and the change
log up to sequence S, seen together), then *undo* every change committed after the
instant T: for each key changed after T, its state at T is the ``old_image`` of its first
change after T.  All records of a transaction are undone together if any of them is
after T (a transaction's records may carry timestamps a few microseconds apart), so a
restore never shows half a transaction.  Items unchanged since T are copied as they are.

This needs the table's change records from T onward; the change log keeps them because
PITR registers its recovery window with the shared retention policy
(streams/retention.py ``register_policy``): records are trimmed only once they are older
than the longest window of any PITR-enabled table (and the stream retention).

A table's PITR setting is stored with its TableId, so a table deleted and re-created under
the same name starts without PITR.
"""
from __future__ import annotations

import sqlite3
import time
from typing import Any, Iterator

import orjson

from dynamodbforge import errors
from dynamodbforge.backups import common as C
from dynamodbforge.backups import loader
from dynamodbforge.catalog import TableInfo
from dynamodbforge.database import Database
from dynamodbforge.ops.items import storage_key
from dynamodbforge.storage.sqlite import first_sequence_later_than

DAY = 86400.0
DEFAULT_PERIOD_DAYS = 35
_CLOCK_MARGIN = 60.0  # seconds: look this far before T for the first change record after T


# --- configuration -----------------------------------------------------------------------------

def config(db: Database, info: TableInfo, reader: Any = None) -> dict[str, Any] | None:
    """The table's PITR configuration if PITR is enabled on *this* table (same TableId)."""
    cfg = C.load(reader or db.engine, C.PITR_PREFIX + info.name.encode())
    if cfg is None or not cfg.get("enabled") or cfg.get("table_id") != info.description.get("TableId"):
        return None
    return cfg


def window(db: Database, cfg: dict[str, Any]) -> tuple[float, float]:
    """(EarliestRestorableDateTime, LatestRestorableDateTime) now."""
    now = db.now()
    earliest = max(cfg["enabled_at"], now - cfg["period_days"] * DAY)
    return round(earliest, 3), now


def _description(db: Database, info: TableInfo, cfg: dict[str, Any] | None) -> dict[str, Any]:
    if cfg is None:
        pitr: dict[str, Any] = {"PointInTimeRecoveryStatus": "DISABLED"}
    else:
        earliest, latest = window(db, cfg)
        pitr = {"PointInTimeRecoveryStatus": "ENABLED", "RecoveryPeriodInDays": cfg["period_days"],
                "EarliestRestorableDateTime": earliest, "LatestRestorableDateTime": latest}
    return {"ContinuousBackupsStatus": "ENABLED", "PointInTimeRecoveryDescription": pitr}


def _table(db: Database, name_or_arn: str, reader: Any = None) -> TableInfo:
    name = C.table_name_of(name_or_arn)
    info = db.catalog.find(name, reader)
    if info is None:
        raise C.table_not_found(name)
    return info


def describe_continuous_backups(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    info = _table(db, req["TableName"])
    return {"ContinuousBackupsDescription": _description(db, info, config(db, info))}


def update_continuous_backups(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    spec = req["PointInTimeRecoverySpecification"]
    enable = spec["PointInTimeRecoveryEnabled"]
    period = spec.get("RecoveryPeriodInDays")
    if period is not None and not enable:
        raise errors.validation(
            "One or more parameter values were invalid: RecoveryPeriodInDays can only be specified "
            "when PointInTimeRecoveryEnabled is true"
        )
    with db.engine.write() as batch:
        info = _table(db, req["TableName"], batch)
        key = C.PITR_PREFIX + info.name.encode()
        current = config(db, info, batch)
        if enable:
            cfg = current or {"table_id": info.description.get("TableId"), "enabled": True,
                              "enabled_at": db.now(), "period_days": DEFAULT_PERIOD_DAYS}
            if period is not None:
                cfg["period_days"] = int(period)
            C.save(batch, key, cfg)
        else:
            batch.delete(key)
            cfg = None
    return {"ContinuousBackupsDescription": _description(db, info, cfg)}


# --- retention: the change log must reach back over the longest PITR window ----------------------

def retention_seconds(db: Database) -> float:
    """How long change records must be kept for point-in-time recovery (0: no PITR table)."""
    longest = 0.0
    with db.engine.read() as reader:
        for name_cfg in C.scan(reader, C.PITR_PREFIX):
            if name_cfg.get("enabled"):
                longest = max(longest, name_cfg["period_days"] * DAY)
    return longest


# --- the state of a table at an instant ---------------------------------------------------------

def _first_sequence_after(conn: sqlite3.Connection, instant: float, upto: int) -> int:
    """Smallest sequence whose timestamp may be > instant."""
    row = conn.execute("SELECT min(seq) FROM changelog").fetchone()
    lo = row[0] if row and row[0] is not None else upto + 1
    return first_sequence_later_than(conn, instant, lo, upto + 1)


def state_at(conn: sqlite3.Connection, info: TableInfo, instant: float) -> Iterator[tuple[bytes, bytes]]:
    """(key suffix, item bytes) of ``info``'s table as it was at ``instant``, from a snapshot."""
    upto = C.snapshot_sequence(conn)
    start = _first_sequence_after(conn, instant - _CLOCK_MARGIN, upto)
    late_txids = {
        r[0] for r in conn.execute(
            "SELECT DISTINCT txid FROM changelog WHERE tbl = ? AND seq >= ? AND seq <= ? AND ts > ?"
            " AND txid IS NOT NULL", (info.name, start, upto, instant))
    }
    undo: dict[bytes, bytes | None] = {}
    head = C.ITEM_KEY_HEAD
    cur = conn.execute(
        "SELECT ts, keys, old, txid FROM changelog WHERE tbl = ? AND seq >= ? AND seq <= ? ORDER BY seq",
        (info.name, start, upto))
    for ts, keys, old, txid in cur:
        if ts <= instant and (txid is None or txid not in late_txids):
            continue
        suffix = storage_key(info, orjson.loads(keys))[head:]
        if suffix not in undo:
            undo[suffix] = old
    for suffix, raw in C.snapshot_items(conn, info.uid):
        if suffix in undo:
            old = undo.pop(suffix)
            if old is not None:
                yield suffix, old
        else:
            yield suffix, raw
    for suffix in sorted(undo):  # deleted after the instant: they come back
        old = undo[suffix]
        if old is not None:
            yield suffix, old


def changes_between(conn: sqlite3.Connection, info: TableInfo, lo: float, hi: float
                    ) -> Iterator[tuple[bytes, bytes | None, bytes | None, float]]:
    """Per key changed in [lo, hi): (keys JSON, image at lo, image just before hi, last write time)."""
    upto = C.snapshot_sequence(conn)
    start = _first_sequence_after(conn, lo - _CLOCK_MARGIN, upto)
    found: dict[bytes, list[Any]] = {}
    for ts, keys, old, new in conn.execute(
        "SELECT ts, keys, old, new FROM changelog WHERE tbl = ? AND seq >= ? AND seq <= ? ORDER BY seq",
        (info.name, start, upto),
    ):
        if ts < lo or ts >= hi:
            continue
        entry = found.get(keys)
        if entry is None:
            found[keys] = [old, new, ts]
        else:
            entry[1], entry[2] = new, ts
    for keys, (old, new, ts) in found.items():
        yield keys, old, new, ts


# --- RestoreTableToPointInTime -----------------------------------------------------------------

def restore_table_to_point_in_time(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    target = req["TargetTableName"]
    source_ref = req.get("SourceTableArn") or req.get("SourceTableName")
    if source_ref is None:
        raise errors.validation("Either SourceTableArn or SourceTableName must be specified")
    if "SourceTableArn" in req and "SourceTableName" in req:
        raise errors.validation("Only one of SourceTableArn or SourceTableName may be specified")
    use_latest = bool(req.get("UseLatestRestorableTime"))
    if use_latest and "RestoreDateTime" in req:
        raise errors.validation("Only one of RestoreDateTime or UseLatestRestorableTime may be specified")
    if not use_latest and "RestoreDateTime" not in req:
        raise errors.validation("RestoreDateTime must be specified when UseLatestRestorableTime is not true")
    name = C.table_name_of(source_ref)
    if db.catalog.find(target) is not None:
        raise C.table_already_exists(target)
    snap = C.open_snapshot(db)
    try:
        raw = C.snapshot_get(snap, b"\x00T" + name.encode())
        if raw is None:
            raise C.table_not_found(name)
        info = TableInfo.from_json(raw)
        cfg = config(db, info, C.SnapshotReader(snap))
        if cfg is None:
            raise C.pitr_unavailable(name)
        earliest, latest = window(db, cfg)
        instant = latest if use_latest else float(req["RestoreDateTime"])
        if not earliest <= instant <= latest:
            raise C.invalid_restore_time()
        source = {k: v for k, v in info.description.items() if not k.startswith("_")}
        create_req = loader.creation_request(source, target, req)
        summary = {"SourceTableArn": source["TableArn"], "RestoreDateTime": instant, "RestoreInProgress": True}
        new_info = loader.create_target(db, create_req, {"RestoreSummary": summary}, C.table_already_exists(target))
    except BaseException:
        snap.close()
        raise
    from dynamodbforge.ops.tables import _describe, _public

    response = {"TableDescription": _public(_describe(db, new_info, "CREATING"))}
    C.run_background(f"pitr-restore-{target}", lambda: _restore(db, snap, info, new_info, instant))
    return response


def _restore(db: Database, snap: sqlite3.Connection, source: TableInfo, target: TableInfo, instant: float) -> None:
    started = time.monotonic()
    label = f"point-in-time restore of {source.name} to {instant:.3f}"
    try:
        with C.task_database(db) as tdb:
            count, _ = loader.load_pairs(tdb, target, state_at(snap, source, instant), label)
            loader.finish(tdb, target, label, count, started)
    finally:
        snap.close()
