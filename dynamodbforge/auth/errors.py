"""The authentication and authorization errors, as DynamoDB words them.

All are ``com.amazon.coral.service#`` errors answered with HTTP 400 (DynamoDB does not
use 403 for these: boto3 and the aws CLI report them from a 400 response).
"""
from __future__ import annotations

from dynamodbforge.errors import DynamoDBError, access_denied, missing_authentication_token

_CORAL_SERVICE = "com.amazon.coral.service#"

__all__ = [
    "access_denied",
    "incomplete_signature",
    "invalid_signature",
    "missing_authentication_token",
    "signature_mismatch",
    "unrecognized_client",
]

SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)


def unrecognized_client() -> DynamoDBError:
    return DynamoDBError(
        "UnrecognizedClientException", "The security token included in the request is invalid.",
        prefix=_CORAL_SERVICE,
    )


def invalid_signature(message: str) -> DynamoDBError:
    return DynamoDBError("InvalidSignatureException", message, prefix=_CORAL_SERVICE)


def signature_mismatch() -> DynamoDBError:
    return invalid_signature(SIGNATURE_MISMATCH)


def incomplete_signature(message: str) -> DynamoDBError:
    return DynamoDBError("IncompleteSignatureException", message, prefix=_CORAL_SERVICE)
