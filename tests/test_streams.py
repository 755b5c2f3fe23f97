"""DynamoDB Streams (issue 7): StreamSpecification, the Streams API through boto3's
``dynamodbstreams`` client, every view type, every iterator type, ordering under
concurrent writers; iterator expiry and trimming with a controlled clock (sans-IO)."""
from __future__ import annotations

import threading

import pytest
from botocore.exceptions import ClientError

from conftest import create_table, error_of, make_client, read_stream, unique_name

from dynamodbforge import errors
from dynamodbforge.database import Database
from dynamodbforge.ops import items, tables
from dynamodbforge.storage.sqlite import SQLiteEngine
from dynamodbforge.streams import api, retention

NEW_AND_OLD = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}


@pytest.fixture(scope="module")
def streams(endpoint):
    return make_client(endpoint, "dynamodbstreams")


def _shard(streams, arn):
    return streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]


def _table_with_stream(dynamodb, view="NEW_AND_OLD_IMAGES", **kw):
    name = create_table(dynamodb, unique_name("st"), StreamSpecification={"StreamEnabled": True,
                                                                         "StreamViewType": view}, **kw)
    return name, dynamodb.describe_table(TableName=name)["Table"]["LatestStreamArn"]


def test_stream_specification_lifecycle(dynamodb, streams):
    name = create_table(dynamodb, unique_name("st"))
    table = dynamodb.describe_table(TableName=name)["Table"]
    assert "LatestStreamArn" not in table and "StreamSpecification" not in table
    with pytest.raises(ClientError) as exc:
        dynamodb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    assert error_of(exc) == ("ValidationException", f"Table has no stream to disable: TableName: {name}")

    desc = dynamodb.update_table(TableName=name, StreamSpecification={"StreamEnabled": True,
                                                                      "StreamViewType": "KEYS_ONLY"})
    first = desc["TableDescription"]["LatestStreamArn"]
    label = desc["TableDescription"]["LatestStreamLabel"]
    assert first == f"arn:aws:dynamodb:us-east-1:000000000000:table/{name}/stream/{label}"
    assert len(label) == 23 and label[10] == "T" and label[19] == "."
    table = dynamodb.describe_table(TableName=name)["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
    assert table["LatestStreamArn"] == first

    with pytest.raises(ClientError) as exc:
        dynamodb.update_table(TableName=name, StreamSpecification=NEW_AND_OLD)
    assert error_of(exc) == ("ValidationException", f"Table already has an enabled stream: TableName: {name}")
    with pytest.raises(ClientError) as exc:
        dynamodb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False,
                                                                   "StreamViewType": "KEYS_ONLY"})
    assert error_of(exc)[0] == "ValidationException"

    dynamodb.put_item(TableName=name, Item={"pk": {"S": "in-first"}})
    dynamodb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    dynamodb.put_item(TableName=name, Item={"pk": {"S": "in-none"}})
    old = streams.describe_stream(StreamArn=first)["StreamDescription"]
    assert old["StreamStatus"] == "DISABLED"
    assert "EndingSequenceNumber" in old["Shards"][0]["SequenceNumberRange"]

    second = dynamodb.update_table(TableName=name, StreamSpecification=NEW_AND_OLD)["TableDescription"][
        "LatestStreamArn"]
    assert second != first
    dynamodb.put_item(TableName=name, Item={"pk": {"S": "in-second"}})
    listed = streams.list_streams(TableName=name)["Streams"]
    assert [s["StreamArn"] for s in listed] == [first, second]
    assert all(s["TableName"] == name for s in listed)
    # Each stream holds exactly the writes made while it was enabled.
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in read_stream(streams, first)] == ["in-first"]
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in read_stream(streams, second)] == ["in-second"]
    new = streams.describe_stream(StreamArn=second)["StreamDescription"]
    assert new["StreamStatus"] == "ENABLED" and new["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert new["TableName"] == name and new["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    shard = new["Shards"][0]
    assert shard["ShardId"].startswith("shardId-") and len(shard["ShardId"]) <= 65
    assert shard["SequenceNumberRange"]["StartingSequenceNumber"].isdecimal()

    dynamodb.delete_table(TableName=name)
    assert streams.describe_stream(StreamArn=second)["StreamDescription"]["StreamStatus"] == "DISABLED"
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in read_stream(streams, second)] == ["in-second"]


def test_create_table_stream_validation(dynamodb):
    with pytest.raises(ClientError) as exc:
        create_table(dynamodb, unique_name("st"), StreamSpecification={"StreamEnabled": True,
                                                                       "StreamViewType": "Fisk"})
    assert error_of(exc)[0] == "ValidationException"
    name = create_table(dynamodb, unique_name("st"), StreamSpecification={"StreamEnabled": False})
    assert "LatestStreamArn" not in dynamodb.describe_table(TableName=name)["Table"]


@pytest.mark.parametrize("view", ["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"])
def test_view_types(dynamodb, streams, view):
    name, arn = _table_with_stream(dynamodb, view, range_key=("sk", "N"))
    key = {"pk": {"S": "p"}, "sk": {"N": "1"}}
    dynamodb.put_item(TableName=name, Item={**key, "a": {"S": "one"}})
    dynamodb.put_item(TableName=name, Item={**key, "a": {"S": "one"}})  # changes nothing: no record
    dynamodb.update_item(TableName=name, Key=key, UpdateExpression="SET a = :v",
                         ExpressionAttributeValues={":v": {"S": "two"}})
    dynamodb.delete_item(TableName=name, Key=key)
    dynamodb.delete_item(TableName=name, Key=key)  # nothing to delete: no record
    records = read_stream(streams, arn)
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    one, two = {**key, "a": {"S": "one"}}, {**key, "a": {"S": "two"}}
    expected_new = [one, two, None]
    expected_old = [None, one, two]
    seqs = []
    for record, new, old in zip(records, expected_new, expected_old):
        assert record["eventVersion"] == "1.1" and record["eventSource"] == "aws:dynamodb"
        assert record["awsRegion"] == "us-east-1" and len(record["eventID"]) == 32
        body = record["dynamodb"]
        assert body["Keys"] == key and body["StreamViewType"] == view and body["SizeBytes"] > 0
        assert "ApproximateCreationDateTime" in body
        assert body.get("NewImage") == (new if view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") else None)
        assert body.get("OldImage") == (old if view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") else None)
        assert body["SequenceNumber"].isdecimal() and len(body["SequenceNumber"]) >= 21
        seqs.append(int(body["SequenceNumber"]))
    assert seqs == sorted(seqs) and len(set(seqs)) == 3


def test_iterator_types(dynamodb, streams):
    name, arn = _table_with_stream(dynamodb)
    for i in range(5):
        dynamodb.put_item(TableName=name, Item={"pk": {"S": f"k{i}"}})
    shard = _shard(streams, arn)
    everything = read_stream(streams, arn)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in everything] == [f"k{i}" for i in range(5)]
    third = everything[2]["dynamodb"]["SequenceNumber"]
    at = read_stream(streams, arn, "AT_SEQUENCE_NUMBER", SequenceNumber=third)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in at] == ["k2", "k3", "k4"]
    after = read_stream(streams, arn, "AFTER_SEQUENCE_NUMBER", SequenceNumber=third)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in after] == ["k3", "k4"]

    latest = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]
    resp = streams.get_records(ShardIterator=latest)
    assert resp["Records"] == [] and resp["NextShardIterator"]
    dynamodb.put_item(TableName=name, Item={"pk": {"S": "late"}})
    resp = streams.get_records(ShardIterator=resp["NextShardIterator"])
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in resp["Records"]] == ["late"]

    # Limit pages through the shard, NextShardIterator continuing where the page ended.
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    pages = []
    for _ in range(3):
        resp = streams.get_records(ShardIterator=it, Limit=2)
        pages.append([r["dynamodb"]["Keys"]["pk"]["S"] for r in resp["Records"]])
        it = resp["NextShardIterator"]
    assert pages == [["k0", "k1"], ["k2", "k3"], ["k4", "late"]]

    for kwargs in ({"ShardIteratorType": "AT_SEQUENCE_NUMBER"},
                   {"ShardIteratorType": "LATEST", "SequenceNumber": third},
                   {"ShardIteratorType": "AT_SEQUENCE_NUMBER", "SequenceNumber": "not-a-number-at-all-xx"}):
        with pytest.raises(ClientError) as exc:
            streams.get_shard_iterator(StreamArn=arn, ShardId=shard, **kwargs)
        assert error_of(exc)[0] == "ValidationException"
    with pytest.raises(ClientError) as exc:
        streams.get_shard_iterator(StreamArn=arn, ShardId="shardId-00000000000000000000-00000000",
                                   ShardIteratorType="LATEST")
    assert error_of(exc)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        streams.get_records(ShardIterator="sdfsdfsgagaddafgagasgasgasdfasdfasdfasdfasdgasdasdgasdg")
    assert error_of(exc)[0] == "ValidationException"
    with pytest.raises(ClientError) as exc:
        streams.describe_stream(StreamArn=arn.replace("/stream/", "/stream/1999-"))
    assert error_of(exc)[0] == "ResourceNotFoundException"


def test_list_streams_pages(dynamodb, streams):
    for _ in range(2):
        _table_with_stream(dynamodb, "KEYS_ONLY")
    seen, start = [], None
    while True:
        resp = streams.list_streams(Limit=1, **({"ExclusiveStartStreamArn": start} if start else {}))
        seen += [s["StreamArn"] for s in resp["Streams"]]
        start = resp.get("LastEvaluatedStreamArn")
        if not start:
            break
    assert len(seen) == len(set(seen)) >= 2
    assert seen == [s["StreamArn"] for s in streams.list_streams()["Streams"]]


def test_ordering_under_concurrent_writers(endpoint, dynamodb, streams):
    name, arn = _table_with_stream(dynamodb, "NEW_IMAGE")
    writers, per_writer = 6, 40

    def write(w: int) -> None:
        client = make_client(endpoint)
        for i in range(per_writer):
            item = f"item{i % 3}"
            client.update_item(TableName=name, Key={"pk": {"S": item}},
                               UpdateExpression="ADD n :one SET #w = :w",
                               ExpressionAttributeNames={"#w": f"w{w}"},
                               ExpressionAttributeValues={":one": {"N": "1"}, ":w": {"N": str(i)}})

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records = read_stream(streams, arn)
    assert len(records) == writers * per_writer  # every acknowledged write exactly once
    seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    counters: dict[str, list[int]] = {}
    for r in records:
        counters.setdefault(r["dynamodb"]["Keys"]["pk"]["S"], []).append(int(r["dynamodb"]["NewImage"]["n"]["N"]))
    for values in counters.values():  # per item, the stream replays the item's history in order
        assert values == list(range(1, len(values) + 1))


# --- sans-IO: a controlled clock ---------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _db():
    clock = Clock()
    db = Database(SQLiteEngine(None), clock=clock)
    tables.create_table(db, {
        "TableName": "t", "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST",
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    })
    arn = tables.describe_table(db, {"TableName": "t"})["Table"]["LatestStreamArn"]
    shard = api.describe_stream(db, {"StreamArn": arn})["StreamDescription"]["Shards"][0]["ShardId"]
    return db, clock, arn, shard


def test_iterator_expires_after_15_minutes():
    db, clock, arn, shard = _db()
    it = api.get_shard_iterator(db, {"StreamArn": arn, "ShardId": shard,
                                     "ShardIteratorType": "TRIM_HORIZON"})["ShardIterator"]
    clock.now += 14 * 60
    next_it = api.get_records(db, {"ShardIterator": it})["NextShardIterator"]
    clock.now += 61
    with pytest.raises(errors.DynamoDBError) as exc:
        api.get_records(db, {"ShardIterator": it})
    assert exc.value.type_name == "ExpiredIteratorException"
    assert exc.value.message.startswith("Iterator expired. The iterator was created at time")
    api.get_records(db, {"ShardIterator": next_it})  # a NextShardIterator is a fresh iterator
    for op, req in ((api.get_records, {"ShardIterator": next_it, "Limit": 1001}), (api.list_streams, {"Limit": 0})):
        with pytest.raises(errors.DynamoDBError) as exc:
            op(db, req)
        assert exc.value.type_name == "ValidationException" and "failed to satisfy constraint" in exc.value.message


def test_retention_trims_records():
    db, clock, arn, shard = _db()
    items.put_item(db, {"TableName": "t", "Item": {"pk": {"S": "old"}}})
    it = api.get_shard_iterator(db, {"StreamArn": arn, "ShardId": shard,
                                     "ShardIteratorType": "TRIM_HORIZON"})["ShardIterator"]
    old_seq = api.get_records(db, {"ShardIterator": it})["Records"][0]["dynamodb"]["SequenceNumber"]
    clock.now += 23 * 3600
    items.put_item(db, {"TableName": "t", "Item": {"pk": {"S": "new"}}})
    clock.now += 2 * 3600  # "old" is 25 h old, "new" 2 h
    assert retention.maintain(db) == 1
    with pytest.raises(errors.DynamoDBError) as exc:
        api.get_shard_iterator(db, {"StreamArn": arn, "ShardId": shard, "ShardIteratorType": "AT_SEQUENCE_NUMBER",
                                    "SequenceNumber": old_seq})
    assert exc.value.type_name == "TrimmedDataAccessException"
    fresh = api.get_shard_iterator(db, {"StreamArn": arn, "ShardId": shard,
                                        "ShardIteratorType": "TRIM_HORIZON"})["ShardIterator"]
    keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in api.get_records(db, {"ShardIterator": fresh})["Records"]]
    assert keys == ["new"]
    # A disabled stream is forgotten once its records are past retention.
    tables.update_table(db, {"TableName": "t", "StreamSpecification": {"StreamEnabled": False}})
    clock.now += 25 * 3600
    retention.maintain(db)
    assert api.list_streams(db, {})["Streams"] == []
