"""The state an operation runs against: storage, catalog and server identity.

Operations are plain functions ``op(db, request) -> response``; they never touch the
network, so they run the same behind HTTP, in tests, or in a future replication
applier.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from dynamodbforge.catalog import Catalog
from dynamodbforge.storage.engine import Engine

ACCOUNT_ID = "000000000000"


@dataclass(slots=True)
class Database:
    engine: Engine
    region: str = "us-east-1"
    endpoint: str = "127.0.0.1:8000"  # what DescribeEndpoints reports
    clock: Callable[[], float] = time.time
    catalog: Catalog = field(init=False)

    def __post_init__(self) -> None:
        self.catalog = Catalog(self.engine)

    def now(self) -> float:
        """Current time as AWS reports timestamps: epoch seconds, whole milliseconds."""
        return round(self.clock(), 3)

    def table_arn(self, name: str) -> str:
        return f"arn:aws:dynamodb:{self.region}:{ACCOUNT_ID}:table/{name}"

    def close(self) -> None:
        self.engine.close()
