"""A real `newsletter send` stopped by SIGTERM, or by the disk under it.

SIGTERM (systemd, cron, a shutdown) must stop a send as gracefully as Ctrl-C;
a full disk or a read-only file must be one `error:` line, also when it hits a
worker thread, and leave nothing sent twice.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from newsletter.db.connection import connect_database
from newsletter.history.opening import connect_journal
from newsletter.project import open_project
from newsletter.sending.ledger import Ledger
from newsletter.subscribers.store import Store

from support.process import interruptible
from support.render import fill_in
from support.smtp import add_subscribers, configure_smtp
from support.waiting import wait_for

SLUG = "2026-12"


def start_send(project: Path, *extra: str, preexec=interruptible) -> subprocess.Popen:  # noqa: ANN001
    return subprocess.Popen(
        [sys.executable, "-m", "newsletter", "send", SLUG, "--yes", "--project", str(project), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=preexec,
    )  # fmt: skip


def uncertain(project: Path) -> list[str]:
    with open_project(project) as (_config, store):
        return Ledger(store).uncertain(SLUG, limit=1000)


def finish_send(project: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newsletter", "send", SLUG, "--yes", "--rate", "0",
         "--project", str(project)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_a_second_sigterm_still_leaves_a_summary(project, store, issue, smtp_server):
    add_subscribers(store, 40)
    smtp_server.handler.delay = 2.0  # every message is in flight for two seconds
    configure_smtp(project, smtp_server, connections=2, rate=0)
    process = start_send(project)
    # Both lanes are into their second message: the first signal finds it in flight.
    wait_for(lambda: smtp_server.handler.data_begun >= 4)
    process.send_signal(signal.SIGTERM)
    seen = []
    for line in process.stdout:  # the send says it heard the first before the second comes
        seen.append(line)
        if line.startswith("stopping:"):
            break
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    out = "".join(seen) + out
    assert process.returncode == 128 + signal.SIGTERM, err
    assert "this run" in out and "second signal" in out
    assert "Traceback" not in err
    assert len(uncertain(project)) <= 2  # at most the messages in flight


def test_a_failed_claim_keeps_the_sent_mark_it_carried(project):
    """The claim of the next message commits together with the last 250; when the
    database stays busy, that 250 must not roll back into `sending` (uncertain)."""
    path = project / "newsletter.db"
    conn = connect_database(path, busy_timeout=0.05)
    store = Store(conn, journal=connect_journal(conn, path))
    add_subscribers(store, 2)
    ledger = Ledger(store)
    ledger.begin(SLUG, "December", "hash")
    first, second = ledger.queued_after(SLUG, 0, 10)
    assert ledger.claim(first.id, "<first@example.org>")
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the database
    with pytest.raises(sqlite3.OperationalError):
        ledger.claim(second.id, "<second@example.org>", sent=first.id)
    blocker.execute("ROLLBACK")
    store.close()
    with open_project(project) as (_config, reopened):
        counts = Ledger(reopened).status(SLUG).counts
    assert (counts["sent"], counts["sending"], counts["queued"]) == (1, 0, 1)


# --- the disk fails under a running send ------------------------------------------------


@pytest.fixture(params=["small file system", "file size limit"])
def small_disk(request, tmp_path):
    """A 16 MB tmpfs for the project where this machine lets us mount one; else (and
    also) None: the test then injects the fault with a file size limit instead."""
    if request.param == "file size limit":
        yield None
        return
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount_point)],
        capture_output=True,
    ).returncode == 0  # fmt: skip
    if not mounted:
        pytest.skip("cannot mount a small file system here (the file size limit case runs)")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(directory: Path, leave: int) -> Path:
    """Fill the file system holding `directory`, leaving about `leave` bytes free."""
    filler = directory / "filler"
    free = os.statvfs(directory).f_bavail * os.statvfs(directory).f_frsize
    with filler.open("wb") as file:
        file.write(b"\0" * max(0, free - leave))
    return filler


def size_limit(limit: int):  # noqa: ANN201
    """The fallback fault: a file size limit (RLIMIT_FSIZE); writes past it fail (EFBIG)."""
    import resource

    def apply() -> None:
        interruptible()
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.skipif(sys.platform == "win32", reason="no file-size limits or tmpfs on Windows")
def test_a_full_disk_mid_send_is_one_line_and_nothing_is_sent_twice(
    tmp_path, small_disk, cli, smtp_server
):
    project = (small_disk or tmp_path) / "limited"
    assert cli("init", str(project)).exit_code == 0
    with open_project(project) as (_config, store):
        emails = add_subscribers(store, 300)
    assert cli("issue", "new", SLUG, "--subject", "December", project_dir=project).exit_code == 0
    fill_in(project, SLUG)
    configure_smtp(project, smtp_server, connections=2, rate=40)
    first = start_send(project)  # a first run (backup, freeze), stopped early
    wait_for(lambda: len(smtp_server.handler.messages) >= 5)
    first.send_signal(signal.SIGINT)
    first.communicate(timeout=30)
    if small_disk is not None:
        filler = fill(small_disk, leave=48 * 1024)
        resumed = start_send(project, "--rate", "0")
    else:
        filler = None
        largest = max(p.stat().st_size for p in project.glob("newsletter.*"))
        resumed = start_send(project, "--rate", "0", preexec=size_limit(largest + 48 * 1024))
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 1, out + err
    assert "Traceback" not in err and "Exception in thread" not in err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    assert "full" in errors[0] or "I/O error" in errors[0] or "cannot write" in errors[0]
    assert len(smtp_server.handler.messages) < 300  # it stopped midway
    if filler is not None:
        filler.unlink()
    done = finish_send(project)
    assert done.returncode == 0, done.stderr
    doubtful = set(uncertain(project))
    received = Counter(smtp_server.handler.recipients())
    assert len(doubtful) <= 2
    assert all(received[e] == 1 for e in emails if e not in doubtful)
    assert all(received[e] <= 1 for e in doubtful)


@pytest.mark.skipif(sys.platform == "win32", reason="no tmpfs on Windows")
def test_a_read_only_project_is_one_line_for_every_command(small_disk, cli, smtp_server):
    if small_disk is None:
        pytest.skip("needs a file system this test can make read-only")
    project = small_disk / "project"
    assert cli("init", str(project)).exit_code == 0
    with open_project(project) as (_config, store):
        add_subscribers(store, 20)
    assert cli("issue", "new", SLUG, "--subject", "December", project_dir=project).exit_code == 0
    fill_in(project, SLUG)
    configure_smtp(project, smtp_server, connections=1, rate=0)
    remount = ["mount", "-o", "remount,ro", str(small_disk)]
    assert subprocess.run(remount, capture_output=True).returncode == 0
    try:
        for command in (
            ["send", SLUG, "--yes"],
            ["subscribers", "remove", "person00001@example.org"],
        ):
            result = subprocess.run(
                [sys.executable, "-m", "newsletter", *command, "--project", str(project)],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert result.returncode == 1, result.stdout + result.stderr
            assert "Traceback" not in result.stderr
            errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
            assert len(errors) == 1 and "read-only" in errors[0], result.stderr
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=False)
    assert smtp_server.handler.messages == []
