"""The processes one part of the run starts (the control plane, the real node): each in its own process group
with its output in `<logs>/<name>.log`, waited for while checking none has died, and stopped with SIGTERM then
SIGKILL, so a failed run leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path


class Processes:
    def __init__(self, logs: Path):
        self.logs = logs
        self.items: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: list[str]) -> subprocess.Popen:
        self.logs.mkdir(parents=True, exist_ok=True)
        out = open(self.logs / f"{name}.log", "wb")
        # Own process group, so stop() can end the process and anything it started.
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.items.append((name, p))
        return p

    def wait(self, what: str, ok, timeout: float = 120) -> None:
        """Until `ok()` is true (its exceptions count as not yet); fails at once when a process has exited."""
        end = time.time() + timeout
        while time.time() < end:
            for name, p in self.items:
                if p.poll() is not None:
                    raise RuntimeError(f"{name} exited ({p.returncode}); see {self.logs}/{name}.log")
            try:
                if ok():
                    return
            except Exception:  # noqa: BLE001 - not up yet
                pass
            time.sleep(0.5)
        raise TimeoutError(f"{what} not ready after {timeout:.0f} s")

    def stop(self, names: list[str] | None = None, timeout: float = 15) -> None:
        """SIGTERM to the named processes (default: all, the last started first), SIGKILL to those still running
        after `timeout` s; they are forgotten."""
        chosen = [(n, p) for n, p in reversed(self.items) if names is None or n in names]
        for _, p in chosen:
            signal_group(p, signal.SIGTERM)
        deadline = time.time() + timeout
        for _, p in chosen:
            terminate(p, max(0.1, deadline - time.time()), signal_first=False)
        self.items = [(n, p) for n, p in self.items if (n, p) not in chosen]


def signal_group(p: subprocess.Popen, sig: int) -> None:
    if p.poll() is None:
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass


def terminate(p: subprocess.Popen, timeout: float, signal_first: bool = True) -> None:
    """SIGTERM to the process group (unless already sent), SIGKILL when it has not exited after `timeout` s (at
    once with 0)."""
    if signal_first:
        signal_group(p, signal.SIGTERM if timeout else signal.SIGKILL)
    try:
        p.wait(timeout=timeout or 0.1)
    except subprocess.TimeoutExpired:
        signal_group(p, signal.SIGKILL)
        p.wait()
