"""SQLite (WAL) storage engine: the embedded default, and ``:memory:`` for --in-memory.

One table ``kv`` (WITHOUT ROWID, so rows are clustered by key, a B-tree ordered by
memcmp of the BLOB key) and one append-only ``changelog``.  Write batches run inside
``BEGIN IMMEDIATE`` so writers are serialized, also across processes sharing one
data directory; readers see the last committed state (WAL snapshot isolation).

Durability: ``synchronous=NORMAL`` in WAL mode survives a crash of the server
process (kill -9): a commit is in the OS before it is acknowledged.  ``FULL`` also
survives power loss at the cost of an fsync per commit.
"""
from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import contextmanager
from typing import Iterator

from dynamodbforge.storage.engine import ChangeRecord

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS changelog (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    tbl TEXT NOT NULL,
    keys BLOB NOT NULL,
    old BLOB,
    new BLOB,
    origin TEXT NOT NULL,
    txid TEXT,
    identity TEXT
);
"""


class _Batch:
    __slots__ = ("_cur",)

    def __init__(self, cur: sqlite3.Cursor) -> None:
        self._cur = cur

    def get(self, key: bytes) -> bytes | None:
        row = self._cur.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        return row[0] if row else None

    def scan(self, start: bytes, end: bytes | None, *, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        return _scan(self._cur.connection, start, end, reverse)

    def put(self, key: bytes, value: bytes) -> None:
        self._cur.execute("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", (key, value))

    def delete(self, key: bytes) -> None:
        self._cur.execute("DELETE FROM kv WHERE k = ?", (key,))

    def delete_range(self, start: bytes, end: bytes | None) -> None:
        if end is None:
            self._cur.execute("DELETE FROM kv WHERE k >= ?", (start,))
        else:
            self._cur.execute("DELETE FROM kv WHERE k >= ? AND k < ?", (start, end))

    def log_change(self, record: ChangeRecord) -> None:
        self._cur.execute(
            "INSERT INTO changelog (ts, tbl, keys, old, new, origin, txid, identity) VALUES (?,?,?,?,?,?,?,?)",
            (
                record.timestamp,
                record.table,
                record.keys,
                record.old_image,
                record.new_image,
                record.origin,
                record.transaction_id,
                record.user_identity,
            ),
        )


_SCAN_CHUNK = 256


def _scan(conn: sqlite3.Connection, start: bytes, end: bytes | None, reverse: bool) -> Iterator[tuple[bytes, bytes]]:
    """Chunked range scan: bounded memory however large the range is."""
    lo, hi = start, end
    while True:
        if not reverse:
            if hi is None:
                rows = conn.execute(
                    "SELECT k, v FROM kv WHERE k >= ? ORDER BY k LIMIT ?", (lo, _SCAN_CHUNK)
                ).fetchall()
            else:
                rows = conn.execute(
                    "SELECT k, v FROM kv WHERE k >= ? AND k < ? ORDER BY k LIMIT ?", (lo, hi, _SCAN_CHUNK)
                ).fetchall()
        else:
            if hi is None:
                rows = conn.execute(
                    "SELECT k, v FROM kv WHERE k >= ? ORDER BY k DESC LIMIT ?", (lo, _SCAN_CHUNK)
                ).fetchall()
            else:
                rows = conn.execute(
                    "SELECT k, v FROM kv WHERE k >= ? AND k < ? ORDER BY k DESC LIMIT ?", (lo, hi, _SCAN_CHUNK)
                ).fetchall()
        yield from rows
        if len(rows) < _SCAN_CHUNK:
            return
        if not reverse:
            lo = rows[-1][0] + b"\x00"  # smallest key after the last one
        else:
            hi = rows[-1][0]


class SQLiteEngine:
    """See module docstring.  ``path`` None means an in-memory database."""

    def __init__(self, path: str | None, *, synchronous: str = "NORMAL") -> None:
        self.path = path
        if path is not None:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self._conn = sqlite3.connect(
            path or ":memory:", isolation_level=None, check_same_thread=False, cached_statements=256
        )
        self._lock = threading.RLock()  # one connection: serialize threads of this process
        conn = self._conn
        if path is not None:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={synchronous}")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA wal_autocheckpoint=4000")
        conn.execute("PRAGMA cache_size=-32768")  # 32 MB page cache: bounded memory
        conn.execute("PRAGMA temp_store=MEMORY")
        with self._lock:
            conn.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("COMMIT")
        self._get_sql = "SELECT v FROM kv WHERE k = ?"

    # -- reads -------------------------------------------------------------
    def get(self, key: bytes) -> bytes | None:
        row = self._conn.execute(self._get_sql, (key,)).fetchone()
        return row[0] if row else None

    @contextmanager
    def read(self) -> Iterator["_Batch"]:
        with self._lock:
            conn = self._conn
            if conn.in_transaction:  # nested inside a write batch: it already is a snapshot
                yield _Batch(conn.cursor())
                return
            conn.execute("BEGIN DEFERRED")
            try:
                yield _Batch(conn.cursor())
            finally:
                conn.execute("COMMIT")

    # -- writes ------------------------------------------------------------
    @contextmanager
    def write(self) -> Iterator[_Batch]:
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield _Batch(conn.cursor())
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # -- change log --------------------------------------------------------
    def changes(self, after_sequence: int, limit: int) -> list[ChangeRecord]:
        rows = self._conn.execute(
            "SELECT seq, ts, tbl, keys, old, new, origin, txid, identity FROM changelog"
            " WHERE seq > ? ORDER BY seq LIMIT ?",
            (after_sequence, limit),
        ).fetchall()
        return [
            ChangeRecord(
                table=r[2], keys=r[3], old_image=r[4], new_image=r[5], timestamp=r[1], origin=r[6],
                transaction_id=r[7], user_identity=r[8], sequence=r[0],
            )
            for r in rows
        ]

    def trim_changes(self, before_timestamp: float) -> int:
        with self.write() as _:
            cur = self._conn.execute("DELETE FROM changelog WHERE ts < ?", (before_timestamp,))
            return cur.rowcount

    def close(self) -> None:
        with self._lock:
            self._conn.close()
