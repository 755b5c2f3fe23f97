"""``ddbforge serve`` glue for backups, PITR and exports.

Options:
  --backup-schedule SECONDS   back up every table every SECONDS (BackupType SYSTEM); off by default
  --backup-retention COUNT    keep the newest COUNT scheduled backups per table (default 7)
  --export-root DIR           the directory standing in for S3 (default <data-dir>/exports):
                              s3://bucket/prefix is DIR/bucket/prefix

In every worker: PITR registers its recovery window with the shared change-log retention
policy (streams/retention.py), and the scheduler task runs (one worker at a time holds its
lease, so --workers N still makes one backup per table per period).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import uuid
from typing import Any

import orjson

from dynamodbforge.backups import common as C


def add_arguments(serve: argparse.ArgumentParser) -> None:
    serve.add_argument("--backup-schedule", type=float, default=None, metavar="SECONDS",
                       help="back up every table every SECONDS (scheduled backups, BackupType SYSTEM)")
    serve.add_argument("--backup-retention", type=int, default=7, metavar="COUNT",
                       help="scheduled backups kept per table (default 7)")
    serve.add_argument("--export-root", default=None, metavar="DIR",
                       help="directory standing in for S3 in exports/imports (default <data-dir>/exports)")


def configure(args: argparse.Namespace) -> None:
    if args.export_root:
        C.OPTIONS.export_root = os.path.abspath(args.export_root)


def register_retention(db: Any) -> None:
    """The change log is kept as long as the longest PITR window (shared retention policy)."""
    from dynamodbforge.streams import retention

    def pitr_retention_seconds() -> Any:
        from dynamodbforge.backups import pitr  # when first asked: not before the first answer

        return pitr.retention_seconds(db)

    retention.register_policy("pitr", pitr_retention_seconds)


def on_worker_start(args: argparse.Namespace, db: Any) -> "asyncio.Task[None] | None":
    configure(args)
    register_retention(db)
    if not args.backup_schedule:
        return None
    return asyncio.ensure_future(_scheduler(db, float(args.backup_schedule), int(args.backup_retention)))


def _take_lease(db: Any, owner: str, seconds: float) -> bool:
    now = db.clock()
    with db.engine.write() as batch:
        raw = batch.get(C.SCHEDULE_LEASE_KEY)
        if raw is not None:
            lease = orjson.loads(raw)
            if lease["owner"] != owner and lease["until"] > now:
                return False
        batch.put(C.SCHEDULE_LEASE_KEY, orjson.dumps({"owner": owner, "until": now + seconds}))
    return True


async def _scheduler(db: Any, every: float, retention: int) -> None:
    from dynamodbforge.backups import ondemand

    owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    while True:
        await asyncio.sleep(every)
        try:
            if _take_lease(db, owner, every * 2 + 5):
                made = ondemand.scheduled_round(db, retention)
                C.log.info("scheduled backups: %d started", len(made))
        except Exception:  # never let housekeeping take a worker down
            C.log.exception("scheduled backup round failed")
