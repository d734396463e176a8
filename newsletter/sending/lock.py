"""One send per project at a time."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from newsletter.errors import SendError
from newsletter.subscribers.store import utc_now

LOCK_NAME = ".newsletter-send.lock"


@contextmanager
def send_lock(project_dir: Path) -> Iterator[None]:
    """One send per project at a time. flock is released by the kernel when the
    process dies, so a crash (even kill -9) never leaves it stuck."""
    path = project_dir / LOCK_NAME
    handle = path.open("a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise SendError(
                f"another send is already running in this project ({holder})",
                hint="wait for it to finish, or stop it with Ctrl-C; it can be resumed",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, since {utc_now()}")
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock
