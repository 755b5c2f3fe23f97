"""The authentication layer of the HTTP front.

The HTTP front calls ``authenticate(method, url, headers, body, peer)`` for every
DynamoDB request, with the body exactly as received (before gunzip) and ``peer`` =
(client ip, connection is TLS).  It returns the caller to authorize (passed on to
``Service.handle(..., principal=caller)``) or None when nothing is to be authorized;
it raises ``DynamoDBError`` to refuse the request.

* ``AcceptAll`` (no ``--auth``): any credentials, or none, are accepted; zero cost.
* ``SigV4Auth`` (``--auth FILE``): AWS Signature Version 4 against the principals file.
"""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Callable, Mapping

from dynamodbforge.errors import DynamoDBError

if TYPE_CHECKING:
    from dynamodbforge.auth.authorizer import Caller
    from dynamodbforge.auth.principals import Principal

log = logging.getLogger("dynamodbforge.auth")


class AcceptAll:
    def authenticate(self, method: bytes, path: bytes, headers: Mapping[bytes, bytes], body: bytes,
                     peer: object = None) -> None:
        return None


class SigV4Auth:
    def __init__(self, principals: Mapping[str, Principal], region: str,
                 clock: Callable[[], float] = time.time) -> None:
        # imported here, not at the top: without --auth the server never loads the SigV4 and
        # IAM policy modules (about 15 ms of its start-up)
        from dynamodbforge.auth import errors as auth_errors
        from dynamodbforge.auth import sigv4
        from dynamodbforge.auth.authorizer import Caller

        self._verify = sigv4.verify
        self._refuse = auth_errors.signature_mismatch
        self._caller = Caller
        self._principals = dict(principals)
        self._region = region
        self._clock = clock

    def authenticate(self, method: bytes, path: bytes, headers: Mapping[bytes, bytes], body: bytes,
                     peer: "tuple[str | None, bool] | None" = None) -> Caller:
        url_path, _, query = path.partition(b"?")
        try:
            principal = self._verify(method, url_path, query, headers, body, self._principals.get, self._clock(),
                                     region=self._region)
        except DynamoDBError:
            raise
        except Exception:  # a bug must refuse the request, never accept it or take the server down
            log.exception("error verifying a request signature")
            raise self._refuse() from None
        ip, secure = peer if peer is not None else (None, False)
        return self._caller(principal, ip, secure)
