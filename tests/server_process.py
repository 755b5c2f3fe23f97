"""Start a real ``ddbforge serve`` on a free loopback port, for tests and benchmarks."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    def __init__(self, data_dir: str | None, *extra: str, port: int | None = None) -> None:
        self.port = port or free_port()
        self.data_dir = data_dir
        self.extra = list(extra)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path: str | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> "ServerProcess":
        args = [sys.executable, "-m", "dynamodbforge", "serve", "--port", str(self.port), "--log-level", "warning"]
        if self.data_dir is None:
            args.append("--in-memory")
        else:
            args += ["--data-dir", self.data_dir]
        workers = os.environ.get("DDBFORGE_TEST_WORKERS")
        if workers and self.data_dir is not None and "--workers" not in self.extra:
            args += ["--workers", workers]
        args += self.extra
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode() if self.proc.stdout else ""
                raise RuntimeError(f"server exited with {self.proc.returncode}: {out}")
            try:
                with urllib.request.urlopen(self.endpoint + "/", timeout=0.5) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError("server did not become ready")

    def kill9(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
