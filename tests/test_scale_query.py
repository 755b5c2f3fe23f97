"""Bounded run of bench/scale_query.py: Query first-page latency does not depend on table size,
and a full Scan does not grow the server's memory with the table.

The default is 20,000 items (a few seconds); ``DDBFORGE_SCALE_ITEMS=1000000`` runs the full
measurement.  Skipped when the tests target an external endpoint (it starts its own server).
"""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))


@pytest.mark.skipif(bool(os.environ.get("DDBFORGE_ENDPOINT")), reason="starts its own server on a local data dir")
def test_query_first_page_and_scan_memory_do_not_grow_with_table():
    import scale_query

    items = int(os.environ.get("DDBFORGE_SCALE_ITEMS", "20000"))
    result = scale_query.run(items)
    assert result["scan_items"] == items
    small, large = result["query_first_page_ms_small"], result["query_first_page_ms_large"]
    # A range scan of one partition: the large table's first page costs about the same.
    assert large < small * 2 + 5, result
    # Pages are streamed: memory after the whole scan is not more than after its first pages
    # plus a small margin (no growth proportional to the table).
    assert result["rss_kb_at_end"] - result["rss_kb_after_first_10_pages"] < 20_000, result
    assert result["rss_kb_peak_during_scan"] - result["rss_kb_before_scan"] < 50_000, result
