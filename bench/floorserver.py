"""The "floor server": the least a Python server can do to answer the benchmark durably.

The null server (bench/nullserver.py) is the ceiling of the harness: no work at all.  This
one is the floor under DynamoDBForge's own design, so that what DynamoDBForge spends on
being DynamoDB can be told apart from what any Python server on this storage must spend.
It does exactly what the benchmark's five requests need and nothing else, the way
DynamoDBForge stores them:

- uvloop + httptools; ``orjson`` for bodies; DynamoDB-shaped answers with the same headers;
- SQLite in WAL mode with DynamoDBForge's settings (4 KB pages, ``synchronous=NORMAL``,
  8 MB page cache): an acknowledged write has reached the operating system;
- items in one ``WITHOUT ROWID`` table in partition-key *hash* order (as DynamoDB's Scan,
  and DynamoDBForge, lay them out), so that new items land on random pages;
- every write reads the old item and appends a change record (old and new image) in the
  same transaction; writes of one event-loop iteration commit together, then are answered;
- a child process checkpoints the WAL every 20 ms (``--no-checkpoint``: never, a diagnostic).

It validates nothing, keeps no catalog, statistics, capacity or metrics, and understands
only the benchmark's requests (bench/lua/*.lua, bench/preload.py): anything else is
answered with an error.  It is a reference for the measurements, not a DynamoDB.

    python bench/floorserver.py --port 8198 --data-dir /tmp/floor
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sqlite3
import struct
import subprocess
import sys
import time
import zlib
from typing import Any

import httptools
import orjson
import uvloop

if __package__ in (None, ""):  # `python bench/floorserver.py`: the repository's dynamodbforge
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from dynamodbforge.storage.sqlite import SCHEMA_STATEMENTS  # noqa: E402

PREFIX = b"DynamoDB_20120810."
_SK = struct.Struct(">Q")


def item_key(table: bytes, item: dict[str, Any]) -> bytes:
    """Table, 4-byte hash of the partition key, the key, then the sort key (an integer:
    the benchmark's) in an order-preserving encoding."""
    pk = item["pk"]["S"].encode()
    return table + b"\x00" + zlib.crc32(pk).to_bytes(4, "big") + pk + b"\x00" + _SK.pack(int(item["sk"]["N"]) + (1 << 63))


def partition_range(table: bytes, pk: str) -> tuple[bytes, bytes]:
    raw = pk.encode()
    lo = table + b"\x00" + zlib.crc32(raw).to_bytes(4, "big") + raw + b"\x00"
    return lo, lo[:-1] + b"\x01"


_request_ids = itertools.count()


def reply(status: int, body: bytes) -> bytes:
    return b"".join((
        b"HTTP/1.1 200 OK\r\n" if status == 200 else b"HTTP/1.1 400 Bad Request\r\n",
        b"Server: Server\r\nx-amzn-RequestId: ", b"%052X" % next(_request_ids),
        b"\r\nx-amz-crc32: ", str(zlib.crc32(body)).encode(),
        b"\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: ", str(len(body)).encode(),
        b"\r\n\r\n", body))


def error(kind: str, message: str) -> tuple[int, bytes]:
    return 400, orjson.dumps({"__type": "com.amazonaws.dynamodb.v20120810#" + kind, "message": message})


class Store:
    """The data: one SQLite connection, writes grouped per event-loop iteration."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        for pragma in ("page_size=4096", "journal_mode=WAL", "synchronous=NORMAL", "wal_autocheckpoint=0",
                       "journal_size_limit=-1", "cache_size=-8192"):
            self.conn.execute("PRAGMA " + pragma)
        for statement in SCHEMA_STATEMENTS:  # DynamoDBForge's own tables and index
            self.conn.execute(statement)
        self.cur = self.conn.cursor()
        self.tables: set[str] = set()
        self.in_group = False

    def write(self, table: str, item: dict[str, Any]) -> None:
        if not self.in_group:
            self.conn.execute("BEGIN IMMEDIATE")
            self.in_group = True
        key = item_key(table.encode(), item)
        row = self.cur.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        old = row[0] if row else None
        new = orjson.dumps(item)
        self.cur.execute("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", (key, new))
        self.cur.execute("INSERT INTO changelog (ts, tbl, keys, old, new, origin, dsize) VALUES (?,?,?,?,?,?,?)",
                         (time.time(), table, key, old, new, "local", len(new) - (len(old) if old else 0)))

    def commit(self) -> None:
        if self.in_group:
            self.in_group = False
            self.conn.execute("COMMIT")


def handle(store: Store, op: bytes, req: dict[str, Any]) -> tuple[int, bytes]:
    """One request of the benchmark: (status, body)."""
    if op == b"PutItem":
        store.write(req["TableName"], req["Item"])
        return 200, b"{}"
    if op == b"GetItem":
        row = store.cur.execute("SELECT v FROM kv WHERE k = ?", (item_key(req["TableName"].encode(), req["Key"]),)).fetchone()
        return 200, (b'{"Item":' + row[0] + b"}") if row else b"{}"
    if op == b"UpdateItem":  # SET #c = #c + :one, ConditionExpression attribute_exists(pk)
        key = item_key(req["TableName"].encode(), req["Key"])
        row = store.cur.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        if row is None:
            return error("ConditionalCheckFailedException", "The conditional request failed")
        item = orjson.loads(row[0])
        item["c"] = {"N": str(int(item["c"]["N"]) + int(req["ExpressionAttributeValues"][":one"]["N"]))}
        store.write(req["TableName"], item)
        return 200, b"{}"
    if op == b"Query":  # pk = :p
        lo, hi = partition_range(req["TableName"].encode(), req["ExpressionAttributeValues"][":p"]["S"])
        rows = store.cur.execute("SELECT v FROM kv WHERE k >= ? AND k < ? ORDER BY k", (lo, hi)).fetchall()
        return 200, b'{"Items":[' + b",".join(r[0] for r in rows) + b'],"Count":%d,"ScannedCount":%d}' % (len(rows), len(rows))
    if op == b"BatchWriteItem":
        for table, requests in req["RequestItems"].items():
            for request in requests:
                store.write(table, request["PutRequest"]["Item"])
        return 200, b'{"UnprocessedItems":{}}'
    name = req.get("TableName", "")
    if op == b"ListTables":
        return 200, orjson.dumps({"TableNames": sorted(store.tables)})
    if op == b"CreateTable":
        store.tables.add(name)
        return 200, orjson.dumps({"TableDescription": {"TableName": name, "TableStatus": "ACTIVE"}})
    if op == b"DescribeTable" and name in store.tables:
        return 200, orjson.dumps({"Table": {"TableName": name, "TableStatus": "ACTIVE"}})
    if op == b"DeleteTable" and name in store.tables:
        store.tables.discard(name)  # its items stay: the floor server serves one benchmark run
        return 200, orjson.dumps({"TableDescription": {"TableName": name, "TableStatus": "DELETING"}})
    if op in (b"DescribeTable", b"DeleteTable"):
        return error("ResourceNotFoundException", "Requested resource not found")
    return error("UnknownOperationException", "")


class FloorProtocol(asyncio.Protocol):
    store: Store
    pending: list[tuple[asyncio.Transport, bytes]] = []
    scheduled = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.parser = httptools.HttpRequestParser(self)
        self.target = b""
        self.body: list[bytes] = []
        self.header = b""

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"x-amz-target":
            self.target = value

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        req = orjson.loads(b"".join(self.body))
        self.body = []
        op = self.target[len(PREFIX):]
        store = FloorProtocol.store
        try:
            status, body = handle(store, op, req)
        except Exception as exc:  # noqa: BLE001 - a request it does not understand
            status, body = error("ValidationException", f"the floor server cannot answer this: {exc!r}")
        if not store.in_group:
            self.transport.write(reply(status, body))
            return
        FloorProtocol.pending.append((self.transport, reply(status, body)))
        if not FloorProtocol.scheduled:
            FloorProtocol.scheduled = True
            asyncio.get_running_loop().call_soon(flush)


def flush() -> None:
    """Commit this iteration's writes, then answer them."""
    FloorProtocol.scheduled = False
    FloorProtocol.store.commit()
    pending, FloorProtocol.pending = FloorProtocol.pending, []
    for transport, data in pending:
        if not transport.is_closing():
            transport.write(data)


def checkpointer(path: str) -> None:
    """A PASSIVE checkpoint every 20 ms (DynamoDBForge's checkpointer round), while its server runs."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=NORMAL")
    parent = os.getppid()
    while os.getppid() == parent:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        time.sleep(0.02)


async def serve(host: str, port: int) -> None:
    server = await asyncio.get_running_loop().create_server(FloorProtocol, host, port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8198)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--no-checkpoint", action="store_true", help="never checkpoint the WAL (a diagnostic)")
    ap.add_argument("--checkpointer", help=argparse.SUPPRESS)  # the child process
    args = ap.parse_args()
    if args.checkpointer:
        checkpointer(args.checkpointer)
        return
    os.makedirs(args.data_dir, exist_ok=True)
    path = os.path.join(args.data_dir, "floor.sqlite3")
    FloorProtocol.store = Store(path)
    if not args.no_checkpoint:  # in the server's process group: stopped with it
        subprocess.Popen([sys.executable, os.path.abspath(__file__), "--data-dir", args.data_dir, "--checkpointer", path])
    uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
