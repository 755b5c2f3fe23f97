"""WAL checkpoints in a process of their own, off the request path.

SQLite's automatic checkpoint runs inside the COMMIT that crosses the WAL threshold —
copying and fsyncing megabytes while that request, and every request queued behind it,
waits.  ``ddbforge serve`` therefore turns it off (``wal_autocheckpoint=0``) and forks
this small process, one per data directory whatever ``--workers`` says, which runs
PASSIVE checkpoints (they never block writers or readers) every ``interval`` seconds.

A process rather than a thread: a checkpointer thread has to win the GIL back from the
busy request loop after every SQLite call, and measured with bench/lua/put_item.lua
(100,000 items, 32 connections, one core) it cost PutItem about 10 % of its
throughput.  A process also runs at a lower priority (nice 10) without the priority
inversion a low-priority thread holding the GIL would cause.  It is a fresh
interpreter that imports only this module (about 10 MB), started half a second after
the server so that it does not compete with the server's own start-up; a fork of the
server would share, and copy on every write, the server's whole heap.

It runs under SCHED_IDLE (nice 10 where that is refused): it only gets CPU time the
server leaves idle.  At nice 10 it still took scheduler slices of several milliseconds
on the server's core, and every round (0.1 s) stalled a write at one connection for
5-14 ms (measured with bench/stalls.py); under SCHED_IDLE the server preempts it at once.
A server that never leaves its core idle would starve it, though (measured: 4 GB of WAL
frames not copied back after preloading 1,000,000 items, and multi-second stalls when
they finally were), so while more than ``BOOST_BACKLOG_BYTES`` wait to be copied it
competes as an ordinary process at nice 10, until the backlog is down to a quarter.
The backlog is read from the wal-index header in the ``-shm`` file (SQLite's documented
layout: mxFrame at byte 16, nBackfill at byte 96), which costs nothing, before a round
rather than from the round's result: a starved round may never finish.

The WAL restarts — the next commit writes from its beginning again — only once every
frame has been copied back and no reader still uses one.  Under a steady stream of
commits a passive checkpoint never catches the last frame, so two policies apply:

* **When writes pause** (a round finds no new frame since the last one and the passive
  checkpoint copied everything), past ``IDLE_RESTART_BYTES`` of frames in use the
  checkpointer restarts the WAL itself with a tiny write of its own (it bumps
  ``PRAGMA user_version``).  That write pays what restarting costs (the WAL header is
  rewritten and fsynced) instead of the next request, and it truncates the file back
  to ``KEEP_WAL_BYTES`` (``journal_size_limit``), so a burst does not leave a huge WAL
  on disk.
* **When writes never pause**, past ``restart_bytes`` of frames in use (1 GB) a RESTART
  holds writers back for a moment — only right after a passive round that left little
  to copy (``RESTART_BACKLOG_BYTES``): writers wait for its copy and fsyncs (tens to
  hundreds of milliseconds on a slow disk), so it is kept rare.  Each fsync is what keeps
  the database intact through a power loss, so it cannot be skipped (``--sync normal``).

The limits are on frames in use, not the file's size (the file keeps its size between
restarts while writes go on, see ``journal_size_limit`` in sqlite.py).
"""
from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import struct
import sys
import time

from dynamodbforge.supervisor import ProcessSupervisor

WAL_RESTART_BYTES = 1024 * 1024 * 1024
IDLE_RESTART_BYTES = 8 * 1024 * 1024
KEEP_WAL_BYTES = 64 * 1024 * 1024
RESTART_BACKLOG_BYTES = 4 * 1024 * 1024
BOOST_BACKLOG_BYTES = 256 * 1024 * 1024
RESTART_BACKOFF_SECONDS = 1.0
RESTART_WAIT_MS = 100
INTERVAL_SECONDS = 0.1
NICE = 10
START_DELAY_SECONDS = 0.5


def run(path: str, synchronous: str, parent_pid: int, interval: float = INTERVAL_SECONDS,
        restart_bytes: int = WAL_RESTART_BYTES, idle_restart_bytes: int = IDLE_RESTART_BYTES,
        keep_wal_bytes: int = KEEP_WAL_BYTES) -> None:
    """Checkpoint ``path`` until ``parent_pid`` is gone (the server exited or was killed)."""
    conn: sqlite3.Connection | None = None
    page_size = 4096
    not_before = 0.0  # no RESTART before (monotonic clock)
    last_frames = -1  # frames in the WAL after the previous round
    priority = _Priority()
    try:
        while os.getppid() == parent_pid:
            time.sleep(interval)
            if not os.path.exists(path + "-wal"):
                continue  # the server creates the database (and puts it in WAL mode) first
            backlog = wal_backlog_frames(path) * page_size
            if backlog > BOOST_BACKLOG_BYTES:
                priority.boost()
            elif backlog < BOOST_BACKLOG_BYTES // 4:
                priority.idle()
            try:
                if conn is None:
                    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
                    # A RESTART holds new writers back while it waits for readers to leave
                    # the WAL: never let that wait exceed a few milliseconds; a busy round
                    # simply retries later.
                    conn.execute("PRAGMA busy_timeout=5")
                    conn.execute(f"PRAGMA synchronous={synchronous}")  # checkpoints sync as commits do
                    conn.execute(f"PRAGMA journal_size_limit={keep_wal_bytes}")  # see restart_when_idle
                    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
                _busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                idle, last_frames = frames == last_frames, frames
                if idle and copied == frames and frames * page_size > idle_restart_bytes:
                    restart_when_idle(conn)
                    last_frames = -1
                # RESTART only once the passive rounds have caught up: what it still has to
                # copy (and fsync) while writers wait must be a moment's work, not a backlog.
                # The further past the limit, the more that may be (writes that never pause
                # must not grow the WAL without bound).
                elif (frames * page_size > restart_bytes
                        and (frames - copied) * page_size
                        <= RESTART_BACKLOG_BYTES + (frames * page_size - restart_bytes) // 16
                        and time.monotonic() >= not_before):
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


_SHM_HEADER = struct.Struct("=16xI76xI")  # mxFrame (offset 16) and nBackfill (offset 96), native order


def wal_backlog_frames(path: str) -> int:
    """WAL frames not yet copied back into the database file, from the wal-index header.

    Read without SQLite's locks, so it may be momentarily stale or torn; that is good
    enough to decide how hard to work.  0 when there is no readable header."""
    try:
        with open(path + "-shm", "rb") as shm:
            header = shm.read(_SHM_HEADER.size)
    except OSError:
        return 0
    if len(header) < _SHM_HEADER.size:
        return 0
    max_frame, backfilled = _SHM_HEADER.unpack(header)
    return max(0, max_frame - backfilled)


class _Priority:
    """SCHED_IDLE normally; an ordinary process (at its nice 10) while boosted."""

    def __init__(self) -> None:
        self._boosted = False

    def boost(self) -> None:
        if not self._boosted:
            self._boosted = True
            _set_policy(getattr(os, "SCHED_OTHER", None))

    def idle(self) -> None:
        if self._boosted:
            self._boosted = False
            _set_policy(getattr(os, "SCHED_IDLE", None))


def _set_policy(policy: int | None) -> None:
    if policy is None:
        return  # not Linux: nice 10 alone
    try:
        os.sched_setscheduler(0, policy, os.sched_param(0))
    except OSError:
        pass


def restart_when_idle(conn: sqlite3.Connection) -> None:
    """Start the WAL over with a write of our own, now that every frame is copied back.

    A commit that finds the whole WAL copied back (and no reader in it) writes from the
    WAL's beginning again, rewriting and fsyncing its header; this one-page write (the
    database header's user_version) makes the checkpointer that commit, so no request
    waits for that fsync, and ``journal_size_limit`` then cuts the file back to
    KEEP_WAL_BYTES.  If a reader still uses the WAL, the write simply appends a frame.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.execute(f"PRAGMA user_version={(version + 1) & 0x7FFFFFFF}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


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
    ap.add_argument("--idle-restart-bytes", type=int, default=IDLE_RESTART_BYTES,
                    help="frames in use past which the WAL is started over when writes pause")
    ap.add_argument("--keep-wal-bytes", type=int, default=KEEP_WAL_BYTES,
                    help="size the WAL file is cut back to when it is started over that way")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the server stops us
    try:
        os.nice(NICE)
    except OSError:
        pass
    _set_policy(getattr(os, "SCHED_IDLE", None))  # only the CPU time the server leaves idle
    run(args.db, args.sync, args.parent_pid, idle_restart_bytes=args.idle_restart_bytes,
        keep_wal_bytes=args.keep_wal_bytes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
