"""Benchmark DynamoDBForge side by side with its peers, on one harness.

    python -m bench.run                       # 100,000 items, all systems, ~10 s per measurement
    python -m bench.run --quick --out DIR     # CI smoke run: 1,000 items, 1 s, DynamoDBForge + floor + null server
    python -m bench.run --items 1000000 --systems ddbforge   # the 1M-item targets (manual, slow)
    python -m bench.run --wire                # also each one-connection run's latency on the wire (root, tcpdump)

For every system: start it as a subprocess on a free port (time to first successful
request = start-up), create table ``bench`` (hash pk S, range sk N), preload N items of
~200 bytes with BatchWriteItem, then for each operation run wrk twice: 32 connections
for throughput, 1 connection for p50/p99/p99.9 latency (bench/lua/*.lua). wrk corrects
its latency percentiles for coordinated omission (wrk 4.1 ``stats_correct``: an answer slower
than twice the mean cycle adds made-up samples below it); at one connection the Lua script
also times each request as it took (``request_latency_us``), shown beside them. Peak RSS of the
server's process tree is sampled every 100 ms; the data directory is measured after
preload. Server and wrk are pinned to different cores with taskset where possible.
Two reference servers frame the figures: the null server (bench/nullserver.py, a fixed
reply: the harness's ceiling) and the floor server (bench/floorserver.py: the benchmark's
requests stored durably the way DynamoDBForge stores them, with nothing of DynamoDB: the
least a Python server on this storage spends).
For the table-size target, DynamoDBForge's Query p50 at one connection on a small table
(--query-scale-items) and on the measured one are taken in alternating rounds, both
servers running, and their medians compared.
Results: <out>/latest.json and <out>/latest.md (default bench/results/).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if __package__ in (None, ""):  # `python bench/run.py`
    sys.path.insert(0, str(ROOT))
from bench import wire  # noqa: E402
from bench.preload import Client, DynamoError, create_table, item, preload  # noqa: E402

OPS = ["GetItem", "PutItem", "UpdateItem", "Query", "BatchWriteItem"]
LUA = {"GetItem": "get_item.lua", "PutItem": "put_item.lua", "UpdateItem": "update_item.lua",
       "Query": "query.lua", "BatchWriteItem": "batch_write_item.lua"}
PEERS = BENCH / ".peers"
DYNALITE = PEERS / "node_modules" / "dynalite" / "cli.js"
TABLE = "bench"
NOISY = 0.15  # cores used by other processes during a measurement above which it is flagged


@dataclass
class System:
    name: str
    label: str
    argv: Callable[[int, str], list[str]]  # (port, data_dir) -> command line
    workers: int = 1
    on_disk: bool = True
    preload: bool = True  # False: the null server (no table, fixed reply)
    max_items: int | None = None  # cap on preloaded items (moto is too slow for more)
    notes: list[str] = field(default_factory=list)


def ddbforge_argv(workers: int) -> Callable[[int, str], list[str]]:
    def argv(port: int, data: str) -> list[str]:
        return [sys.executable, "-m", "dynamodbforge", "serve", "--port", str(port), "--data-dir", data,
                "--log-level", "warning", "--workers", str(workers)]
    return argv


def systems(args: argparse.Namespace) -> dict[str, System]:
    return {
        "ddbforge": System("ddbforge", "DynamoDBForge", ddbforge_argv(1)),
        "ddbforge-w2": System("ddbforge-w2", "DynamoDBForge --workers 2", ddbforge_argv(2), workers=2),
        "dynalite": System("dynalite", "dynalite (on disk)", lambda p, d: [
            "node", str(DYNALITE), "--port", str(p), "--path", d,
            "--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0"]),
        "moto": System("moto", "moto server", lambda p, d: [sys.executable, "-m", "moto.server", "-p", str(p)],
                       on_disk=False, max_items=args.moto_items),
        "floor": System("floor", "floor server (Python + SQLite, no DynamoDB)", lambda p, d: [
            sys.executable, str(BENCH / "floorserver.py"), "--port", str(p), "--data-dir", d]),
        "null": System("null", "null server (harness ceiling)",
                       lambda p, d: [sys.executable, str(BENCH / "nullserver.py"), "--port", str(p)],
                       on_disk=False, preload=False),
    }


# ---------------------------------------------------------------- processes and measurements

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def ensure_dynalite() -> str | None:
    """Install dynalite into bench/.peers with npm when missing; returns why it is unavailable."""
    if DYNALITE.exists():
        return None
    if not shutil.which("npm") or not shutil.which("node"):
        return "node/npm not installed"
    PEERS.mkdir(exist_ok=True)
    if not (PEERS / "package.json").exists():
        (PEERS / "package.json").write_text('{"name": "ddbforge-bench-peers", "private": true}\n')
    log("installing dynalite into bench/.peers (npm) ...")
    proc = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "dynalite@4"], cwd=PEERS,
                          capture_output=True, text=True)
    return None if DYNALITE.exists() else f"npm install dynalite failed: {proc.stderr[-300:]}"


def unavailable(system: System) -> str | None:
    if system.name == "dynalite":
        return ensure_dynalite()
    if system.name == "moto":
        try:
            import flask  # noqa: F401
            import moto.server  # noqa: F401
        except ImportError:
            return "moto not installed (pip install 'moto[server]')"
    return None


def process_tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return pids


def tree_rss_bytes(pid: int) -> int:
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            pass
    return total


class RssSampler(threading.Thread):
    """Peak summed RSS of a process tree, sampled every 100 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stopped = pid, 0, threading.Event()

    def sample(self) -> None:
        self.peak = max(self.peak, tree_rss_bytes(self.pid))

    def run(self) -> None:
        while not self.stopped.wait(0.1):
            self.sample()


def tree_cpu_seconds(pid: int) -> float:
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait


def own_cpu_seconds() -> float:
    return sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for f in ("ru_utime", "ru_stime"))


def dir_size(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def taskset(cpus: str | None) -> list[str]:
    return ["taskset", "-c", cpus] if cpus and shutil.which("taskset") else []


class Server:
    def __init__(self, system: System, workdir: Path, cpus: str | None) -> None:
        self.system, self.port = system, free_port()
        self.data = str(workdir / system.name)
        os.makedirs(self.data, exist_ok=True)
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"{system.name}.log"
        self.cmd = taskset(cpus) + system.argv(self.port, self.data)
        self.proc: subprocess.Popen[bytes] | None = None
        self.rss: RssSampler | None = None

    def start(self, timeout: float = 30.0) -> float:
        """Start the process; returns seconds until the first successful ListTables."""
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        with open(self.log_path, "wb") as out:
            t0 = time.perf_counter()
            self.proc = subprocess.Popen(self.cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True, cwd=ROOT)
        self.rss = RssSampler(self.proc.pid)
        self.rss.start()
        deadline = t0 + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.system.name} exited ({self.proc.returncode}): "
                                   f"{self.log_path.read_text(errors='replace')[-800:]}")
            try:
                Client(self.endpoint, timeout=2).call("ListTables", {})
                return time.perf_counter() - t0
            except (OSError, DynamoError):
                time.sleep(0.002)
        raise RuntimeError(f"{self.system.name} did not answer within {timeout} s")

    def stop(self) -> None:
        if self.rss:
            self.rss.stopped.set()
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def run_wrk(endpoint: str, op: str, keys: int, connections: int, seconds: float, cpus: str | None,
            server_pid: int | None = None, capture: wire.Capture | None = None) -> dict[str, Any]:
    """One wrk run. Also measures the CPU used by *other* processes on the machine meanwhile
    ("foreign_cores": average cores busy with anything but the server, wrk and this runner),
    so a run disturbed by a noisy neighbour is flagged instead of silently reported.
    With ``capture``, the run is also captured on the loopback interface ("wire_latency_us",
    see bench/wire.py).  At one connection the Lua script also times each request itself
    ("request_latency_us", uncorrected; wrk's own "latency_us" is corrected for coordinated
    omission: bench/lua/common.lua)."""
    cmd = taskset(cpus) + ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
                           "--latency", "-s", str(BENCH / "lua" / LUA[op]), endpoint + "/"]
    env = {**os.environ, "TABLE": TABLE, "KEYS": str(keys), "BENCH_LUA": str(BENCH / "lua"),
           "RUN_ID": f"{int(time.time() * 1000) % 10**9}{connections}",
           "PER_REQUEST": "1" if connections == 1 else "0"}
    t0, busy0, own0 = time.monotonic(), machine_busy_seconds(), own_cpu_seconds()
    srv0 = tree_cpu_seconds(server_pid) if server_pid else 0.0
    capturing = capture if capture is not None and capture.start() else None
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seen_on_wire = capturing.stop() if capturing is not None else None
    srv = (tree_cpu_seconds(server_pid) - srv0) if server_pid else 0.0
    foreign = machine_busy_seconds() - busy0 - (own_cpu_seconds() - own0) - srv
    foreign_cores = max(0.0, foreign / max(time.monotonic() - t0, 1e-9))
    for line in proc.stdout.splitlines():
        if line.startswith("BENCHJSON "):
            res: dict[str, Any] = json.loads(line[len("BENCHJSON "):])
            res["rps"] = res["requests"] / max(res["duration_us"] / 1e6, 1e-9)
            res["connections"] = connections
            res["foreign_cores"] = round(foreign_cores, 3)
            if seen_on_wire is not None:
                res["wire_latency_us"] = seen_on_wire
            # the Lua script's own per-request times, summarized as the wire's are
            res["request_latency_us"] = wire.summarize(res.pop("request_times_us", None) or [])
            return res
    raise RuntimeError(f"wrk printed no result (rc {proc.returncode}): {proc.stdout[-500:]} {proc.stderr[-500:]}")


def verify(endpoint: str, items: int) -> str:
    """Body-level spot check with an independent client: exact items back, 10 per partition."""
    client, rng = Client(endpoint), random.Random(7)
    for i in rng.sample(range(items), min(20, items)):
        got = client.call("GetItem", {"TableName": TABLE, "Key": {k: v for k, v in item(i).items() if k in ("pk", "sk")},
                                      "ConsistentRead": True}).get("Item")
        if got != item(i):
            return f"GetItem of item {i} returned {got!r}"
    for p in rng.sample(range(items // 10), min(5, items // 10)):
        out = client.call("Query", {"TableName": TABLE, "KeyConditionExpression": "pk = :p",
                                    "ExpressionAttributeValues": {":p": {"S": f"p{p}"}}})
        if out.get("Count") != 10 or [x["sk"]["N"] for x in out["Items"]] != [str(s) for s in range(10)]:
            return f"Query of partition p{p} returned {out.get('Count')} items"
    client.close()
    return "ok"


def measure(system: System, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    pin = not args.no_pin and (os.cpu_count() or 1) > system.workers
    server_cpus = f"1-{system.workers}" if pin and system.workers > 1 else ("1" if pin else None)
    client_cpus = "0" if pin else None
    items = min(args.items, system.max_items or args.items)
    res: dict[str, Any] = {"label": system.label, "items": items if system.preload else 0, "workers": system.workers,
                           "pinned": f"server cpu {server_cpus}, wrk cpu {client_cpus}" if pin
                           else "server and wrk not pinned (too few cores to separate them)",
                           "notes": list(system.notes), "ops": {}}
    if items < args.items and system.preload:
        res["notes"].append(f"preload capped at {items:,} items (--moto-items)")
    server = Server(system, workdir, server_cpus)
    log(f"[{system.name}] starting: {' '.join(server.cmd)}")
    try:
        res["startup_s"] = server.start()
        log(f"[{system.name}] first answer after {res['startup_s'] * 1000:.0f} ms")
        if system.preload:
            create_table(server.endpoint, TABLE)
            res["preload_s"] = preload(server.endpoint, items, TABLE, progress=not args.no_progress)
            assert server.rss is not None
            server.rss.sample()
            res["peak_rss_preload_bytes"] = server.rss.peak
            res["disk_bytes"] = dir_size(server.data) if system.on_disk else None
            res["verify"] = verify(server.endpoint, items)
            log(f"[{system.name}] preloaded {items:,} items in {res['preload_s']:.1f} s; verify: {res['verify']}")
        for op in OPS:
            keys = max(items, 10) if system.preload else 10
            pid = server.proc.pid if server.proc else None
            thr = run_wrk(server.endpoint, op, keys, args.connections, args.seconds, client_cpus, pid)
            capture = wire.Capture(server.port, str(workdir / f"{system.name}-{op}.pcap")) if args.wire else None
            lat = run_wrk(server.endpoint, op, keys, 1, args.seconds, client_cpus, pid, capture)
            res["ops"][op] = {"throughput": thr, "latency": lat}
            each = lat.get("request_latency_us")
            log(f"[{system.name}] {op:<15} {thr['rps']:>9,.0f} req/s @{args.connections}   "
                f"p50 {lat['latency_us']['p50'] / 1000:.2f} ms  p99 {lat['latency_us']['p99'] / 1000:.2f} ms  "
                f"p99.9 {lat['latency_us']['p99.9'] / 1000:.2f} ms @1"
                + (f" (per request: p99 {each['p99'] / 1000:.2f} ms)   " if each else "   ") +
                f"errors {errors_of(thr) + errors_of(lat)}   "
                f"other load {max(thr['foreign_cores'], lat['foreign_cores']):.2f} cores")
        if system.name == "ddbforge" and args.query_scale_items and system.preload:
            log(f"[{system.name}] Query p50 on a {args.query_scale_items:,}-item table against this one, "
                f"{args.query_scale_rounds} alternating rounds ...")
            scale = res["query_scale"] = query_scale(args, workdir, server, items)
            log(f"[{system.name}] Query p50 {scale['small_p50_us'] / 1000:.3f} ms ({scale['items']:,} items) vs "
                f"{scale['large_p50_us'] / 1000:.3f} ms ({items:,} items), medians")
        assert server.rss is not None
        server.rss.sample()
        res["peak_rss_bytes"] = server.rss.peak
    finally:
        server.stop()
    return res


def query_scale(args: argparse.Namespace, workdir: Path, large: Server, large_items: int) -> dict[str, Any]:
    """Query p50 at one connection on a small table against the measured (large) one.

    The two are measured in alternating rounds while both servers run (the idle one costs
    its core a few ms a second), and the target compares the medians: measured minutes
    apart, the two figures differed by up to 2x on this VM from drift alone."""
    system = systems(args)["ddbforge"]
    system.name = "ddbforge-small"
    pin = not args.no_pin and (os.cpu_count() or 1) > 1
    cpus = "0" if pin else None  # wrk's; both servers share the other core, as in measure()
    small = Server(system, workdir, "1" if pin else None)
    try:
        small.start()
        create_table(small.endpoint, TABLE)
        preload(small.endpoint, args.query_scale_items, TABLE, progress=not args.no_progress)
        assert small.proc is not None and large.proc is not None
        run_wrk(small.endpoint, "Query", args.query_scale_items, args.connections, args.seconds, cpus,
                small.proc.pid)  # warm-up
        seconds = max(1.0, args.seconds / 2)
        rounds = []
        for _ in range(args.query_scale_rounds):
            a = run_wrk(small.endpoint, "Query", args.query_scale_items, 1, seconds, cpus, small.proc.pid)
            b = run_wrk(large.endpoint, "Query", large_items, 1, seconds, cpus, large.proc.pid)
            rounds.append({"small_p50_us": a["latency_us"]["p50"], "large_p50_us": b["latency_us"]["p50"],
                           "errors": sum(r["non2xx"] + r["bad_body"] for r in (a, b))})  # as in main()
        return {"items": args.query_scale_items, "large_items": large_items, "seconds": seconds, "rounds": rounds,
                "small_p50_us": statistics.median(r["small_p50_us"] for r in rounds),
                "large_p50_us": statistics.median(r["large_p50_us"] for r in rounds)}
    finally:
        small.stop()


def errors_of(r: dict[str, Any]) -> int:
    return int(r["non2xx"] + r["bad_body"] + sum(r["socket_errors"].values()))


# ---------------------------------------------------------------- report

def machine() -> dict[str, Any]:
    def first(cmd: list[str]) -> str:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            return "n/a"
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    mem = next(int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal"))
    osr = next((ln.split("=", 1)[1].strip('"') for ln in Path("/etc/os-release").read_text().splitlines()
                if ln.startswith("PRETTY_NAME=")), platform.platform())
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem / 1024 / 1024), "os": osr,
            "python": platform.python_version(), "node": first(["node", "--version"]), "wrk": first(["wrk", "-v"])}


def targets(results: dict[str, Any], args: argparse.Namespace) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    systems_ = results["systems"]

    def add(name: str, met: bool | None, detail: str) -> None:
        out.append({"target": name, "met": met, "detail": detail})

    for key in ("ddbforge", "ddbforge-w2"):
        me = systems_.get(key)
        if not me or "error" in me:
            continue
        who = me["label"]
        peer = systems_.get("dynalite")
        if peer and "error" not in peer:
            for op in OPS:
                a, b = me["ops"][op]["throughput"]["rps"], peer["ops"][op]["throughput"]["rps"]
                add(f"{who}: {op} throughput >= 2x dynalite", a >= 2 * b, f"{a:,.0f} vs {b:,.0f} req/s ({a / b:.2f}x)")
        for op, limit in (("GetItem", 1.0), ("PutItem", 1.0), ("UpdateItem", 1.0), ("Query", 2.0)):
            p99 = me["ops"][op]["latency"]["latency_us"]["p99"] / 1000
            seen = me["ops"][op]["latency"].get("wire_latency_us")
            each = me["ops"][op]["latency"].get("request_latency_us")
            also = ([f"per request: {each['p99'] / 1000:.2f} ms"] if each else []) + (
                [f"on the wire: {seen['p99'] / 1000:.2f} ms"] if seen else [])
            add(f"{who}: {op} p99 @1 connection < {limit:g} ms", p99 < limit,
                f"{p99:.2f} ms" + (f" ({'; '.join(also)})" if also else ""))
        scale = me.get("query_scale")
        if scale:
            a, b = scale["small_p50_us"], scale["large_p50_us"]
            note = "" if me["items"] >= 1_000_000 else "; full target: --items 1000000"
            add(f"{who}: Query p50 within 20% between {scale['items']:,} and {me['items']:,} items",
                abs(b - a) <= 0.2 * a,
                f"{a / 1000:.3f} vs {b / 1000:.3f} ms (medians of {len(scale['rounds'])} alternating rounds{note})")
        rss = me["peak_rss_bytes"] / 2**20
        note = "" if me["items"] >= 1_000_000 else f" at {me['items']:,} items (full target: --items 1000000)"
        add(f"{who}: peak RSS < 150 MB preloading and serving", rss < 150, f"{rss:.0f} MB{note}")
        add(f"{who}: start-up to first answer < 0.3 s", me["startup_s"] < 0.3, f"{me['startup_s']:.3f} s")
    return out


def fmt_ms(us: float) -> str:
    return f"{us / 1000:.2f}"


def fmt_latency(lat: dict[str, Any]) -> str:
    """p50 / p99 / p99.9 in ms, of wrk's, the Lua script's or the wire's latencies."""
    return f"{fmt_ms(lat['p50'])} / {fmt_ms(lat['p99'])} / {fmt_ms(lat['p99.9'])}"


def markdown(results: dict[str, Any]) -> str:
    meta, systems_ = results["meta"], results["systems"]
    names = [n for n in systems_ if "error" not in systems_[n]]
    base = systems_.get("ddbforge") if "ddbforge" in names else None
    wired = any(systems_[n]["ops"][op]["latency"].get("wire_latency_us") for n in names for op in OPS)
    m = meta["machine"]
    lines = [
        f"Measured {meta['date']} on {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, {m['os']}; "
        f"Python {m['python']}, node {m['node']}, {m['wrk'].split(' Copyright')[0]}.",
        f"Command: `{meta['command']}` — {meta['items']:,} items of ~200 bytes, {meta['seconds']:g} s per "
        f"measurement; throughput with {meta['connections']} connections, latency (p50 / p99 / p99.9, ms) "
        "with 1 connection. (×) = ratio to DynamoDBForge (1 worker). *latency @1*: wrk's figures, which wrk "
        "corrects for coordinated omission (each answer slower than twice the mean cycle adds made-up "
        "samples below it), and which the targets are judged by; *per request*: the same requests as each "
        "took, timed by the Lua script (bench/lua/common.lua)."
        + (" *On the wire*: the same one-connection requests captured on the loopback interface with tcpdump, "
           "from each request's first packet to its answer's (bench/wire.py)." if wired else ""),
        "",
        "| operation | metric | " + " | ".join(systems_[n]["label"] for n in names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for op in OPS:
        row_t, row_l = [], []
        for n in names:
            thr, lat = systems_[n]["ops"][op]["throughput"], systems_[n]["ops"][op]["latency"]["latency_us"]
            cell = f"{thr['rps']:,.0f}"
            if base and n != "ddbforge":
                cell += f" ({thr['rps'] / base['ops'][op]['throughput']['rps']:.2f}×)"
            row_t.append(cell)
            row_l.append(fmt_latency(lat))
        lines.append(f"| {op} | req/s @{meta['connections']} | " + " | ".join(row_t) + " |")
        lines.append("|  | latency @1 | " + " | ".join(row_l) + " |")
        for label, field in (("latency @1 per request", "request_latency_us"), ("latency @1 on the wire", "wire_latency_us")):
            cells = [systems_[n]["ops"][op]["latency"].get(field) for n in names]
            if any(cells):
                lines.append(f"|  | {label} | " + " | ".join(fmt_latency(c) if c else "—" for c in cells) + " |")

    def row(label: str, f: Callable[[dict[str, Any]], str]) -> None:
        lines.append(f"| {label} |  | " + " | ".join(f(systems_[n]) for n in names) + " |")

    row("items preloaded", lambda s: f"{s['items']:,}" if s["items"] else "—")
    row("preload (items/s)", lambda s: f"{s['items'] / s['preload_s']:,.0f}" if s.get("preload_s") else "—")
    row("start-up to first answer", lambda s: f"{s['startup_s'] * 1000:.0f} ms")
    row("peak RSS (preload + serve)", lambda s: f"{s['peak_rss_bytes'] / 2**20:.0f} MB")
    row("on disk after preload", lambda s: f"{s['disk_bytes'] / 2**20:.1f} MB" if s.get("disk_bytes") else "— (memory)"
        if s["items"] else "—")
    row("non-2xx / bad bodies / socket errors", lambda s: " / ".join(str(sum(
        r[k] if k != "socket_errors" else sum(r[k].values()) for o in s["ops"].values() for r in o.values()))
        for k in ("non2xx", "bad_body", "socket_errors")))
    def foreign(s: dict[str, Any]) -> float:
        return max(r["foreign_cores"] for o in s["ops"].values() for r in o.values())

    row("other processes' CPU during runs (max)", lambda s: f"{foreign(s):.2f} cores")
    noisy = [systems_[n]["label"] for n in names if foreign(systems_[n]) > NOISY]
    notes = [f"{systems_[n]['label']}: {'; '.join(systems_[n]['notes'] + [systems_[n]['pinned']])}" for n in names]
    notes += [f"{s['label']}: not measured — {s['error'].strip().splitlines()[-1]}"
              for s in systems_.values() if "error" in s]
    lines += ["", "Notes: " + " · ".join(notes)]
    if noisy:
        lines += ["", f"**Warning: other processes used more than {NOISY:g} of a core during runs of "
                  f"{', '.join(noisy)}: those figures are disturbed; re-run on a quiet machine.**"]
    if results["targets"]:
        lines += ["", "| target | met | measured |", "|---|---|---|"]
        for t in results["targets"]:
            mark = {True: "yes", False: "**no**", None: "n/a"}[t["met"]]
            lines.append(f"| {t['target']} | {mark} | {t['detail']} |")
    return "\n".join(lines) + "\n"


def compile_package() -> None:
    """Byte-compile dynamodbforge first, as ``pip install`` does: start-up is measured for an
    installed server.  An editable install under PYTHONDONTWRITEBYTECODE=1 never writes
    __pycache__, and compiling every module at each start doubles the start-up time
    (measured here: ~0.6 s instead of ~0.3 s)."""
    import dynamodbforge

    subprocess.run([sys.executable, "-m", "compileall", "-q", os.path.dirname(dynamodbforge.__file__)],
                   check=False, stdout=subprocess.DEVNULL)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Benchmark DynamoDBForge against its peers (needs wrk).")
    ap.add_argument("--systems", default="ddbforge,ddbforge-w2,dynalite,moto,floor,null",
                    help="comma-separated: ddbforge, ddbforge-w2, dynalite, moto, floor, null")
    ap.add_argument("--items", type=int, default=100_000, help="items to preload (default 100,000)")
    ap.add_argument("--seconds", type=float, default=10, help="seconds per wrk measurement (default 10)")
    ap.add_argument("--connections", type=int, default=32, help="connections for throughput (default 32)")
    ap.add_argument("--moto-items", type=int, default=5_000,
                    help="cap on moto's preload: its Query scans the whole table (default 5,000)")
    ap.add_argument("--query-scale-items", type=int, default=10_000,
                    help="also measure DynamoDBForge Query p50 on a table this small (0: skip)")
    ap.add_argument("--query-scale-rounds", type=int, default=3,
                    help="alternating rounds of that comparison, each half --seconds per table (default 3)")
    ap.add_argument("--quick", action="store_true",
                    help="CI smoke run: 1,000 items, 1 s per measurement, DynamoDBForge + floor + null server")
    ap.add_argument("--out", default=str(BENCH / "results"), help="directory for latest.json / latest.md")
    ap.add_argument("--no-pin", action="store_true", help="do not pin server and wrk to cores")
    ap.add_argument("--no-progress", action="store_true", help="no preload progress bar")
    ap.add_argument("--wire", action="store_true",
                    help="also capture the one-connection runs with tcpdump (root; see bench/wire.py); "
                         "tcpdump then runs beside wrk and its CPU perturbs wrk's own figures")
    args = ap.parse_args(argv)
    if args.quick:
        args.items, args.seconds, args.query_scale_items, args.query_scale_rounds = 1000, 1, 200, 1
        if args.systems == ap.get_default("systems"):
            args.systems = "ddbforge,floor,null"
    if args.wire and not wire.available():
        log("--wire: tcpdump is not installed or this is not root; the one-connection runs are not captured")
    args.wire = args.wire and wire.available()
    if not shutil.which("wrk"):
        log("wrk is not installed (apt-get install wrk)")
        return 2
    known = systems(args)
    chosen = [s.strip() for s in args.systems.split(",") if s.strip()]
    if unknown := [s for s in chosen if s not in known]:
        ap.error(f"unknown systems: {unknown}")
    command = "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:])
    results: dict[str, Any] = {
        "meta": {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "machine": machine(), "command": command.strip(),
                 "items": args.items, "seconds": args.seconds, "connections": args.connections},
        "systems": {}, "targets": [],
    }
    if any(name.startswith("ddbforge") for name in chosen):
        compile_package()
    with tempfile.TemporaryDirectory(prefix="ddbforge-bench-") as tmp:
        for name in chosen:
            system = known[name]
            why = unavailable(system)
            try:
                if why:
                    raise RuntimeError(why)
                results["systems"][name] = measure(system, args, Path(tmp))
            except Exception as exc:  # noqa: BLE001 - one system failing must not lose the others
                log(f"[{name}] FAILED: {exc}")
                results["systems"][name] = {"label": system.label, "error": str(exc)}
    results["targets"] = targets(results, args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    md = markdown(results)
    (out / "latest.md").write_text(md)
    print(md)
    bad = [n for n, s in results["systems"].items() if "error" in s or any(
        r["non2xx"] or r["bad_body"] for o in s["ops"].values() for r in o.values()) or any(
        r["errors"] for r in s.get("query_scale", {}).get("rounds", []))]
    if bad:
        log(f"errors in: {', '.join(bad)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
