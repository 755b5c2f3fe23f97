"""HTTP/1.1 front: framing, gzip, request ids, CRC32, health check — nothing else.

Built on httptools (llhttp) with an asyncio Protocol; operations are fast and
synchronous, so each request is handled straight from ``on_message_complete``
without creating a task.  Its answer waits in the CommitGate until the event loop
has handled every request of the iteration, then all go out together (in order, so
pipelined requests are answered in order).
"""
from __future__ import annotations

import asyncio
import base64
import itertools
import logging
import os
import time
import zlib
from email.utils import formatdate
from typing import Any

import httptools

from dynamodbforge import errors
from dynamodbforge.server import encoding
from dynamodbforge.service import Service
from dynamodbforge.streams import lambda_api
from dynamodbforge.metrics import REGISTRY  # GET /metrics

log = logging.getLogger("dynamodbforge.http")

MAX_BODY_BYTES = 16 * 1024 * 1024  # DynamoDB refuses request bodies over 16 MB with 413

_REASONS = {200: b"OK", 202: b"Accepted", 400: b"Bad Request", 404: b"Not Found", 409: b"Conflict",  # 202/409: Lambda event source mappings
            413: b"Request Entity Too Large",
            500: b"Internal Server Error"}


def _reseed_request_ids() -> None:
    global _REQUEST_ID_PREFIX, _request_counter
    _REQUEST_ID_PREFIX = base64.b32encode(os.urandom(15))  # 24 random characters per process
    _request_counter = itertools.count(int.from_bytes(os.urandom(6), "big"))


_reseed_request_ids()
os.register_at_fork(after_in_child=_reseed_request_ids)  # --workers: every worker its own ids


def _request_id() -> bytes:
    """AWS request ids are 52 upper-case alphanumerics: a random per-process prefix and a
    counter (unique, and cheap — base64's b32encode is pure Python)."""
    return _REQUEST_ID_PREFIX + b"%028X" % next(_request_counter)


class _DateCache:
    """The Date header, formatted once a second rather than once a request."""

    def __init__(self) -> None:
        self._second = 0
        self._value = b""

    def get(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._value = formatdate(now, usegmt=True).encode()
        return self._value


_DATE = _DateCache()


class HttpProtocol(asyncio.Protocol):
    __slots__ = ("_service", "_auth", "_transport", "_parser", "_url", "_headers", "_body", "_body_len",
                 "_too_large", "_health", "_peer", "_gate", "_cors")

    def __init__(self, service: Service, auth: Any, health: bytes, gate: "CommitGate | None" = None) -> None:
        self._service = service
        self._gate = gate
        self._auth = auth
        self._health = health
        self._transport: asyncio.Transport | None = None
        self._peer: tuple[str | None, bool] = (None, False)  # (client ip, TLS) for IAM conditions
        self._parser = httptools.HttpRequestParser(self)
        self._reset()

    def _reset(self) -> None:
        self._url = b""
        self._headers: dict[bytes, bytes] = {}
        self._body: list[bytes] = []
        self._body_len = 0
        self._too_large = False
        self._cors = b""  # CORS headers of this request's answer (a browser's request has an Origin)

    # -- asyncio.Protocol --------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        # remember the client address and whether the connection is TLS
        peername = transport.get_extra_info("peername")
        self._peer = (peername[0] if peername else None, transport.get_extra_info("sslcontext") is not None)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._close()
        except httptools.HttpParserError:
            self._send_raw(400, b"", b"text/plain", keep_alive=False)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    # -- httptools callbacks -------------------------------------------------
    def on_message_begin(self) -> None:
        self._reset()

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.lower()] = value

    def on_headers_complete(self) -> None:
        length = self._headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
            self._too_large = True

    def on_body(self, body: bytes) -> None:
        if self._too_large:
            return
        self._body_len += len(body)
        if self._body_len > MAX_BODY_BYTES:
            self._too_large = True
            self._body = []
        else:
            self._body.append(body)

    def on_message_complete(self) -> None:
        keep_alive = self._parser.should_keep_alive()
        headers = self._headers
        method = self._parser.get_method()
        if b"origin" in headers:  # CORS, as DynamoDB answers browsers (the AWS SDK for JavaScript)
            self._cors = _CORS
            if method == b"OPTIONS":  # a preflight: allow what it asks for
                self._cors = _CORS + b"".join(
                    b"Access-Control-Allow-" + name + b": " + headers[b"access-control-request-" + key] + b"\r\n"
                    for name, key in ((b"Headers", b"headers"), (b"Methods", b"method"))
                    if b"access-control-request-" + key in headers
                ) + b"Access-Control-Max-Age: 172800\r\n"
                self._send_raw(200, b"", b"text/plain", keep_alive)
                return
        if self._too_large:
            status, body = errors.request_too_large().to_wire()
            self._send(status, body, b"application/x-amz-json-1.0", keep_alive=False)
            return
        # Lambda's REST routes for event source mappings (boto3 "lambda" client)
        if self._url.startswith(lambda_api.ROUTE):
            self._lambda_route(method, headers, keep_alive)
            return
        if method == b"GET" and self._url.startswith(b"/metrics"):  # Prometheus scrape
            self._send_raw(200, REGISTRY.render().encode(), b"text/plain; version=0.0.4; charset=utf-8", keep_alive)
            return
        if method == b"GET" and self._url.startswith(INSIGHTS_ROUTE):  # `ddbforge insights`
            status, out = _insights(self._service, self._url)
            self._send_raw(status, out, b"application/json", keep_alive)
            return
        if method == b"GET":
            if self._url != b"/" and not self._url.startswith(b"/?"):
                # only the root is the health check (other paths: a 400-404 in DynamoDB)
                self._send(404, b"<UnknownOperationException/>\n", b"text/xml", keep_alive)
                return
            # AWS answers "healthy: <the host the client addressed> " to GET /.
            host = headers.get(b"host")
            body = b"healthy: " + host + b" " if host else self._health
            self._send(200, body, b"text/plain", keep_alive)
            return
        if method != b"POST":
            self._send(404, b"<UnknownOperationException/>\n", b"text/xml", keep_alive)
            return
        body = b"".join(self._body) if len(self._body) != 1 else self._body[0]
        content_type = headers.get(b"content-type", b"application/x-amz-json-1.0")
        response_type = b"application/x-amz-json-1.1" if content_type.endswith(b"1.1") else (
            b"application/json" if content_type.startswith(b"application/json")  # echoed (dynalite)
            else b"application/x-amz-json-1.0")
        raw_body = body  # SigV4's payload hash covers the body as sent (before gunzip)
        content_encoding = headers.get(b"content-encoding", b"").strip().lower()
        if content_encoding and content_encoding not in (b"gzip", b"identity"):
            # a body in an encoding it cannot read: DynamoDB answers 500 and does nothing
            # (ScyllaDB Alternator's test_garbage_content_encoding, run against DynamoDB)
            status, out = errors.internal_server_error().to_wire()
            self._send(status, out, response_type, keep_alive)
            return
        if content_encoding == b"gzip":
            try:
                body = _gunzip(body)
            except ValueError:
                status, out = errors.request_too_large().to_wire()
                self._send(status, out, response_type, keep_alive=False)
                return
            except (zlib.error, EOFError):
                # AWS answers an undecodable gzip body with a 500, not a client error.
                status, out = errors.internal_server_error().to_wire()
                self._send(status, out, response_type, keep_alive)
                return
        # authenticate returns the caller to authorize, or None (AcceptAll)
        try:
            caller = self._auth.authenticate(method, self._url, headers, raw_body, self._peer)
        except errors.DynamoDBError as exc:
            status, out = exc.to_wire()
            self._send(status, out, response_type, keep_alive)
            return
        target = headers.get(b"x-amz-target")
        target_name = target.decode("latin-1") if target else None
        if caller is None:
            status, out = self._service.handle(target_name, body)
        else:
            status, out = self._service.handle(target_name, body, principal=caller)
        coding = encoding.choose(headers.get(b"accept-encoding")) if len(out) >= encoding.THRESHOLD_BYTES else None
        self._send(status, out, response_type, keep_alive, coding)

    def _lambda_route(self, method: bytes, headers: dict[bytes, bytes], keep_alive: bool) -> None:
        body = b"".join(self._body)
        try:  # authenticated like every request (with --auth a DynamoDB-scoped signature is required)
            self._auth.authenticate(method, self._url, headers, body, self._peer)
        except errors.DynamoDBError as exc:
            status, out = exc.to_wire()
        else:
            status, out = lambda_api.handle(self._service.db, method, self._url, body)
        self._send(status, out, b"application/json", keep_alive)

    # -- responses -------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: bytes, keep_alive: bool, coding: str | None = None) -> None:
        extra = b""
        if coding is not None:  # chosen by server/encoding.py
            body = encoding.compress(body, coding)
            extra = b"Content-Encoding: " + coding.encode() + b"\r\n"
        extra += b"x-amz-crc32: " + str(zlib.crc32(body)).encode() + b"\r\n"
        self._write(status, body, content_type, keep_alive, extra)

    def _send_raw(self, status: int, body: bytes, content_type: bytes, keep_alive: bool) -> None:
        self._write(status, body, content_type, keep_alive, b"")

    def _write(self, status: int, body: bytes, content_type: bytes, keep_alive: bool, extra: bytes) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        head = b"".join((
            b"HTTP/1.1 ", str(status).encode(), b" ", _REASONS.get(status, b"Error"), b"\r\n",
            b"Server: Server\r\n",  # what DynamoDB sends, on every answer
            b"x-amzn-RequestId: ", _request_id(), b"\r\n",
            extra,
            self._cors,
            b"Content-Type: ", content_type, b"\r\n",
            b"Content-Length: ", str(len(body)).encode(), b"\r\n",
            b"Date: ", _DATE.get(), b"\r\n",
            b"" if keep_alive else b"Connection: close\r\n",
            b"\r\n",
        ))
        gate = self._gate
        if gate is not None:
            gate.hold(transport, head + body, not keep_alive)
            return
        transport.write(head + body)
        if not keep_alive:
            transport.close()

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class CommitGate:
    """Holds the answers of one event-loop iteration, then commits and sends them together.

    With group commit (storage/sqlite.py) the write batches of one event-loop
    iteration share one transaction: their answers, and those of reads that may have
    seen their writes, must wait for the COMMIT (if it fails they become 500s).
    Reads wait too, although nothing commits for them: sending every answer of the
    iteration in one burst wakes a client waiting on many connections once rather
    than once per answer — each wake-up of another core is an inter-processor
    interrupt, and on a virtual machine that was 13 % of GetItem's CPU time (perf);
    measured with bench/lua/get_item.lua, 32 connections: 17,000 -> 26,000 req/s.
    """

    __slots__ = ("_engine", "_pending", "_loop", "_scheduled")

    def __init__(self, engine: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._engine = engine
        self._loop = loop
        self._pending: list[tuple[asyncio.Transport, bytes, bool]] = []
        self._scheduled = False

    def schedule(self) -> None:
        """Run flush() once the event loop is done with this iteration's requests."""
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self.flush)

    def hold(self, transport: asyncio.Transport, data: bytes, close: bool) -> None:
        self._pending.append((transport, data, close))
        self.schedule()

    def flush(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, []
        try:
            self._engine.commit_group()
        except Exception:
            log.exception("commit of a write group failed; its requests are answered with 500")
            status, body = errors.internal_server_error().to_wire()
            failure = _render_failure(status, body)
            pending = [(transport, failure, True) for transport, _, _ in pending]
        for transport, data, close in pending:
            if not transport.is_closing():
                transport.write(data)
                if close:
                    transport.close()


# The Expose-Headers list is ours, not checked against DynamoDB (Alternator's test_cors.py, run
# against DynamoDB, asks only that the header be there): the headers an SDK reads from an answer.
_CORS = (b"Access-Control-Allow-Origin: *\r\n"
         b"Access-Control-Expose-Headers: x-amzn-RequestId,x-amzn-ErrorType,x-amzn-ErrorMessage,Date\r\n")


def _render_failure(status: int, body: bytes) -> bytes:
    return b"".join((
        b"HTTP/1.1 ", str(status).encode(), b" ", _REASONS.get(status, b"Error"), b"\r\n",
        b"Server: Server\r\n",
        b"x-amzn-RequestId: ", _request_id(), b"\r\n",
        b"x-amz-crc32: ", str(zlib.crc32(body)).encode(), b"\r\n",
        b"Content-Type: application/x-amz-json-1.0\r\n",
        b"Content-Length: ", str(len(body)).encode(), b"\r\n",
        b"Connection: close\r\n\r\n",
        body,
    ))


INSIGHTS_ROUTE = b"/_ddbforge/insights"


def _insights(service: Service, url: bytes) -> tuple[int, bytes]:
    """``GET /_ddbforge/insights?table=T&top=N&window=S``: this worker's top keys of T."""
    import orjson
    from urllib.parse import parse_qs, urlsplit

    from dynamodbforge.insights import TRACKER

    query = parse_qs(urlsplit(url.decode("latin-1")).query)
    try:
        table = query["table"][0]
        top = int(query.get("top", ["10"])[0])
        window = float(query.get("window", ["60"])[0])
        return 200, orjson.dumps(TRACKER.report(service.db, table, top, window))
    except (KeyError, ValueError):
        return 400, b'{"message":"usage: /_ddbforge/insights?table=NAME&top=N&window=SECONDS"}'
    except errors.DynamoDBError as exc:
        return exc.to_wire()
    except Exception:  # a bug must never take the connection down
        log.exception("internal error building the insights report")
        return errors.internal_server_error().to_wire()


def _gunzip(data: bytes) -> bytes:
    """Decompress a gzip body, refusing to inflate past the 16 MB request limit.

    A gzip stream may be several members one after the other (RFC 1952), and DynamoDB
    reads them all (ScyllaDB Alternator's test_gzip_request_two_gzips); bytes after a member
    that do not start another one are ignored, as DynamoDB ignores them
    (test_gzip_request_with_extra_junk, which marks that as a DynamoDB bug)."""
    parts: list[bytes] = []
    size = 0
    while True:
        decompressor = zlib.decompressobj(wbits=47)
        out = decompressor.decompress(data, MAX_BODY_BYTES + 1 - size)
        size += len(out)
        if size > MAX_BODY_BYTES or decompressor.unconsumed_tail:
            raise ValueError("too large")
        if not decompressor.eof:
            raise EOFError("truncated gzip body")
        parts.append(out)
        data = decompressor.unused_data
        if not data.startswith(b"\x1f\x8b"):  # no further gzip member
            return b"".join(parts) if len(parts) > 1 else parts[0]


async def serve(service: Service, host: str, port: int, *, auth: Any, reuse_port: bool = False,
                ready: "asyncio.Future[None] | None" = None, sock: Any = None, ssl: Any = None) -> None:
    # ``ssl`` (an ssl.SSLContext, or None) serves HTTPS (--tls-cert/--tls-key)
    loop = asyncio.get_running_loop()
    health = f"healthy: {host}:{port} ".encode()
    engine = service.db.engine
    gate: CommitGate | None = None
    if hasattr(engine, "enable_group_commit"):
        gate = CommitGate(engine, loop)
        engine.enable_group_commit(gate.schedule)  # type: ignore[union-attr]

    def factory() -> HttpProtocol:
        return HttpProtocol(service, auth, health, gate)

    if sock is not None:
        server = await loop.create_server(factory, sock=sock, backlog=1024, ssl=ssl)
    else:
        server = await loop.create_server(factory, host, port, reuse_port=reuse_port, backlog=1024, ssl=ssl)
    async with server:
        await server.serve_forever()
