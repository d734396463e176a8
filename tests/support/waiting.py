"""Waiting for something another process or thread does, in a bounded loop."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float = 30.0, what: str = "it") -> T:
    """Poll `condition` every 20 ms until it is truthy and return its value; fail the
    test after `timeout` seconds, naming `what` it waited for."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
    return value
