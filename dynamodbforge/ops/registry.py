"""The operation registry: DynamoDB operation name -> sans-IO function."""
from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any, Callable

from dynamodbforge.database import Database

Operation = Callable[[Database, dict[str, Any]], "dict[str, Any] | bytes"]

# Where each operation lives ("module:function").  A module is imported the first time one
# of its operations is asked for: the server's first answer does not wait for the
# expression parser, transactions or backups (start-up to first answer, bench/run.py), and
# `OPERATIONS.load_all()` imports the rest once the server is up (cli.py).
_WHERE: dict[str, str] = {
    "CreateTable": "dynamodbforge.ops.tables:create_table",
    "DescribeTable": "dynamodbforge.ops.tables:describe_table",
    "ListTables": "dynamodbforge.ops.tables:list_tables",
    "UpdateTable": "dynamodbforge.ops.tables:update_table",
    "DeleteTable": "dynamodbforge.ops.tables:delete_table",
    "DescribeEndpoints": "dynamodbforge.ops.tables:describe_endpoints",
    "PutItem": "dynamodbforge.ops.items:put_item",
    "GetItem": "dynamodbforge.ops.items:get_item",
    "UpdateItem": "dynamodbforge.ops.items:update_item",
    "DeleteItem": "dynamodbforge.ops.items:delete_item",
    "Query": "dynamodbforge.ops.query:query",
    "Scan": "dynamodbforge.ops.query:scan",
    "BatchGetItem": "dynamodbforge.ops.batch:batch_get_item",
    "BatchWriteItem": "dynamodbforge.ops.batch:batch_write_item",
    "TransactWriteItems": "dynamodbforge.ops.transactions:transact_write_items",
    "TransactGetItems": "dynamodbforge.ops.transactions:transact_get_items",
    "UpdateTimeToLive": "dynamodbforge.ops.ttl:update_time_to_live",
    "DescribeTimeToLive": "dynamodbforge.ops.ttl:describe_time_to_live",
    # tags, limits, contributor insights
    "TagResource": "dynamodbforge.ops.tags:tag_resource",
    "UntagResource": "dynamodbforge.ops.tags:untag_resource",
    "ListTagsOfResource": "dynamodbforge.ops.tags:list_tags_of_resource",
    "DescribeLimits": "dynamodbforge.ops.tags:describe_limits",
    "UpdateContributorInsights": "dynamodbforge.insights:update_contributor_insights",
    "DescribeContributorInsights": "dynamodbforge.insights:describe_contributor_insights",
    "ListContributorInsights": "dynamodbforge.insights:list_contributor_insights",
}

# Modules that bring their own ``OPERATIONS`` and request ``SHAPES`` (merged into
# protocol/validate.py's).  Their operation names are learnt when they are imported: on the
# first name not in _WHERE, or by load_all().
_GROUPS: tuple[str, ...] = ("dynamodbforge.backups.api",)


class Operations(Mapping[str, Operation]):
    """Operation name -> sans-IO function, importing each module on first use."""

    def __init__(self, where: dict[str, str], groups: tuple[str, ...]) -> None:
        self._where = dict(where)
        self._groups = list(groups)
        self._loaded: dict[str, Operation] = {}

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        operation = self._loaded.get(name)
        if operation is not None:
            return operation
        if name not in self._where:
            self._load_groups()
            return self._loaded.get(name, default)
        module, _, function = self._where[name].partition(":")
        operation = self._loaded[name] = getattr(importlib.import_module(module), function)
        return operation

    def __getitem__(self, name: str) -> Operation:
        operation = self.get(name)
        if operation is None:
            raise KeyError(name)
        return operation

    def __iter__(self) -> Iterator[str]:
        self._load_groups()
        return iter(list(self._where))

    def __len__(self) -> int:
        self._load_groups()
        return len(self._where)

    def load_all(self) -> Iterator[str]:
        """Import every operation's module, one operation per step (a generator, so that an
        event loop can answer requests between the steps)."""
        for name in self:
            if name not in self._loaded:
                self.get(name)
                yield name

    def _load_groups(self) -> None:
        from dynamodbforge.protocol import validate

        while self._groups:
            group = importlib.import_module(self._groups.pop())
            validate.OPERATIONS.update(group.SHAPES)
            self._loaded.update(group.OPERATIONS)
            self._where.update((name, group.__name__) for name in group.OPERATIONS)


OPERATIONS = Operations(_WHERE, _GROUPS)

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
