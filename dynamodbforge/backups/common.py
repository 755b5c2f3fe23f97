"""Shared pieces of backups / PITR / export / import: where metadata lives, ids and ARNs,
AWS's errors, options, snapshot connections and background tasks.

Metadata is kept in the storage engine under ``\\x00K`` (so every worker process sees it
and it survives restarts); bulk data (backup copies, exports) lives in files under the
data directory / export root.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import orjson

from dynamodbforge.catalog import ITEM_PREFIX
from dynamodbforge.database import ACCOUNT_ID, Database
from dynamodbforge.errors import DynamoDBError
from dynamodbforge.storage.keycodec import prefix_successor
from dynamodbforge.storage.sqlite import change_totals_of, last_sequence_of

log = logging.getLogger("dynamodbforge.backups")

_BASE = b"\x00K"
BACKUP_PREFIX = _BASE + b"\x01"  # + backup id -> backup metadata JSON
PITR_PREFIX = _BASE + b"\x02"  # + table name -> PITR configuration JSON
EXPORT_PREFIX = _BASE + b"\x03"  # + export id -> export description JSON
IMPORT_PREFIX = _BASE + b"\x04"  # + import id -> import description JSON
SCHEDULE_LEASE_KEY = _BASE + b"\x05"  # -> {"owner", "until"}: one scheduler across --workers

ITEM_KEY_HEAD = len(ITEM_PREFIX) + 8  # item storage key = ITEM_PREFIX + uid(8) + encoded key ("suffix")
LOAD_CHUNK = 1000  # items per write batch when loading a restored/imported table


@dataclass(slots=True)
class Options:
    export_root: str | None = None  # --export-root (default <data-dir>/exports)
    synchronous_tasks: bool = False  # run background tasks inline (unit tests)
    progress_every: int = 10_000  # log a progress line every N items loaded


OPTIONS = Options()
_memory_dir: str | None = None


# --- errors, as AWS words them ---------------------------------------------------------------

def _err(type_name: str, message: str) -> DynamoDBError:
    return DynamoDBError(type_name, message)


def table_not_found(name: str) -> DynamoDBError:
    return _err("TableNotFoundException", f"Table not found: {name}")


def table_already_exists(name: str) -> DynamoDBError:
    return _err("TableAlreadyExistsException", f"Table already exists: {name}")


def table_in_use(name: str) -> DynamoDBError:
    return _err("TableInUseException", f"Table is being created or deleted: {name}")


def backup_not_found(arn: str) -> DynamoDBError:
    return _err("BackupNotFoundException", f"Backup not found: {arn}")


def backup_in_use(message: str | None = None) -> DynamoDBError:
    return _err("BackupInUseException", message or (
        "There is another ongoing conflicting backup control plane operation on the table. "
        "The backup is either being created, deleted or restored to a table."))


def pitr_unavailable(name: str) -> DynamoDBError:
    return _err("PointInTimeRecoveryUnavailableException", f"Point in time recovery is not enabled for table '{name}'")


def invalid_restore_time() -> DynamoDBError:
    return _err("InvalidRestoreTimeException",
                "An invalid restore time was specified. RestoreDateTime must be between "
                "EarliestRestorableDateTime and LatestRestorableDateTime.")


def invalid_export_time(message: str) -> DynamoDBError:
    return _err("InvalidExportTimeException", message)


def export_not_found(arn: str) -> DynamoDBError:
    return _err("ExportNotFoundException", f"Export not found: {arn}")


def import_not_found(arn: str) -> DynamoDBError:
    return _err("ImportNotFoundException", f"Import not found: {arn}")


def export_conflict() -> DynamoDBError:
    return _err("ExportConflictException",
                "There was a conflict when writing to the specified S3 bucket: an export with the same "
                "ClientToken but different parameters already exists")


def import_conflict() -> DynamoDBError:
    return _err("ImportConflictException",
                "There was a conflict when importing from the specified S3 source: an import with the same "
                "ClientToken but different parameters already exists")


# --- names, ids, ARNs --------------------------------------------------------------------------

def table_name_of(name_or_arn: str) -> str:
    """TableName parameters of these operations accept a table name or a table ARN."""
    if name_or_arn.startswith("arn:"):
        rest = name_or_arn.split(":table/", 1)
        if len(rest) == 2:
            return rest[1].split("/", 1)[0]
    return name_or_arn


def new_id(db: Database) -> str:
    """AWS's id form: 14-digit creation time in milliseconds, '-', 8 hex digits."""
    return f"{int(db.clock() * 1000):014d}-{uuid.uuid4().hex[:8]}"


def resource_arn(db: Database, table: str, kind: str, ident: str) -> str:
    return f"arn:aws:dynamodb:{db.region}:{ACCOUNT_ID}:table/{table}/{kind}/{ident}"


def id_of_arn(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def item_prefix(uid: int) -> bytes:
    return ITEM_PREFIX + uid.to_bytes(8, "big")


# --- metadata rows -----------------------------------------------------------------------------

def load(reader: Any, key: bytes) -> dict[str, Any] | None:
    raw = reader.get(key)
    return orjson.loads(raw) if raw is not None else None


def save(batch: Any, key: bytes, obj: dict[str, Any]) -> None:
    batch.put(key, orjson.dumps(obj))


def scan(reader: Any, prefix: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(v) for _, v in reader.scan(prefix, prefix_successor(prefix))]


def update(db: Database, key: bytes, fn: Callable[[dict[str, Any]], None]) -> dict[str, Any] | None:
    """Read-modify-write one metadata row in its own write batch (None: the row is gone)."""
    with db.engine.write() as batch:
        obj = load(batch, key)
        if obj is None:
            return None
        fn(obj)
        save(batch, key, obj)
        return obj


# --- directories -------------------------------------------------------------------------------

def data_dir(db: Database) -> str:
    path = getattr(db.engine, "path", None)
    if path:
        return os.path.dirname(os.path.abspath(path))
    global _memory_dir
    if _memory_dir is None:  # --in-memory: files go to a per-process temporary directory
        _memory_dir = tempfile.mkdtemp(prefix="ddbforge-mem-")
    return _memory_dir


def backups_dir(db: Database) -> str:
    path = os.path.join(data_dir(db), "backups")
    os.makedirs(path, exist_ok=True)
    return path


def export_root(db: Database) -> str:
    return os.path.abspath(OPTIONS.export_root or os.path.join(data_dir(db), "exports"))


def bucket_path(db: Database, bucket: str, prefix: str | None) -> str:
    """The directory standing in for s3://bucket/prefix (never outside the export root)."""
    root = export_root(db)
    parts = [p for p in (prefix or "").split("/") if p not in ("", ".")]
    if ".." in parts or bucket in ("", ".", ".."):
        raise DynamoDBError("ValidationException", "Invalid S3 bucket or prefix",
                            prefix="com.amazon.coral.validate#")
    return os.path.join(root, bucket, *parts)


# --- snapshots: a consistent read view on a connection of its own --------------------------------

def open_snapshot(db: Database) -> sqlite3.Connection:
    """A connection holding one read snapshot of the whole database, usable from any thread.

    With a database file this is a separate connection in a ``BEGIN`` transaction: in WAL
    mode it keeps seeing the state of its first read while writers go on undisturbed.  For
    ``--in-memory`` the database is copied (``sqlite3 backup``) under the engine's lock.
    The caller closes it.
    """
    path = getattr(db.engine, "path", None)
    if path:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot starts here
        return conn
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    engine: Any = db.engine
    with engine._lock:  # in-memory fallback: the engine's own connection is the only way in
        engine._conn.backup(conn)
    conn.execute("BEGIN")
    return conn


def snapshot_sequence(conn: sqlite3.Connection) -> int:
    return last_sequence_of(conn)


def snapshot_get(conn: sqlite3.Connection, key: bytes) -> bytes | None:
    row = conn.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
    return row[0] if row else None


class SnapshotReader:
    """A snapshot connection as a reader of the catalog (Catalog.stats among others)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def get(self, key: bytes) -> bytes | None:
        return snapshot_get(self.conn, key)

    def change_totals(self, table: str, after_sequence: int,
                      through_sequence: int | None = None) -> tuple[int, int, int]:
        return change_totals_of(self.conn, table, after_sequence, through_sequence)


def snapshot_items(conn: sqlite3.Connection, uid: int, chunk: int = 2000) -> Iterator[tuple[bytes, bytes]]:
    """(key suffix, item bytes) of one table in key order, from the snapshot."""
    lo = item_prefix(uid)
    hi = prefix_successor(lo)
    cur = conn.execute("SELECT k, v FROM kv WHERE k >= ? AND k < ? ORDER BY k", (lo, hi))
    while True:
        rows = cur.fetchmany(chunk)
        if not rows:
            return
        for k, v in rows:
            yield k[ITEM_KEY_HEAD:], v


@contextmanager
def task_database(db: Database) -> Iterator[Database]:
    """A Database for a background task: its own engine connection when there is a file."""
    path = getattr(db.engine, "path", None)
    if not path:
        yield db
        return
    from dynamodbforge.storage.sqlite import SQLiteEngine

    engine = SQLiteEngine(path)
    try:
        yield Database(engine, region=db.region, endpoint=db.endpoint, clock=db.clock)
    finally:
        engine.close()


def run_background(name: str, fn: Callable[[], None]) -> None:
    """Run a long task (copy, restore, export, import) without blocking the event loop."""

    def body() -> None:
        try:
            fn()
        except Exception:
            log.exception("%s failed", name)

    if OPTIONS.synchronous_tasks:
        body()
        return
    threading.Thread(target=body, name=name, daemon=True).start()
