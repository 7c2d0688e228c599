"""Small helpers every kind of test uses: a free TCP port, and polling a condition with a timeout."""

from __future__ import annotations

import socket
import time
from typing import Callable

__all__ = ["free_port", "wait_until"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for servers that cannot take port 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate`` every ``interval`` seconds until it is true or ``timeout`` seconds pass.

    Returns:
        Whether it became true (checked once more at the deadline).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
