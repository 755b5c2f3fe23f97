"""Acknowledged writes survive kill -9; tables and items survive restarts."""
from __future__ import annotations

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
