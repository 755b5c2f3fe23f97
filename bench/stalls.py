"""Find write stalls: one connection, one request at a time, every latency kept with its time.

    python -m bench.stalls --endpoint http://127.0.0.1:8000 --op PutItem --seconds 10

wrk reports percentiles, which tell that a server stalls but not when or how long.  They
are also corrected for coordinated omission (wrk 4.1, src/stats.c ``stats_correct``): each
answer slower than twice the mean cycle of a connection adds made-up samples at its latency
minus one, two, ... mean cycles, so at one connection a few 20 ms stalls put wrk's p99 at
several milliseconds while 99 % of the requests took under one.  This client sends PutItem (new items) or UpdateItem
(``SET #c = #c + :one`` on preloaded items, see bench/preload.py) back to back on one
keep-alive connection and prints the percentiles it saw and every answer slower than
``--threshold`` milliseconds, with its offset into the run: a stall that repeats every
0.1 s points at the WAL checkpointer's rounds, a single long one at a WAL restart.  It is
a plain Python client, so its own overhead (~0.1-0.3 ms) is in every figure.
"""
from __future__ import annotations

import argparse
import random
import socket
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

if __package__ in (None, ""):  # `python bench/stalls.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.preload import PAYLOAD  # noqa: E402 - the preloaded items' payload

HEAD = ("POST / HTTP/1.1\r\nHost: bench\r\nContent-Type: application/x-amz-json-1.0\r\n"
        "X-Amz-Target: DynamoDB_20120810.{op}\r\nContent-Length: {length}\r\n\r\n")


def body(op: str, table: str, run: int, i: int, keys: int) -> bytes:
    if op == "PutItem":
        return (f'{{"TableName":"{table}","Item":{{"pk":{{"S":"s{run}_{i}"}},"sk":{{"N":"{i % 10}"}},'
                f'"c":{{"N":"0"}},"payload":{{"S":"{PAYLOAD}"}}}}}}').encode()
    k = random.randrange(keys)
    return (f'{{"TableName":"{table}","Key":{{"pk":{{"S":"p{k // 10}"}},"sk":{{"N":"{k % 10}"}}}},'
            '"UpdateExpression":"SET #c = #c + :one","ConditionExpression":"attribute_exists(pk)",'
            '"ExpressionAttributeNames":{"#c":"c"},"ExpressionAttributeValues":{":one":{"N":"1"}}}').encode()


def read_answer(sock: socket.socket) -> bytes:
    buf = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
        head, sep, rest = buf.partition(b"\r\n\r\n")
        if sep:
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            if len(rest) >= length:
                return head.split(b" ", 2)[1]  # the status code


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="One-connection write latencies with the time of every stall.")
    ap.add_argument("--endpoint", default="http://127.0.0.1:8000")
    ap.add_argument("--op", choices=["PutItem", "UpdateItem"], default="PutItem")
    ap.add_argument("--table", default="bench")
    ap.add_argument("--keys", type=int, default=100_000, help="preloaded items (UpdateItem picks among them)")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--threshold", type=float, default=5.0, help="print answers slower than this (ms)")
    args = ap.parse_args(argv)
    url = urlsplit(args.endpoint)
    sock = socket.create_connection((url.hostname or "127.0.0.1", url.port or 80))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    run = random.randrange(10**9)
    latencies: list[float] = []
    slow: list[tuple[float, float]] = []
    start = time.monotonic()
    i = 0
    while time.monotonic() - start < args.seconds:
        data = body(args.op, args.table, run, i, args.keys)
        i += 1
        request = HEAD.format(op=args.op, length=len(data)).encode() + data
        t = time.monotonic()
        sock.sendall(request)
        status = read_answer(sock)
        took = time.monotonic() - t
        if status != b"200":
            print(f"request {i}: HTTP {status.decode()}", file=sys.stderr)
            return 1
        latencies.append(took)
        if took * 1000 > args.threshold:
            slow.append((t - start, took))
    sock.close()
    latencies.sort()
    n = len(latencies)

    def pct(p: float) -> float:
        return latencies[min(n - 1, int(n * p))] * 1000

    print(f"{args.op}: {n:,} requests in {args.seconds:g} s; p50 {pct(0.5):.2f} ms, p99 {pct(0.99):.2f} ms, "
          f"p99.9 {pct(0.999):.2f} ms, max {latencies[-1] * 1000:.1f} ms")
    print(f"{len(slow)} answers slower than {args.threshold:g} ms"
          f" ({sum(d for _, d in slow) * 1000:.0f} ms in all):")
    for at, took in slow:
        print(f"  at {at:7.3f} s: {took * 1000:7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
