"""Create the benchmark table (hash pk S, range sk N) and load N items of ~200 bytes.

    python bench/preload.py --endpoint http://127.0.0.1:8000 --items 100000

Item i has pk = "p<i // 10>", sk = i % 10 (every partition holds exactly 10 items),
c = 0 and a 170-character payload, matching bench/lua/*.lua. Loading uses BatchWriteItem
(25 items a request) from a few threads, with a progress bar on stderr. The client is a
plain keep-alive http.client connection per thread: any signature is accepted by the
systems benchmarked, so no SigV4 signing (and no boto3 overhead) is needed.
"""
from __future__ import annotations

import argparse
import http.client
import itertools
import json
import sys
import threading
import time
from typing import Any
from urllib.parse import urlsplit

PAYLOAD = "x" * 170
HEADERS = {
    "Content-Type": "application/x-amz-json-1.0",
    "X-Amz-Date": "20260101T000000Z",
    "Authorization": "AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/dynamodb/aws4_request, "
    "SignedHeaders=host;x-amz-date;x-amz-target, Signature=0",
}


class DynamoError(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:300]}")
        self.status = status
        self.body = body


class Client:
    """Minimal DynamoDB JSON client over one keep-alive connection (not thread-safe)."""

    def __init__(self, endpoint: str, timeout: float = 60.0) -> None:
        url = urlsplit(endpoint)
        self.host, self.port, self.timeout = url.hostname or "127.0.0.1", url.port or 80, timeout
        self.conn: http.client.HTTPConnection | None = None

    def call(self, op: str, body: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(body).encode()
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request("POST", "/", data, {**HEADERS, "X-Amz-Target": f"DynamoDB_20120810.{op}"})
                resp = self.conn.getresponse()
                text = resp.read().decode()
                break
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    raise
        if resp.status != 200:
            raise DynamoError(resp.status, text)
        return json.loads(text) if text else {}

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def item(i: int) -> dict[str, Any]:
    return {"pk": {"S": f"p{i // 10}"}, "sk": {"N": str(i % 10)}, "c": {"N": "0"}, "payload": {"S": PAYLOAD}}


def table_definition(table: str = "bench") -> dict[str, Any]:
    """The benchmark table's CreateTable request: hash pk S, range sk N, on demand."""
    return {
        "TableName": table,
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                 {"AttributeName": "sk", "AttributeType": "N"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "BillingMode": "PAY_PER_REQUEST",
    }


def create_table(endpoint: str, table: str = "bench") -> None:
    """(Re)create the table and wait until it is ACTIVE."""
    client = Client(endpoint)
    try:
        client.call("DeleteTable", {"TableName": table})
        while True:
            client.call("DescribeTable", {"TableName": table})
            time.sleep(0.05)
    except DynamoError as exc:
        if "ResourceNotFoundException" not in exc.body:
            raise
    client.call("CreateTable", table_definition(table))
    while client.call("DescribeTable", {"TableName": table})["Table"]["TableStatus"] != "ACTIVE":
        time.sleep(0.02)
    client.close()


class Progress:
    def __init__(self, total: int, enabled: bool = True, width: int = 30) -> None:
        self.total, self.enabled, self.width = total, enabled, width
        self.done, self.start, self.last = 0, time.monotonic(), 0.0
        self.lock = threading.Lock()

    def add(self, n: int) -> None:
        with self.lock:
            self.done += n
            now = time.monotonic()
            if self.enabled and (now - self.last > 0.2 or self.done >= self.total):
                self.last = now
                frac = self.done / max(self.total, 1)
                bar = "#" * int(frac * self.width)
                rate = self.done / max(now - self.start, 1e-9)
                end = "\n" if self.done >= self.total else ""
                print(f"\r  preload [{bar:<{self.width}}] {self.done:>9,}/{self.total:,} {rate:>8,.0f} items/s",
                      end=end, file=sys.stderr, flush=True)


def preload(endpoint: str, items: int, table: str = "bench", threads: int = 4, progress: bool = True) -> float:
    """Load items 0..items-1 with BatchWriteItem; returns the seconds it took."""
    chunks = iter(range(0, items, 25))
    lock = threading.Lock()
    bar = Progress(items, progress)
    errors: list[BaseException] = []

    def worker() -> None:
        client = Client(endpoint)
        try:
            while not errors:
                with lock:
                    start = next(chunks, None)
                if start is None:
                    return
                pending = [{"PutRequest": {"Item": item(i)}} for i in range(start, min(start + 25, items))]
                n, delay = len(pending), 0.01
                while pending:
                    out = client.call("BatchWriteItem", {"RequestItems": {table: pending}})
                    pending = out.get("UnprocessedItems", {}).get(table, [])
                    if pending:
                        time.sleep(delay)
                        delay = min(delay * 2, 1.0)
                bar.add(n)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            errors.append(exc)
        finally:
            client.close()

    t0 = time.monotonic()
    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if errors:
        raise errors[0]
    return time.monotonic() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description="Create the benchmark table and preload it.")
    ap.add_argument("--endpoint", default="http://127.0.0.1:8000")
    ap.add_argument("--table", default="bench")
    ap.add_argument("--items", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=4)
    args = ap.parse_args()
    create_table(args.endpoint, args.table)
    secs = preload(args.endpoint, args.items, args.table, args.threads)
    print(f"loaded {args.items:,} items in {secs:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
