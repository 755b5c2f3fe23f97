"""The trigger runner: a process of its own that feeds stream records to Python handlers.

``ddbforge serve`` starts it (and restarts it if it dies), so a handler that raises,
hangs the runner or even kills its process never touches the server.  The runner
talks to the server only through operations — the Streams API, DynamoDB, and two
internal ones (ListTriggers, PutCheckpoint) — over one of two sources:

* ``EngineSource``: the same sans-IO ``Service`` on the shared SQLite data directory
  (the default with --data-dir; works with --auth, no HTTP round trips);
* ``HttpSource``: HTTP to the server's own endpoint (--in-memory, where nothing is shared).

Delivery is at-least-once and in order per shard: for each mapping the runner reads
the records after its durable checkpoint, invokes the handler with Lambda's DynamoDB
event, and moves the checkpoint forward only once the batch was handled (or, retries
exhausted, sent to the on-failure destination).  A crash between the handler's success
and the checkpoint write redelivers that batch; nothing is ever skipped.

    python -m dynamodbforge.streams.runner --data-file PATH | --endpoint URL [--parent-pid N]
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import time
import traceback
import uuid as uuidlib
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

import orjson

from dynamodbforge.streams.keys import INTERNAL_PREFIX, MAPPING_PREFIX, MAPPINGS_END, STREAMS_PREFIX

# The server's modules (operations, records, filters) and http.client are imported where
# first needed: a runner without any trigger never needs them, and importing them took
# its resident size from about 17 to 29 MB (it runs next to every server).
if TYPE_CHECKING:
    from dynamodbforge.database import ACCOUNT_ID
    from dynamodbforge.streams.filters import compile_filters, matches_any
    from dynamodbforge.streams.metadata import format_sequence, parse_sequence
    from dynamodbforge.streams.records import lambda_record


def _load_delivery_modules() -> None:
    """Bind the names imported under TYPE_CHECKING above, once a trigger is to be run
    (again at every round with triggers: imports already done are dictionary lookups)."""
    global ACCOUNT_ID, compile_filters, matches_any, format_sequence, parse_sequence, lambda_record
    from dynamodbforge.database import ACCOUNT_ID
    from dynamodbforge.streams.filters import compile_filters, matches_any
    from dynamodbforge.streams.metadata import format_sequence, parse_sequence
    from dynamodbforge.streams.records import lambda_record

log = logging.getLogger("dynamodbforge.triggers")

DYNAMODB_PREFIX = "DynamoDB_20120810."
IDLE_SLEEP = 0.2
LIST_TRIGGERS = INTERNAL_PREFIX + "ListTriggers"
FUNCTION_TIMEOUT_SECONDS = 900


class RemoteError(Exception):
    def __init__(self, code: str, message: str | None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


# --- sources -----------------------------------------------------------------------------

class HttpSource:
    def __init__(self, endpoint: str) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(endpoint)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (443 if self._https else 80)
        self._conn: Any = None  # an http.client connection

    @property
    def transient_errors(self) -> tuple[type[BaseException], ...]:
        import http.client

        return (OSError, http.client.HTTPException)

    def _connection(self) -> Any:
        import http.client
        import ssl

        if self._conn is None:
            if self._https:
                self._conn = http.client.HTTPSConnection(self._host, self._port, timeout=30,
                                                         context=ssl._create_unverified_context())
            else:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=30)
        return self._conn

    def call(self, target: str, request: dict[str, Any]) -> dict[str, Any]:
        body = orjson.dumps(request)
        headers = {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0"}
        for attempt in range(2):
            conn = self._connection()
            try:
                conn.request("POST", "/", body, headers)
                resp = conn.getresponse()
                data = resp.read()
                break
            except self.transient_errors:
                conn.close()
                self._conn = None
                if attempt:
                    raise
        out = orjson.loads(data) if data else {}
        if resp.status != 200:
            code = str(out.get("__type", "Error")).rpartition("#")[2]
            raise RemoteError(code, out.get("message") or out.get("Message"))
        return out


class EngineSource:
    """The server's operations on the shared data directory, called in this process.

    The runner asks for the triggers every IDLE_SLEEP seconds, and on a server without
    any that answer is always the same empty list — yet each asking was a read
    transaction on the server's database, about half a millisecond of CPU taken on the
    server's core five times a second.  Mappings are created, changed and deleted as
    metadata (catalog.metadata_changed), so while the engine's catalog generation stays
    where it was when the answer was empty, it still is empty, and no read is needed.
    Whether any mapping exists at all is a look at their key range; only then is the
    server's ``Service`` (all its operations) imported and built.
    """

    transient_errors: tuple[type[BaseException], ...] = (OSError,)  # retried after a pause

    def __init__(self, data_file: str, region: str) -> None:
        from dynamodbforge.storage.sqlite import SQLiteEngine

        self._engine = SQLiteEngine(data_file)
        self._region = region
        self._service: Any = None  # built when first needed (see the class docstring)
        self._empty_at: int | None = None  # the catalog generation when no trigger was found

    def call(self, target: str, request: dict[str, Any]) -> dict[str, Any]:
        if target != LIST_TRIGGERS:
            return self._call(target, request)
        generation = self._engine.catalog_generation()  # before the read: a change after it is seen next time
        if generation == self._empty_at:
            return {"Triggers": []}
        if self._service is None and not self._any_mapping():
            out: dict[str, Any] = {"Triggers": []}
        else:
            out = self._call(target, request)
        self._empty_at = None if out["Triggers"] else generation
        return out

    def _any_mapping(self) -> bool:
        with self._engine.read() as reader:
            return next(iter(reader.scan(MAPPING_PREFIX, MAPPINGS_END)), None) is not None

    def _call(self, target: str, request: dict[str, Any]) -> dict[str, Any]:
        if self._service is None:
            from dynamodbforge.database import Database
            from dynamodbforge.service import Service

            self._service = Service(Database(self._engine, region=self._region))
        status, data = self._service.handle(target, orjson.dumps(request))
        out = orjson.loads(data)
        if status != 200:
            code = str(out.get("__type", "Error")).rpartition("#")[2]
            raise RemoteError(code, out.get("message") or out.get("Message"))
        return out


# --- handlers ------------------------------------------------------------------------------

def load_handler(spec: str) -> Callable[[dict[str, Any], Any], Any]:
    """``module:function`` (or Lambda's ``module.function``), found on the working directory or PYTHONPATH."""
    if ":" in spec:
        module_name, _, function = spec.partition(":")
    else:
        module_name, _, function = spec.rpartition(".")
    if not module_name or not function:
        raise ValueError(f"handler {spec!r} is not module:function")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module = importlib.import_module(module_name)
    handler = getattr(module, function)
    if not callable(handler):
        raise TypeError(f"{spec} is not callable")
    return handler


class LambdaContext:
    """What a Lambda handler gets as ``context``."""

    def __init__(self, function_name: str, region: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}"
        self.memory_limit_in_mb = 128
        self.aws_request_id = str(uuidlib.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = datetime.now(timezone.utc).strftime("%Y/%m/%d/[$LATEST]") + uuidlib.uuid4().hex
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + FUNCTION_TIMEOUT_SECONDS

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


# --- the runner ------------------------------------------------------------------------------

class Runner:
    def __init__(self, source: Any, region: str, *, parent_pid: int | None = None,
                 retry_base_delay: float = 0.2, retry_max_delay: float = 5.0) -> None:
        self.source = source
        self.region = region
        self.parent_pid = parent_pid
        self.retry_base_delay = retry_base_delay
        self.retry_max_delay = retry_max_delay
        self._handlers: dict[str, Callable[..., Any]] = {}
        self._window_started: dict[str, float] = {}
        self._current_shard: str | None = None

    # -- main loop --
    def run_forever(self) -> None:
        while True:
            if self.parent_pid is not None and os.getppid() != self.parent_pid:
                log.info("server process gone; trigger runner exits")
                return
            try:
                busy = self.run_once()
            except (*self.source.transient_errors, RemoteError) as exc:
                log.debug("trigger runner: %s", exc)
                busy = False
                time.sleep(0.5)
            if not busy:
                time.sleep(IDLE_SLEEP)

    def run_once(self) -> bool:
        busy = False
        triggers = self.source.call(LIST_TRIGGERS, {})["Triggers"]
        if triggers:
            _load_delivery_modules()
        for trigger in triggers:
            try:
                busy |= self.step(trigger)
            except RemoteError as exc:
                log.warning("trigger %s: %s", trigger["Mapping"]["UUID"], exc)
        return busy

    def _streams(self, target: str, req: dict[str, Any]) -> dict[str, Any]:
        return self.source.call(STREAMS_PREFIX + target, req)

    def _checkpoint(self, m: dict[str, Any], arn: str, shard_id: str, position: int, result: str | None) -> None:
        req: dict[str, Any] = {"UUID": m["UUID"], "StreamArn": arn, "ShardId": shard_id, "Position": position}
        if result:
            req["LastProcessingResult"] = result
        self.source.call(INTERNAL_PREFIX + "PutCheckpoint", req)

    def _first_shard(self, arn: str) -> tuple[str, int] | None:
        try:
            shards = self._streams("DescribeStream", {"StreamArn": arn})["StreamDescription"]["Shards"]
        except RemoteError as exc:
            if exc.code == "ResourceNotFoundException":
                return None
            raise
        if not shards:
            return None
        start = parse_sequence(shards[0]["SequenceNumberRange"]["StartingSequenceNumber"])
        return shards[0]["ShardId"], (start or 1) - 1

    def _next_stream(self, trigger: dict[str, Any], arn: str) -> str | None:
        """For a mapping following its table: the stream after ``arn`` (streams sort by label)."""
        later = [a for a in trigger.get("StreamArns") or [] if a > arn]
        return min(later) if later else None

    def step(self, trigger: dict[str, Any]) -> bool:
        """Deliver at most one batch of one mapping; True when something moved."""
        m, cp = trigger["Mapping"], trigger.get("Checkpoint")
        if cp is None:
            streams = trigger.get("StreamArns") or []
            arn = (min(streams) if streams and m["StartingPosition"] == "TRIM_HORIZON"
                   else trigger.get("LatestStreamArn"))
            if not arn:
                return False
            first = self._first_shard(arn)
            if first is None:
                return False
            self._checkpoint(m, arn, first[0], first[1], None)
            return True
        arn, shard_id, position = cp["StreamArn"], cp["ShardId"], int(cp["Position"])
        try:
            iterator = self._streams("GetShardIterator", {
                "StreamArn": arn, "ShardId": shard_id, "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                "SequenceNumber": format_sequence(position)})["ShardIterator"]
        except RemoteError as exc:
            if exc.code == "TrimmedDataAccessException":  # records expired while we were away (as Lambda)
                log.warning("trigger %s: records of %s expired before they were handled", m["UUID"], arn)
                iterator = self._streams("GetShardIterator", {
                    "StreamArn": arn, "ShardId": shard_id, "ShardIteratorType": "TRIM_HORIZON"})["ShardIterator"]
            elif exc.code == "ResourceNotFoundException":  # the stream was forgotten (retention)
                return self._advance_stream(trigger, m, arn)
            else:
                raise
        resp = self._streams("GetRecords", {"ShardIterator": iterator, "Limit": min(m["BatchSize"], 1000)})
        records = resp["Records"]
        if not records:
            self._window_started.pop(m["UUID"], None)
            if "NextShardIterator" not in resp:  # shard closed and fully read
                return self._advance_stream(trigger, m, arn)
            return False
        window = m.get("MaximumBatchingWindowInSeconds") or 0
        if window and len(records) < m["BatchSize"]:
            started = self._window_started.setdefault(m["UUID"], time.monotonic())
            if time.monotonic() - started < window:
                return False
        self._window_started.pop(m["UUID"], None)
        self.deliver(m, arn, shard_id, records)
        return True

    def _advance_stream(self, trigger: dict[str, Any], m: dict[str, Any], arn: str) -> bool:
        if not m.get("Follow"):
            return False
        nxt = self._next_stream(trigger, arn)
        if nxt is None:
            return False
        first = self._first_shard(nxt)
        if first is None:
            return False
        self._checkpoint(m, nxt, first[0], first[1], None)
        return True

    # -- delivery --
    def deliver(self, m: dict[str, Any], arn: str, shard_id: str, records: list[dict[str, Any]]) -> None:
        self._current_shard = shard_id
        patterns = compile_filters(m.get("FilterCriteria"))
        for record in records:
            lambda_record(record, arn)
        pending = [r for r in records if matches_any(patterns, r)]
        last = parse_sequence(records[-1]["dynamodb"]["SequenceNumber"]) or 0
        if not pending:
            self._checkpoint(m, arn, shard_id, last, "OK")
            return
        queue = [pending]
        while queue:
            part = queue.pop(0)
            failed = self._invoke_with_retries(m, arn, part)
            if failed == "bisect":
                half = len(part) // 2
                queue[:0] = [part[:half], part[half:]]
                continue
            end = parse_sequence(part[-1]["dynamodb"]["SequenceNumber"]) or 0
            self._checkpoint(m, arn, shard_id, end, "OK" if failed is None else "PROBLEM: Function call failed")
        self._checkpoint(m, arn, shard_id, last, None)

    def _invoke(self, m: dict[str, Any], part: list[dict[str, Any]]) -> tuple[bool, str | None, int]:
        """(ok, error, number of leading records handled)."""
        try:
            handler = self._handlers.get(m["FunctionName"]) or load_handler(m["FunctionName"])
            self._handlers[m["FunctionName"]] = handler
            result = handler({"Records": part}, LambdaContext(m["FunctionName"].replace(":", "."), self.region))
        except Exception as exc:  # the handler's failure is the handler's, never the runner's
            return False, "".join(traceback.format_exception_only(type(exc), exc)).strip(), 0
        if "ReportBatchItemFailures" in (m.get("FunctionResponseTypes") or []) and isinstance(result, dict):
            failures = result.get("batchItemFailures") or []
            ids = [f.get("itemIdentifier") for f in failures if isinstance(f, dict)]
            positions = [i for i, r in enumerate(part) if r["dynamodb"]["SequenceNumber"] in ids]
            if positions:
                return False, "batch item failure reported", min(positions)
        return True, None, len(part)

    def _invoke_with_retries(self, m: dict[str, Any], arn: str, part: list[dict[str, Any]]) -> str | None:
        """None: handled; "bisect": split and retry halves; else the error (sent to the destination)."""
        attempts = 0
        while True:
            ok, error, handled = self._invoke(m, part)
            if ok:
                return None
            if handled:  # partial success (ReportBatchItemFailures): keep what was handled
                end = parse_sequence(part[handled - 1]["dynamodb"]["SequenceNumber"]) or 0
                self._checkpoint(m, arn, self._current_shard or "", end, None)
                part[:] = part[handled:]
            attempts += 1
            log.warning("trigger %s: handler %s failed (attempt %d): %s", m["UUID"], m["FunctionName"], attempts,
                        error)
            if m.get("BisectBatchOnFunctionError") and len(part) > 1:
                return "bisect"
            limit = m.get("MaximumRetryAttempts", -1)
            if limit != -1 and attempts > limit:
                self._send_to_destination(m, arn, part, error or "failed", attempts)
                return error or "failed"
            if self.parent_pid is not None and os.getppid() != self.parent_pid:
                sys.exit(0)  # the server is gone: stop retrying (the checkpoint was not moved)
            time.sleep(min(self.retry_base_delay * (2 ** (attempts - 1)), self.retry_max_delay))

    def _send_to_destination(self, m: dict[str, Any], arn: str, part: list[dict[str, Any]], error: str,
                             attempts: int) -> None:
        first, last = part[0]["dynamodb"], part[-1]["dynamodb"]
        now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        payload = {
            "requestContext": {
                "requestId": str(uuidlib.uuid4()),
                "functionArn": f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{m['FunctionName']}",
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": now,
            "errorMessage": error,
            "DDBStreamBatchInfo": {
                "shardId": self._current_shard,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(first["ApproximateCreationDateTime"]),
                "approximateArrivalOfLastRecord": _iso(last["ApproximateCreationDateTime"]),
                "batchSize": len(part),
                "streamArn": arn,
            },
            "Records": part,
        }
        destination = ((m.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        if not destination:
            log.error("trigger %s: dropping %d records after %d attempts: %s", m["UUID"], len(part), attempts, error)
            return
        try:
            if destination.startswith("arn:aws:dynamodb:"):
                self._to_table(destination.rsplit("/", 1)[1], payload)
            else:
                path = destination[len("file:"):] if destination.startswith("file:") else destination
                path = path[2:] if path.startswith("//") else path
                with open(path, "ab") as fh:
                    fh.write(orjson.dumps(payload) + b"\n")
        except Exception:
            log.exception("trigger %s: cannot write to on-failure destination %s", m["UUID"], destination)

    def _to_table(self, table: str, payload: dict[str, Any]) -> None:
        desc = self.source.call(DYNAMODB_PREFIX + "DescribeTable", {"TableName": table})["Table"]
        types = {d["AttributeName"]: d["AttributeType"] for d in desc["AttributeDefinitions"]}
        info = payload["DDBStreamBatchInfo"]
        item: dict[str, Any] = {"payload": {"S": orjson.dumps(payload).decode()},
                                "errorMessage": {"S": payload["errorMessage"][:4000]}}
        for key in desc["KeySchema"]:
            name = key["AttributeName"]
            if key["KeyType"] == "HASH":
                value = f"{info['streamArn']}#{info['startSequenceNumber']}"
            else:
                value = payload["requestContext"]["requestId"]
            item[name] = {"N": info["startSequenceNumber"]} if types[name] == "N" else (
                {"B": orjson.dumps(value).decode()} if types[name] == "B" else {"S": value})
        self.source.call(DYNAMODB_PREFIX + "PutItem", {"TableName": table, "Item": item})


def _iso(seconds: Any) -> str:
    return datetime.fromtimestamp(float(seconds), timezone.utc).isoformat().replace("+00:00", "Z")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ddbforge-trigger-runner")
    parser.add_argument("--data-file", help="the server's SQLite database (shared data directory)")
    parser.add_argument("--endpoint", help="the server's endpoint (used with --in-memory)")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--parent-pid", type=int, default=None)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    source: Any = EngineSource(args.data_file, args.region) if args.data_file else HttpSource(args.endpoint)
    try:
        Runner(source, args.region, parent_pid=args.parent_pid).run_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
