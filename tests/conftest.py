"""Every test reaches the server through the ``endpoint`` fixture.

By default a real ``ddbforge serve`` is started on a free loopback port with a
temporary data directory.  Set ``DDBFORGE_ENDPOINT`` to run the same tests against
another DynamoDB endpoint, and ``DDBFORGE_TEST_WORKERS=2`` to run the started
server with two worker processes.
"""
from __future__ import annotations

import os
import sys
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.config import Config

sys.path.insert(0, os.path.dirname(__file__))
from server_process import ServerProcess  # noqa: E402

REGION = "us-east-1"
# Against an external endpoint (DDBFORGE_ENDPOINT) the usual AWS credential variables are used.
CREDENTIALS = {
    "aws_access_key_id": os.environ.get("AWS_ACCESS_KEY_ID", "AKIDFORGETEST")
    if os.environ.get("DDBFORGE_ENDPOINT") else "AKIDFORGETEST",
    "aws_secret_access_key": os.environ.get("AWS_SECRET_ACCESS_KEY", "forge-test-secret")
    if os.environ.get("DDBFORGE_ENDPOINT") else "forge-test-secret",
}


@pytest.fixture(scope="session")
def endpoint(tmp_path_factory: pytest.TempPathFactory):
    external = os.environ.get("DDBFORGE_ENDPOINT")
    if external:
        yield external
        return
    server = ServerProcess(str(tmp_path_factory.mktemp("ddbforge-data"))).start()
    try:
        yield server.endpoint
    finally:
        server.stop()


def make_client(endpoint: str, service: str = "dynamodb"):
    return boto3.client(
        service, endpoint_url=endpoint, region_name=REGION,
        config=Config(retries={"max_attempts": 1}), **CREDENTIALS,
    )


@pytest.fixture(scope="session")
def dynamodb(endpoint: str):
    return make_client(endpoint)


@pytest.fixture(scope="session")
def resource(endpoint: str):
    return boto3.resource("dynamodb", endpoint_url=endpoint, region_name=REGION, **CREDENTIALS)


def unique_name(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def create_table(client, name: str, hash_key=("pk", "S"), range_key=None, **extra) -> str:
    attrs = [{"AttributeName": hash_key[0], "AttributeType": hash_key[1]}]
    schema = [{"AttributeName": hash_key[0], "KeyType": "HASH"}]
    if range_key:
        attrs.append({"AttributeName": range_key[0], "AttributeType": range_key[1]})
        schema.append({"AttributeName": range_key[0], "KeyType": "RANGE"})
    client.create_table(
        TableName=name, AttributeDefinitions=attrs, KeySchema=schema, BillingMode="PAY_PER_REQUEST", **extra
    )
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return name


@pytest.fixture(scope="module")
def hash_table(dynamodb):
    """A table keyed by pk (S) alone, shared by a test module."""
    name = create_table(dynamodb, unique_name("hash"))
    yield name
    dynamodb.delete_table(TableName=name)


@pytest.fixture(scope="module")
def range_table(dynamodb):
    """A table keyed by pk (S) and sk (N), shared by a test module."""
    name = create_table(dynamodb, unique_name("range"), range_key=("sk", "N"))
    yield name
    dynamodb.delete_table(TableName=name)


def error_of(excinfo) -> tuple[str, str]:
    """(code, message) of a botocore ClientError."""
    err = excinfo.value.response["Error"]
    return err["Code"], err.get("Message", "")


# -- small helpers shared by the legacy-parameter and batch tests ------------------------

INVALID = "One or more parameter values were invalid: "


def S(v):
    return {"S": v}


def N(v):
    return {"N": str(v)}


def expect_error(fn, message, code="ValidationException", **kw):
    """Call ``fn(**kw)`` and assert it fails with exactly this code and message."""
    with pytest.raises(ClientError) as info:
        fn(**kw)
    assert error_of(info) == (code, message)


def expect_write_error(fn, message, **kw):
    """``expect_error`` for a PutItem/UpdateItem/DeleteItem request error, which DynamoDB's
    newer validation framework reports in its envelope (paritysuite and nubo-db captures of
    2026-10-09): "1 validation error detected: <message>"."""
    expect_error(fn, "1 validation error detected: " + message, **kw)


def read_stream(streams, arn, iterator_type="TRIM_HORIZON", **extra):
    """Every record of a stream's first shard, read with the boto3 ``dynamodbstreams`` client."""
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType=iterator_type,
                                    **extra)["ShardIterator"]
    out = []
    while it:
        resp = streams.get_records(ShardIterator=it, Limit=1000)
        out += resp["Records"]
        if not resp["Records"]:
            break
        it = resp.get("NextShardIterator")
    return out
