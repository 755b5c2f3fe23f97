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

import fcntl
import mmap
import os
import sqlite3
import struct
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from dynamodbforge.storage.engine import ChangeRecord

# CPython's sqlite3 module sends every parameter that is not exactly an int, float, str or
# bytearray through its adaptation protocol (PEP 246), and for bytes and None — our keys,
# values, images and absent fields — that protocol ends in two failed attribute lookups,
# one of which raises and formats an AttributeError: about 3,000 instructions a parameter,
# 8 % of a PutItem's instructions (callgrind, 1,000 PutItems in-process).  A registered
# adapter turns the lookup into one dictionary hit.  Both return their argument unchanged
# (bytes(b) is b), so what is bound is exactly what was passed.
sqlite3.register_adapter(bytes, bytes)
sqlite3.register_adapter(type(None), lambda _none: None)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;
-- seq: no AUTOINCREMENT (its sqlite_sequence row is one more page written by every
-- commit).  Trimming never deletes the newest row instead (see trim_changes), so the
-- next seq is always above every seq ever assigned.  Databases created with
-- AUTOINCREMENT keep it, which is as correct.  (No semicolons in comments here.)
CREATE TABLE IF NOT EXISTS changelog (
    seq INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    tbl TEXT NOT NULL,
    keys BLOB NOT NULL,
    old BLOB,
    new BLOB,
    origin TEXT NOT NULL,
    txid TEXT,
    identity TEXT,
    dsize INTEGER
);
-- dsize: the item's size change (ChangeRecord.size_delta), NULL in records the table
-- statistics do not count (all records of databases created before it existed: their
-- statistics rows already hold them).
-- per-table reads of the change log, and what trimming removed
CREATE INDEX IF NOT EXISTS changelog_tbl_seq ON changelog (tbl, seq);
CREATE TABLE IF NOT EXISTS changelog_horizon (tbl TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
"""
# also the layout of bench/floorserver.py, the benchmark's reference on this storage
SCHEMA_STATEMENTS: tuple[str, ...] = tuple(s for s in _SCHEMA.split(";") if s.strip())


class _Batch:
    __slots__ = ("_cur", "_engine")

    def __init__(self, cur: sqlite3.Cursor, engine: "SQLiteEngine | None" = None) -> None:
        self._cur = cur
        self._engine = engine

    def catalog_changed(self) -> None:
        """Table metadata changes in this batch: invalidate every process's catalog cache."""
        if self._engine is not None:
            self._engine._catalog_changed()

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
            "INSERT INTO changelog (ts, tbl, keys, old, new, origin, txid, identity, dsize) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                record.timestamp,
                record.table,
                record.keys,
                record.old_image,
                record.new_image,
                record.origin,
                record.transaction_id,
                record.user_identity,
                record.size_delta,
            ),
        )

    def change_totals(self, table: str, after_sequence: int,
                      through_sequence: int | None = None) -> tuple[int, int, int]:
        return change_totals_of(self._cur.connection, table, after_sequence, through_sequence)

    def changed_tables(self, after_sequence: int, through_sequence: int | None = None) -> list[str]:
        return [r[0] for r in self._cur.execute(
            "SELECT DISTINCT tbl FROM changelog WHERE seq > ? AND seq <= ? AND tbl != ''",
            (after_sequence, _NO_LIMIT if through_sequence is None else through_sequence))]

    def last_sequence(self) -> int:
        return last_sequence_of(self._cur.connection)


def first_sequence_later_than(conn: sqlite3.Connection, instant: float, lo: int, hi: int, *,
                              or_equal: bool = False) -> int:
    """Smallest s in [lo, hi] whose first change record at or after s is later than ``instant``
    (or at it, with ``or_equal``); ``hi`` if there is none before it.  Change records are
    appended in time order, so this is a binary search over the sequence, not a scan."""
    while lo < hi:
        mid = (lo + hi) // 2
        row = conn.execute("SELECT ts FROM changelog WHERE seq >= ? ORDER BY seq LIMIT 1", (mid,)).fetchone()
        if row is None or row[0] > instant or (or_equal and row[0] == instant):
            hi = mid
        else:
            lo = mid + 1
    return lo


_NO_LIMIT = 2**63 - 1  # the highest sequence SQLite can hold


def change_totals_of(conn: sqlite3.Connection, table: str, after_sequence: int,
                     through_sequence: int | None = None) -> tuple[int, int, int]:
    """See engine.StatsReader.change_totals (a range of the (tbl, seq) index)."""
    row = conn.execute(
        "SELECT coalesce(sum((dsize IS NOT NULL) * ((new IS NOT NULL) - (old IS NOT NULL))), 0),"
        " coalesce(sum(dsize), 0), max(seq) FROM changelog WHERE tbl = ? AND seq > ? AND seq <= ?",
        (table, after_sequence, _NO_LIMIT if through_sequence is None else through_sequence)).fetchone()
    return int(row[0]), int(row[1]), int(row[2]) if row[2] is not None else after_sequence


def last_sequence_of(conn: sqlite3.Connection) -> int:
    """Highest sequence ever assigned: trimming keeps the newest row (trim_changes), and a log
    emptied by trimming before it did so left its highest sequence in changelog_horizon."""
    row = conn.execute(
        "SELECT max(coalesce((SELECT max(seq) FROM changelog), 0),"
        " coalesce((SELECT max(seq) FROM changelog_horizon), 0))").fetchone()
    return int(row[0])


_SCAN_CHUNK = 256
TRIM_CHUNK_ROWS = 20_000  # change records removed per trim_changes call (see there)
_GEN = struct.Struct("<Q")


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
        self._synchronous = synchronous
        if path is not None:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self._conn = sqlite3.connect(
            path or ":memory:", isolation_level=None, check_same_thread=False, cached_statements=256
        )
        self._lock = threading.RLock()  # one connection: serialize threads of this process
        self._group_thread: int | None = None  # see enable_group_commit
        self._catalog_dirty = False  # see catalog_generation
        self._gen_local = 0
        self._gen_map: mmap.mmap | None = None
        if path is not None:
            self._gen_fd = os.open(path + "-catalog-gen", os.O_RDWR | os.O_CREAT, 0o644)
            if os.fstat(self._gen_fd).st_size < _GEN.size:
                os.ftruncate(self._gen_fd, _GEN.size)
            self._gen_map = mmap.mmap(self._gen_fd, _GEN.size)
        self._group_open = False
        self._read_open = False  # see _begin_read_snapshot
        self._group_failed = False  # see write(undo_alone=False)
        self._schedule_commit: Callable[[], None] = lambda: None
        conn = self._conn
        if path is not None:
            # 4 KB pages (the OS page; only takes effect when the file is created).  Smaller
            # pages were tried: they halve the WAL bytes per write but double the pages in
            # the page cache, and SQLite walks the whole page cache at the COMMIT after any
            # B-tree split that reorders pages (balance_nonroot parks a page at the
            # pending-byte page number, and the commit's cache truncation then scans every
            # bucket).  A/B with bench/lua/put_item.lua, 100,000 items: 6,300 -> 7,200-7,600 req/s.
            conn.execute("PRAGMA page_size=4096")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={synchronous}")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA wal_autocheckpoint=4000")  # unless disable_autocheckpoint()
            # Keep the WAL file at its size when it restarts: later commits overwrite blocks
            # that already exist instead of growing the file again (measured: PutItem p99 at
            # one connection 28-110 ms -> 7-10 ms, because appends need no new allocation).
            conn.execute("PRAGMA journal_size_limit=-1")
        # 8 MB page cache (2,048 pages): the operating system caches the file anyway, and
        # the COMMIT after a B-tree split walks the whole page cache (see page_size), so a
        # bigger one costs every such commit.  A/B, 100,000 items, 32 connections, 8 vs
        # 32 MB: PutItem +4-5 %, GetItem +10-25 % (twice each).
        conn.execute("PRAGMA cache_size=-8192")
        conn.execute("PRAGMA temp_store=MEMORY")
        with self._lock:
            conn.execute("BEGIN IMMEDIATE")
            for statement in SCHEMA_STATEMENTS:
                conn.execute(statement)
            if not any(col[1] == "dsize" for col in conn.execute("PRAGMA table_info(changelog)")):
                conn.execute("ALTER TABLE changelog ADD COLUMN dsize INTEGER")  # a data directory from before it
            conn.execute("COMMIT")
        self._get_sql = "SELECT v FROM kv WHERE k = ?"

    # -- reads -------------------------------------------------------------
    def get(self, key: bytes) -> bytes | None:
        if self._group_thread is not None and not self._conn.in_transaction \
                and threading.get_ident() == self._group_thread:
            self._begin_read_snapshot()
        row = self._conn.execute(self._get_sql, (key,)).fetchone()
        return row[0] if row else None

    def get_latest(self, key: bytes) -> bytes | None:
        """Like get, but never from a read snapshot begun earlier (see _begin_read_snapshot):
        for metadata cached against the catalog generation, which must not be older than
        the generation it is cached under."""
        with self._lock:
            if self._read_open:
                self._end_read_snapshot()
            row = self._conn.execute(self._get_sql, (key,)).fetchone()
        return row[0] if row else None

    # Read snapshots.  A point read outside any transaction is a read transaction of
    # its own, and in WAL mode each one takes and drops a lock on the shared-memory
    # index with two fcntl() calls (about a tenth of GetItem's time, measured with
    # perf).  The request thread instead opens one read transaction at its first read
    # of an event-loop iteration and ends it when the iteration is done (the commit
    # gate's flush), so every read of that iteration shares one snapshot.  It is never
    # older than the iteration, so it holds every write acknowledged before any of
    # the iteration's requests arrived.  A write group ends it before it begins.

    def _begin_read_snapshot(self) -> None:
        with self._lock:
            if not self._conn.in_transaction:
                self._conn.execute("BEGIN")
                self._read_open = True
                self._schedule_commit()

    def _end_read_snapshot(self) -> None:
        self._read_open = False
        if self._conn.in_transaction:
            self._conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator["_Batch"]:
        with self._lock:
            conn = self._conn
            if not conn.in_transaction and self._group_thread is not None \
                    and threading.get_ident() == self._group_thread:
                self._begin_read_snapshot()
            if conn.in_transaction:  # inside a write batch or the iteration's snapshot
                yield _Batch(conn.cursor(), self)
                return
            conn.execute("BEGIN DEFERRED")
            try:
                yield _Batch(conn.cursor(), self)
            finally:
                conn.execute("COMMIT")

    # -- writes ------------------------------------------------------------
    def write(self, *, undo_alone: bool = True) -> "_WriteContext":
        """``with engine.write() as batch:`` — one atomic write batch (see module docstring).

        In a write group each batch is a SAVEPOINT, so that a batch that raises is undone
        on its own.  ``undo_alone=False`` (the caller raises nothing after its first
        write) skips the SAVEPOINT and its RELEASE — two statements of the seven a
        PutItem runs.  Should such a batch fail after writing anyway (an I/O error), the
        whole group is rolled back and every request in it answered with a 500: none of
        them was acknowledged yet.
        """
        return _WriteContext(self, undo_alone)

    # -- group commit ----------------------------------------------------------
    # The server lets all write batches of one event-loop iteration share one
    # transaction: each batch is a SAVEPOINT (so it still commits or rolls back as
    # a unit), and the whole group commits once, before any of its answers is sent.
    # One commit per iteration instead of one per request is what makes writes fast
    # under concurrency; durability is unchanged because nothing is acknowledged
    # before the COMMIT.

    def enable_group_commit(self, schedule_commit: Callable[[], None]) -> None:
        """Group this thread's write batches; ``schedule_commit()`` is called when a group opens
        and must arrange for ``commit_group()`` to run soon (e.g. ``loop.call_soon``)."""
        self._group_thread = threading.get_ident()
        self._schedule_commit = schedule_commit

    def group_pending(self) -> bool:
        """True while write batches have run that are not committed yet."""
        return self._group_open

    def commit_group(self) -> None:
        with self._lock:
            if self._read_open:  # only reads this iteration: end their snapshot
                self._end_read_snapshot()
                return
            if not self._group_open:
                return
            self._group_open = False
            if self._group_failed:  # rolled back already (see write(undo_alone=False))
                self._group_failed = False
                self._after_commit()
                raise sqlite3.OperationalError("a write batch failed midway; its group was rolled back")
            try:
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            finally:
                self._after_commit()

    # -- catalog generation ------------------------------------------------------
    # A counter shared by every process of one data directory (an 8-byte mmap'd
    # file), bumped whenever table metadata changes: before the change (so this
    # process stops trusting its cache at once) and again after the transaction
    # ends (so no process keeps what it cached in between).  Catalog caches table
    # metadata for as long as the counter is unchanged, so a request needs no
    # storage read to find its table.

    def catalog_generation(self) -> int:
        gen_map = self._gen_map
        if gen_map is None:
            return self._gen_local
        return _GEN.unpack_from(gen_map, 0)[0]

    def _catalog_changed(self) -> None:
        self._catalog_dirty = True
        self._bump_generation()

    def _after_commit(self) -> None:
        if self._catalog_dirty:
            self._catalog_dirty = False
            self._bump_generation()

    def _bump_generation(self) -> None:
        gen_map = self._gen_map
        if gen_map is None:
            self._gen_local += 1
            return
        fcntl.flock(self._gen_fd, fcntl.LOCK_EX)  # increments from several processes must not be lost
        try:
            _GEN.pack_into(gen_map, 0, _GEN.unpack_from(gen_map, 0)[0] + 1)
        finally:
            fcntl.flock(self._gen_fd, fcntl.LOCK_UN)

    def _open_in_group(self, savepoint: bool) -> _Batch:
        conn = self._conn
        if self._group_failed:
            raise sqlite3.OperationalError("an earlier write batch of this group failed; the group was rolled back")
        if not self._group_open:
            if self._read_open:  # the group must see the latest state, not the iteration's snapshot
                self._end_read_snapshot()
            conn.execute("BEGIN IMMEDIATE")
            self._group_open = True
            self._schedule_commit()
        if savepoint:
            conn.execute("SAVEPOINT batch")
        return _Batch(conn.cursor(), self)

    def _close_in_group(self, batch: _Batch, failed: bool, savepoint: bool, changes_before: int) -> None:
        conn = self._conn
        if failed:
            if savepoint:
                conn.execute("ROLLBACK TO batch")
                conn.execute("RELEASE batch")
            elif conn.total_changes != changes_before:  # it wrote, then failed: undo the group
                self._group_failed = True
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            return
        if savepoint:
            conn.execute("RELEASE batch")

    def _open_alone(self) -> _Batch:
        """A batch from another thread: a transaction of its own, after the group's."""
        if (self._group_open and not self._group_failed) or self._read_open:  # the group first (earlier is safe)
            self.commit_group()
        self._conn.execute("BEGIN IMMEDIATE")
        return _Batch(self._conn.cursor(), self)

    def _close_alone(self, failed: bool) -> None:
        try:
            self._conn.execute("ROLLBACK" if failed else "COMMIT")
        finally:
            self._after_commit()


    # -- change log --------------------------------------------------------
    def changes(self, after_sequence: int, limit: int) -> list[ChangeRecord]:
        rows = self._conn.execute(
            "SELECT seq, ts, tbl, keys, old, new, origin, txid, identity FROM changelog"
            " WHERE seq > ? AND tbl != '' ORDER BY seq LIMIT ?",  # '': trimmed (trim_changes)
            (after_sequence, limit),
        ).fetchall()
        return [
            ChangeRecord(
                table=r[2], keys=r[3], old_image=r[4], new_image=r[5], timestamp=r[1], origin=r[6],
                transaction_id=r[7], user_identity=r[8], sequence=r[0],
            )
            for r in rows
        ]

    def trim_changes(self, before_timestamp: float, max_rows: int = TRIM_CHUNK_ROWS,
                     before_trim: Callable[[_Batch], Any] | None = None) -> int:
        """Remove change records older than ``before_timestamp``, at most ``max_rows`` of them
        (call again while it returns ``max_rows``).

        Records are appended in time order, so the old ones are a prefix of the log: its
        end is found by a binary search over the sequence (a filter on ``ts`` would scan
        the whole log — at a million records, a long pause of the event loop), and one
        call deletes at most a bounded slice of it.  A record that a clock step put out
        of order goes one round later.

        Whether anything is old enough is read first: the server calls this from its
        event loop, and a write batch waits for the write lock, which the checkpointer
        holds for as long as a forced RESTART takes (60-330 ms measured), stalling every
        request of that worker meanwhile.  With nothing to trim, no write lock is taken.
        ``before_trim(batch)`` runs first in the trimming batch (table statistics fold what
        trimming takes away: catalog.fold_stats_in).
        """
        with self.read() as reader:  # the oldest record that is not the blanked newest one
            oldest = reader._cur.execute(
                "SELECT ts FROM changelog WHERE tbl != '' ORDER BY seq LIMIT 1").fetchone()
        if oldest is None or oldest[0] >= before_timestamp:
            return 0
        with self.write() as batch:
            if before_trim is not None:
                before_trim(batch)
            conn = self._conn
            first, last = conn.execute("SELECT min(seq), max(seq) FROM changelog").fetchone()
            if first is None:
                return 0
            # records first <= seq < end are older than the cutoff
            end = first_sequence_later_than(conn, before_timestamp, first, min(last + 1, first + max_rows),
                                            or_equal=True)
            if end <= first:
                return 0
            # remember, per table, the highest sequence trimming removed (TrimmedDataAccess)
            conn.execute(
                "INSERT OR REPLACE INTO changelog_horizon (tbl, seq) SELECT c.tbl, max(c.seq) FROM changelog c"
                " WHERE c.seq >= ? AND c.seq < ? AND c.tbl != '' GROUP BY c.tbl HAVING max(c.seq) > coalesce("
                "(SELECT h.seq FROM changelog_horizon h WHERE h.tbl = c.tbl), 0)",
                (first, end),
            )
            removed = conn.execute("DELETE FROM changelog WHERE seq >= ? AND seq < ?", (first, min(end, last))).rowcount
            if end > last:
                # The newest record goes too, but its row stays, blanked (no table, no images):
                # SQLite gives a new row the largest seq plus one, so an emptied log would
                # start its sequence over.  Every reader filters on a table name; '' is none.
                removed += conn.execute(
                    "UPDATE changelog SET tbl = '', keys = x'', old = NULL, new = NULL, txid = NULL,"
                    " identity = NULL WHERE seq = ? AND tbl != ''", (last,)).rowcount
            return removed

    # ----------------------------------------------------
    def table_changes(
        self, table: str, after_sequence: int, limit: int, up_to: int | None = None
    ) -> list[ChangeRecord]:
        sql = (
            "SELECT seq, ts, tbl, keys, old, new, origin, txid, identity FROM changelog"
            " WHERE tbl = ? AND seq > ?"
        )
        params: tuple = (table, after_sequence)
        if up_to is not None:
            sql += " AND seq <= ?"
            params += (up_to,)
        rows = self._conn.execute(sql + " ORDER BY seq LIMIT ?", params + (limit,)).fetchall()
        return [
            ChangeRecord(
                table=r[2], keys=r[3], old_image=r[4], new_image=r[5], timestamp=r[1], origin=r[6],
                transaction_id=r[7], user_identity=r[8], sequence=r[0],
            )
            for r in rows
        ]

    def last_sequence(self) -> int:
        with self._lock:
            return last_sequence_of(self._conn)

    def trim_horizon(self, table: str) -> int:
        row = self._conn.execute("SELECT seq FROM changelog_horizon WHERE tbl = ?", (table,)).fetchone()
        return int(row[0]) if row else 0

    # -- checkpoints ------------------------------------------------------------
    def disable_autocheckpoint(self) -> None:
        """Checkpoints are another process's job (storage/checkpointer.py): no COMMIT
        ever runs one inline."""
        if self.path is not None:
            with self._lock:
                self._conn.execute("PRAGMA wal_autocheckpoint=0")

    def close(self) -> None:
        with self._lock:
            if self._read_open:
                self._end_read_snapshot()
            self._conn.close()


class _WriteContext:
    """The context manager of SQLiteEngine.write (a class: cheaper than a generator on
    the path every write takes)."""

    __slots__ = ("_engine", "_batch", "_grouped", "_savepoint", "_changes_before")

    def __init__(self, engine: SQLiteEngine, undo_alone: bool) -> None:
        self._engine = engine
        self._savepoint = undo_alone

    def __enter__(self) -> _Batch:
        engine = self._engine
        engine._lock.acquire()
        try:
            self._grouped = engine._group_thread == threading.get_ident()
            if self._grouped:
                self._changes_before = engine._conn.total_changes
                self._batch = engine._open_in_group(self._savepoint)
            else:
                self._batch = engine._open_alone()
        except BaseException:
            engine._lock.release()
            raise
        return self._batch

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        engine = self._engine
        try:
            if self._grouped:
                engine._close_in_group(self._batch, exc_type is not None, self._savepoint, self._changes_before)
            else:
                engine._close_alone(exc_type is not None)
        finally:
            engine._lock.release()
