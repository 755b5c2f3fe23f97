"""End to end: ``ddbforge serve --auth FILE`` (SigV4 + IAM policies) and ``--tls-cert/--tls-key``.

A separate server is started with a principals file; boto3 clients with different
credentials exercise the AWS Developer Guide's fine-grained access examples.  Requests
are signed by botocore (an implementation independent of the server's).
"""
from __future__ import annotations

import datetime
import http.client
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.parse

import boto3
import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

sys.path.insert(0, os.path.dirname(__file__))
from server_process import ServerProcess  # noqa: E402

REGION = "us-east-1"
ACCOUNT = "000000000000"
TABLE = "GameScores"
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{TABLE}"
INDEX = "TopScoreDateTimeIndex"

pytestmark = pytest.mark.skipif(bool(os.environ.get("DDBFORGE_ENDPOINT")),
                                reason="starts its own server with --auth")


def _policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


ITEM_ACTIONS = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem",
                "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"]

PRINCIPALS = [
    {"name": "admin", "access_key_id": "AKIDADMIN", "secret_access_key": "admin-secret",
     "policies": [_policy({"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"})]},
    # Developer Guide: a user limited to the items whose partition key is their own id
    # (there with ${www.amazon.com:user_id}; here the IAM user name).
    *[{"name": name, "access_key_id": f"AKID{name.upper()}", "secret_access_key": f"{name}-secret",
       "policies": [_policy({
           "Sid": "FullAccessToUserItems", "Effect": "Allow",
           "Action": ITEM_ACTIONS + ["dynamodb:ConditionCheckItem"],
           "Resource": [f"arn:aws:dynamodb:*:*:table/{TABLE}"],
           "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${aws:username}"]}}})]}
      for name in ("alice", "bob")],
    # Developer Guide / IAM guide: access limited to certain attributes.
    {"name": "carol", "access_key_id": "AKIDCAROL", "secret_access_key": "carol-secret",
     "policies": [_policy({
         "Effect": "Allow", "Action": ITEM_ACTIONS, "Resource": [f"arn:aws:dynamodb:*:*:table/{TABLE}"],
         "Condition": {
             "ForAllValues:StringEquals": {"dynamodb:Attributes": ["UserId", "GameTitle", "TopScore"]},
             "StringEqualsIfExists": {"dynamodb:Select": "SPECIFIC_ATTRIBUTES",
                                      "dynamodb:ReturnValues": ["NONE", "UPDATED_OLD", "UPDATED_NEW"]}}})]},
    # Developer Guide: read-only access to one index's projected attributes.
    {"name": "reader", "access_key_id": "AKIDREADER", "secret_access_key": "reader-secret",
     "policies": [_policy({
         "Effect": "Allow", "Action": ["dynamodb:Query"],
         "Resource": [f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{TABLE}/index/{INDEX}"],
         "Condition": {
             "ForAllValues:StringEquals": {"dynamodb:Attributes": ["TopScoreDateTime", "GameTitle", "TopScore",
                                                                   "UserId"]},
             "StringEquals": {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"}}})]},
    {"name": "nodelete", "access_key_id": "AKIDNODELETE", "secret_access_key": "nodelete-secret",
     "policies": [_policy({"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
                          {"Effect": "Deny", "Action": "dynamodb:Delete*", "Resource": TABLE_ARN})]},
    {"name": "temp", "access_key_id": "ASIATEMP", "secret_access_key": "temp-secret",
     "session_token": "the-session-token",
     "policies": [_policy({"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"})]},
    {"name": "tlsonly", "access_key_id": "AKIDTLSONLY", "secret_access_key": "tlsonly-secret",
     "policies": [_policy({"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*",
                           "Condition": {"Bool": {"aws:SecureTransport": "true"},
                                         "IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}})]},
]
SECRETS = {p["access_key_id"]: (p["secret_access_key"], p.get("session_token")) for p in PRINCIPALS}


@pytest.fixture(scope="module")
def auth_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("auth") / "principals.json"
    path.write_text(json.dumps({"principals": PRINCIPALS}))
    return str(path)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, auth_file: str):  # type: ignore[no-untyped-def]
    proc = ServerProcess(str(tmp_path_factory.mktemp("auth-data")), "--auth", auth_file).start()
    try:
        yield proc
    finally:
        proc.stop()


def client(endpoint: str, key: str, secret: str | None = None, token: str | None = None, **kwargs):  # type: ignore[no-untyped-def]
    if secret is None:
        secret, token = SECRETS[key]
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=key,
                        aws_secret_access_key=secret, aws_session_token=token,
                        config=Config(retries={"max_attempts": 1}), **kwargs)


def error(excinfo) -> tuple[str, str, int]:  # type: ignore[no-untyped-def]
    resp = excinfo.value.response
    return resp["Error"]["Code"], resp["Error"].get("Message", ""), resp["ResponseMetadata"]["HTTPStatusCode"]


def denied(user: str, action: str, resource: str = TABLE_ARN, explicit: bool = False) -> str:
    head = f"User: arn:aws:iam::{ACCOUNT}:user/{user} is not authorized to perform: dynamodb:{action} on resource: {resource}"
    if explicit:
        return head + " with an explicit deny in an identity-based policy"
    return head + f" because no identity-based policy allows the dynamodb:{action} action"


@pytest.fixture(scope="module")
def admin(server):  # type: ignore[no-untyped-def]
    return client(server.endpoint, "AKIDADMIN")


@pytest.fixture(scope="module")
def table(admin):  # type: ignore[no-untyped-def]
    admin.create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "UserId", "AttributeType": "S"},
                              {"AttributeName": "GameTitle", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "UserId", "KeyType": "HASH"}, {"AttributeName": "GameTitle", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    admin.get_waiter("table_exists").wait(TableName=TABLE, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return TABLE


def _key(user: str, game: str = "Meteor Blasters") -> dict:
    return {"UserId": {"S": user}, "GameTitle": {"S": game}}


def _scan_all(admin) -> list:  # type: ignore[no-untyped-def]
    items, kwargs = [], {"TableName": TABLE, "ConsistentRead": True}
    while True:
        page = admin.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return sorted(items, key=lambda i: json.dumps(i, sort_keys=True))
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# --- authentication -----------------------------------------------------------------

def _raw_post(endpoint: str, body: bytes, headers: dict[str, str], conn: http.client.HTTPConnection | None = None
              ) -> tuple[int, dict]:
    own = conn is None
    if conn is None:
        conn = http.client.HTTPConnection(urllib.parse.urlsplit(endpoint).netloc, timeout=10)
    try:
        conn.request("POST", "/", body=body, headers=headers)
        resp = conn.getresponse()
        payload = resp.read()
        return resp.status, json.loads(payload) if payload else {}
    finally:
        if own:
            conn.close()


def test_unsigned_request_is_missing_authentication_token(server, table) -> None:  # type: ignore[no-untyped-def]
    status, body = _raw_post(server.endpoint, b"{}", {"X-Amz-Target": "DynamoDB_20120810.ListTables",
                                                       "Content-Type": "application/x-amz-json-1.0"})
    assert status == 400
    assert body == {"__type": "com.amazon.coral.service#MissingAuthenticationTokenException",
                    "message": "Request is missing Authentication Token"}


def test_health_check_needs_no_credentials(server) -> None:  # type: ignore[no-untyped-def]
    import urllib.request

    with urllib.request.urlopen(server.endpoint + "/", timeout=5) as resp:
        assert resp.status == 200


def test_unknown_access_key(server, table) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as info:
        client(server.endpoint, "AKIDNOBODY", "whatever").list_tables()
    assert error(info) == ("UnrecognizedClientException", "The security token included in the request is invalid.", 400)


def test_wrong_secret(server, table) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as info:
        client(server.endpoint, "AKIDADMIN", "not-the-secret").list_tables()
    code, message, status = error(info)
    assert (code, status) == ("InvalidSignatureException", 400)
    assert message.startswith("The request signature we calculated does not match the signature you provided.")


def test_session_token(server, table) -> None:  # type: ignore[no-untyped-def]
    assert TABLE in client(server.endpoint, "ASIATEMP").list_tables()["TableNames"]
    for token in (None, "forged-token"):
        with pytest.raises(ClientError) as info:
            client(server.endpoint, "ASIATEMP", "temp-secret", token).list_tables()
        assert error(info)[0] == "UnrecognizedClientException"


def test_clock_skew_refused(server, table, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    stale = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: stale)
    with pytest.raises(ClientError) as info:
        client(server.endpoint, "AKIDADMIN").list_tables()
    code, message, _ = error(info)
    assert code == "InvalidSignatureException" and message.startswith("Signature expired: ")
    assert message.endswith(" - 15 min.)")


def test_wrong_region_in_scope(server, table) -> None:  # type: ignore[no-untyped-def]
    c = boto3.client("dynamodb", endpoint_url=server.endpoint, region_name="eu-west-1",
                     aws_access_key_id="AKIDADMIN", aws_secret_access_key="admin-secret",
                     config=Config(retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as info:
        c.list_tables()
    assert error(info)[0] == "InvalidSignatureException"


def test_aws_cli_reports_auth_errors(server, table, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIDNOBODY", "AWS_SECRET_ACCESS_KEY": "x",
           "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": str(tmp_path / "none"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    env.pop("AWS_SESSION_TOKEN", None)
    env.pop("AWS_PROFILE", None)
    cmd = [sys.executable, "-m", "awscli", "dynamodb", "list-tables", "--endpoint-url", server.endpoint]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert ("An error occurred (UnrecognizedClientException) when calling the ListTables operation: "
            "The security token included in the request is invalid.") in out.stderr
    env.update(AWS_ACCESS_KEY_ID="AKIDALICE", AWS_SECRET_ACCESS_KEY="alice-secret")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert ("An error occurred (AccessDeniedException) when calling the ListTables operation: "
            + denied("alice", "ListTables", "*")) in out.stderr
    env.update(AWS_ACCESS_KEY_ID="AKIDADMIN", AWS_SECRET_ACCESS_KEY="admin-secret")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and TABLE in json.loads(out.stdout)["TableNames"]


# --- fine-grained access control (Developer Guide examples) ------------------------------

def test_user_limited_to_own_partition_key(server, admin, table) -> None:  # type: ignore[no-untyped-def]
    alice, bob = client(server.endpoint, "AKIDALICE"), client(server.endpoint, "AKIDBOB")
    alice.put_item(TableName=TABLE, Item={**_key("alice"), "TopScore": {"N": "100"}})
    bob.put_item(TableName=TABLE, Item={**_key("bob"), "TopScore": {"N": "7"}})
    assert alice.get_item(TableName=TABLE, Key=_key("alice"))["Item"]["TopScore"] == {"N": "100"}
    with pytest.raises(ClientError) as info:
        alice.get_item(TableName=TABLE, Key=_key("bob"))
    assert error(info) == ("AccessDeniedException", denied("alice", "GetItem"), 400)
    assert info.value.response["Error"]["Code"] == "AccessDeniedException"
    with pytest.raises(ClientError) as info:
        alice.put_item(TableName=TABLE, Item={**_key("bob"), "TopScore": {"N": "0"}})
    assert error(info)[1] == denied("alice", "PutItem")
    with pytest.raises(ClientError):
        alice.update_item(TableName=TABLE, Key=_key("bob"), UpdateExpression="SET TopScore = :z",
                          ExpressionAttributeValues={":z": {"N": "0"}})
    with pytest.raises(ClientError):
        alice.delete_item(TableName=TABLE, Key=_key("bob"))
    # Query: only on her own partition.
    got = alice.query(TableName=TABLE, KeyConditionExpression="UserId = :u",
                      ExpressionAttributeValues={":u": {"S": "alice"}})
    assert [i["UserId"]["S"] for i in got["Items"]] == ["alice"]
    with pytest.raises(ClientError) as info:
        alice.query(TableName=TABLE, KeyConditionExpression="UserId = :u", ExpressionAttributeValues={":u": {"S": "bob"}})
    assert error(info)[1] == denied("alice", "Query")
    # Scan is not granted at all.
    with pytest.raises(ClientError) as info:
        alice.scan(TableName=TABLE)
    assert error(info)[1] == denied("alice", "Scan")
    # Batch requests are checked per item: one foreign key refuses the whole batch.
    with pytest.raises(ClientError) as info:
        alice.batch_write_item(RequestItems={TABLE: [
            {"PutRequest": {"Item": {**_key("alice", "Other Game"), "TopScore": {"N": "1"}}}},
            {"PutRequest": {"Item": {**_key("bob", "Other Game"), "TopScore": {"N": "1"}}}}]})
    assert error(info)[1] == denied("alice", "BatchWriteItem")
    with pytest.raises(ClientError):
        alice.batch_get_item(RequestItems={TABLE: {"Keys": [_key("alice"), _key("bob")]}})
    assert "Item" not in admin.get_item(TableName=TABLE, Key=_key("alice", "Other Game"), ConsistentRead=True)
    alice.batch_write_item(RequestItems={TABLE: [{"PutRequest": {"Item": {**_key("alice", "Other Game")}}}]})
    assert len(alice.batch_get_item(RequestItems={TABLE: {"Keys": [_key("alice"), _key("alice", "Other Game")]}})
               ["Responses"][TABLE]) == 2
    # Transactions: each entry is checked as its own action.
    with pytest.raises(ClientError) as info:
        alice.transact_write_items(TransactItems=[
            {"Put": {"TableName": TABLE, "Item": {**_key("alice", "T1")}}},
            {"Delete": {"TableName": TABLE, "Key": _key("bob")}}])
    assert error(info)[1] == denied("alice", "DeleteItem")
    assert "Item" not in admin.get_item(TableName=TABLE, Key=_key("alice", "T1"), ConsistentRead=True)
    assert "Item" in admin.get_item(TableName=TABLE, Key=_key("bob"), ConsistentRead=True)
    with pytest.raises(ClientError) as info:
        alice.transact_get_items(TransactItems=[{"Get": {"TableName": TABLE, "Key": _key("bob")}}])
    assert error(info)[1] == denied("alice", "GetItem")
    # Table-level operations are not granted.
    with pytest.raises(ClientError) as info:
        alice.describe_table(TableName=TABLE)
    assert error(info)[1] == denied("alice", "DescribeTable")
    with pytest.raises(ClientError) as info:
        alice.list_tables()
    assert error(info)[1] == denied("alice", "ListTables", "*")


def test_user_limited_to_certain_attributes(server, admin, table) -> None:  # type: ignore[no-untyped-def]
    carol = client(server.endpoint, "AKIDCAROL")
    carol.put_item(TableName=TABLE, Item={**_key("carol"), "TopScore": {"N": "5"}})
    with pytest.raises(ClientError) as info:
        carol.put_item(TableName=TABLE, Item={**_key("carol"), "TopScore": {"N": "5"}, "Secret": {"S": "x"}})
    assert error(info) == ("AccessDeniedException", denied("carol", "PutItem"), 400)
    admin.update_item(TableName=TABLE, Key=_key("carol"), UpdateExpression="SET Secret = :s",
                      ExpressionAttributeValues={":s": {"S": "hidden"}})
    # Reads must name allowed attributes (Select SPECIFIC_ATTRIBUTES).
    got = carol.get_item(TableName=TABLE, Key=_key("carol"), ProjectionExpression="UserId, TopScore")
    assert got["Item"] == {"UserId": {"S": "carol"}, "TopScore": {"N": "5"}}
    for kwargs in ({}, {"ProjectionExpression": "TopScore, Secret"},
                   {"ProjectionExpression": "#s", "ExpressionAttributeNames": {"#s": "Secret"}}):
        with pytest.raises(ClientError) as info:
            carol.get_item(TableName=TABLE, Key=_key("carol"), **kwargs)
        assert error(info)[1] == denied("carol", "GetItem")
    got = carol.query(TableName=TABLE, KeyConditionExpression="UserId = :u", ProjectionExpression="TopScore",
                      ExpressionAttributeValues={":u": {"S": "carol"}}, Select="SPECIFIC_ATTRIBUTES")
    assert got["Items"] == [{"TopScore": {"N": "5"}}]
    with pytest.raises(ClientError):
        carol.query(TableName=TABLE, KeyConditionExpression="UserId = :u",
                    ExpressionAttributeValues={":u": {"S": "carol"}})
    # Writes: only allowed attributes, and no ReturnValues that would return others.
    carol.update_item(TableName=TABLE, Key=_key("carol"), UpdateExpression="SET TopScore = :v",
                      ExpressionAttributeValues={":v": {"N": "6"}}, ReturnValues="UPDATED_NEW")
    with pytest.raises(ClientError):
        carol.update_item(TableName=TABLE, Key=_key("carol"), UpdateExpression="SET Secret = :v",
                          ExpressionAttributeValues={":v": {"S": "mine"}})
    with pytest.raises(ClientError):
        carol.update_item(TableName=TABLE, Key=_key("carol"), UpdateExpression="SET TopScore = :v",
                          ExpressionAttributeValues={":v": {"N": "7"}}, ReturnValues="ALL_OLD")
    item = admin.get_item(TableName=TABLE, Key=_key("carol"), ConsistentRead=True)["Item"]
    assert item["TopScore"] == {"N": "6"} and item["Secret"] == {"S": "hidden"}


def test_read_only_access_to_one_index(server, admin, table) -> None:  # type: ignore[no-untyped-def]
    """The decision is checked end to end; whether the index query then runs depends on
    index support in the server (anything but AccessDeniedException is accepted here)."""
    reader = client(server.endpoint, "AKIDREADER")
    query = {"TableName": TABLE, "IndexName": INDEX, "KeyConditionExpression": "GameTitle = :g",
             "ExpressionAttributeValues": {":g": {"S": "Meteor Blasters"}}}
    try:
        reader.query(**query, Select="SPECIFIC_ATTRIBUTES", ProjectionExpression="TopScore, UserId")
    except ClientError as exc:
        assert exc.response["Error"]["Code"] != "AccessDeniedException", exc.response
    index_arn = f"{TABLE_ARN}/index/{INDEX}"
    for kwargs in ({"Select": "ALL_ATTRIBUTES"}, {"Select": "SPECIFIC_ATTRIBUTES", "ProjectionExpression": "Secret"}):
        with pytest.raises(ClientError) as info:
            reader.query(**query, **kwargs)
        assert error(info)[1] == denied("reader", "Query", index_arn)
    with pytest.raises(ClientError) as info:
        reader.query(TableName=TABLE, KeyConditionExpression="UserId = :u", ExpressionAttributeValues={":u": {"S": "x"}},
                     Select="SPECIFIC_ATTRIBUTES", ProjectionExpression="TopScore")
    assert error(info)[1] == denied("reader", "Query")
    with pytest.raises(ClientError):
        reader.get_item(TableName=TABLE, Key=_key("alice"), ProjectionExpression="TopScore")


def test_explicit_deny(server, admin, table) -> None:  # type: ignore[no-untyped-def]
    user = client(server.endpoint, "AKIDNODELETE")
    user.put_item(TableName=TABLE, Item={**_key("nodelete")})
    with pytest.raises(ClientError) as info:
        user.delete_item(TableName=TABLE, Key=_key("nodelete"))
    assert error(info) == ("AccessDeniedException", denied("nodelete", "DeleteItem", explicit=True), 400)
    with pytest.raises(ClientError) as info:
        user.delete_table(TableName=TABLE)
    assert error(info)[1] == denied("nodelete", "DeleteTable", explicit=True)
    assert "Item" in admin.get_item(TableName=TABLE, Key=_key("nodelete"), ConsistentRead=True)


def test_secure_transport_condition_over_plain_http(server, table) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as info:
        client(server.endpoint, "AKIDTLSONLY").list_tables()
    assert error(info)[1] == denied("tlsonly", "ListTables", "*")


# --- 1,000 tampered requests: all refused, nothing changes -------------------------------

def _sign(endpoint: str, target: str, payload: dict, key: str) -> tuple[dict[str, str], bytes]:
    secret, token = SECRETS[key]
    request = AWSRequest(method="POST", url=endpoint + "/", data=json.dumps(payload).encode(),
                         headers={"Content-Type": "application/x-amz-json-1.0",
                                  "X-Amz-Target": f"DynamoDB_20120810.{target}"})
    botocore.auth.SigV4Auth(Credentials(key, secret, token), "dynamodb", REGION).add_auth(request)
    headers = {k: v for k, v in request.headers.items()}
    headers["Host"] = urllib.parse.urlsplit(endpoint).netloc
    return headers, request.body


def _flip(text: str, at: int) -> str:
    return text[:at] + ("0" if text[at] != "0" else "1") + text[at + 1:]


def test_thousand_tampered_requests_refused_and_harmless(server, admin, table) -> None:  # type: ignore[no-untyped-def]
    for i in range(20):
        admin.put_item(TableName=TABLE, Item={**_key(f"seed-{i}"), "TopScore": {"N": str(i)}})
    conn = http.client.HTTPConnection(urllib.parse.urlsplit(server.endpoint).netloc, timeout=10)
    # Control: the same raw path with an untampered signature is accepted and does write.
    for key in ("AKIDADMIN", "ASIATEMP"):
        headers, body = _sign(server.endpoint, "PutItem", {"TableName": TABLE, "Item": {**_key(f"control-{key}")}}, key)
        assert _raw_post(server.endpoint, body, headers, conn) == (200, {})
    before = _scan_all(admin)
    assert {"UserId": {"S": "control-ASIATEMP"}, "GameTitle": {"S": "Meteor Blasters"}} in before
    outcomes: dict[str, set[str]] = {}
    kinds = ["signature", "body", "date", "token", "target", "access-key", "no-auth", "secret", "stale", "host"]
    start = time.monotonic()
    for n in range(1000):
        kind = kinds[n % len(kinds)]
        key = "ASIATEMP" if kind == "token" else "AKIDADMIN"
        i = n % 20
        ops = [("PutItem", {"TableName": TABLE, "Item": {**_key(f"seed-{i}"), "TopScore": {"N": "-1"}}}),
               ("DeleteItem", {"TableName": TABLE, "Key": _key(f"seed-{i}")}),
               ("UpdateItem", {"TableName": TABLE, "Key": _key(f"seed-{i}"), "UpdateExpression": "SET Hacked = :t",
                               "ExpressionAttributeValues": {":t": {"BOOL": True}}}),
               ("PutItem", {"TableName": TABLE, "Item": {**_key(f"new-{n}")}})]
        target, payload = ops[n % len(ops)]
        headers, body = _sign(server.endpoint, target, payload, key)
        auth = headers["Authorization"]
        if kind == "signature":
            headers["Authorization"] = _flip(auth, len(auth) - 1 - (n % 64))
        elif kind == "body":
            body = body.replace(b"seed-", b"seed_", 1) if b"seed-" in body else body.replace(b"new-", b"new_", 1)
        elif kind == "date":
            stamp = headers["X-Amz-Date"]
            headers["X-Amz-Date"] = stamp[:-3] + f"{(int(stamp[-3:-1]) + 1 + n % 30) % 60:02d}Z"
        elif kind == "token":
            headers["X-Amz-Security-Token"] = _flip(headers["X-Amz-Security-Token"], n % 10)
        elif kind == "target":
            headers["X-Amz-Target"] = "DynamoDB_20120810.DeleteItem" if target != "DeleteItem" else (
                "DynamoDB_20120810.PutItem")
        elif kind == "access-key":
            headers["Authorization"] = auth.replace("AKIDADMIN", "AKIDADMIM")
        elif kind == "no-auth":
            del headers["Authorization"]
        elif kind == "secret":
            headers, body = _resign_with(server.endpoint, target, payload, secret="admin-secreT")
        elif kind == "stale":
            headers, body = _resign_with(server.endpoint, target, payload, skew=datetime.timedelta(minutes=-16 - n % 60))
        elif kind == "host":
            headers["Host"] = "127.0.0.1:1"
        status, answer = _raw_post(server.endpoint, body, headers, conn)
        assert status == 400, (kind, answer)
        outcomes.setdefault(kind, set()).add(answer["__type"].split("#")[1])
    conn.close()
    elapsed = time.monotonic() - start
    assert outcomes == {
        "signature": {"InvalidSignatureException"}, "body": {"InvalidSignatureException"},
        "date": {"InvalidSignatureException"}, "token": {"UnrecognizedClientException"},
        "target": {"InvalidSignatureException"}, "access-key": {"UnrecognizedClientException"},
        "no-auth": {"MissingAuthenticationTokenException"}, "secret": {"InvalidSignatureException"},
        "stale": {"InvalidSignatureException"}, "host": {"InvalidSignatureException"},
    }
    assert _scan_all(admin) == before
    assert elapsed < 20


def _resign_with(endpoint: str, target: str, payload: dict, secret: str = "admin-secret",
                 skew: datetime.timedelta = datetime.timedelta(0)) -> tuple[dict[str, str], bytes]:
    when = datetime.datetime.now(datetime.timezone.utc) + skew
    original = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = lambda: when  # type: ignore[assignment]
    try:
        request = AWSRequest(method="POST", url=endpoint + "/", data=json.dumps(payload).encode(),
                             headers={"Content-Type": "application/x-amz-json-1.0",
                                      "X-Amz-Target": f"DynamoDB_20120810.{target}"})
        botocore.auth.SigV4Auth(Credentials("AKIDADMIN", secret), "dynamodb", REGION).add_auth(request)
    finally:
        botocore.auth.get_current_datetime = original  # type: ignore[assignment]
    headers = {k: v for k, v in request.headers.items()}
    headers["Host"] = urllib.parse.urlsplit(endpoint).netloc
    return headers, request.body


# --- TLS --------------------------------------------------------------------------------

def _make_ca_and_server_cert(directory: str) -> tuple[str, str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ddbforge test CA")])
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = tuple(os.path.join(directory, n) for n in ("ca.pem", "server.pem", "server.key"))
    with open(paths[0], "wb") as fh:
        fh.write(ca_cert.public_bytes(serialization.Encoding.PEM))
    with open(paths[1], "wb") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths[2], "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    return paths  # type: ignore[return-value]


class TLSServerProcess(ServerProcess):
    """ServerProcess over HTTPS: same launch, readiness probed with the test CA."""

    def __init__(self, data_dir: str | None, ca_file: str, *extra: str) -> None:
        super().__init__(data_dir, *extra)
        self.ca_file = ca_file

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> "TLSServerProcess":
        args = [sys.executable, "-m", "dynamodbforge", "serve", "--port", str(self.port), "--log-level", "warning",
                "--in-memory", *self.extra]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        context = ssl.create_default_context(cafile=self.ca_file)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode() if self.proc.stdout else ""
                raise RuntimeError(f"server exited with {self.proc.returncode}: {out}")
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=0.5, context=context)
            try:
                conn.request("GET", "/")
                if conn.getresponse().status == 200:
                    return self
            except OSError:
                time.sleep(0.05)
            finally:
                conn.close()
        self.stop()
        raise RuntimeError("TLS server did not become ready")


def test_tls_with_boto3_and_a_ca_file(tmp_path, auth_file) -> None:  # type: ignore[no-untyped-def]
    ca, cert, key = _make_ca_and_server_cert(str(tmp_path))
    proc = TLSServerProcess(None, ca, "--auth", auth_file, "--tls-cert", cert, "--tls-key", key).start()
    try:
        admin = client(proc.endpoint, "AKIDADMIN", verify=ca)
        admin.create_table(TableName="TlsTable", AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                           KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
        admin.get_waiter("table_exists").wait(TableName="TlsTable", WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        admin.put_item(TableName="TlsTable", Item={"pk": {"S": "over-tls"}})
        assert admin.get_item(TableName="TlsTable", Key={"pk": {"S": "over-tls"}})["Item"] == {"pk": {"S": "over-tls"}}
        # aws:SecureTransport is true over TLS (the same principal is refused over plain HTTP).
        assert "TlsTable" in client(proc.endpoint, "AKIDTLSONLY", verify=ca).list_tables()["TableNames"]
        # A client that does not trust the CA cannot connect.
        from botocore.exceptions import SSLError

        with pytest.raises(SSLError):
            client(proc.endpoint, "AKIDADMIN").list_tables()
    finally:
        proc.stop()
