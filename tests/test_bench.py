"""The benchmark tool works: ``python -m bench.run --quick`` runs every operation against
DynamoDBForge, the floor server and the null server with zero non-2xx responses and writes its results.
Nothing about speed is asserted."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import create_table, make_client
from server_process import ServerProcess

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import wire  # noqa: E402 - the repository's bench/, not an installed package

OPS = ["GetItem", "PutItem", "UpdateItem", "Query", "BatchWriteItem"]


def _ensure_wrk() -> bool:
    """The load generator is Debian's wrk: install it when missing and we may (CI runs as root)."""
    if shutil.which("wrk"):
        return True
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=300)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, capture_output=True, timeout=300)
    return shutil.which("wrk") is not None


def _wrk_lua_has_ffi(tmp_path: Path) -> bool:
    """Whether wrk's Lua is LuaJIT with its ffi, which the per-request timing needs
    (bench/lua/common.lua; Debian's and upstream's wrk both are).  The probe script runs
    when wrk loads it, whether or not anything answers on the port."""
    probe = tmp_path / "probe.lua"
    probe.write_text('io.write(pcall(require, "ffi") and "FFI\\n" or "NOFFI\\n")\n')
    out = subprocess.run(["wrk", "-t1", "-c1", "-d1s", "-s", str(probe), "http://127.0.0.1:9/"],
                         capture_output=True, text=True, timeout=30).stdout
    return "FFI" in out.split()


def test_quick_benchmark_runs_every_operation_without_errors(tmp_path: Path) -> None:
    if not _ensure_wrk():
        pytest.skip("wrk is not installed and cannot be installed here (apt-get install wrk)")
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--no-progress", "--wire", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    results = json.loads((tmp_path / "latest.json").read_text())
    md = (tmp_path / "latest.md").read_text()
    assert set(results["systems"]) == {"ddbforge", "floor", "null"}
    forge = results["systems"]["ddbforge"]
    assert forge["items"] == 1000 and forge["verify"] == "ok"
    assert results["systems"]["floor"]["verify"] == "ok"  # the floor server stores what it is sent
    if wire.available():  # each one-connection run was also captured on the loopback interface
        for op in OPS:
            seen = forge["ops"][op]["latency"]["wire_latency_us"]
            # tcpdump can miss a run's first moments: most of wrk's requests, never more
            assert 0.5 * forge["ops"][op]["latency"]["requests"] <= seen["requests"] <= forge["ops"][op]["latency"]["requests"] + 1, op
            assert 0 < seen["p50"] <= seen["p99"] <= seen["max"], op
        assert "on the wire" in md
    timed = _wrk_lua_has_ffi(tmp_path)
    for op in OPS:  # at one connection the Lua script timed every request itself (uncorrected)
        run = forge["ops"][op]["latency"]
        each = run["request_latency_us"]
        if not timed:  # a wrk without LuaJIT's ffi: no per-request figures, and nothing else lost
            assert each is None, op
            continue
        assert run["requests"] <= each["requests"] <= run["requests"] + 1, op
        assert 0 < each["p50"] <= each["p99"] <= each["p99.9"] <= each["max"], op
        # it holds wrk's own interval for each request, and wrk adds made-up samples only above
        # twice the mean cycle, so the two medians agree to within a few microseconds
        assert abs(each["p50"] - run["latency_us"]["p50"]) <= 0.25 * run["latency_us"]["p50"] + 50, op
    assert forge["ops"]["GetItem"]["throughput"]["request_latency_us"] is None  # 32 connections: not timed
    assert ("latency @1 per request" in md) == timed
    assert forge["startup_s"] > 0 and forge["peak_rss_bytes"] > 0 and forge["disk_bytes"] > 0
    for name, system in results["systems"].items():
        assert "error" not in system, system
        for op in OPS:
            for kind in ("throughput", "latency"):
                run = system["ops"][op][kind]
                assert run["requests"] > 0, (name, op, kind)
                assert run["checked"] == run["requests"] - run["non2xx"], (name, op, kind)
                assert run["non2xx"] == 0 and run["bad_body"] == 0, (name, op, kind, run["first_bad"])
        assert all(op in md for op in OPS)
    # the table-size comparison: a small table and the measured one, Query p50 in alternating rounds
    scale = forge["query_scale"]
    assert scale["items"] == 200 and scale["large_items"] == 1000 and len(scale["rounds"]) == 1
    assert scale["rounds"][0]["errors"] == 0
    assert scale["small_p50_us"] == scale["rounds"][0]["small_p50_us"] > 0
    assert scale["large_p50_us"] == scale["rounds"][0]["large_p50_us"] > 0
    target = next(t for t in results["targets"] if "Query p50 within 20%" in t["target"])
    assert "between 200 and 1,000 items" in target["target"] and "medians of 1 alternating rounds" in target["detail"]


def test_stall_finder_reports_percentiles_and_slow_answers(tmp_path: Path) -> None:
    """``python -m bench.stalls`` writes new items one request at a time and lists slow answers."""
    server = ServerProcess(str(tmp_path / "data")).start()
    try:
        client = make_client(server.endpoint)
        create_table(client, "bench", range_key=("sk", "N"))
        proc = subprocess.run(
            [sys.executable, "-m", "bench.stalls", "--endpoint", server.endpoint, "--seconds", "1",
             "--threshold", "0"],  # every answer is "slow": the listing is exercised
            cwd=ROOT, capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        first, second = proc.stdout.splitlines()[:2]
        assert first.startswith("PutItem: ") and " p99 " in first and " max " in first
        written = int(first.split()[1].replace(",", ""))
        assert written > 0 and second.startswith(f"{written} answers slower than 0 ms")
        assert client.scan(TableName="bench", Select="COUNT")["Count"] == written
    finally:
        server.stop()


def test_inprocess_profiler_times_puts_that_really_land(tmp_path: Path) -> None:
    """``python -m bench.inprocess`` (a profiling aid) reports CPU per PutItem, and the puts it
    times are written: on disk, the database file then holds them."""
    import sqlite3

    proc = subprocess.run(
        [sys.executable, "-m", "bench.inprocess", "--data-dir", str(tmp_path), "--rounds", "2", "--puts", "150"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    line = proc.stdout.strip().splitlines()[-1]
    assert line.startswith("µs of CPU per PutItem, by round: ") and "(best " in line
    rounds = line.split(": ")[1].split(" (best")[0].split()
    assert len(rounds) == 2 and all(float(r) > 0 for r in rounds)
    (db_file,) = tmp_path.glob("*.sqlite3")
    conn = sqlite3.connect(db_file)
    try:  # 300 item rows (keys under the item prefix, b"\x01") and their change records
        assert conn.execute("SELECT count(*) FROM kv WHERE k >= x'01' AND k < x'02'").fetchone()[0] == 300
        assert conn.execute("SELECT count(*) FROM changelog WHERE tbl = 'bench'").fetchone()[0] == 300
    finally:
        conn.close()


def test_wire_latencies_pair_each_request_with_its_answer() -> None:
    """bench/wire.py: per connection, a request's first data packet to its answer's first."""
    lines = [
        "100.000000 IP 127.0.0.1.5000 > 127.0.0.1.8000: Flags [S], seq 1, length 0",
        "100.001000 IP 127.0.0.1.5000 > 127.0.0.1.8000: Flags [P.], seq 1:600, length 600",
        "100.001100 IP 127.0.0.1.5000 > 127.0.0.1.8000: Flags [P.], seq 600:900, length 300",  # same request
        "100.001500 IP 127.0.0.1.8000 > 127.0.0.1.5000: Flags [P.], seq 1:233, length 232",
        "100.001600 IP 127.0.0.1.8000 > 127.0.0.1.5000: Flags [P.], seq 233:300, length 67",  # same answer
        "100.002000 IP 127.0.0.1.5000 > 127.0.0.1.8000: Flags [.], ack 300, length 0",
        "100.003000 IP 127.0.0.1.5000 > 127.0.0.1.8000: Flags [P.], seq 900:1500, length 600",
        "100.003000 IP 127.0.0.1.6000 > 127.0.0.1.8000: Flags [P.], seq 1:600, length 600",
        "100.005000 IP 127.0.0.1.8000 > 127.0.0.1.6000: Flags [P.], seq 1:233, length 232",
        "100.007000 IP 127.0.0.1.8000 > 127.0.0.1.5000: Flags [P.], seq 300:533, length 232",
    ]
    got = [round(x) for x in wire.latencies_us(lines, 8000)]
    assert got == [500, 2000, 4000]
    assert wire.summarize([500.0, 2000.0, 4000.0]) == {
        "requests": 3, "p50": 2000.0, "p90": 4000.0, "p99": 4000.0, "p99.9": 4000.0, "max": 4000.0}
    assert wire.summarize([]) is None
