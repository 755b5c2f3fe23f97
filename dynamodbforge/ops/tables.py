"""Table operations: CreateTable, DescribeTable, ListTables, UpdateTable, DeleteTable.

Requests reach these functions already shape-validated (protocol/validate.py).
Tables are usable as soon as CreateTable returns; the response says CREATING as
AWS's does, and DescribeTable reports ACTIVE from then on.
"""
from __future__ import annotations

import copy
import uuid
from typing import Any

from dynamodbforge import errors
from dynamodbforge.catalog import Catalog, TableInfo
from dynamodbforge.database import ACCOUNT_ID, Database
from dynamodbforge.streams import metadata as streams_metadata
from dynamodbforge.ops import billing as billing_ops, tags as tags_ops
from dynamodbforge import indexes  # secondary indexes
from dynamodbforge.ops import backfill  # online GSI creation / deletion


def _describe(db: Database, info: TableInfo, status: str = "ACTIVE") -> dict[str, Any]:
    desc = copy.deepcopy(info.description)
    with db.engine.read() as reader:
        count, size = Catalog.stats(reader, info)
    desc["TableStatus"] = status
    desc["ItemCount"] = count
    desc["TableSizeBytes"] = size
    indexes.describe(db, info, desc, status)  # IndexStatus, IndexSizeBytes, ItemCount, IndexArn
    return _ordered(desc)


# AWS's field order in TableDescription (clients don't care; humans reading JSON do).
_ORDER = (
    "AttributeDefinitions", "TableName", "KeySchema", "TableStatus", "CreationDateTime",
    "ProvisionedThroughput", "TableSizeBytes", "ItemCount", "TableArn", "TableId",
    "BillingModeSummary", "LocalSecondaryIndexes", "GlobalSecondaryIndexes", "StreamSpecification",
    "LatestStreamLabel", "LatestStreamArn", "SSEDescription", "TableClassSummary", "DeletionProtectionEnabled",
)


def _ordered(desc: dict[str, Any]) -> dict[str, Any]:
    out = {k: desc[k] for k in _ORDER if k in desc}
    out.update((k, v) for k, v in desc.items() if k not in out)
    return out


def create_table(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    name = req["TableName"]
    now = db.now()
    billing = req.get("BillingMode", "PROVISIONED")
    if billing == "PAY_PER_REQUEST":
        throughput = {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0}
    else:
        pt = req["ProvisionedThroughput"]
        throughput = {
            "NumberOfDecreasesToday": 0,
            "ReadCapacityUnits": pt["ReadCapacityUnits"],
            "WriteCapacityUnits": pt["WriteCapacityUnits"],
        }
    desc: dict[str, Any] = {
        "AttributeDefinitions": [
            {"AttributeName": d["AttributeName"], "AttributeType": d["AttributeType"]}
            for d in req["AttributeDefinitions"]
        ],
        "TableName": name,
        "KeySchema": [{"AttributeName": k["AttributeName"], "KeyType": k["KeyType"]} for k in req["KeySchema"]],
        "CreationDateTime": now,
        "ProvisionedThroughput": throughput,
        "TableArn": db.table_arn(name),
        "TableId": str(uuid.uuid4()),
        "DeletionProtectionEnabled": bool(req.get("DeletionProtectionEnabled", False)),
    }
    if billing == "PAY_PER_REQUEST":
        desc["BillingModeSummary"] = {"BillingMode": "PAY_PER_REQUEST", "LastUpdateToPayPerRequestDateTime": now}
    elif "BillingMode" in req:
        desc["BillingModeSummary"] = {"BillingMode": "PROVISIONED"}
    if "TableClass" in req:
        desc["TableClassSummary"] = {"TableClass": req["TableClass"]}
    sse = _sse_description(db, req.get("SSESpecification"))
    if sse is not None:
        desc["SSEDescription"] = sse
    billing_ops.on_create_table(req, desc)  # OnDemandThroughput (Tags: ops/tags.py rows)
    stream_view = streams_metadata.validate_for_create(req.get("StreamSpecification"))
    indexes.on_create_table(db, req, desc)  # LocalSecondaryIndexes / GlobalSecondaryIndexes
    with db.engine.write() as batch:
        if db.catalog.find(name, batch) is not None:
            raise errors.resource_in_use(f"Table already exists: {name}")
        streams_metadata.on_create_table(db, batch, desc, stream_view)  # a new stream
        info = TableInfo.from_description(Catalog.allocate_uid(batch), desc)
        Catalog.save(batch, info)
        tags_ops.store_for_create(batch, info.uid, req.get("Tags"))
    return {"TableDescription": _public(_describe(db, info, "CREATING"))}


def _public(desc: dict[str, Any]) -> dict[str, Any]:
    """Drop our private fields (prefixed with '_') from a description."""
    return {k: v for k, v in desc.items() if not k.startswith("_")}


def describe_table(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    info = db.catalog.get_table(req["TableName"])
    status = "CREATING" if info.description.get("_Loading") else "ACTIVE"  # restore/import running
    return {"Table": _public(_describe(db, info, status))}


def list_tables(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    limit = req.get("Limit", 100)
    with db.engine.read() as reader:
        names = db.catalog.names(reader, req.get("ExclusiveStartTableName"))
    out: dict[str, Any] = {"TableNames": names[:limit]}
    if len(names) > limit:
        out["LastEvaluatedTableName"] = names[limit - 1]
    return out


def delete_table(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    name = req["TableName"]
    with db.engine.write() as batch:
        info = db.catalog.get_table(name, batch)
        if info.description.get("DeletionProtectionEnabled"):
            raise errors.validation(
                "Resource cannot be deleted as it is currently protected against deletion. "
                "Disable deletion protection first."
            )
        desc = _describe(db, info, "DELETING")
        streams_metadata.on_delete_table(db, batch, info.description)  # its stream is disabled
        Catalog.drop(batch, info)
        tags_ops.drop(batch, info.uid)
    # DynamoDB's DeleteTable describes less than DescribeTable (ScyllaDB Alternator's
    # test_delete_table_description*, run against DynamoDB): no creation time, key schema,
    # attribute definitions or indexes.
    for field in _NOT_IN_DELETE_TABLE:
        desc.pop(field, None)
    return {"TableDescription": _public(desc)}


_NOT_IN_DELETE_TABLE = ("CreationDateTime", "KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes",
                        "LocalSecondaryIndexes")


def update_table(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    name = req["TableName"]
    with db.engine.write() as batch:
        info = db.catalog.get_table(name, batch)
        desc = copy.deepcopy(info.description)
        status = "ACTIVE"
        now = db.now()
        current_billing = desc.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
        billing = req.get("BillingMode", current_billing)
        pt = req.get("ProvisionedThroughput")
        if billing == "PAY_PER_REQUEST":
            if pt is not None:
                raise errors.validation(
                    "One or more parameter values were invalid: Neither ReadCapacityUnits nor "
                    "WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST"
                )
            if current_billing != "PAY_PER_REQUEST":
                billing_ops.on_switch_to_on_demand(desc, now)  # at most 4 a day
                desc["BillingModeSummary"] = {
                    "BillingMode": "PAY_PER_REQUEST", "LastUpdateToPayPerRequestDateTime": now
                }
                desc["ProvisionedThroughput"] = {
                    "NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0
                }
                status = "UPDATING"
        else:
            if current_billing == "PAY_PER_REQUEST":
                if pt is None:
                    raise errors.validation(
                        "One or more parameter values were invalid: ProvisionedThroughput must be "
                        "specified when BillingMode is PROVISIONED"
                    )
                desc["BillingModeSummary"] = {"BillingMode": "PROVISIONED"}
                status = "UPDATING"
            if pt is not None:
                old = desc["ProvisionedThroughput"]
                rcu, wcu = pt["ReadCapacityUnits"], pt["WriteCapacityUnits"]
                if status == "ACTIVE" and rcu == old["ReadCapacityUnits"] and wcu == old["WriteCapacityUnits"]:
                    raise errors.validation(
                        "The provisioned throughput for the table will not change. The requested value "
                        "equals the current value. Current ReadCapacityUnits provisioned for the table: "
                        f"{old['ReadCapacityUnits']}. Requested ReadCapacityUnits: {rcu}. Current "
                        f"WriteCapacityUnits provisioned for the table: {old['WriteCapacityUnits']}. "
                        f"Requested WriteCapacityUnits: {wcu}. Refer to the Amazon DynamoDB Developer "
                        "Guide for current limits and how to request higher limits."
                    )
                new = dict(old)
                if rcu > old["ReadCapacityUnits"] or wcu > old["WriteCapacityUnits"]:
                    new["LastIncreaseDateTime"] = now
                if rcu < old["ReadCapacityUnits"] or wcu < old["WriteCapacityUnits"]:
                    new["LastDecreaseDateTime"] = now
                    new["NumberOfDecreasesToday"] = old.get("NumberOfDecreasesToday", 0) + 1
                new["ReadCapacityUnits"], new["WriteCapacityUnits"] = rcu, wcu
                desc["ProvisionedThroughput"] = _ordered_throughput(new)
                status = "UPDATING"
        billing_ops.on_update_table(req, desc)  # OnDemandThroughput
        if "StreamSpecification" in req:  # enabling creates a new stream, disabling closes it
            if streams_metadata.on_update_table(db, batch, desc, req["StreamSpecification"]):
                status = "UPDATING"
        if backfill.on_update_table(db, batch, info, desc, req):  # GlobalSecondaryIndexUpdates
            status = "UPDATING"
        if "DeletionProtectionEnabled" in req:
            desc["DeletionProtectionEnabled"] = bool(req["DeletionProtectionEnabled"])
        if "TableClass" in req:
            desc["TableClassSummary"] = {"TableClass": req["TableClass"], "LastUpdateDateTime": now}
        if "SSESpecification" in req:
            sse = _sse_description(db, req["SSESpecification"])
            if sse is None:
                desc.pop("SSEDescription", None)
            else:
                desc["SSEDescription"] = sse
        info.description = desc
        Catalog.save(batch, info)
    return {"TableDescription": _public(_describe(db, info, status))}


def _sse_description(db: Database, spec: dict[str, Any] | None) -> dict[str, Any] | None:
    """SSEDescription of an SSESpecification.  Enabled means a KMS key: the one named in
    KMSMasterKeyId (an ARN, a key id or an alias), else the AWS managed key.  Disabled or
    absent means the AWS owned key, which DynamoDB leaves out of the description."""
    if not spec or not spec.get("Enabled"):
        return None
    key = spec.get("KMSMasterKeyId") or "alias/aws/dynamodb"
    if not key.startswith("arn:"):
        key_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{db.region}/{key}")) if key.startswith("alias/") else key
        key = f"arn:aws:kms:{db.region}:{ACCOUNT_ID}:key/{key_id}"
    return {"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": key}


def _ordered_throughput(pt: dict[str, Any]) -> dict[str, Any]:
    order = ("LastIncreaseDateTime", "LastDecreaseDateTime", "NumberOfDecreasesToday",
             "ReadCapacityUnits", "WriteCapacityUnits")
    return {k: pt[k] for k in order if k in pt}


def describe_endpoints(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    return {"Endpoints": [{"Address": db.endpoint, "CachePeriodInMinutes": 1440}]}
