"""Query/Scan scale check: first-page latency vs table size, server RSS during a full Scan.

    python bench/scale_query.py --items 1000000          # the full run (a few minutes)
    python bench/scale_query.py --items 20000 --json     # the bounded run used by tests

Two tables are written straight through the sans-IO layer into a fresh data directory
(``ops.tables.create_table`` + ``ops.items.write_in_batch``, thousands of items per
write batch - the same code path BatchWriteItem uses, without HTTP), then a real
``ddbforge serve`` is started on that directory and measured over HTTP with boto3:

* ``small``: 1,000 items; ``large``: ``--items`` items.  Both have a partition
  ``hot`` of 500 items (sort key N), the rest spread over other partitions of 10 items;
* median latency of a Query on ``hot`` returning its first page (Limit 100), on each;
* the server's RSS (from /proc) before and at every page of a full Scan of ``large``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from bench.preload import table_definition  # noqa: E402 - after the path setup above

HOT = 500
PAYLOAD = "x" * 100


def load(data_dir: str, tables: dict[str, int], batch_size: int = 5000) -> float:
    """Write the tables into ``data_dir`` through the sans-IO layer; returns seconds taken."""
    from dynamodbforge.database import Database
    from dynamodbforge.ops import tables as table_ops
    from dynamodbforge.ops.items import write_in_batch
    from dynamodbforge.storage.sqlite import SQLiteEngine
    from dynamodbforge.cli import DB_FILE

    t0 = time.perf_counter()
    db = Database(SQLiteEngine(os.path.join(data_dir, DB_FILE), synchronous="OFF"))
    try:
        for name, count in tables.items():
            table_ops.create_table(db, table_definition(name))
            info = db.catalog.get(name)

            def items(count: int = count):
                for i in range(HOT):
                    yield {"pk": {"S": "hot"}, "sk": {"N": str(i)}, "d": {"S": PAYLOAD}}
                for i in range(count - HOT):
                    yield {"pk": {"S": f"p{i // 10}"}, "sk": {"N": str(i % 10)}, "d": {"S": PAYLOAD}}

            batch_items: list[dict] = []

            def flush() -> None:
                with db.engine.write() as batch:
                    for item in batch_items:
                        key = {"pk": item["pk"], "sk": item["sk"]}
                        write_in_batch(db, batch, info, key, lambda _old, _new=item: _new)
                batch_items.clear()

            for n, item in enumerate(items(), 1):
                batch_items.append(item)
                if len(batch_items) >= batch_size:
                    flush()
                    if n % 100_000 < batch_size:
                        print(f"  {name}: {n:,} items", file=sys.stderr)
            if batch_items:
                flush()
    finally:
        db.close()
    return time.perf_counter() - t0


def rss_kb(pid: int) -> int:
    total = 0
    # The server may run worker processes: sum the process group's RSS.
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[2]) != pid and int(entry) != pid:  # fields[2] is the process group id
                continue
            with open(f"/proc/{entry}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total


def measure(endpoint: str, pid: int, small: str, large: str, repeat: int = 30) -> dict:
    import boto3
    from botocore.config import Config

    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="a", aws_secret_access_key="b",
                          config=Config(retries={"max_attempts": 1}))

    def first_page_ms(table: str) -> float:
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            r = client.query(TableName=table, KeyConditionExpression="pk = :p",
                             ExpressionAttributeValues={":p": {"S": "hot"}}, Limit=100)
            times.append((time.perf_counter() - t0) * 1000)
            assert r["Count"] == 100 and r["ScannedCount"] == 100
        return statistics.median(times)

    first_page_ms(small)  # warm up
    out = {"query_first_page_ms_small": round(first_page_ms(small), 2),
           "query_first_page_ms_large": round(first_page_ms(large), 2)}

    rss_before = rss_kb(pid)
    peak = rss_before
    scanned = pages = 0
    kw: dict = {"TableName": large, "ProjectionExpression": "pk"}
    t0 = time.perf_counter()
    samples = []
    while True:
        r = client.scan(**kw)
        pages += 1
        scanned += r["ScannedCount"]
        now = rss_kb(pid)
        peak = max(peak, now)
        samples.append(now)
        if "LastEvaluatedKey" not in r:
            break
        kw["ExclusiveStartKey"] = r["LastEvaluatedKey"]
    out.update({
        "scan_items": scanned, "scan_pages": pages, "scan_seconds": round(time.perf_counter() - t0, 1),
        "rss_kb_before_scan": rss_before, "rss_kb_peak_during_scan": peak,
        "rss_kb_after_first_10_pages": max(samples[:10]), "rss_kb_at_end": samples[-1],
    })
    return out


def run(items: int, workers: int | None = None) -> dict:
    from server_process import ServerProcess

    with tempfile.TemporaryDirectory(prefix="ddbforge-scale-") as data_dir:
        load_s = load(data_dir, {"scale-small": 1000, "scale-large": items})
        extra = ["--workers", str(workers)] if workers else []
        server = ServerProcess(data_dir, *extra).start(timeout=60)
        try:
            assert server.proc is not None
            result = measure(server.endpoint, server.proc.pid, "scale-small", "scale-large")
        finally:
            server.stop()
        result.update({"items_large": items, "items_small": 1000, "load_seconds": round(load_s, 1)})
        return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    args = parser.parse_args()
    result = run(args.items)
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
