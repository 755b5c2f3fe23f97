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


def test_gzip_request_and_response(endpoint):
    status, headers, body = _post(endpoint, gzip.compress(b'{"Limit": 1}'), {
        "Content-Type": "application/x-amz-json-1.0", "Content-Encoding": "gzip", "Accept-Encoding": "gzip",
    })
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert int(headers["x-amz-crc32"]) == zlib.crc32(body)
    assert "TableNames" in json.loads(gzip.decompress(body))


def test_json_1_1_content_type_is_echoed(endpoint):
    status, headers, body = _post(endpoint, b"{}", {"Content-Type": "application/x-amz-json-1.1"})
    assert status == 200
    assert headers["Content-Type"] == "application/x-amz-json-1.1"
    assert "TableNames" in json.loads(body)
