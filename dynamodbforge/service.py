"""Request dispatch: target header + JSON body in, HTTP status + JSON body out.

Sans-IO: no sockets here.  The HTTP front (server/http.py) frames requests and
calls ``Service.handle``; everything DynamoDB-specific happens below this line.
"""
from __future__ import annotations

import logging
from typing import Any

import orjson

from dynamodbforge import errors, observe  # observe
from dynamodbforge.database import Database
from dynamodbforge.ops.registry import KNOWN_NOT_BUILT, OPERATIONS
from dynamodbforge.protocol.validate import validate_request

log = logging.getLogger("dynamodbforge")

DYNAMODB_PREFIX = "DynamoDB_20120810."

# more target prefixes, each with its own registry (they validate themselves)
from dynamodbforge.streams.api import STREAMS_OPERATIONS, STREAMS_PREFIX  # noqa: E402
from dynamodbforge.streams.mappings import INTERNAL_OPERATIONS, INTERNAL_PREFIX  # noqa: E402

EXTRA_REGISTRIES: tuple[tuple[str, dict[str, Any]], ...] = (
    (STREAMS_PREFIX, STREAMS_OPERATIONS),
    (INTERNAL_PREFIX, INTERNAL_OPERATIONS),
)


class Service:
    def __init__(self, db: Database, authorizer: Any = None) -> None:
        self.db = db
        # with --auth, an auth.authorizer.Authorizer; it sees each validated request
        # (operation name + request) with the caller and raises AccessDeniedException to refuse.
        self.authorizer = authorizer

    def handle(self, target: str | None, body: bytes, principal: Any = None) -> tuple[int, bytes]:
        try:
            return 200, self._dispatch(target, body, principal)
        except errors.DynamoDBError as exc:
            observe.error(target, exc)  # UserErrors / SystemErrors
            return exc.to_wire()
        except RecursionError:
            observe.error(target, errors.validation(""))
            return errors.validation("Nesting Levels have exceeded supported limits").to_wire()
        except Exception:  # a bug must never take the server down
            log.exception("internal error handling %s", target)
            observe.error(target, None)
            return errors.internal_server_error().to_wire()

    def _dispatch(self, target: str | None, body: bytes, principal: Any = None) -> bytes:
        try:
            request = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            raise errors.serialization() from None
        operation_name = None
        registry = OPERATIONS
        if target and target.startswith(DYNAMODB_PREFIX):
            operation_name = target[len(DYNAMODB_PREFIX):]
        # DynamoDB Streams (+ the trigger runner's operations) on the same endpoint
        elif target:
            for prefix, extra in EXTRA_REGISTRIES:
                if target.startswith(prefix):
                    operation_name, registry = target[len(prefix):], extra
                    break
        operation = registry.get(operation_name or "")
        if operation is None:
            if operation_name in KNOWN_NOT_BUILT:
                raise errors.not_implemented(operation_name)
            raise errors.unknown_operation()
        if not isinstance(request, dict):
            raise errors.serialization("Start of structure or map found where not expected.")
        if registry is OPERATIONS:  # the other registries validate their own requests
            request = validate_request(operation_name, request)
        if principal is not None and self.authorizer is not None:  # authorization
            self.authorizer.authorize(principal, operation_name, request)
        if registry is OPERATIONS:  # throttling, metrics, contributor insights
            result: Any = observe.run(self.db, operation_name, operation, request)
        else:
            result = operation(self.db, request)
        if isinstance(result, bytes):
            return result
        return orjson.dumps(result)
