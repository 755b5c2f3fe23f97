"""`ddbforge` command line: ``ddbforge serve`` starts the server."""
from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import socket
import sys
from typing import Any

from dynamodbforge import __version__

DB_FILE = "ddbforge.sqlite3"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ddbforge", description="A DynamoDB-compatible database server.")
    parser.add_argument("--version", action="version", version=f"ddbforge {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    serve.add_argument("--data-dir", default="./ddbforge-data", help="where data is kept (default ./ddbforge-data)")
    serve.add_argument("--in-memory", action="store_true", help="keep data in memory only (for tests)")
    serve.add_argument("--region", default="us-east-1", help="region this server reports (default us-east-1)")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.add_argument("--workers", type=int, default=1, help="worker processes sharing the data directory")
    serve.add_argument(
        "--sync", default="normal", choices=["off", "normal", "full"],
        help="normal: commits survive a crash of the server process (kill -9) and the database "
        "survives power loss intact (recent commits may be lost); full: commits also survive "
        "power loss (fsync every commit, slower); off: never fsync (fastest; survives kill -9, "
        "but a power loss or OS crash may corrupt the database)",
    )
    # authentication, fine-grained access control and TLS
    serve.add_argument("--auth", metavar="FILE", default=None,
                       help="JSON principals file: require AWS SigV4 and enforce each principal's IAM policies")
    serve.add_argument("--tls-cert", metavar="PEM", default=None, help="serve HTTPS with this certificate chain")
    serve.add_argument("--tls-key", metavar="PEM", default=None, help="private key for --tls-cert")
    # Time to Live
    serve.add_argument("--ttl-interval", type=_positive_seconds, default=5.0, metavar="SECONDS",
                       help="how often the TTL sweeper looks for expired items to delete (default 5)")
    serve.add_argument("--ttl-hide-expired", action="store_true",
                       help="reads leave out expired items not yet deleted by TTL "
                       "(DynamoDB returns them until they are deleted)")
    serve.add_argument("--ttl-cooldown", type=float, default=3600.0, metavar="SECONDS",
                       help="minimum time between two changes of a table's TTL setting "
                       "(default 3600, DynamoDB's documented hour)")
    # streams and triggers (--trigger, --config, --stream-retention-hours, --no-trigger-runner)
    from dynamodbforge.streams import launch as streams_launch

    streams_launch.add_arguments(serve)
    from dynamodbforge import insights_cli  # --enforce-capacity, --burst-seconds; `ddbforge insights`

    insights_cli.add_serve_arguments(serve)
    insights_cli.add_command(sub)
    # backups, PITR, export/import (--backup-schedule, --backup-retention, --export-root)
    from dynamodbforge.backups import launch as backups_launch

    backups_launch.add_arguments(serve)
    return parser


def _positive_seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    if args.command == "insights":
        from dynamodbforge import insights_cli

        return insights_cli.run(args)
    return 2


def _open_database(args: argparse.Namespace, endpoint: str):  # type: ignore[no-untyped-def]
    from dynamodbforge.database import Database
    from dynamodbforge.storage.sqlite import SQLiteEngine

    path = None if args.in_memory else os.path.join(os.path.abspath(args.data_dir), DB_FILE)
    engine = SQLiteEngine(path, synchronous=args.sync.upper())
    return Database(engine, region=args.region, endpoint=endpoint)


def _run_worker(args: argparse.Namespace, sock: socket.socket, endpoint: str) -> None:
    from dynamodbforge.server.auth import AcceptAll
    from dynamodbforge.server.http import serve as http_serve
    from dynamodbforge.service import Service

    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a declared dependency
        pass
    db = _open_database(args, endpoint)
    db.engine.disable_autocheckpoint()  # the checkpointer process does them (serve)
    # --auth turns on SigV4 + IAM policy checks; --tls-cert/--tls-key serve HTTPS
    auth: object = AcceptAll()
    authorizer = None
    if args.auth:
        from dynamodbforge.auth.authorizer import Authorizer
        from dynamodbforge.auth.principals import load_principals
        from dynamodbforge.server.auth import SigV4Auth

        auth = SigV4Auth(load_principals(args.auth), args.region)
        authorizer = Authorizer.for_database(db)
    ssl_context = _tls_context(args)
    service = Service(db, authorizer=authorizer)
    from dynamodbforge.ttl import state as ttl_state

    ttl_state.OPTIONS.hide_expired = args.ttl_hide_expired
    ttl_state.OPTIONS.cooldown_seconds = args.ttl_cooldown
    from dynamodbforge import insights_cli  # table gauges, --enforce-capacity

    insights_cli.on_worker_start(args, db)
    # What exists now (modules, request shapes, metadata) lives as long as the process:
    # frozen, the cyclic collector no longer walks it in every full collection.  Query
    # at one connection, 100,000 items: the slowest answer 24 -> 8 ms (bench/lua/query.lua).
    gc.freeze()

    async def run() -> None:
        loop = asyncio.get_running_loop()
        stop = loop.create_future()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
        task = asyncio.ensure_future(http_serve(service, args.host, args.port, auth=auth, sock=sock,
                                                ssl=ssl_context))
        from dynamodbforge.streams import launch as streams_launch  # declared triggers, trimming

        stream_maintenance = streams_launch.on_worker_start(args, db)
        from dynamodbforge.backups import launch as backups_launch  # PITR retention, scheduled backups

        backup_scheduler = backups_launch.on_worker_start(args, db)
        background = asyncio.ensure_future(_background(args, db))  # TTL sweeper, GSI backfills
        await stop
        if backup_scheduler is not None:
            backup_scheduler.cancel()
        stream_maintenance.cancel()
        task.cancel()
        background.cancel()
        await asyncio.gather(background, return_exceptions=True)  # the TTL sweeper releases its lease

    try:
        asyncio.run(run())
    finally:
        db.close()


# How long after start the server only answers requests, before it imports the operations
# not yet used and starts its background work: the first answers of a fresh server do not
# wait for either (start-up to first answer: bench/run.py).
BACKGROUND_DELAY_SECONDS = 0.2


async def _background(args: argparse.Namespace, db: Any) -> None:
    """Import every operation's module (one per event-loop step, so requests are answered
    in between), then run the TTL sweeper and GSI backfills until cancelled."""
    await asyncio.sleep(BACKGROUND_DELAY_SECONDS)
    from dynamodbforge.ops.registry import OPERATIONS

    try:
        for _ in OPERATIONS.load_all():
            await asyncio.sleep(0)
    except Exception:  # a module that cannot be imported fails its own requests, not the sweeper
        logging.getLogger("dynamodbforge").exception("importing the operations failed")
    gc.freeze()  # as in _run_worker: the modules just imported live as long as the process
    from dynamodbforge.ops.backfill import run_backfiller  # GSI backfill / drop jobs
    from dynamodbforge.ttl.sweeper import run_sweeper  # one lease-holding sweeper across --workers

    sweeper = asyncio.ensure_future(run_sweeper(db, args.ttl_interval))
    backfiller = asyncio.ensure_future(run_backfiller(db))
    try:
        await asyncio.Future()  # until cancelled
    finally:
        backfiller.cancel()
        sweeper.cancel()
        await asyncio.gather(sweeper, return_exceptions=True)  # releases its lease


def _tls_context(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    if not args.tls_cert:
        return None
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.tls_cert, args.tls_key)
    return context


def _check_security_args(args: argparse.Namespace) -> str | None:  # fail fast, before forking
    if bool(args.tls_cert) != bool(args.tls_key):
        return "--tls-cert and --tls-key go together"
    if args.tls_cert:
        try:
            _tls_context(args)
        except (OSError, ValueError) as exc:
            return f"cannot load the TLS certificate/key: {exc}"
    if args.auth:
        from dynamodbforge.auth.principals import PrincipalsError, load_principals

        try:
            load_principals(args.auth)
        except PrincipalsError as exc:
            return f"--auth: {exc}"
    return None


def serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    problem = _check_security_args(args)
    if problem:
        print(f"ddbforge: {problem}", file=sys.stderr)
        return 2
    if args.in_memory and args.workers > 1:
        print("ddbforge: --in-memory cannot be shared by several --workers", file=sys.stderr)
        return 2
    from dynamodbforge.streams import launch as streams_launch  # fail fast on bad --config/--trigger

    problem = streams_launch.check(args)
    if problem:
        print(f"ddbforge: {problem}", file=sys.stderr)
        return 2
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        print(f"ddbforge: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    sock.listen(1024)
    sock.setblocking(False)
    port = sock.getsockname()[1]
    endpoint = f"{args.host}:{port}"
    where = "memory (not persisted)" if args.in_memory else os.path.join(os.path.abspath(args.data_dir), DB_FILE)
    if args.workers > 1:
        # Create the database once before forking so workers don't race to create it.
        _open_database(args, endpoint).close()
    scheme = "https" if args.tls_cert else "http"
    print(f"DynamoDBForge {__version__} listening on {scheme}://{endpoint}", flush=True)
    if args.auth:
        print(f"Authentication: AWS SigV4, principals from {os.path.abspath(args.auth)}", flush=True)
    print(f"Data: {where}", flush=True)
    data_file = None if args.in_memory else os.path.join(os.path.abspath(args.data_dir), DB_FILE)
    # WAL checkpoints in a process of their own (storage/checkpointer.py)
    from dynamodbforge.storage import checkpointer

    checkpoints = checkpointer.start(data_file, args.sync.upper()) if data_file is not None else None
    try:
        return _serve_workers(args, sock, endpoint, data_file)
    finally:
        if checkpoints is not None:
            checkpoints.stop()


def _serve_workers(args: argparse.Namespace, sock: socket.socket, endpoint: str, data_file: str | None) -> int:
    from dynamodbforge.streams import launch as streams_launch

    if args.workers <= 1:
        runner = streams_launch.start_runner(args, endpoint, data_file)  # the trigger runner
        try:
            _run_worker(args, sock, endpoint)
        finally:
            if runner is not None:
                runner.stop()
        return 0
    children = []
    for _ in range(args.workers):
        pid = os.fork()
        if pid == 0:
            try:
                _run_worker(args, sock, endpoint)
            finally:
                os._exit(0)
        children.append(pid)

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            try:
                os.kill(child, signum)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    runner = streams_launch.start_runner(args, endpoint, data_file)  # after forking, in the parent only
    for child in children:
        os.waitpid(child, 0)
    if runner is not None:
        runner.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
