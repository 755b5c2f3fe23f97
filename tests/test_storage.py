"""The SQLite engine's group commit: what a batch that fails undoes (storage/sqlite.py)."""
from __future__ import annotations

import sqlite3
import time

import pytest

from dynamodbforge.storage.sqlite import SQLiteEngine


@pytest.fixture()
def engine(tmp_path):
    eng = SQLiteEngine(str(tmp_path / "db.sqlite3"))
    eng.enable_group_commit(lambda: None)  # this thread's batches share one transaction
    yield eng
    eng.close()


class Refused(Exception):
    pass


def test_failed_batch_is_undone_alone_and_the_group_commits(engine):
    with engine.write() as batch:
        batch.put(b"a", b"1")
    with pytest.raises(Refused):
        with engine.write() as batch:
            batch.put(b"b", b"2")
            raise Refused
    engine.commit_group()
    assert (engine.get(b"a"), engine.get(b"b")) == (b"1", None)


def test_batch_without_its_own_undo_that_fails_before_writing_leaves_the_group_alone(engine):
    with engine.write() as batch:
        batch.put(b"a", b"1")
    with pytest.raises(Refused):
        with engine.write(undo_alone=False) as batch:
            assert batch.get(b"a") == b"1"
            raise Refused  # e.g. a failed condition: nothing written yet
    with engine.write(undo_alone=False) as batch:
        batch.put(b"c", b"3")
    engine.commit_group()
    assert (engine.get(b"a"), engine.get(b"c")) == (b"1", b"3")


def test_batch_without_its_own_undo_that_fails_after_writing_rolls_the_whole_group_back(engine):
    with engine.write() as batch:
        batch.put(b"a", b"1")
    with pytest.raises(Refused):
        with engine.write(undo_alone=False) as batch:
            batch.put(b"b", b"2")
            raise Refused  # broke its promise (an I/O error, say)
    with pytest.raises(sqlite3.OperationalError):  # the rest of the group fails fast ...
        with engine.write() as batch:
            batch.put(b"c", b"3")
    with pytest.raises(sqlite3.OperationalError):  # ... and so does its commit (answers become 500s)
        engine.commit_group()
    assert (engine.get(b"a"), engine.get(b"b"), engine.get(b"c")) == (None, None, None)
    with engine.write() as batch:  # the next group starts afresh
        batch.put(b"d", b"4")
    engine.commit_group()
    assert engine.get(b"d") == b"4"


def test_change_log_trims_the_old_prefix_in_slices(tmp_path):
    from dynamodbforge.storage.engine import ChangeRecord

    eng = SQLiteEngine(str(tmp_path / "log.sqlite3"))
    try:
        for i in range(50):  # records at t = 0..49, tables "a" and "b" alternating
            with eng.write() as batch:
                batch.log_change(ChangeRecord(table="ab"[i % 2], keys=b"{}", old_image=None, new_image=b"{}",
                                              timestamp=float(i), origin="us-east-1"))
        slices = []
        while True:
            n = eng.trim_changes(30.0, max_rows=7)  # older than t = 30: the first 30 records
            slices.append(n)
            if n < 7:
                break
        assert slices == [7, 7, 7, 7, 2]
        left = eng.changes(0, 100)
        assert [r.timestamp for r in left] == [float(i) for i in range(30, 50)]
        assert (eng.trim_horizon("a"), eng.trim_horizon("b")) == (29, 30)  # seq = t + 1
        assert eng.last_sequence() == 50
        assert eng.trim_changes(30.0) == 0
    finally:
        eng.close()


def _log_changes(eng: SQLiteEngine, timestamps: list[float], table: str = "t") -> None:
    """One change record of ``table`` per timestamp, each in a write batch of its own."""
    from dynamodbforge.storage.engine import ChangeRecord

    for ts in timestamps:
        with eng.write() as batch:
            batch.log_change(ChangeRecord(table=table, keys=b"{}", old_image=None, new_image=b"{}",
                                          timestamp=ts, origin="us-east-1"))


def test_trimming_with_nothing_old_takes_no_write_lock(tmp_path):
    """The server's maintenance calls trim_changes from its event loop every minute; with
    nothing old enough it must not wait for the write lock (another process's write, or the
    checkpointer's RESTART, would stall every request meanwhile)."""
    import threading

    path = str(tmp_path / "log.sqlite3")
    eng = SQLiteEngine(path)
    try:
        _log_changes(eng, [100.0, 101.0, 102.0])
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another writer holds the write lock

        def trim_in_thread(cutoff: float) -> list[int]:
            result: list[int] = []
            thread = threading.Thread(target=lambda: result.append(eng.trim_changes(cutoff)), daemon=True)
            thread.start()
            thread.join(2.0)
            return result

        try:
            assert trim_in_thread(100.0) == [0]  # nothing older than t = 100: answered at once
            assert trim_in_thread(100.5) == []  # the record at t = 100 is old: it waits its turn
        finally:
            other.execute("ROLLBACK")
            other.close()
        for _ in range(100):  # the waiting trim goes ahead once the lock is free
            if [r.timestamp for r in eng.changes(0, 10)] == [101.0, 102.0]:
                break
            time.sleep(0.02)
        assert [r.timestamp for r in eng.changes(0, 10)] == [101.0, 102.0]
        assert eng.trim_changes(1000.0) == 2  # everything: the newest row stays, blanked
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            assert trim_in_thread(2000.0) == [0]  # only the blanked row is left: nothing to do
        finally:
            other.execute("ROLLBACK")
            other.close()
    finally:
        eng.close()


def test_trimming_everything_never_restarts_the_sequence(tmp_path):
    """The change log has no AUTOINCREMENT: trimming blanks the newest record instead of
    deleting it, so sequences keep going up across trims and restarts."""
    path = str(tmp_path / "log.sqlite3")
    eng = SQLiteEngine(path)
    try:
        _log_changes(eng, [float(i) for i in range(5)])
        assert eng.trim_changes(100.0) == 5  # everything is old
        assert eng.changes(0, 100) == [] and eng.table_changes("t", 0, 100) == []
        assert eng.trim_horizon("t") == 5
        assert eng.last_sequence() == 5
        assert eng.trim_changes(100.0) == 0  # the blank row is not counted twice
    finally:
        eng.close()
    eng = SQLiteEngine(path)
    try:
        _log_changes(eng, [200.0])
        assert [r.sequence for r in eng.table_changes("t", 0, 100)] == [6]
        assert eng.last_sequence() == 6
        assert eng.trim_changes(300.0) == 2  # the old blank row goes, the new record is blanked
        assert eng.table_changes("t", 0, 100) == []
        assert eng.last_sequence() == 6
    finally:
        eng.close()


# -- table statistics from the change log (catalog.Catalog.stats) -------------------------------

def _service(path: str):
    import orjson

    from dynamodbforge.database import Database
    from dynamodbforge.service import Service

    db = Database(SQLiteEngine(path), region="us-east-1", endpoint="http://127.0.0.1")
    svc = Service(db)

    def call(op: str, req: dict) -> dict:
        status, out = svc.handle("DynamoDB_20120810." + op, orjson.dumps(req))
        assert status == 200, out
        return orjson.loads(out)
    return db, call


def _put(call, pk: str) -> None:
    call("PutItem", {"TableName": "tbl", "Item": {"pk": {"S": pk}}})


def _stats(call) -> tuple[int, int]:
    table = call("DescribeTable", {"TableName": "tbl"})["Table"]
    return table["ItemCount"], table["TableSizeBytes"]


def _create(call) -> None:
    call("CreateTable", {"TableName": "tbl", "BillingMode": "PAY_PER_REQUEST",
                         "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                         "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]})


def test_trimming_the_change_log_folds_its_records_into_the_statistics_first(tmp_path):
    from dynamodbforge.streams import retention

    db, call = _service(str(tmp_path / "db.sqlite3"))
    _create(call)
    for i in range(10):
        _put(call, f"k{i}")  # 10 items of 4 bytes ("pk" + "kN")
    hours = retention.stream_retention_seconds() / 3600
    retention.set_stream_retention_hours(0)
    try:
        assert retention.maintain(db) == 10  # every record is older than no retention at all
    finally:
        retention.set_stream_retention_hours(hours)
    assert db.engine.changes(0, 100) == []
    assert _stats(call) == (10, 40)
    _put(call, "k10")
    assert _stats(call) == (11, 45)  # "pk" + "k10"
    db.engine.close()


def test_a_data_directory_from_before_sized_change_records_keeps_its_statistics(tmp_path):
    """Such a directory's statistics rows hold every change record it has; its records have
    no size, and its change log no dsize column until the engine adds it."""
    import struct

    from dynamodbforge.catalog import STATS_PREFIX, fold_all_stats

    path = str(tmp_path / "db.sqlite3")
    db, call = _service(path)
    _create(call)
    for i in range(3):
        _put(call, f"k{i}")
    fold_all_stats(db)
    uid = db.catalog.find("tbl").uid
    db.engine.close()
    conn = sqlite3.connect(path)  # make it look like one written before: rows hold all, no sizes
    conn.execute("UPDATE kv SET v = ? WHERE k = ?", (struct.pack(">qq", 3, 12), STATS_PREFIX + uid.to_bytes(8, "big")))
    conn.execute("ALTER TABLE changelog DROP COLUMN dsize")
    conn.commit()
    conn.close()
    db, call = _service(path)
    assert _stats(call) == (3, 12)
    _put(call, "k3")
    assert _stats(call) == (4, 16)
    fold_all_stats(db)
    assert _stats(call) == (4, 16)
    db.engine.close()


def test_a_fold_after_a_sequence_folds_only_the_tables_written_since(tmp_path):
    """The maintenance task's fold every second passes one over the new change records,
    not a query per table; the tables it skips had nothing to fold."""
    from dynamodbforge.catalog import STATS_PREFIX, fold_all_stats

    db, call = _service(str(tmp_path / "db.sqlite3"))
    for name in ("one", "two"):
        call("CreateTable", {"TableName": name, "BillingMode": "PAY_PER_REQUEST",
                             "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                             "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]})
        call("PutItem", {"TableName": name, "Item": {"pk": {"S": "a"}}})

    def folded(name: str) -> int:
        uid = db.catalog.find(name).uid
        return int.from_bytes(db.engine.get(STATS_PREFIX + uid.to_bytes(8, "big"))[16:], "big")  # its sequence

    through = fold_all_stats(db)
    assert through == db.engine.last_sequence() == folded("two") > folded("one") > 0
    call("PutItem", {"TableName": "one", "Item": {"pk": {"S": "b"}}})
    before_two = folded("two")
    assert fold_all_stats(db, through) == db.engine.last_sequence() == folded("one")
    assert folded("two") == before_two  # nothing new: not even looked at
    for name, count in (("one", 2), ("two", 1)):
        assert call("DescribeTable", {"TableName": name})["Table"]["ItemCount"] == count
    db.engine.close()


def test_a_fold_in_slices_folds_a_few_records_per_batch_and_ends_where_one_fold_would(tmp_path):
    """The maintenance task folds a second's change records in short slices (a long fold held
    every answer for 10-20 ms once a second): each slice stops at its limit, and the slices
    together leave the statistics row as one fold would."""
    from dynamodbforge.catalog import STATS_PREFIX, fold_all_stats

    db, call = _service(str(tmp_path / "db.sqlite3"))
    _create(call)
    for i in range(3):
        _put(call, f"k{i}")

    def folded() -> int:
        uid = db.catalog.find("tbl").uid
        return int.from_bytes(db.engine.get(STATS_PREFIX + uid.to_bytes(8, "big"))[16:], "big")

    through = fold_all_stats(db)
    for i in range(3, 10):
        _put(call, f"k{i}")
    call("DeleteItem", {"TableName": "tbl", "Key": {"pk": {"S": "k0"}}})
    last = db.engine.last_sequence()
    assert last - through == 8
    steps = []
    while through < last:
        after, through = through, fold_all_stats(db, through, 3)
        steps.append(through - after)
        assert folded() == through
    assert steps == [3, 3, 2]
    assert _stats(call) == (9, 9 * 4)
    assert fold_all_stats(db) == last == folded()
    assert _stats(call) == (9, 9 * 4)
    db.engine.close()
