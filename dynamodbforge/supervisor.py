"""Helper processes of the server (the trigger runner, the WAL checkpointer): started a
moment after the server, restarted if they die, stopped with it."""
from __future__ import annotations

import logging
import subprocess
import threading
import time

log = logging.getLogger("dynamodbforge")


class ProcessSupervisor:
    """Keeps one helper process alive while the server runs."""

    def __init__(self, command: list[str], name: str, start_delay: float) -> None:
        self._command = command
        self._name = name
        self._start_delay = start_delay
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # stop() never misses a process being started
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> "ProcessSupervisor":
        self._thread.start()
        return self

    def _loop(self) -> None:
        # Start a moment after the server so the helper's own start-up (another Python
        # process) does not compete with the server's for the CPU.
        if self._stopping.wait(self._start_delay):
            return
        delay = 0.5
        while True:
            with self._lock:
                if self._stopping.is_set():
                    return
                started = time.monotonic()
                self._proc = proc = subprocess.Popen(self._command, stdin=subprocess.DEVNULL)
            code = proc.wait()
            if self._stopping.is_set():
                return
            delay = 0.5 if time.monotonic() - started > 30 else min(delay * 2, 10.0)
            log.warning("%s exited with %s; restarting in %.1fs", self._name, code, delay)
            self._stopping.wait(delay)

    def stop(self) -> None:
        with self._lock:
            self._stopping.set()
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
