"""WAL checkpoints run in a process of their own (storage/checkpointer.py)."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

from conftest import create_table, make_client
from server_process import ServerProcess

from dynamodbforge.storage.checkpointer import can_leave_idle_class
from dynamodbforge.storage.sqlite import SQLiteEngine


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            raw = f.read()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2:].split()  # fields after "pid (comm)": state is [0]


# its policy: SCHED_IDLE where it may leave that class again (root here), else nice 10 alone
POLICY = os.SCHED_IDLE if can_leave_idle_class() else os.SCHED_OTHER


def _checkpointer_of(server_pid: int) -> int:
    """The checkpointer: the server's child process at nice 10, idle-class where possible."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for name in os.listdir("/proc"):
            if name.isdigit():
                fields = _stat(int(name))
                # ppid, nice, scheduling policy
                if fields and int(fields[1]) == server_pid and int(fields[16]) == 10 \
                        and int(fields[38]) == POLICY:
                    return int(name)
        time.sleep(0.05)
    raise AssertionError("no checkpointer process")


def _gone(pid: int) -> bool:
    fields = _stat(pid)
    return fields is None or fields[0] in ("Z", "X")


def test_checkpoints_copy_the_wal_into_the_database_file(tmp_path):
    server = ServerProcess(str(tmp_path)).start()
    try:
        _checkpointer_of(server.proc.pid)
        client = make_client(server.endpoint)
        create_table(client, "ckpt")
        db_file = tmp_path / "ddbforge.sqlite3"
        for start in range(0, 2000, 25):  # ~500 KB: no COMMIT checkpoints inline, so only
            client.batch_write_item(RequestItems={"ckpt": [  # the checkpointer grows the file
                {"PutRequest": {"Item": {"pk": {"S": f"k{i}"}, "v": {"S": "x" * 200}}}}
                for i in range(start, start + 25)]})
        deadline = time.monotonic() + 10
        while db_file.stat().st_size < 400_000 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert db_file.stat().st_size >= 400_000
    finally:
        server.stop()


def test_checkpointer_exits_when_the_server_is_killed(tmp_path):
    server = ServerProcess(str(tmp_path)).start()
    try:
        checkpointer = _checkpointer_of(server.proc.pid)
        os.kill(server.proc.pid, signal.SIGKILL)  # the server alone, not its process group
        server.proc.wait()
        deadline = time.monotonic() + 5
        while not _gone(checkpointer) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(checkpointer)
    finally:
        server.stop()
        try:
            os.killpg(server.proc.pid, signal.SIGKILL)  # whatever is left of the group
        except ProcessLookupError:
            pass


def test_checkpointer_stops_with_the_server(tmp_path):
    server = ServerProcess(str(tmp_path)).start()
    checkpointer = _checkpointer_of(server.proc.pid)
    server.stop()
    deadline = time.monotonic() + 5
    while not _gone(checkpointer) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(checkpointer)


def test_checkpointer_is_restarted_when_it_dies(tmp_path):
    server = ServerProcess(str(tmp_path)).start()
    try:
        first = _checkpointer_of(server.proc.pid)
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 10
        second = None
        while time.monotonic() < deadline:
            candidate = _checkpointer_of(server.proc.pid)
            if candidate != first and not _gone(candidate):
                second = candidate
                break
            time.sleep(0.1)
        assert second is not None
    finally:
        server.stop()


def test_the_wal_starts_over_and_shrinks_when_writes_pause(tmp_path):
    """Once writes pause, the checkpointer copies every frame back and starts the WAL over
    with a write of its own (user_version) instead of leaving that to the next request;
    after --shrink-after-seconds without writes a second such write cuts the file back to
    --keep-wal-bytes.  Nothing written is lost."""
    path = str(tmp_path / "ddbforge.sqlite3")
    engine = SQLiteEngine(path)
    engine.disable_autocheckpoint()  # as `serve` does: only the checkpointer copies frames back
    checkpointer = None
    try:
        for start in range(0, 2000, 100):  # ~8 MB of WAL frames
            with engine.write() as batch:
                for i in range(start, start + 100):
                    batch.put(b"k%06d" % i, b"v" * 4000)
        wal = tmp_path / "ddbforge.sqlite3-wal"
        assert wal.stat().st_size > 6_000_000
        checkpointer = subprocess.Popen([
            sys.executable, "-m", "dynamodbforge.storage.checkpointer", "--db", path, "--sync", "NORMAL",
            "--parent-pid", str(os.getpid()), "--idle-restart-bytes", "1000000", "--keep-wal-bytes", "500000",
            "--shrink-after-seconds", "0.5"])
        deadline = time.monotonic() + 20
        while wal.stat().st_size > 500_000 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert wal.stat().st_size <= 500_000
        # the file is cut back inside the checkpointer's commit, a moment before that commit
        # becomes visible (and the checkpointer runs only when nothing else wants the CPU)
        conn = sqlite3.connect(path)
        try:
            while conn.execute("PRAGMA user_version").fetchone()[0] < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert conn.execute("PRAGMA user_version").fetchone()[0] == 2  # the checkpointer's writes
        finally:
            conn.close()
        assert [engine.get(b"k%06d" % i) for i in (0, 1234, 1999)] == [b"v" * 4000] * 3
        with engine.read() as reader:
            assert sum(1 for _ in reader.scan(b"k", None)) == 2000
    finally:
        if checkpointer is not None:
            checkpointer.kill()
            checkpointer.wait()
        engine.close()


def test_the_backlog_is_read_from_the_wal_index_header(tmp_path):
    """The checkpointer decides how hard to work from the -shm header (frames in the WAL,
    frames not yet copied back, the page size), without taking SQLite's locks."""
    from dynamodbforge.storage.checkpointer import wal_bytes

    path = str(tmp_path / "ddbforge.sqlite3")
    engine = SQLiteEngine(path)
    engine.disable_autocheckpoint()
    try:
        for start in range(0, 500, 50):
            with engine.write() as batch:
                for i in range(start, start + 50):
                    batch.put(b"k%06d" % i, b"v" * 3000)
        in_wal = (os.path.getsize(path + "-wal") - 32) // (4096 + 24)  # never restarted: all in use
        assert in_wal > 300
        assert wal_bytes(path) == (in_wal * 4096, in_wal * 4096)
        conn = sqlite3.connect(path)
        try:
            _busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            conn.close()
        assert frames == copied == in_wal
        assert wal_bytes(path) == (in_wal * 4096, 0)
    finally:
        engine.close()
    assert wal_bytes(str(tmp_path / "missing.sqlite3")) == (0, 0)
