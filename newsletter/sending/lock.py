"""One send per project at a time, on every operating system."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from newsletter.errors import SendError
from newsletter.subscribers.store import utc_now

LOCK_NAME = ".newsletter-send.lock"
HOLDER_NAME = ".newsletter-send.holder"
PATIENCE = 2.0  # seconds a send waits for the lock before it refuses


@contextmanager
def send_lock(project_dir: Path) -> Iterator[None]:
    """Hold the project's send lock, or refuse naming who holds it.

    An operating-system lock (flock on Linux and macOS, LockFileEx on Windows,
    through filelock) is released when the process dies, so a crash or kill -9
    never leaves it stuck. Who holds it is written beside it, for the refusal.
    """
    lock = _lock(project_dir)
    try:
        # A moment's patience: `status` takes the lock for an instant to see whether
        # a send is running, and must never make a send refuse.
        lock.acquire(blocking=True, timeout=PATIENCE)
    except Timeout:
        raise SendError(
            f"another send is already running in this project ({_holder(project_dir)})",
            hint="wait for it to finish, or stop it with Ctrl-C; it can be resumed",
        ) from None
    try:
        (project_dir / HOLDER_NAME).write_text(
            f"pid {os.getpid()}, since {utc_now()}", encoding="utf-8"
        )
        yield
    finally:
        lock.release()


def send_running(project_dir: Path) -> bool:
    """Whether a send holds the project's lock now (its `sending` rows are in flight)."""
    lock = _lock(project_dir)
    try:
        lock.acquire()
    except Timeout:
        return True
    lock.release()
    return False


def _lock(project_dir: Path) -> FileLock:
    return FileLock(project_dir / LOCK_NAME, blocking=False, thread_local=False)


def _holder(project_dir: Path) -> str:
    try:
        return (project_dir / HOLDER_NAME).read_text(encoding="utf-8").strip() or "another process"
    except OSError:
        return "another process"
