"""WAL checkpoints run in a process of their own (storage/checkpointer.py)."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import types

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


def test_writes_that_never_pause_get_the_wal_restarted(tmp_path):
    """Under writes that never pause no passive checkpoint reaches the WAL's last frame, so
    the WAL would grow without bound: past --restart-bytes of frames in use the checkpointer
    runs a RESTART (after settle(), see the next test).  Here a writer commits 4 KB values
    back to back while the checkpointer runs with an 8 MB limit: the WAL starts over while
    the writer goes on, not by the checkpointer's own write for pauses (user_version stays
    0), and every value written is there."""
    from dynamodbforge.storage.checkpointer import wal_index

    path = str(tmp_path / "ddbforge.sqlite3")
    engine = SQLiteEngine(path)
    engine.disable_autocheckpoint()
    checkpointer = subprocess.Popen([
        sys.executable, "-m", "dynamodbforge.storage.checkpointer", "--db", path, "--sync", "NORMAL",
        "--parent-pid", str(os.getpid()), "--restart-bytes", str(8 * 1024 * 1024),
        "--idle-restart-bytes", str(1 << 40)])
    try:
        restarts, highest, written = 0, 0, 0
        deadline = time.monotonic() + 60
        while (restarts < 2 or written < 6000) and time.monotonic() < deadline:
            with engine.write() as batch:
                for _ in range(4):
                    batch.put(b"k%07d" % written, b"v" * 4000)
                    written += 1
            frames = wal_index(path)[1]
            if frames < highest // 2:
                restarts += 1
            highest = frames if frames < highest // 2 else max(highest, frames)
        assert restarts >= 2
        assert highest * 4096 < 3 * 8 * 1024 * 1024  # bounded near the limit, not grown on
        conn = sqlite3.connect(path)
        try:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == 0  # no idle restart
        finally:
            conn.close()
        with engine.read() as reader:
            assert sum(1 for _ in reader.scan(b"k", None)) == written
        assert engine.get(b"k%07d" % (written - 1)) == b"v" * 4000
    finally:
        checkpointer.kill()
        checkpointer.wait()
        engine.close()


def test_settle_syncs_both_files_and_repeats_passive_rounds_until_a_sync_is_quick(tmp_path, monkeypatch):
    """Before a forced RESTART (which fsyncs holding writers back) the checkpointer fdatasyncs
    the WAL and the database file itself, then alternates passive checkpoints and such syncs
    until one sync round is quick, at most ``rounds`` times.  The syscalls run for real; the
    checkpointer module's clock is scripted: each sync round takes what ``durations`` says."""
    from dynamodbforge.storage import checkpointer

    engine, path = _wal_with_frames(tmp_path)
    conn = sqlite3.connect(path, isolation_level=None)
    events: list[str] = []
    conn.set_trace_callback(lambda sql: events.append(sql) if "wal_checkpoint" in sql else None)
    identity = {(os.stat(p).st_dev, os.stat(p).st_ino): name
                for p, name in ((path, "db"), (path + "-wal", "wal"))}
    clock = [1000.0]
    durations: list[float] = []
    real_fdatasync = os.fdatasync

    def recording_fdatasync(fd: int) -> None:
        real_fdatasync(fd)
        st = os.fstat(fd)
        name = identity.get((st.st_dev, st.st_ino), "other")
        events.append(f"fdatasync {name}")
        if name == "db":  # the second of a round's two syncs: the round took this long
            clock[0] += durations.pop(0)

    monkeypatch.setattr(os, "fdatasync", recording_fdatasync)
    monkeypatch.setattr(checkpointer, "time", types.SimpleNamespace(monotonic=lambda: clock[0]))
    sync_round = ["fdatasync wal", "fdatasync db"]
    passive = ["PRAGMA wal_checkpoint(PASSIVE)"]
    try:
        durations[:] = [0.001]  # quick at once: one sync round, no checkpoint
        checkpointer.settle(conn, path, rounds=4, settled_seconds=0.02)
        assert events == sync_round
        events.clear()
        durations[:] = [0.3, 0.08, 0.01]  # quick at the third round
        checkpointer.settle(conn, path, rounds=4, settled_seconds=0.02)
        assert events == sync_round + passive + sync_round + passive + sync_round
        events.clear()
        durations[:] = [0.3] * 4  # never quick: four rounds, then the RESTART pays the rest
        checkpointer.settle(conn, path, rounds=4, settled_seconds=0.02)
        assert events == sync_round + (passive + sync_round) * 3
        assert durations == []
    finally:
        conn.close()
        engine.close()


def test_the_backlog_is_read_from_the_wal_index_header(tmp_path):
    """The checkpointer decides how hard to work from the -shm header (frames in the WAL,
    frames not yet copied back, the page size), without taking SQLite's locks."""
    from dynamodbforge.storage.checkpointer import wal_index

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
        assert wal_index(path) == (4096, in_wal, 0)
        conn = sqlite3.connect(path)
        try:
            _busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            conn.close()
        assert frames == copied == in_wal
        assert wal_index(path) == (4096, in_wal, in_wal)
    finally:
        engine.close()
    assert wal_index(str(tmp_path / "missing.sqlite3")) == (0, 0, 0)


def test_reading_the_wal_index_keeps_the_locks_of_this_process_connections(tmp_path):
    """SQLite's locks on the -shm file are POSIX record locks: closing any descriptor of
    the file in a process releases all of that process's locks on it.  The checkpointer
    reads the header while its own connection may be writing (restart_when_idle) or
    checkpointing; the server must still find the database locked for writing."""
    from dynamodbforge.storage.checkpointer import wal_index

    path = str(tmp_path / "ddbforge.sqlite3")
    SQLiteEngine(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    probe = ("import sqlite3, sys\n"
             "conn = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)\n"
             "try:\n"
             "    conn.execute('BEGIN IMMEDIATE')\n"
             "except sqlite3.OperationalError as exc:\n"
             "    print(exc)\n"
             "else:\n"
             "    print('got the write lock')\n")

    def other_writer() -> str:
        return subprocess.run([sys.executable, "-c", probe, path], capture_output=True, text=True,
                              timeout=60).stdout.strip()

    try:
        conn.execute("PRAGMA user_version=6")  # a commit: the header has the page size now
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("PRAGMA user_version=7")
        assert other_writer() == "database is locked"
        for _ in range(3):  # the first call opens the file, later ones reuse the descriptor
            assert wal_index(path)[0] == 4096
        assert other_writer() == "database is locked"
        conn.execute("COMMIT")
        assert other_writer() == "got the write lock"
    finally:
        conn.close()


def _resident_pages(path: str, offset: int, length: int) -> int:
    """How many of the file's pages in [offset, offset + length) are in the page cache (mincore)."""
    import ctypes
    import mmap as mmap_module

    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    page = mmap_module.PAGESIZE
    start = offset - offset % page
    length += offset - start
    fd = os.open(path, os.O_RDONLY)
    try:
        address = libc.mmap(None, length, mmap_module.PROT_READ, mmap_module.MAP_SHARED, fd, start)
        assert address not in (None, ctypes.c_void_p(-1).value), ctypes.get_errno()
        try:
            vector = ctypes.create_string_buffer((length + page - 1) // page)
            assert libc.mincore(address, length, vector) == 0, ctypes.get_errno()
            return sum(byte & 1 for byte in vector.raw)
        finally:
            libc.munmap(address, length)
    finally:
        os.close(fd)


def _wal_with_frames(tmp_path) -> tuple[SQLiteEngine, str]:
    """A database whose WAL holds about 3,000 frames (12 MB), none copied back."""
    path = str(tmp_path / "ddbforge.sqlite3")
    engine = SQLiteEngine(path)
    engine.disable_autocheckpoint()
    for start in range(0, 3000, 100):
        with engine.write() as batch:
            for i in range(start, start + 100):
                batch.put(b"k%06d" % i, b"v" * 3000)
    return engine, path


def test_the_prefetcher_asks_for_the_window_after_the_write_position_and_the_wals_start(tmp_path, monkeypatch):
    """Which byte ranges the watcher asks the kernel to read ahead, call by call: the window
    after the last frame and the WAL's first blocks (where it restarts); then only what the
    window adds as the write position moves; all of it again at a recheck, after a restart
    and in a new WAL file.  (The kernel call itself runs; the next test shows its effect.)"""
    if not hasattr(os, "posix_fadvise"):
        import pytest
        pytest.skip("no posix_fadvise here")
    from dynamodbforge.storage import checkpointer
    from dynamodbforge.storage.checkpointer import WalPrefetcher

    asked: list[tuple[int, int]] = []
    real_fadvise = os.posix_fadvise

    def recording_fadvise(fd: int, offset: int, length: int, advice: int) -> None:
        if advice == os.POSIX_FADV_WILLNEED:
            asked.append((offset, length))
        real_fadvise(fd, offset, length, advice)

    monkeypatch.setattr(os, "posix_fadvise", recording_fadvise)
    engine, path = _wal_with_frames(tmp_path)
    try:
        ahead, frame = 1024 * 1024, 4096 + 24

        def head(max_frame: int) -> int:
            return 32 + max_frame * frame

        clock = [1000.0]
        monkeypatch.setattr(checkpointer, "time", types.SimpleNamespace(monotonic=lambda: clock[0]))
        prefetcher = WalPrefetcher(path, ahead=ahead, recheck_seconds=10)

        prefetcher.advance(4096, 1000)  # first look: the WAL's start, then after frame 1,000
        assert asked == [(0, ahead), (head(1000), ahead)]
        asked.clear()
        prefetcher.advance(4096, 1000)  # nothing moved: nothing asked
        assert asked == []
        prefetcher.advance(4096, 1200)  # moved on: only what the window adds
        assert asked == [(head(1000) + ahead, head(1200) - head(1000))]
        asked.clear()
        clock[0] += 10  # recheck: pages asked for earlier may have been dropped since
        prefetcher.advance(4096, 1200)
        assert asked == [(0, ahead), (head(1200), ahead)]
        asked.clear()
        prefetcher.advance(4096, 3)  # the WAL restarted: its start is the window
        assert asked == [(0, ahead), (ahead, head(3))]
        asked.clear()
        prefetcher.advance(4096, 40)  # moving on after the restart: only what the window adds
        assert asked == [(ahead + head(3), head(40) - head(3))]
        asked.clear()
        prefetcher.advance(4096, 0)  # restarted again (the frame count went back)
        assert asked == [(0, ahead), (ahead, 32)]
        asked.clear()
        prefetcher.advance(0, 500)  # no wal-index header yet: nothing to go by
        assert asked == []
    finally:
        engine.close()


def test_the_wal_blocks_the_next_commits_write_are_read_into_the_page_cache(tmp_path):
    """Commits overwrite WAL blocks written long before; a block no longer cached would be
    read from disk inside the COMMIT (frames are not block-aligned).  What the prefetcher
    asks for is read: the blocks just after the last frame and the WAL's first blocks, and
    not the rest of the file.

    A proactive reclaimer (this machine's DAMON pages out memory that looks idle) may drop
    read-ahead pages nobody has touched yet at any moment, so the windows must be mostly,
    not entirely, resident when looked at."""
    if not sys.platform.startswith("linux"):
        import pytest
        pytest.skip("mincore and POSIX_FADV_WILLNEED as Linux has them")
    from dynamodbforge.storage.checkpointer import WalPrefetcher, wal_index

    engine, path = _wal_with_frames(tmp_path)
    try:
        wal = path + "-wal"
        size = os.path.getsize(wal)
        page_size, frames, _copied = wal_index(path)
        assert page_size == 4096 and frames > 2500

        def drop_cache() -> None:
            fd = os.open(wal, os.O_RDONLY)
            try:
                os.fsync(fd)  # only clean pages can be dropped
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)

        def mostly_resident(offset: int, length: int) -> bool:
            deadline = time.monotonic() + 5
            while True:  # readahead completes in the background
                pages = _resident_pages(wal, offset, length)
                if pages * 4096 >= length or time.monotonic() > deadline:
                    return pages * 4096 >= length * 3 // 4
                time.sleep(0.02)

        ahead = 1024 * 1024
        max_frame = 1000  # as if 1,000 frames were in use: the next commit writes frame 1,001
        head = 32 + max_frame * (4096 + 24)
        drop_cache()
        assert _resident_pages(wal, 0, size) <= 2
        prefetcher = WalPrefetcher(path, ahead=ahead, recheck_seconds=3600)
        prefetcher.advance(4096, max_frame)
        assert mostly_resident(head, ahead)  # after the last frame
        assert mostly_resident(0, ahead)  # where the WAL restarts
        # and nothing further on: it reads ahead, it does not read the whole file
        far = head + 4 * ahead
        assert _resident_pages(wal, far, size - far) <= 64

        # the write position moves on: what the window now adds is read too
        drop_cache()
        prefetcher.advance(4096, max_frame + 200)
        moved = 32 + (max_frame + 200) * (4096 + 24)
        assert mostly_resident(head + ahead, moved - head)
        # pages may be dropped again after they were read: now and then the whole window
        # is asked for again (here at every call)
        drop_cache()
        prefetcher = WalPrefetcher(path, ahead=ahead, recheck_seconds=0)
        prefetcher.advance(4096, max_frame)
        drop_cache()
        prefetcher.advance(4096, max_frame)
        assert mostly_resident(head, ahead)
        assert mostly_resident(0, ahead)
    finally:
        engine.close()
