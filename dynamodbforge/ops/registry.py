"""The operation registry: DynamoDB operation name -> sans-IO function."""
from __future__ import annotations

from typing import Any, Callable

from dynamodbforge.database import Database
from dynamodbforge.ops import batch, items, query, tables, transactions, ttl
from dynamodbforge import insights
from dynamodbforge.ops import tags

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
    "UpdateTimeToLive": ttl.update_time_to_live,
    "DescribeTimeToLive": ttl.describe_time_to_live,
    # tags, limits, contributor insights
    "TagResource": tags.tag_resource,
    "UntagResource": tags.untag_resource,
    "ListTagsOfResource": tags.list_tags_of_resource,
    "DescribeLimits": tags.describe_limits,
    "UpdateContributorInsights": insights.update_contributor_insights,
    "DescribeContributorInsights": insights.describe_contributor_insights,
    "ListContributorInsights": insights.list_contributor_insights,
}

# operations and their request shapes
from dynamodbforge.backups import api as _backups_api  # noqa: E402
from dynamodbforge.protocol import validate as _validate  # noqa: E402

OPERATIONS.update(_backups_api.OPERATIONS)
_validate.OPERATIONS.update(_backups_api.SHAPES)

# DynamoDB operations that exist in AWS's API but are not built yet: they answer a
# clear not-implemented error instead of UnknownOperationException.
KNOWN_NOT_BUILT = frozenset(
    {
        "CreateGlobalTable", "DescribeGlobalTable", "ListGlobalTables", "UpdateGlobalTable",
        "UpdateGlobalTableSettings", "DescribeGlobalTableSettings", "DescribeTableReplicaAutoScaling",
        "UpdateTableReplicaAutoScaling", "ExecuteStatement", "BatchExecuteStatement",
        "ExecuteTransaction", "DescribeKinesisStreamingDestination",
        "EnableKinesisStreamingDestination", "DisableKinesisStreamingDestination",
        "UpdateKinesisStreamingDestination", "GetResourcePolicy", "PutResourcePolicy",
        "DeleteResourcePolicy",
    }
)
