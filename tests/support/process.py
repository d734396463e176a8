"""Helpers for tests that run `newsletter` as a real child process."""

from __future__ import annotations

import signal


def interruptible() -> None:
    """`preexec_fn` that gives the child Python's Ctrl-C handling back.

    A test run started in the background by a shell without job control (a CI
    runner may do this) ignores SIGINT, children inherit that, and Python then
    installs no KeyboardInterrupt handler: a test that sends SIGINT would hang.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
