"""The Lambda REST routes for event source mappings, so boto3's ``lambda`` client works:

    POST   /2015-03-31/event-source-mappings/            CreateEventSourceMapping
    GET    /2015-03-31/event-source-mappings/?...         ListEventSourceMappings
    GET    /2015-03-31/event-source-mappings/{UUID}       GetEventSourceMapping
    PUT    /2015-03-31/event-source-mappings/{UUID}       UpdateEventSourceMapping
    DELETE /2015-03-31/event-source-mappings/{UUID}       DeleteEventSourceMapping

``FunctionName`` names a Python handler, ``module:function`` (or Lambda's ``module.function``).
"""
from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

from dynamodbforge import errors
from dynamodbforge.database import Database
from dynamodbforge.streams import mappings

log = logging.getLogger("dynamodbforge.streams")

ROUTE = b"/2015-03-31/event-source-mappings"


def handle(db: Database, method: bytes, url: bytes, body: bytes) -> tuple[int, bytes]:
    try:
        status, out = _route(db, method.decode(), url.decode("latin-1"), body)
        return status, orjson.dumps(out)
    except errors.DynamoDBError as exc:
        return exc.to_wire()
    except Exception:  # a bug must never take the server down
        log.exception("internal error handling %s %s", method, url)
        return errors.internal_server_error().to_wire()


def _route(db: Database, method: str, url: str, body: bytes) -> tuple[int, Any]:
    parts = urlsplit(url)
    rest = parts.path[len(ROUTE):].strip("/")
    try:
        request = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        raise mappings.invalid_parameter("Could not parse request body into json") from None
    if not isinstance(request, dict):
        raise mappings.invalid_parameter("Could not parse request body into json")
    if not rest:
        if method == "POST":
            return 202, mappings.create_event_source_mapping(db, request)
        if method == "GET":
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            return 200, mappings.list_event_source_mappings(db, query)
    else:
        uuid = unquote(rest)
        if method == "GET":
            return 200, mappings.get_event_source_mapping(db, {"UUID": uuid})
        if method == "PUT":
            return 202, mappings.update_event_source_mapping(db, {**request, "UUID": uuid})
        if method == "DELETE":
            return 202, mappings.delete_event_source_mapping(db, {"UUID": uuid})
    raise errors.DynamoDBError("UnknownOperationException", None, status=404, prefix="")
