"""A bound in time for tests of inputs that once hung (not a speed target: those go in bench/)."""

from __future__ import annotations

import signal
from contextlib import contextmanager


@contextmanager
def no_hang(seconds: int = 20):
    """Fail with AssertionError instead of hanging when the body runs longer than `seconds` (SIGALRM, main thread)."""
    def expired(*_):
        raise AssertionError(f"still running after {seconds} s")
    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
