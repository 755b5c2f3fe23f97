"""CPU per PutItem inside one process: ``Service.handle`` in a loop, no HTTP, no group commit.

    python -m bench.inprocess                 # µs of CPU per PutItem, five rounds of 12,000
    python -m bench.inprocess --data-dir DIR  # the same on disk (each put commits alone)
    python -m bench.inprocess --profile       # cProfile of 10,000 puts, by own time

A profiling aid, not the benchmark: it shows what the operation path itself costs
(validation, the operation, the storage engine) without the HTTP front, the network or
the load generator, so that changes to that path can be compared quickly.  Each put
commits alone, as a PutItem at one connection does; the benchmark (bench/run.py) is what
the performance targets are judged by.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time

import orjson

from bench.preload import PAYLOAD, table_definition
from dynamodbforge.database import Database
from dynamodbforge.service import DYNAMODB_PREFIX as TARGET
from dynamodbforge.service import Service
from dynamodbforge.storage.sqlite import SQLiteEngine


def body(i: int) -> bytes:
    return (b'{"TableName":"bench","Item":{"pk":{"S":"w%d"},"sk":{"N":"%d"},"c":{"N":"0"},'
            b'"payload":{"S":"%s"}}}' % (i, i % 10, PAYLOAD.encode()))


def service(path: str | None) -> Service:
    svc = Service(Database(SQLiteEngine(path), region="us-east-1", endpoint="http://127.0.0.1"))
    status, out = svc.handle(TARGET + "CreateTable", orjson.dumps(table_definition("bench")))
    assert status == 200, out
    return svc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", help="on disk here (default: the in-memory engine)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--puts", type=int, default=12_000, help="puts per round")
    parser.add_argument("--profile", action="store_true", help="cProfile 10,000 puts instead")
    args = parser.parse_args()
    path = None
    if args.data_dir:
        os.makedirs(args.data_dir, exist_ok=True)
        fd, path = tempfile.mkstemp(suffix=".sqlite3", dir=args.data_dir)  # an empty file: a new database
        os.close(fd)
    svc = service(path)
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        for i in range(10_000):
            svc.handle(TARGET + "PutItem", body(i))
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(40)
        return
    results = []
    for r in range(args.rounds):
        bodies = [body(r * args.puts + i) for i in range(args.puts)]
        start = time.process_time()
        for b in bodies:
            status, out = svc.handle(TARGET + "PutItem", b)
        results.append((time.process_time() - start) / args.puts * 1e6)
        assert status == 200, out
    print("µs of CPU per PutItem, by round:", " ".join(f"{x:.1f}" for x in results), f"(best {min(results):.1f})")


if __name__ == "__main__":
    main()
