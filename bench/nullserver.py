"""The "null server": answers every HTTP request with one fixed DynamoDB-shaped reply.

It does no work, so wrk's throughput against it is the ceiling of the harness itself
(wrk + its Lua scripts + a Python uvloop/httptools front end on one core). The reply
satisfies every body check in bench/lua/*.lua.

    python bench/nullserver.py --port 8199
"""
from __future__ import annotations

import argparse
import asyncio

import httptools
import uvloop

BODY = b'{"Item":{},"Count":10,"ScannedCount":10,"Items":[],"UnprocessedItems":{},"TableNames":[]}'
REPLY = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n"
    b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY
)


class NullProtocol(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.parser = httptools.HttpRequestParser(self)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_message_complete(self) -> None:
        self.transport.write(REPLY)


async def serve(host: str, port: int) -> None:
    server = await asyncio.get_running_loop().create_server(NullProtocol, host, port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8199)
    args = ap.parse_args()
    uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
