"""The TTL sweeper: deletes expired items in the background, a little at a time.

``sweep_step(db, now, budget)`` is the sans-IO core: one bounded unit of work.  It
examines at most ``budget`` items of one table from its cursor (one read snapshot),
stopping early once ``delete_batch`` expired items are found, then deletes those in ONE
write batch through the ordinary delete path (``ops.items.write_in_batch``: statistics,
index entries, change record), each change record carrying the user identity
``dynamodb.amazonaws.com`` so the table's stream shows a service REMOVE.  Inside the
write batch each item is read again and deleted only if it is still expired and the
table's TTL is still on (a concurrent UpdateItem that extended the item wins), so a
deletion is never wrong even if two processes swept at once.

Progress is kept in the engine (ttl/state.py): a cursor per table, so a pass over a
large table spreads over many steps and survives restarts, and a lease row so that of
several worker processes sharing a data directory only one sweeps at a time.

``run_sweeper`` is the asyncio driver started by ``ddbforge serve``: every
``interval`` seconds it runs steps until each TTL table had one full pass for that
tick's time, yielding to the event loop between steps so requests are never held up
by more than one small batch.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from dynamodbforge.catalog import TableInfo
from dynamodbforge.database import Database
from dynamodbforge.metrics import REGISTRY
from dynamodbforge.ops.items import key_of, write_in_batch
from dynamodbforge.storage.keycodec import prefix_successor
from dynamodbforge.ttl import state
from dynamodbforge.ttl.state import DISABLED, DISABLING, ENABLED, ENABLING, SERVICE_IDENTITY, SweepState, TtlConfig

log = logging.getLogger("dynamodbforge.ttl")

DEFAULT_BUDGET = 256  # items examined per step (one read snapshot)
DEFAULT_DELETE_BATCH = 32  # items deleted per write batch (one step): each pause ~1-3 ms

TTL_DELETED = REGISTRY.counter(
    "ddbforge_ttl_deleted_items_total", "Items deleted by Time to Live, per table", ("table",)
)
TTL_SCANNED = REGISTRY.counter(
    "ddbforge_ttl_scanned_items_total", "Items examined by the Time to Live sweeper, per table", ("table",)
)


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(slots=True)
class SweepStats:
    scanned: int = 0
    deleted: int = 0
    deleted_by_table: dict[str, int] = field(default_factory=dict)
    scanned_by_table: dict[str, int] = field(default_factory=dict)
    passes_completed: int = 0
    steps: int = 0
    longest_step: float = 0.0  # seconds: the longest the sweeper held the event loop
    done: bool = False  # every TTL table has had its pass for this ``now``
    lease_holder: str | None = None  # set when another process holds the lease

    def merge(self, other: "SweepStats") -> None:
        self.scanned += other.scanned
        self.deleted += other.deleted
        self.passes_completed += other.passes_completed
        self.steps += other.steps
        self.longest_step = max(self.longest_step, other.longest_step)
        for src, dst in ((other.deleted_by_table, self.deleted_by_table),
                         (other.scanned_by_table, self.scanned_by_table)):
            for name, n in src.items():
                dst[name] = dst.get(name, 0) + n
        self.done = other.done
        self.lease_holder = other.lease_holder


# --- the lease ------------------------------------------------------------------

def acquire_lease(db: Database, owner: str, now: float, seconds: float) -> str | None:
    """Take or renew the sweeping lease; None on success, else the current holder.

    A point read first, so renewing costs a write only once half the lease is used.
    """
    raw = db.engine.get(state.LEASE_KEY)
    if raw is not None:
        lease = orjson.loads(raw)
        if lease["owner"] == owner and lease["until"] - now > seconds / 2:
            return None
        if lease["owner"] != owner and lease["until"] > now:
            return str(lease["owner"])
    with db.engine.write() as batch:
        raw = batch.get(state.LEASE_KEY)  # again, under the writer lock
        if raw is not None:
            lease = orjson.loads(raw)
            if lease["owner"] != owner and lease["until"] > now:
                return str(lease["owner"])
        batch.put(state.LEASE_KEY, orjson.dumps({"owner": owner, "until": now + seconds}))
    return None


def release_lease(db: Database, owner: str) -> None:
    with db.engine.write() as batch:
        raw = batch.get(state.LEASE_KEY)
        if raw is not None and orjson.loads(raw)["owner"] == owner:
            batch.delete(state.LEASE_KEY)


# --- table settings ---------------------------------------------------------------

def settle(db: Database) -> list[tuple[TableInfo, TtlConfig]]:
    """Bring every TTL setting to its settled state; return the tables to sweep.

    ENABLING becomes ENABLED (with a fresh pass), DISABLING becomes DISABLED, and the
    rows of tables that were deleted are dropped.
    """
    end = prefix_successor(state.CONFIG_PREFIX)
    with db.engine.read() as reader:
        rows = list(reader.scan(state.CONFIG_PREFIX, end))
    enabled: list[tuple[TableInfo, TtlConfig]] = []
    for key, raw in rows:
        config = TtlConfig.from_json(raw)
        uid = int.from_bytes(key[len(state.CONFIG_PREFIX):], "big")
        info = db.catalog.find(config.table)
        if info is None or info.uid != uid:
            _drop_orphan(db, key, uid)
            continue
        if config.status in (ENABLING, DISABLING):
            config = _settle_one(db, info, key) or config
        if config.status == ENABLED:
            enabled.append((info, config))
    return enabled


def _drop_orphan(db: Database, key: bytes, uid: int) -> None:
    with db.engine.write() as batch:
        raw = batch.get(key)
        if raw is None:
            return
        config = TtlConfig.from_json(raw)
        info = db.catalog.find(config.table, batch)
        if info is None or info.uid != uid:
            batch.delete(key)
            batch.delete(state.sweep_key(uid))


def _settle_one(db: Database, info: TableInfo, key: bytes) -> TtlConfig | None:
    with db.engine.write() as batch:
        raw = batch.get(key)
        if raw is None:
            return None
        config = TtlConfig.from_json(raw)  # again: UpdateTimeToLive may have run meanwhile
        if config.status == ENABLING:
            config.status = ENABLED
            state.restart_sweep(batch, info.uid)
        elif config.status == DISABLING:
            config.status = DISABLED
        else:
            return config
        batch.put(key, config.to_json())
    log.info("TTL on table %s is now %s (attribute %s)", info.name, config.status, config.attribute)
    return config


# --- one step ---------------------------------------------------------------------

def sweep_step(
    db: Database,
    now: float,
    budget: int = DEFAULT_BUDGET,
    *,
    owner: str = "local",
    lease_seconds: float = 15.0,
    delete_batch: int = DEFAULT_DELETE_BATCH,
) -> SweepStats:
    """One bounded unit of sweeping for the sweep time ``now`` (see module docstring).

    Works on the first TTL table whose pass for ``now`` is not finished: a table's pass
    is due when it is under way or when its last pass ended at an earlier sweep time.
    Returns ``done=True`` when no table is due (the caller then waits for its next tick).
    """
    stats = SweepStats()
    if not _any_config(db):  # no table ever had TTL: nothing to do, not even a lease to write
        stats.done = True
        return stats
    holder = acquire_lease(db, owner, now, lease_seconds)
    if holder is not None:
        stats.lease_holder = holder
        stats.done = True
        return stats
    due = []
    for info, config in settle(db):
        sweep = state.load_sweep(db.engine, info.uid)
        if sweep.cursor is None and sweep.last_pass_end >= now:
            continue  # this table already had its pass for this sweep time
        due.append((sweep.touched, info.uid, info, config, sweep))
    if not due:
        stats.done = True
        return stats
    # Round robin: the due table that waited longest, so one huge table never starves the others.
    _, _, info, config, sweep = min(due, key=lambda d: (d[0], d[1]))
    _sweep_chunk(db, info, config, sweep, now, budget, delete_batch, stats)
    return stats


def _any_config(db: Database) -> bool:
    with db.engine.read() as reader:
        return next(iter(reader.scan(state.CONFIG_PREFIX, prefix_successor(state.CONFIG_PREFIX))), None) is not None


def _sweep_chunk(
    db: Database, info: TableInfo, config: TtlConfig, sweep: SweepState, now: float,
    budget: int, delete_batch: int, stats: SweepStats,
) -> None:
    """Examine up to ``budget`` items from the cursor, stopping early once ``delete_batch``
    expired ones are found, then delete those and move the cursor in ONE write batch:
    a step never holds the writer lock for more than ``delete_batch`` deletions."""
    start = info.item_prefix if sweep.cursor is None else sweep.cursor + b"\x00"
    end = prefix_successor(info.item_prefix)
    attribute = config.attribute
    expired: list[dict[str, Any]] = []
    last_key: bytes | None = None
    scanned = 0
    with db.engine.read() as reader:
        for skey, raw in itertools.islice(reader.scan(start, end), budget):
            scanned += 1
            last_key = skey
            item = orjson.loads(raw)
            if state.is_expired(item, attribute, now):
                expired.append(key_of(info, item))
                if len(expired) >= delete_batch:
                    break
    # Reached the end of the table (fewer rows than asked for, and not stopped early).
    finished = scanned < budget and len(expired) < delete_batch
    deleted = 0
    with db.engine.write() as batch:
        current = db.catalog.find(info.name, batch)
        live = state.load_config(batch, info) if current is not None and current.uid == info.uid else None
        if live is None or not live.enabled or live.attribute != attribute:
            return  # TTL was turned off, or the table dropped, while we looked: settle() sees it next
        for key in expired:
            old, new = write_in_batch(
                db, batch, info, key,
                # again, inside the batch: an item updated meanwhile (new expiry) is left alone
                lambda old: None if old is not None and state.is_expired(old, attribute, now) else old,
                user_identity=SERVICE_IDENTITY,
            )
            deleted += old is not None and new is None  # else it was gone or no longer expired
        progress = state.load_sweep(batch, info.uid)
        progress.deleted += deleted
        progress.touched = db.clock()
        if finished:
            progress.cursor = None
            progress.passes += 1
            progress.last_pass_end = now
        else:
            progress.cursor = last_key
        batch.put(state.sweep_key(info.uid), progress.to_json())  # progress commits with the deletions
    if deleted:
        TTL_DELETED.inc(deleted, table=info.name)
        stats.deleted_by_table[info.name] = stats.deleted_by_table.get(info.name, 0) + deleted
    if scanned:
        TTL_SCANNED.inc(scanned, table=info.name)
        stats.scanned_by_table[info.name] = stats.scanned_by_table.get(info.name, 0) + scanned
    stats.scanned += scanned
    stats.deleted += deleted
    stats.passes_completed += finished


# --- the asyncio driver -------------------------------------------------------------

async def run_sweeper(
    db: Database,
    interval: float,
    *,
    owner: str | None = None,
    budget: int = DEFAULT_BUDGET,
    delete_batch: int = DEFAULT_DELETE_BATCH,
) -> None:
    """Sweep every ``interval`` seconds until cancelled (runs in the server's event loop)."""
    owner = owner or default_owner()
    lease_seconds = max(3 * interval, 2.0)
    # At most this long of sweeping per tick, then rest: the sweeper never takes more
    # than about half of a process's time, whatever the table sizes.
    tick_budget = max(interval, 0.05)
    try:
        while True:
            started = time.monotonic()
            try:
                total = SweepStats()
                now = db.clock()
                while True:
                    step_started = time.perf_counter()
                    stats = sweep_step(db, now, budget, owner=owner, lease_seconds=lease_seconds,
                                       delete_batch=delete_batch)
                    stats.steps, stats.longest_step = 1, time.perf_counter() - step_started
                    total.merge(stats)
                    if stats.done or time.monotonic() - started > tick_budget:
                        break
                    # Rest as long as the step took: requests get the loop between two steps and
                    # the sweeper uses at most about half of the process's time while it works.
                    await asyncio.sleep(stats.longest_step)
                if total.deleted:
                    elapsed = (time.monotonic() - started) * 1000
                    per_table = ", ".join(f"{t}={n}" for t, n in sorted(total.deleted_by_table.items()))
                    log.info("TTL sweep: scanned %d items, deleted %d expired (%s) in %.0f ms, "
                             "%d steps, longest %.1f ms", total.scanned, total.deleted, per_table, elapsed,
                             total.steps, total.longest_step * 1000)
            except asyncio.CancelledError:
                raise
            except Exception:  # a sweeper bug must never take the server down
                log.exception("TTL sweep failed; retrying next interval")
            await asyncio.sleep(max(interval - (time.monotonic() - started), interval / 2))
    finally:
        try:
            release_lease(db, owner)
        except Exception:  # pragma: no cover - shutting down anyway
            pass
