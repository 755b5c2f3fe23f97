"""Unchanged client libraries work against the server: aioboto3 and gzip/1.1 framing."""
from __future__ import annotations

import asyncio
import gzip
import json
import urllib.request
import zlib

import aioboto3

from conftest import CREDENTIALS, REGION


def test_aioboto3_roundtrip(endpoint, hash_table):
    async def run():
        session = aioboto3.Session()
        async with session.client("dynamodb", endpoint_url=endpoint, region_name=REGION, **CREDENTIALS) as client:
            await client.put_item(TableName=hash_table, Item={"pk": {"S": "aio"}, "v": {"N": "42"}})
            resp = await client.get_item(TableName=hash_table, Key={"pk": {"S": "aio"}})
            return resp["Item"]

    assert asyncio.run(run()) == {"pk": {"S": "aio"}, "v": {"N": "42"}}


def _post(endpoint, body: bytes, headers: dict[str, str]):
    req = urllib.request.Request(endpoint + "/", data=body, method="POST", headers={
        "X-Amz-Target": "DynamoDB_20120810.ListTables", **headers,
    })
    with urllib.request.urlopen(req, timeout=5) as resp:
        return resp.status, dict(resp.headers), resp.read()


def test_gzip_request_and_small_uncompressed_response(endpoint):
    """A gzip request body is read; an answer under 4 KB is never compressed, as DynamoDB's
    (ScyllaDB Alternator's test_compressed_response, run against DynamoDB). Every answer
    carries DynamoDB's Server header."""
    status, headers, body = _post(endpoint, gzip.compress(b'{"Limit": 1}'), {
        "Content-Type": "application/x-amz-json-1.0", "Content-Encoding": "gzip", "Accept-Encoding": "gzip",
    })
    assert status == 200
    assert "Content-Encoding" not in headers and headers["Server"] == "Server"
    assert int(headers["x-amz-crc32"]) == zlib.crc32(body)
    assert "TableNames" in json.loads(body)


def test_large_responses_are_compressed_as_negotiated(endpoint, dynamodb, hash_table):
    """From 4 KB up, the answer is gzip or deflate (zlib) as Accept-Encoding asks, weights and
    wildcard included (the cases of Alternator's test_compressed_response_accept_encodings)."""
    dynamodb.put_item(TableName=hash_table, Item={"pk": {"S": "big"}, "x": {"S": "x" * 4071}, "y": {"S": "y"}})

    def get(accept: str, projection: str = "x, y"):
        request = json.dumps({"TableName": hash_table, "Key": {"pk": {"S": "big"}},
                              "ProjectionExpression": projection}).encode()
        status, headers, body = _post(endpoint, request, {
            "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.GetItem",
            "Accept-Encoding": accept})
        assert status == 200 and int(headers["x-amz-crc32"]) == zlib.crc32(body)
        coding = headers.get("Content-Encoding")
        plain = gzip.decompress(body) if coding == "gzip" else zlib.decompress(body) if coding == "deflate" else body
        assert json.loads(plain)["Item"]["x"]["S"] == "x" * 4071
        return coding, len(plain)

    assert get("gzip") == ("gzip", 4108)
    assert get("deflate")[0] == "deflate"
    assert get("br, identity, deflate, gzip")[0] == "deflate"  # listed first wins a tie
    assert get("*, deflate")[0] == "deflate" and get("*")[0] == "gzip"
    assert get("*;q=0")[0] is None and get("x-gzip")[0] is None and get("gzip;q=0")[0] is None
    assert get("gzip", projection="x") == (None, 4094)  # under 4,096 bytes: as is


def test_json_1_1_content_type_is_echoed(endpoint):
    status, headers, body = _post(endpoint, b"{}", {"Content-Type": "application/x-amz-json-1.1"})
    assert status == 200
    assert headers["Content-Type"] == "application/x-amz-json-1.1"
    assert "TableNames" in json.loads(body)
