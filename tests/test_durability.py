"""Acknowledged writes survive kill -9; tables and items survive restarts."""
from __future__ import annotations

import time

import pytest

from conftest import create_table, make_client
from server_process import ServerProcess


@pytest.mark.parametrize("sync", ["normal", "off", "full"])
def test_acknowledged_writes_survive_kill_9(tmp_path, sync):
    server = ServerProcess(str(tmp_path), "--sync", sync).start()
    try:
        client = make_client(server.endpoint)
        create_table(client, "durable", range_key=("sk", "N"))
        for i in range(200):
            client.put_item(TableName="durable", Item={"pk": {"S": "p"}, "sk": {"N": str(i)}, "v": {"S": f"v{i}"}})
        client.update_item(TableName="durable", Key={"pk": {"S": "p"}, "sk": {"N": "7"}},
                           UpdateExpression="SET v = :x", ExpressionAttributeValues={":x": {"S": "changed"}})
        client.delete_item(TableName="durable", Key={"pk": {"S": "p"}, "sk": {"N": "8"}})
        server.kill9()
        server = ServerProcess(str(tmp_path), "--sync", sync, port=server.port).start()
        client = make_client(server.endpoint)
        table = client.describe_table(TableName="durable")["Table"]
        assert table["ItemCount"] == 199
        for i in range(200):
            resp = client.get_item(TableName="durable", Key={"pk": {"S": "p"}, "sk": {"N": str(i)}})
            if i == 8:
                assert "Item" not in resp
            else:
                assert resp["Item"]["v"] == {"S": "changed" if i == 7 else f"v{i}"}
    finally:
        server.stop()


def test_in_memory_mode_keeps_nothing(tmp_path):
    server = ServerProcess(None).start()
    try:
        client = make_client(server.endpoint)
        create_table(client, "ephemeral")
        server.stop()
        server = ServerProcess(None, port=server.port).start()
        assert make_client(server.endpoint).list_tables()["TableNames"] == []
    finally:
        server.stop()


def _size(pk: str, v: str) -> int:
    """DynamoDB's size of {"pk": {"S": pk}, "v": {"S": v}}: names plus string bytes."""
    return len("pk") + len(pk) + len("v") + len(v)


def test_table_statistics_are_exact_across_folds_restarts_and_a_recreated_table(tmp_path):
    """Writes leave the statistics row alone: their change records carry the size change and
    the maintenance task folds them in every second.  ItemCount and TableSizeBytes are exact
    before a fold, after one, after kill -9, and a table recreated under the same name
    starts from nothing even while its predecessor's records are not folded yet."""
    server = ServerProcess(str(tmp_path)).start()
    try:
        client = make_client(server.endpoint)
        create_table(client, "stats")
        values = {f"p{i}": "x" * i for i in range(30)}
        for pk, v in values.items():
            client.put_item(TableName="stats", Item={"pk": {"S": pk}, "v": {"S": v}})
        for i in range(5):  # five updates: each value becomes 100 bytes
            values[f"p{i}"] = "y" * 100
            client.update_item(TableName="stats", Key={"pk": {"S": f"p{i}"}}, UpdateExpression="SET v = :v",
                               ExpressionAttributeValues={":v": {"S": "y" * 100}})
        for i in (10, 11, 12):
            del values[f"p{i}"]
            client.delete_item(TableName="stats", Key={"pk": {"S": f"p{i}"}})
        client.put_item(TableName="stats", Item={"pk": {"S": "p20"}, "v": {"S": "x" * 20}})  # no change
        expected = (27, sum(_size(pk, v) for pk, v in values.items()))

        def stats() -> tuple[int, int]:
            table = client.describe_table(TableName="stats")["Table"]
            return table["ItemCount"], table["TableSizeBytes"]

        assert stats() == expected  # change records not folded yet
        time.sleep(2.5)  # the maintenance task has folded them
        assert stats() == expected
        server.kill9()
        server = ServerProcess(str(tmp_path), port=server.port).start()
        client = make_client(server.endpoint)
        assert stats() == expected
        client.put_item(TableName="stats", Item={"pk": {"S": "new"}, "v": {"S": "abc"}})
        assert stats() == (28, expected[1] + _size("new", "abc"))
        client.delete_table(TableName="stats")
        create_table(client, "stats")
        assert stats() == (0, 0)
        client.put_item(TableName="stats", Item={"pk": {"S": "a"}, "v": {"S": "b"}})
        assert stats() == (1, _size("a", "b"))
    finally:
        server.stop()
