"""Every feature's key prefix in the one ordered key space is distinct and prefix-free."""
from __future__ import annotations

import itertools

from dynamodbforge import catalog, insights
from dynamodbforge.backups import common as backups
from dynamodbforge.ops import tags, transactions
from dynamodbforge.streams import mappings, metadata
from dynamodbforge.ttl import state as ttl

PREFIXES = {
    "table metadata": catalog.TABLE_PREFIX,
    "table uid counter": catalog.UID_COUNTER,
    "table statistics": catalog.STATS_PREFIX,
    "items": catalog.ITEM_PREFIX,
    "index entries": catalog.INDEX_PREFIX,
    "index statistics": catalog.INDEX_STATS_PREFIX,
    "item collections": catalog.COLLECTION_PREFIX,
    "index jobs": catalog.JOB_PREFIX,
    "contributor insights": insights.CONFIG_PREFIX,
    "tags": tags.TAGS_PREFIX,
    "transaction tokens": transactions.TOKEN_PREFIX,
    "stream metadata": metadata.STREAM_PREFIX,
    "event source mappings": mappings.MAPPING_PREFIX,
    "trigger checkpoints": mappings.CHECKPOINT_PREFIX,
    "ttl": ttl._BASE,
    "backups": backups._BASE,
}


def test_prefixes_are_prefix_free():
    for (a, pa), (b, pb) in itertools.combinations(PREFIXES.items(), 2):
        assert not pa.startswith(pb) and not pb.startswith(pa), (a, b)
