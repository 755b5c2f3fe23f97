"""Issue 10: point-in-time recovery.

* API shapes and errors of UpdateContinuousBackups / DescribeContinuousBackups /
  RestoreTableToPointInTime;
* correctness: a random workload of puts, updates, deletes and transactions runs while
  the test records what every key held at several instants; restoring to each instant
  yields exactly that state — items and GSI entries;
* a large restore (10,000 items here; DDBFORGE_PITR_ITEMS=100000 for the manual run)
  with its progress log line and timing;
* the change-log retention follows the longest PITR window.
"""
from __future__ import annotations

import logging
import math
import os
import random
import time

import pytest
from botocore.exceptions import ClientError

from conftest import create_table, error_of, make_client, unique_name
from server_process import ServerProcess
from test_backups import scan_all, unchecked_client, wait_active


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = ServerProcess(str(tmp_path_factory.mktemp("pitr-data"))).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def ddb(server):
    return make_client(server.endpoint)


def enable(ddb, table: str, days: int | None = None) -> dict:
    spec = {"PointInTimeRecoveryEnabled": True}
    if days is not None:
        spec["RecoveryPeriodInDays"] = days
    return ddb.update_continuous_backups(TableName=table, PointInTimeRecoverySpecification=spec)[
        "ContinuousBackupsDescription"]


def next_second() -> int:
    """Wait for the next whole second and return it: every write before returned before it,
    every write after starts after it (RestoreDateTime travels with whole seconds)."""
    instant = math.floor(time.time()) + 1
    time.sleep(instant - time.time() + 0.02)
    return instant


def test_describe_and_update(ddb):
    table = create_table(ddb, unique_name("pitr-api"))
    desc = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    assert desc == {"ContinuousBackupsStatus": "ENABLED",
                    "PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": "DISABLED"}}
    before = time.time()
    desc = enable(ddb, table, 7)
    pitr = desc["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED" and pitr["RecoveryPeriodInDays"] == 7
    assert before - 1 <= pitr["EarliestRestorableDateTime"].timestamp() <= pitr["LatestRestorableDateTime"].timestamp()
    desc = enable(ddb, table)  # re-enabling keeps the window's start and the period
    assert desc["PointInTimeRecoveryDescription"]["RecoveryPeriodInDays"] == 7
    assert desc["PointInTimeRecoveryDescription"]["EarliestRestorableDateTime"] == pitr["EarliestRestorableDateTime"]
    arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]
    by_arn = ddb.describe_continuous_backups(TableName=arn)["ContinuousBackupsDescription"]
    assert by_arn["PointInTimeRecoveryDescription"]["RecoveryPeriodInDays"] == 7
    off = ddb.update_continuous_backups(TableName=table, PointInTimeRecoverySpecification={
        "PointInTimeRecoveryEnabled": False})["ContinuousBackupsDescription"]
    assert off["PointInTimeRecoveryDescription"] == {"PointInTimeRecoveryStatus": "DISABLED"}


def test_errors(ddb):
    missing = unique_name("pitr-missing")
    for call in (lambda: ddb.describe_continuous_backups(TableName=missing),
                 lambda: enable(ddb, missing)):
        with pytest.raises(ClientError) as exc:
            call()
        assert error_of(exc) == ("TableNotFoundException", f"Table not found: {missing}")
    unchecked = unchecked_client(ddb.meta.endpoint_url)
    table = create_table(ddb, unique_name("pitr-err"))
    with pytest.raises(ClientError) as exc:
        unchecked.update_continuous_backups(TableName=table, PointInTimeRecoverySpecification={
            "PointInTimeRecoveryEnabled": True, "RecoveryPeriodInDays": 36})
    assert error_of(exc) == ("ValidationException", "1 validation error detected: Value '36' at "
                             "'pointInTimeRecoverySpecification.recoveryPeriodInDays' failed to satisfy constraint: "
                             "Member must have value less than or equal to 35")
    with pytest.raises(ClientError) as exc:
        ddb.restore_table_to_point_in_time(SourceTableName=table, TargetTableName=unique_name("x"),
                                           UseLatestRestorableTime=True)
    assert error_of(exc) == ("PointInTimeRecoveryUnavailableException",
                             f"Point in time recovery is not enabled for table '{table}'")
    enable(ddb, table)
    with pytest.raises(ClientError) as exc:
        ddb.restore_table_to_point_in_time(SourceTableName=table, TargetTableName=unique_name("x"),
                                           RestoreDateTime=time.time() - 3600)
    assert error_of(exc)[0] == "InvalidRestoreTimeException"
    with pytest.raises(ClientError) as exc:
        ddb.restore_table_to_point_in_time(SourceTableName=table, TargetTableName=table,
                                           UseLatestRestorableTime=True)
    assert error_of(exc) == ("TableAlreadyExistsException", f"Table already exists: {table}")
    with pytest.raises(ClientError) as exc:
        ddb.restore_table_to_point_in_time(SourceTableName=missing, TargetTableName=unique_name("x"),
                                           UseLatestRestorableTime=True)
    assert error_of(exc) == ("TableNotFoundException", f"Table not found: {missing}")


def test_latest_by_arn(ddb):
    table = create_table(ddb, unique_name("pitr-arn"))
    enable(ddb, table)
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "v": {"N": "1"}})
    arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]
    target = unique_name("pitr-arn-t")
    out = ddb.restore_table_to_point_in_time(SourceTableArn=arn, TargetTableName=target,
                                             UseLatestRestorableTime=True)["TableDescription"]
    assert out["TableStatus"] == "CREATING" and out["RestoreSummary"]["SourceTableArn"] == arn
    wait_active(ddb, target)
    assert ddb.get_item(TableName=target, Key={"pk": {"S": "a"}})["Item"]["v"] == {"N": "1"}


# --- the correctness test ----------------------------------------------------------------------

KEYS = [f"key{i:03d}" for i in range(120)]
GROUPS = ["red", "green", "blue"]


def _item(rng: random.Random, pk: str) -> dict:
    item = {"pk": {"S": pk}, "v": {"S": rng.choice("abcdefgh") * rng.randint(1, 30)}}
    if rng.random() < 0.8:
        item["g"] = {"S": rng.choice(GROUPS)}
        item["n"] = {"N": str(rng.randint(-50, 50))}
    return item


def _step(ddb, table: str, rng: random.Random, model: dict) -> None:
    kind = rng.random()
    if kind < 0.35:
        item = _item(rng, rng.choice(KEYS))
        ddb.put_item(TableName=table, Item=item)
        model[item["pk"]["S"]] = item
    elif kind < 0.6:
        pk = rng.choice(KEYS)
        g, w = {"S": rng.choice(GROUPS)}, {"N": str(rng.randint(0, 9))}
        ddb.update_item(TableName=table, Key={"pk": {"S": pk}}, UpdateExpression="SET g = :g, w = :w",
                        ExpressionAttributeValues={":g": g, ":w": w})
        cur = dict(model.get(pk) or {"pk": {"S": pk}})
        cur["g"], cur["w"] = g, w
        model[pk] = cur
    elif kind < 0.8:
        pk = rng.choice(KEYS)
        ddb.delete_item(TableName=table, Key={"pk": {"S": pk}})
        model.pop(pk, None)
    else:
        pks = rng.sample(KEYS, rng.randint(2, 4))
        actions, effects = [], []
        for pk in pks:
            if rng.random() < 0.6:
                item = _item(rng, pk)
                actions.append({"Put": {"TableName": table, "Item": item}})
                effects.append((pk, item))
            else:
                actions.append({"Delete": {"TableName": table, "Key": {"pk": {"S": pk}}}})
                effects.append((pk, None))
        ddb.transact_write_items(TransactItems=actions)
        for pk, item in effects:
            if item is None:
                model.pop(pk, None)
            else:
                model[pk] = item


def test_random_workload_restores_exactly(ddb):
    table = unique_name("pitr-work")
    ddb.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "g", "AttributeType": "S"},
                              {"AttributeName": "n", "AttributeType": "N"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[{"IndexName": "by-g", "KeySchema": [
            {"AttributeName": "g", "KeyType": "HASH"}, {"AttributeName": "n", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"}}],
    )
    wait_active(ddb, table)
    enable(ddb, table)
    rng = random.Random(20240610)
    model: dict[str, dict] = {}
    instants: list[tuple[int, dict]] = []
    for _phase in range(4):
        for _ in range(120):
            _step(ddb, table, rng, model)
        instants.append((next_second(), {k: dict(v) for k, v in model.items()}))
    for _ in range(60):  # changes after the last instant, to be undone too
        _step(ddb, table, rng, model)

    states = [state for _, state in instants] + [model]
    assert all(a != b for a, b in zip(states, states[1:])), "every phase changed something"
    targets = []
    for i, (instant, _) in enumerate(instants):
        target = f"{table}-r{i}"
        ddb.restore_table_to_point_in_time(SourceTableName=table, TargetTableName=target, RestoreDateTime=instant)
        targets.append(target)
    for target, (instant, expected) in zip(targets, instants):
        wait_active(ddb, target)
        got = {i["pk"]["S"]: i for i in scan_all(ddb, target, ConsistentRead=True)}
        assert got == expected, f"state at {instant} differs"
        assert ddb.describe_table(TableName=target)["Table"]["ItemCount"] == len(expected)
        for group in GROUPS:  # index entries match the state too
            q = ddb.query(TableName=target, IndexName="by-g", KeyConditionExpression="g = :g",
                          ExpressionAttributeValues={":g": {"S": group}})
            want = sorted(k for k, v in expected.items() if v.get("g") == {"S": group} and "n" in v)
            assert sorted(i["pk"]["S"] for i in q["Items"]) == want


# --- a large restore, in-process (progress log line, timing) ------------------------------------

@pytest.fixture
def local_db(tmp_path):
    from dynamodbforge.backups import common
    from dynamodbforge.database import Database
    from dynamodbforge.storage.sqlite import SQLiteEngine

    common.OPTIONS.synchronous_tasks = True
    db = Database(SQLiteEngine(str(tmp_path / "ddbforge.sqlite3")))
    yield db
    common.OPTIONS.synchronous_tasks = False
    db.close()


def _call(db, op: str, req: dict) -> dict:
    from dynamodbforge.service import Service
    import orjson

    status, body = Service(db).handle(f"DynamoDB_20120810.{op}", orjson.dumps(req))
    out = orjson.loads(body)
    assert status == 200, out
    return out


def test_large_restore_with_progress(local_db, caplog):
    db = local_db
    n = int(os.environ.get("DDBFORGE_PITR_ITEMS", "10000"))
    _call(db, "CreateTable", {"TableName": "big", "BillingMode": "PAY_PER_REQUEST",
                              "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                              "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]})
    _call(db, "UpdateContinuousBackups", {"TableName": "big",
                                          "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}})
    for base in range(0, n, 25):
        _call(db, "BatchWriteItem", {"RequestItems": {"big": [
            {"PutRequest": {"Item": {"pk": {"S": f"item{i:07d}"}, "data": {"S": "x" * 100}, "i": {"N": str(i)}}}}
            for i in range(base, min(base + 25, n))]}})
    instant = next_second()
    for i in range(0, n, max(1, n // 100)):  # afterwards: 100 deletes, 100 updates
        _call(db, "DeleteItem", {"TableName": "big", "Key": {"pk": {"S": f"item{i:07d}"}}})
        _call(db, "PutItem", {"TableName": "big", "Item": {"pk": {"S": f"item{i + 1:07d}"}, "data": {"S": "changed"}}})
    caplog.set_level(logging.INFO, logger="dynamodbforge.backups")
    started = time.monotonic()
    _call(db, "RestoreTableToPointInTime", {"SourceTableName": "big", "TargetTableName": "big-restored",
                                            "RestoreDateTime": instant})
    elapsed = time.monotonic() - started
    desc = _call(db, "DescribeTable", {"TableName": "big-restored"})["Table"]
    assert desc["TableStatus"] == "ACTIVE" and desc["ItemCount"] == n
    got = _call(db, "GetItem", {"TableName": "big-restored", "Key": {"pk": {"S": "item0000001"}}})["Item"]
    assert got["data"] == {"S": "x" * 100}
    progress = [r.getMessage() for r in caplog.records if "items loaded into big-restored" in r.getMessage()]
    assert progress, "a progress line is logged"
    print(f"\nrestore of {n} items took {elapsed:.2f}s; last progress line: {progress[-1]}")


# --- retention -----------------------------------------------------------------------------------

def test_change_log_retention_follows_longest_window(tmp_path):
    from dynamodbforge.backups import launch
    from dynamodbforge.database import Database
    from dynamodbforge.storage.sqlite import SQLiteEngine
    from dynamodbforge.streams import retention

    now = [time.time()]
    db = Database(SQLiteEngine(str(tmp_path / "ddbforge.sqlite3")), clock=lambda: now[0])
    try:
        launch.register_retention(db)
        assert retention.changelog_retention_seconds() == retention.stream_retention_seconds()  # no PITR yet
        _call(db, "CreateTable", {"TableName": "ret", "BillingMode": "PAY_PER_REQUEST",
                                  "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                                  "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]})
        _call(db, "UpdateContinuousBackups", {"TableName": "ret", "PointInTimeRecoverySpecification": {
            "PointInTimeRecoveryEnabled": True, "RecoveryPeriodInDays": 3}})
        assert retention.changelog_retention_seconds() == 3 * 86400
        _call(db, "PutItem", {"TableName": "ret", "Item": {"pk": {"S": "old"}}})
        now[0] += 2 * 86400
        assert retention.maintain(db) == 0  # inside the window: kept though older than the stream's 24 h
        now[0] += 2 * 86400
        assert retention.maintain(db) == 1  # older than the 3-day window: trimmed
        pitr = _call(db, "DescribeContinuousBackups", {"TableName": "ret"})[
            "ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
        assert pitr["EarliestRestorableDateTime"] == pytest.approx(now[0] - 3 * 86400, abs=0.01)
    finally:
        retention._policies.pop("pitr", None)
        db.close()
