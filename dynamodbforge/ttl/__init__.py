"""Time to Live: per-table expiry attribute, background deletion of expired items.

* ``ttl/state.py``    settings and sweep progress kept in the storage engine; the expiry rule
* ``ttl/sweeper.py``  the sans-IO ``sweep_step`` and the asyncio task that runs it
* ``ops/ttl.py``      UpdateTimeToLive / DescribeTimeToLive
"""
