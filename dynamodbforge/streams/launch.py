"""``ddbforge serve`` glue for streams and triggers.

* options: ``--trigger TABLE=module:function`` (repeatable), ``--config FILE`` (JSON or TOML),
  ``--stream-retention-hours``, ``--no-trigger-runner``;
* in every worker: declared triggers are stored (idempotently) and a periodic task folds
  table statistics (``catalog.fold_all_stats``) and trims the change log
  (``retention.maintain``);
* in the main process: the trigger runner (streams/runner.py) is started as a child
  process and restarted whenever it exits, until the server stops.

Config file::

    {"stream_retention_hours": 24,
     "triggers": [{"table": "orders", "handler": "handlers:on_order", "batch_size": 100,
                   "starting_position": "TRIM_HORIZON", "maximum_batching_window_seconds": 0,
                   "maximum_retry_attempts": 3, "bisect_batch_on_function_error": true,
                   "on_failure": "file:failures.jsonl",
                   "filter_patterns": [{"eventName": ["INSERT"]}]}]}

(the same in TOML: ``stream_retention_hours = 24`` and ``[[triggers]]`` tables).
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import sys
from typing import Any

from dynamodbforge.catalog import fold_all_stats
from dynamodbforge.streams import retention
from dynamodbforge.supervisor import ProcessSupervisor
from dynamodbforge.streams.mappings import TriggerSpec

log = logging.getLogger("dynamodbforge.streams")

STATS_FOLD_INTERVAL_SECONDS = 1.0
STATS_FOLD_SLICE_RECORDS = 128  # change records folded per write batch (about a millisecond)
_SPEC_FIELDS = {f.name for f in dataclasses.fields(TriggerSpec)}


class ConfigError(ValueError):
    pass


def add_arguments(serve: argparse.ArgumentParser) -> None:
    serve.add_argument("--trigger", action="append", default=[], metavar="TABLE=module:function",
                       help="run a Python handler for every change of TABLE (repeatable)")
    serve.add_argument("--config", metavar="FILE", default=None,
                       help="JSON or TOML file declaring triggers and stream options")
    serve.add_argument("--stream-retention-hours", type=float, default=None,
                       help="how long stream records are kept (default 24)")
    serve.add_argument("--no-trigger-runner", action="store_true",
                       help="do not start the trigger runner process")


def _load_config(path: str) -> dict[str, Any]:
    with open(path, "rb") as fh:
        raw = fh.read()
    if path.endswith(".toml"):
        import tomllib

        return tomllib.loads(raw.decode())
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        import tomllib

        try:
            return tomllib.loads(raw.decode())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is neither JSON nor TOML: {exc}") from None


def declared(args: argparse.Namespace) -> tuple[list[TriggerSpec], float]:
    """Triggers and stream retention from --config and --trigger (ConfigError if invalid)."""
    specs: list[TriggerSpec] = []
    hours = retention.DEFAULT_STREAM_RETENTION_HOURS
    if args.config:
        try:
            config = _load_config(args.config)
        except OSError as exc:
            raise ConfigError(f"cannot read {args.config}: {exc.strerror}") from None
        hours = float(config.get("stream_retention_hours", hours))
        for entry in config.get("triggers", []):
            unknown = set(entry) - _SPEC_FIELDS
            if unknown or "table" not in entry or "handler" not in entry:
                raise ConfigError(f"invalid trigger {entry!r} (fields: {', '.join(sorted(_SPEC_FIELDS))})")
            specs.append(TriggerSpec(**entry))
    for text in args.trigger:
        table, sep, handler = text.partition("=")
        if not sep or not table or not handler:
            raise ConfigError(f"--trigger {text!r}: expected TABLE=module:function")
        specs.append(TriggerSpec(table=table, handler=handler))
    if args.stream_retention_hours is not None:
        hours = args.stream_retention_hours
    if hours <= 0:
        raise ConfigError("stream retention must be positive")
    return specs, hours


def check(args: argparse.Namespace) -> str | None:
    """Fail fast (before forking) on a bad --config/--trigger."""
    try:
        declared(args)
    except (ConfigError, TypeError, ValueError) as exc:
        return str(exc)
    return None


# --- in each worker ---------------------------------------------------------------------

def on_worker_start(args: argparse.Namespace, db: Any) -> "asyncio.Task[None]":
    """Store the declared triggers and start the change-log trimming task."""
    from dynamodbforge.streams.mappings import ensure_declared

    specs, hours = declared(args)
    retention.set_stream_retention_hours(hours)
    ensure_declared(db, specs)
    return asyncio.ensure_future(_maintenance(db))


async def _maintenance(db: Any) -> None:
    """Every second the change log grew: table statistics folded (catalog.fold_all_stats), so
    reading them sums at most a second of change records; every MAINTENANCE_INTERVAL_SECONDS:
    the log trimmed."""
    loop = asyncio.get_running_loop()
    next_trim = loop.time() + retention.MAINTENANCE_INTERVAL_SECONDS
    folded_through: int | None = None  # the first round folds every table (what an earlier run left)
    while True:
        await asyncio.sleep(STATS_FOLD_INTERVAL_SECONDS)
        try:
            if folded_through is None:
                folded_through = fold_all_stats(db)
            # in slices, letting requests in between: a second of writes is thousands of
            # records, which folded in one batch held every answer for 10-20 ms once a second
            last = db.engine.last_sequence()
            while folded_through < last:
                folded_through = fold_all_stats(db, folded_through, STATS_FOLD_SLICE_RECORDS)
                await asyncio.sleep(0)
            if loop.time() >= next_trim:
                next_trim = loop.time() + retention.MAINTENANCE_INTERVAL_SECONDS
                # in slices, letting requests in between: a day of changes can be millions of rows
                while retention.maintain(db, retention.MAINTENANCE_SLICE_ROWS) >= retention.MAINTENANCE_SLICE_ROWS:
                    await asyncio.sleep(0)
        except Exception:  # never let housekeeping take a worker down
            log.exception("change-log maintenance failed")


# --- in the main process: the trigger runner --------------------------------------------------

STARTUP_DELAY_SECONDS = 1.0


def start_runner(args: argparse.Namespace, endpoint: str, data_file: str | None) -> ProcessSupervisor | None:
    if args.no_trigger_runner:
        return None
    command = [sys.executable, "-m", "dynamodbforge.streams.runner", "--region", args.region,
               "--parent-pid", str(os.getpid()), "--log-level", args.log_level]
    if data_file is not None:
        command += ["--data-file", data_file]
    else:
        scheme = "https" if getattr(args, "tls_cert", None) else "http"
        command += ["--endpoint", f"{scheme}://{endpoint}"]
    # the runner's own start-up (a second Python process) waits a second for the server's
    return ProcessSupervisor(command, "trigger runner", STARTUP_DELAY_SECONDS).start()
