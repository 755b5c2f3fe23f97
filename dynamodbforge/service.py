"""Request dispatch: target header + JSON body in, HTTP status + JSON body out.

Sans-IO: no sockets here.  The HTTP front (server/http.py) frames requests and
calls ``Service.handle``; everything DynamoDB-specific happens below this line.
"""
from __future__ import annotations

import logging
from typing import Any

import orjson

from dynamodbforge import errors
from dynamodbforge.database import Database
from dynamodbforge.ops.registry import KNOWN_NOT_BUILT, OPERATIONS
from dynamodbforge.protocol.validate import validate_request

log = logging.getLogger("dynamodbforge")

DYNAMODB_PREFIX = "DynamoDB_20120810."


class Service:
    def __init__(self, db: Database) -> None:
        self.db = db

    def handle(self, target: str | None, body: bytes) -> tuple[int, bytes]:
        try:
            return 200, self._dispatch(target, body)
        except errors.DynamoDBError as exc:
            return exc.to_wire()
        except RecursionError:
            return errors.validation("Nesting Levels have exceeded supported limits").to_wire()
        except Exception:  # a bug must never take the server down
            log.exception("internal error handling %s", target)
            return errors.internal_server_error().to_wire()

    def _dispatch(self, target: str | None, body: bytes) -> bytes:
        try:
            request = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            raise errors.serialization() from None
        operation_name = None
        if target and target.startswith(DYNAMODB_PREFIX):
            operation_name = target[len(DYNAMODB_PREFIX):]
        operation = OPERATIONS.get(operation_name or "")
        if operation is None:
            if operation_name in KNOWN_NOT_BUILT:
                raise errors.not_implemented(operation_name)
            raise errors.unknown_operation()
        if not isinstance(request, dict):
            raise errors.serialization("Start of structure or map found where not expected.")
        request = validate_request(operation_name, request)
        result: Any = operation(self.db, request)
        if isinstance(result, bytes):
            return result
        return orjson.dumps(result)
