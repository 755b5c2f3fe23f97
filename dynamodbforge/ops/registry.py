"""The operation registry: DynamoDB operation name -> sans-IO function."""
from __future__ import annotations

from typing import Any, Callable

from dynamodbforge.database import Database
from dynamodbforge.ops import batch, items, query, tables, transactions

Operation = Callable[[Database, dict[str, Any]], "dict[str, Any] | bytes"]

OPERATIONS: dict[str, Operation] = {
    "CreateTable": tables.create_table,
    "DescribeTable": tables.describe_table,
    "ListTables": tables.list_tables,
    "UpdateTable": tables.update_table,
    "DeleteTable": tables.delete_table,
    "DescribeEndpoints": tables.describe_endpoints,
    "PutItem": items.put_item,
    "GetItem": items.get_item,
    "UpdateItem": items.update_item,
    "DeleteItem": items.delete_item,
    "Query": query.query,
    "Scan": query.scan,
    "BatchGetItem": batch.batch_get_item,
    "BatchWriteItem": batch.batch_write_item,
    "TransactWriteItems": transactions.transact_write_items,
    "TransactGetItems": transactions.transact_get_items,
}

# DynamoDB operations that exist in AWS's API but are not built yet: they answer a
# clear not-implemented error instead of UnknownOperationException.
KNOWN_NOT_BUILT = frozenset(
    {
        "UpdateTimeToLive", "DescribeTimeToLive", "CreateBackup", "DeleteBackup", "DescribeBackup",
        "ListBackups", "RestoreTableFromBackup", "RestoreTableToPointInTime",
        "UpdateContinuousBackups", "DescribeContinuousBackups", "ExportTableToPointInTime",
        "DescribeExport", "ListExports", "ImportTable", "DescribeImport", "ListImports",
        "TagResource", "UntagResource", "ListTagsOfResource", "DescribeLimits",
        "UpdateContributorInsights", "DescribeContributorInsights", "ListContributorInsights",
        "CreateGlobalTable", "DescribeGlobalTable", "ListGlobalTables", "UpdateGlobalTable",
        "UpdateGlobalTableSettings", "DescribeGlobalTableSettings", "DescribeTableReplicaAutoScaling",
        "UpdateTableReplicaAutoScaling", "ExecuteStatement", "BatchExecuteStatement",
        "ExecuteTransaction", "DescribeKinesisStreamingDestination",
        "EnableKinesisStreamingDestination", "DisableKinesisStreamingDestination",
        "UpdateKinesisStreamingDestination", "GetResourcePolicy", "PutResourcePolicy",
        "DeleteResourcePolicy",
    }
)
