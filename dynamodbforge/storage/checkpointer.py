"""WAL checkpoints in a process of their own, off the request path.

SQLite's automatic checkpoint runs inside the COMMIT that crosses the WAL threshold —
copying and fsyncing megabytes while that request, and every request queued behind it,
waits.  ``ddbforge serve`` therefore turns it off (``wal_autocheckpoint=0``) and forks
this small process, one per data directory whatever ``--workers`` says, which runs
PASSIVE checkpoints (they never block writers or readers) every ``interval`` seconds
(every ``IDLE_INTERVAL_SECONDS`` once the WAL has not moved for a second, and none at all
while the wal-index header shows nothing new and nothing to copy).

A process rather than a thread: a checkpointer thread has to win the GIL back from the
busy request loop after every SQLite call, and measured with bench/lua/put_item.lua
(100,000 items, 32 connections, one core) it cost PutItem about 10 % of its
throughput.  A process also runs at a lower priority (nice 10) without the priority
inversion a low-priority thread holding the GIL would cause.  It is a fresh
interpreter that imports only this module (about 10 MB), started half a second after
the server so that it does not compete with the server's own start-up; a fork of the
server would share, and copy on every write, the server's whole heap.

Its checkpointing thread runs under SCHED_IDLE: it only gets CPU time the server leaves
idle (where Linux lets it leave that class again, see ``can_leave_idle_class``;
elsewhere it is an ordinary process at nice 10).  At nice 10 it still took scheduler
slices of several milliseconds on the server's core, and every round (then 0.1 s apart)
stalled a write at one connection for 5-14 ms (measured with bench/stalls.py); under SCHED_IDLE
the server preempts it at once.
A server that never leaves its core idle would starve it, though (measured: 4 GB of WAL
frames not copied back after preloading 1,000,000 items, and multi-second stalls when
they finally were), so while more than ``BOOST_BACKLOG_BYTES`` wait to be copied it
competes as an ordinary process at nice 10, until the backlog is down to a quarter (and
also while the WAL nears the forced RESTART below, see ``watch_backlog``).  A watcher
thread (itself at nice 10, never idle-class) decides that every 0.05 s from the
wal-index header in the ``-shm`` file (SQLite's documented layout: page size at byte 14,
mxFrame at 16, nBackfill at 96), which costs nothing, and switches the checkpointing
thread's policy even in the middle of a round: a round begun while the server was idle
would otherwise starve once it is busy.  The same watcher keeps the WAL blocks the
server's next commits will overwrite in the page cache (``WalPrefetcher``).

The WAL restarts — the next commit writes from its beginning again — only once every
frame has been copied back and no reader still uses one.  Under a steady stream of
commits a passive checkpoint never catches the last frame, so two policies apply:

* **When writes pause** (a round finds no new frame since the last one and the passive
  checkpoint copied everything), past ``IDLE_RESTART_BYTES`` of frames in use the
  checkpointer restarts the WAL itself with a tiny write of its own (it bumps
  ``PRAGMA user_version``).  That write pays what restarting costs (the WAL header is
  rewritten and fsynced) instead of the next request.
* **When writes never pause**, past ``restart_bytes`` of frames in use (1 GB) a RESTART
  holds writers back for a moment — only right after a passive round that left little
  to copy (``RESTART_BACKLOG_BYTES``, more the further past the limit): writers wait for
  its copy and fsyncs, so it is kept rare.  Each fsync is what keeps the database intact
  through a power loss, so it cannot be skipped (``--sync normal``), but most of what
  they flush is flushed beforehand without holding anyone back (``settle``): a RESTART
  held writers 4-38 ms instead of 100-240 ms.

The limits are on frames in use, not the file's size: the file keeps its largest size,
so that later commits overwrite blocks instead of allocating new ones (see
``journal_size_limit`` in sqlite.py).  Only after ``SHRINK_AFTER_SECONDS`` without a
new frame is it cut back to ``KEEP_WAL_BYTES`` (the same one-page write, with
``journal_size_limit``): cutting a 1.4 GB WAL file stalled concurrent reads for up to
28 ms (GetItem at one connection right after a write burst: p99 4.5 ms and max 27.6 ms
with the cut at the first pause, 0.96 ms and 5.2 ms without it), so it waits until the
database has been left alone for a while.
"""
from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import struct
import sys
import threading
import time

from dynamodbforge.supervisor import ProcessSupervisor

WAL_RESTART_BYTES = 1024 * 1024 * 1024
IDLE_RESTART_BYTES = 8 * 1024 * 1024
KEEP_WAL_BYTES = 64 * 1024 * 1024
RESTART_BACKLOG_BYTES = 4 * 1024 * 1024
BOOST_BACKLOG_BYTES = 64 * 1024 * 1024
PREFETCH_BYTES = 8 * 1024 * 1024
PREFETCH_RECHECK_SECONDS = 1.0
WATCH_SECONDS = 0.05
IDLE_WATCH_SECONDS = 0.2  # once the WAL has not moved for IDLE_AFTER_SECONDS
IDLE_AFTER_SECONDS = 1.0
SHRINK_AFTER_SECONDS = 30.0
RESTART_BACKOFF_SECONDS = 1.0
RESTART_WAIT_MS = 100
SETTLE_ROUNDS = 4  # passive rounds and fsyncs before a forced RESTART, at most (see settle)
SETTLED_SECONDS = 0.02  # an fsync round this quick leaves the RESTART little to flush
# Rounds 0.02 s apart while writes go on.  Each round fsyncs the WAL, and the CPU that
# fsync spends submitting the round's dirty pages is spent on the server's core, in the
# kernel, where the server cannot preempt it: at 0.1 s apart that was about 2 ms per round
# (perf sched: 41 waits of the server behind it, 53 ms in 6 s of PutItem at one connection).
# Smaller rounds make smaller stalls.  PutItem at one connection, 100,000 items, after a
# 32-connection run (bench/lua/put_item.lua, 8 s each): the median p99 was 1.98 ms over six
# runs at 0.1 s, 1.01 ms over twelve at 0.02 s and 0.89 ms over six at 0.01 s; throughput
# at 32 connections did not change.
INTERVAL_SECONDS = 0.02
IDLE_INTERVAL_SECONDS = 0.5  # between rounds once the WAL has not moved for IDLE_AFTER_SECONDS
NICE = 10
START_DELAY_SECONDS = 0.5


def run(path: str, synchronous: str, parent_pid: int, interval: float = INTERVAL_SECONDS,
        restart_bytes: int = WAL_RESTART_BYTES, idle_restart_bytes: int = IDLE_RESTART_BYTES,
        keep_wal_bytes: int = KEEP_WAL_BYTES, shrink_after: float = SHRINK_AFTER_SECONDS) -> None:
    """Checkpoint ``path`` until ``parent_pid`` is gone (the server exited or was killed)."""
    conn: sqlite3.Connection | None = None
    page_size = 4096
    not_before = 0.0  # no RESTART before (monotonic clock)
    last_frames = -1  # frames in the WAL after the previous round
    unchanged_since = time.monotonic()  # when the WAL last got a frame (or started over)
    try:
        quiet = 0.0
        while os.getppid() == parent_pid:
            # rounds are further apart once no frame was added for a while (an idle server)
            time.sleep(interval if quiet < IDLE_AFTER_SECONDS else max(interval, IDLE_INTERVAL_SECONDS))
            if not os.path.exists(path + "-wal"):
                continue  # the server creates the database (and puts it in WAL mode) first
            try:
                if conn is None:
                    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
                    # A RESTART holds new writers back while it waits for readers to leave
                    # the WAL: never let that wait exceed a few milliseconds; a busy round
                    # simply retries later.
                    conn.execute("PRAGMA busy_timeout=5")
                    conn.execute(f"PRAGMA synchronous={synchronous}")  # checkpoints sync as commits do
                    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
                _page_size, in_index, copied_in_index = wal_index(path)
                if in_index == copied_in_index == last_frames:
                    # nothing new and nothing left to copy: the checkpoint call would be a
                    # no-op, ten times a second on an idle server (the header read is a pread)
                    frames = copied = in_index
                else:
                    _busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                now = time.monotonic()
                if frames != last_frames:
                    unchanged_since, last_frames = now, frames
                quiet = now - unchanged_since  # 0: frames were added since the last round
                if quiet and copied == frames and frames * page_size > idle_restart_bytes:
                    restart_when_idle(conn)
                elif (quiet >= shrink_after and copied == frames and keep_wal_bytes >= 0
                        and _size(path + "-wal") > keep_wal_bytes):
                    restart_when_idle(conn, keep_wal_bytes)
                # RESTART only once the passive rounds have caught up: what it still has to
                # copy (and fsync) while writers wait must be a moment's work, not a backlog.
                # The further past the limit, the more that may be (writes that never pause
                # must not grow the WAL without bound).
                elif (frames * page_size > restart_bytes
                        and (frames - copied) * page_size
                        <= RESTART_BACKLOG_BYTES + (frames * page_size - restart_bytes) // 16
                        and time.monotonic() >= not_before):
                    if synchronous.upper() != "OFF":
                        settle(conn, path)  # the slow part of its work, before writers wait
                    # it waits (holding writers back) for readers to leave the WAL: give them
                    # long enough that it rarely has to be tried again
                    conn.execute(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")
                    try:
                        busy = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()[0]
                    finally:
                        conn.execute("PRAGMA busy_timeout=5")
                    if busy:  # a reader is still in the WAL: don't hold writers back again at once
                        not_before = time.monotonic() + RESTART_BACKOFF_SECONDS
            except sqlite3.OperationalError:
                pass  # busy: try again next round
            except sqlite3.Error:
                if conn is not None:  # anything else: start over with a new connection
                    conn.close()
                    conn = None
    finally:
        if conn is not None:
            conn.close()


# szPage (offset 14; 1 stands for 65536), mxFrame (16) and nBackfill (96), in native byte order
_SHM_HEADER = struct.Struct("=14xHI76xI")
_SCHED_IDLE = getattr(os, "SCHED_IDLE", None)  # None: not Linux
_SCHED_OTHER = getattr(os, "SCHED_OTHER", None)


def wal_index(path: str) -> tuple[int, int, int]:
    """(page size, frames in use, frames copied back) from the wal-index header.

    Read without SQLite's locks, so it may be momentarily stale or torn; that is good
    enough to decide how hard to work.  (0, 0, 0) when there is no readable header.
    Read through a descriptor that stays open (see ``_kept_descriptor``)."""
    fd = _kept_descriptor(path + "-shm")
    if fd is None:
        return 0, 0, 0
    try:
        header = os.pread(fd, _SHM_HEADER.size, 0)
    except OSError:
        return 0, 0, 0
    if len(header) < _SHM_HEADER.size:
        return 0, 0, 0
    page_size, max_frame, backfilled = _SHM_HEADER.unpack(header)
    return (65536 if page_size == 1 else page_size), max_frame, backfilled


# file path -> a read-only descriptor of it, never closed while it names the current file
_KEPT_DESCRIPTORS: dict[str, int] = {}
_KEPT_LOCK = threading.Lock()


def _kept_descriptor(file_path: str) -> int | None:
    """A read-only descriptor of ``file_path`` (the -shm or the -wal file) that this process
    keeps open, reopened only when the file was deleted and created again.

    Keeping it open is not only cheaper.  SQLite's locks on the -shm file (the write lock,
    the checkpoint lock, the read marks) are POSIX record locks, which belong to the
    process, and closing *any* descriptor of the file releases every one of them.  Opening
    and closing the file to read its header would silently drop the locks this process's
    own SQLite connection holds — in the checkpointer, while it writes
    (``restart_when_idle``) or checkpoints, so that the server could write at the same
    time.  Only a descriptor of a file since deleted (SQLite removes -shm when the last
    connection closes, so no connection of ours can hold locks on it) is closed, when the
    new file is opened.
    """
    try:
        current = os.stat(file_path)
    except OSError:
        return None
    with _KEPT_LOCK:  # the watcher and the checkpointing thread both read the header
        fd = _KEPT_DESCRIPTORS.get(file_path)
        if fd is not None:
            opened = os.fstat(fd)
            if (opened.st_dev, opened.st_ino) == (current.st_dev, current.st_ino):
                return fd
        try:
            new_fd = os.open(file_path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            return None
        if fd is not None:
            os.close(fd)  # another inode than the one now at file_path (see above)
        _KEPT_DESCRIPTORS[file_path] = new_fd
        return new_fd


class WalPrefetcher:
    """Keeps the WAL blocks the next commits will write in the operating system's page cache.

    The WAL file keeps its size when it restarts (``journal_size_limit`` in sqlite.py), so
    commits overwrite blocks written long before.  A frame is its page plus a 24-byte
    header, so its writes never line up with the file system's 4 KB blocks, and writing
    part of a block that is no longer cached makes the kernel read it from disk first —
    inside the server's COMMIT, behind whatever else the disk is doing (the
    checkpointer's fsyncs).  Linux drops idle cached pages under memory pressure or a
    proactive reclaimer (this machine's DAMON pages out what was idle for 60 s), and
    stack samples of a server stalled in UpdateItem at one connection showed it waiting
    in ``ext4_block_write_begin`` for exactly such reads (1,751 waits in 8 s).  With the
    prefetch, the server's disk reads during the benchmark's write phases (100,000
    items, bench order) went from 7.6-17.9 MB per 10 s phase to under 0.3 MB.

    So the watcher asks for the next ``ahead`` bytes after the last frame, and for the
    first ``ahead`` bytes (where the WAL restarts), to be read in the background
    (``POSIX_FADV_WILLNEED``; already cached pages cost a lookup).  The write position is
    known from the wal-index header: frame n (from 1) starts at 32 + (n - 1) x (page size + 24).
    """

    HEADER_BYTES = 32
    FRAME_HEADER_BYTES = 24

    def __init__(self, path: str, ahead: int = PREFETCH_BYTES,
                 recheck_seconds: float = PREFETCH_RECHECK_SECONDS) -> None:
        self._path = path + "-wal"
        self._ahead = ahead
        self._recheck_seconds = recheck_seconds
        self._fetched_to = 0  # the window up to here was asked for since the last recheck
        self._recheck_at = 0.0

    def advance(self, page_size: int, max_frame: int) -> None:
        """Prefetch ahead of the write position of a WAL with ``max_frame`` frames in use."""
        if page_size <= 0 or not hasattr(os, "posix_fadvise"):
            return
        fd = _kept_descriptor(self._path)
        if fd is None:
            return
        head = self.HEADER_BYTES + max_frame * (page_size + self.FRAME_HEADER_BYTES)
        now = time.monotonic()
        try:
            if now >= self._recheck_at or head < self._fetched_to - self._ahead:
                # now and then (and after a restart, or in a new WAL file) the whole window
                # again: pages asked for earlier may have been dropped since
                self._recheck_at = now + self._recheck_seconds
                os.posix_fadvise(fd, 0, self._ahead, os.POSIX_FADV_WILLNEED)
                self._fetched_to = head if head > self._ahead else self._ahead  # [head, ahead) is in it
            end = head + self._ahead
            if end > self._fetched_to:
                start = max(head, self._fetched_to)
                os.posix_fadvise(fd, start, end - start, os.POSIX_FADV_WILLNEED)
                self._fetched_to = end
        except OSError:
            pass  # only advice: the next tick asks again


def watch_backlog(path: str, thread_id: int | None, stop: threading.Event,
                  boost_bytes: int = BOOST_BACKLOG_BYTES, restart_bytes: int = WAL_RESTART_BYTES) -> None:
    """Keep the WAL's next blocks cached (WalPrefetcher), and thread ``thread_id`` (None: no
    policy to manage) idle-class unless over ``boost_bytes`` of WAL frames wait to be copied
    back; then an ordinary thread (at its nice 10) until a quarter of that is left.

    Also boosted while the WAL nears the forced RESTART (three quarters of ``restart_bytes``
    in use) with more than RESTART_BACKLOG_BYTES to copy: what is left to copy when the
    RESTART comes is what writers wait for."""
    boosted = False
    prefetcher = WalPrefetcher(path)
    wait, last_frame, still_since = WATCH_SECONDS, -1, time.monotonic()
    while not stop.wait(wait):
        page_size, max_frame, backfilled = wal_index(path)
        prefetcher.advance(page_size, max_frame)
        # a WAL that has not moved for a while is watched less often (an idle server's
        # checkpointer should not wake its core 20 times a second): the prefetched window
        # covers what the first writes after the pause add before the next look
        now = time.monotonic()
        if max_frame != last_frame or backfilled != max_frame:
            last_frame, still_since = max_frame, now
        wait = IDLE_WATCH_SECONDS if now - still_since >= IDLE_AFTER_SECONDS else WATCH_SECONDS
        if thread_id is None:
            continue
        in_use, backlog = max_frame * page_size, max(0, max_frame - backfilled) * page_size
        nearing_restart = in_use > restart_bytes * 3 // 4 and backlog > RESTART_BACKLOG_BYTES
        if not boosted and (backlog > boost_bytes or nearing_restart):
            boosted = _set_policy(thread_id, _SCHED_OTHER)
        elif boosted and backlog < boost_bytes // 4 and not nearing_restart:
            boosted = not _set_policy(thread_id, _SCHED_IDLE)


def can_leave_idle_class() -> bool:
    """Whether a thread of ours may go back from SCHED_IDLE to an ordinary policy.

    Linux lets an unprivileged thread do that only within its RLIMIT_NICE (0 by default):
    without root, CAP_SYS_NICE or a raised limit a boost would fail and the checkpointer
    would starve under a busy server, so it then stays an ordinary nice-10 process.
    Tried on a throwaway thread."""
    if _SCHED_IDLE is None or _SCHED_OTHER is None:
        return False
    result: list[bool] = []

    def probe() -> None:
        me = threading.get_native_id()
        result.append(_set_policy(me, _SCHED_IDLE) and _set_policy(me, _SCHED_OTHER))

    thread = threading.Thread(target=probe, name="policy-probe")
    thread.start()
    thread.join()
    return bool(result and result[0])


def _set_policy(thread_id: int, policy: int | None) -> bool:
    """Set one thread's scheduling policy (Linux: per thread); False where not possible."""
    if policy is None:
        return False  # not Linux: nice 10 alone
    try:
        os.sched_setscheduler(thread_id, policy, os.sched_param(0))
    except OSError:
        return False
    return True


def restart_when_idle(conn: sqlite3.Connection, keep_bytes: int = -1) -> None:
    """Start the WAL over with a write of our own, now that every frame is copied back.

    A commit that finds the whole WAL copied back (and no reader in it) writes from the
    WAL's beginning again, rewriting and fsyncing its header; this one-page write (the
    database header's user_version) makes the checkpointer that commit, so no request
    waits for that fsync.  With ``keep_bytes`` >= 0 that commit also cuts the file back
    to that size (``journal_size_limit``).  If a reader still uses the WAL, the write
    simply appends a frame.
    """
    conn.execute(f"PRAGMA journal_size_limit={keep_bytes}")
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.execute(f"PRAGMA user_version={(version + 1) & 0x7FFFFFFF}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.execute("PRAGMA journal_size_limit=-1")


def settle(conn: sqlite3.Connection, path: str, rounds: int = SETTLE_ROUNDS,
           settled_seconds: float = SETTLED_SECONDS) -> None:
    """Flush to disk, without holding anyone back, what a RESTART would flush holding writers back.

    SQLite fsyncs the database file only at the end of a checkpoint that reaches the WAL's
    last frame, which under writes that never pause no passive round does: every page
    copied back since the WAL last started over may still be dirty in the operating
    system's cache, and so may the frames written since the last passive round.  A
    RESTART fsyncs both while it holds the write lock.  Measured under PutItem at one
    connection (strace of the checkpointer): 100-240 ms per RESTART with nothing left to
    copy, nearly all of it in those two fsyncs.  So both files are fsynced here first,
    through descriptors of our own and outside SQLite's locks, and passive rounds and
    fsyncs alternate until an fsync round is quick (``settled_seconds``): the RESTART is
    then left a few milliseconds of writes to copy and fsync (4-38 ms held instead of
    100-240 ms, same measurement).  At most ``rounds`` rounds: under a write rate the disk
    cannot keep up with, the RESTART simply pays the rest, as before.
    """
    for round_no in range(rounds):
        if round_no:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        started = time.monotonic()
        sync_files(path)
        if time.monotonic() - started < settled_seconds:
            return


def sync_files(path: str) -> None:
    """fdatasync the WAL and the database file (data already in them reaches the disk)."""
    for file_path in (path + "-wal", path):
        fd = _kept_descriptor(file_path)  # never closed: see there (SQLite's locks)
        if fd is not None:
            try:
                os.fdatasync(fd)
            except OSError:
                pass  # only an early start on the RESTART's own fsyncs, which report errors


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def start(path: str, synchronous: str, delay: float = START_DELAY_SECONDS) -> ProcessSupervisor:
    """Start (after ``delay`` s, and keep alive) the checkpointer process for ``path``."""
    command = [sys.executable, "-m", "dynamodbforge.storage.checkpointer", "--db", path,
               "--sync", synchronous, "--parent-pid", str(os.getpid())]
    return ProcessSupervisor(command, "WAL checkpointer", delay).start()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="WAL checkpoints for a ddbforge data directory")
    ap.add_argument("--db", required=True)
    ap.add_argument("--sync", default="NORMAL", choices=["OFF", "NORMAL", "FULL"])
    ap.add_argument("--parent-pid", type=int, required=True)
    ap.add_argument("--restart-bytes", type=int, default=WAL_RESTART_BYTES,
                    help="frames in use past which writes that never pause are held back for a RESTART")
    ap.add_argument("--idle-restart-bytes", type=int, default=IDLE_RESTART_BYTES,
                    help="frames in use past which the WAL is started over when writes pause")
    ap.add_argument("--keep-wal-bytes", type=int, default=KEEP_WAL_BYTES,
                    help="size the WAL file is cut back to once no frame was written for a while")
    ap.add_argument("--shrink-after-seconds", type=float, default=SHRINK_AFTER_SECONDS,
                    help="how long without a new frame before the WAL file is cut back")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the server stops us
    try:
        os.nice(NICE)
    except OSError:
        pass
    stop = threading.Event()
    # The watcher starts first, so that it keeps the nice 10 of this thread but not the
    # idle class this thread then takes (both are per thread on Linux).
    me = threading.get_native_id() if can_leave_idle_class() else None
    watcher = threading.Thread(target=watch_backlog, args=(args.db, me, stop),
                               kwargs={"restart_bytes": args.restart_bytes}, name="backlog", daemon=True)
    watcher.start()
    if me is not None:
        _set_policy(me, _SCHED_IDLE)  # only the CPU time the server leaves idle
    try:
        run(args.db, args.sync, args.parent_pid, restart_bytes=args.restart_bytes,
            idle_restart_bytes=args.idle_restart_bytes,
            keep_wal_bytes=args.keep_wal_bytes, shrink_after=args.shrink_after_seconds)
    finally:
        stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
