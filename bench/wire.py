"""Latency at one connection as it went over the loopback interface, beside wrk's own figure.

wrk's percentiles are corrected for coordinated omission (wrk 4.1, ``stats_correct``: an
answer slower than twice the mean cycle adds made-up samples below it), so at one connection
a few long stalls raise wrk's p99 far above what 99 % of the requests took (README, *wrk's
latency at one connection*).  With ``--wire`` the runner also captures each one-connection
run with ``tcpdump`` (root and tcpdump installed) and reports the time from each request's
packet to its answer's first packet: what each request took, uncorrected.  Off by default:
tcpdump's own CPU, beside wrk, perturbs wrk's figures (GetItem p99 at one connection was
1.11 ms in a full run with it, 0.40-0.56 ms in runs without).

Both are kept: wrk's figure is what the targets are judged by; the wire figure shows how
much of it is the requests' own time.  On one connection requests are strictly sequential, so the
pairing is exact: a request starts with the first client packet carrying data after an
answer, its answer with the first server packet carrying data after it.  tcpdump may miss
a run's first moments (up to a third of a 1 s run's requests, before this waited), so the wire
figures are of most, not all, of wrk's requests.
"""
from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import time
from typing import Any

_PACKET = re.compile(r"^(\d+\.\d+) IP [\d.]+\.(\d+) > [\d.]+\.(\d+): .* length (\d+)")


def available() -> bool:
    """tcpdump is installed and may capture (it needs root or CAP_NET_RAW; root is checked)."""
    return shutil.which("tcpdump") is not None and hasattr(os, "geteuid") and os.geteuid() == 0


class Capture:
    """``tcpdump`` of one TCP port on the loopback interface, into ``path``."""

    def __init__(self, port: int, path: str) -> None:
        self.port, self.path = port, path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 5.0) -> bool:
        """Start capturing; True once tcpdump says it listens."""
        self.proc = subprocess.Popen(
            ["tcpdump", "-i", "lo", "-n", "-s", "128", "-U", "-w", self.path, "tcp", "port", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert self.proc.stderr is not None
        ready, _, _ = select.select([self.proc.stderr], [], [], timeout)
        if ready and b"listening" in self.proc.stderr.readline():
            time.sleep(1.0)  # it says so before packets reach it (measured: up to 0.3 s of them lost)
            return True
        self.stop()
        return False

    def stop(self) -> dict[str, Any] | None:
        """Stop capturing; the request-to-answer latencies seen, or None without a capture."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            time.sleep(0.5)  # let it read what the kernel still holds for it: SIGINT drops that
            self.proc.send_signal(signal.SIGINT)  # tcpdump flushes its file and exits
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if not os.path.exists(self.path):
            return None
        text = subprocess.run(["tcpdump", "-r", self.path, "-n", "-tt"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True).stdout
        os.unlink(self.path)
        return summarize(latencies_us(text.splitlines(), self.port))


def latencies_us(lines: list[str], server_port: int) -> list[float]:
    """Request-to-answer times (µs) per client connection, from ``tcpdump -n -tt`` lines."""
    waiting: dict[str, float] = {}  # client port -> time of its unanswered request's first packet
    out: list[float] = []
    for line in lines:
        m = _PACKET.match(line)
        if m is None or m.group(4) == "0":
            continue  # not a TCP packet line, or one without data (SYN, ACK, FIN)
        at, src, dst = float(m.group(1)), m.group(2), m.group(3)
        if int(dst) == server_port:
            waiting.setdefault(src, at)  # later packets of the same request keep its start
        elif int(src) == server_port and dst in waiting:
            out.append((at - waiting.pop(dst)) * 1e6)
    return out


def summarize(latencies: list[float]) -> dict[str, Any] | None:
    """Count, percentiles and maximum of latencies in µs (None for none): the wire's, and the
    Lua script's per-request times (bench/run.py)."""
    if not latencies:
        return None
    xs = sorted(latencies)

    def pct(p: float) -> float:
        return round(xs[min(len(xs) - 1, int(len(xs) * p / 100))], 1)

    return {"requests": len(xs), "p50": pct(50), "p90": pct(90), "p99": pct(99), "p99.9": pct(99.9),
            "max": round(xs[-1], 1)}
