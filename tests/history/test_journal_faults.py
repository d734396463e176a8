"""The journal is the record of who left: a damaged header, a torn line or a full
disk must never cost a fact, and the tool never replaces or rewrites the file."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from newsletter.db.journal import Journal
from newsletter.errors import DatabaseError
from newsletter.project import open_project

from support.subscribers import one_error_line

TORN = b"D\t2026-12\tsent\t119\t6"  # what an out-of-space stop mid-send left behind


def journal_file(project: Path) -> Path:
    return project / "newsletter.journal"


def damage_header(project: Path) -> None:
    data = bytearray(journal_file(project).read_bytes())
    data[5] ^= 0x20  # one changed byte in line 1
    journal_file(project).write_bytes(bytes(data))


@pytest.mark.parametrize("database", ["deleted", "an older copy"])
def test_an_unreadable_journal_header_is_one_line_and_the_file_is_kept(
    project, cli, members, database
):
    """Deleted database and no backups: the project must not open blank under a new
    salt. An older copy put back: the person who left must not come back."""
    older = project / "older.db"
    shutil.copy(project / "newsletter.db", older)
    kept = project.parent / "kept.db"
    shutil.copy(older, kept)
    assert cli("subscribers", "remove", members[0]).exit_code == 0
    damage_header(project)
    before = journal_file(project).read_bytes()
    for suffix in ("", "-wal", "-shm"):
        (project / f"newsletter.db{suffix}").unlink(missing_ok=True)
    if database == "an older copy":
        older.rename(project / "newsletter.db")
    database = (project / "newsletter.db").read_bytes() if database == "an older copy" else None
    for command in (
        ["subscribers", "list"],
        ["status"],
        ["backup"],
        ["restore", str(kept), "--yes"],
    ):
        line = one_error_line(cli(*command))
        assert "newsletter.journal" in line and "cannot be read" in line, line
    assert journal_file(project).read_bytes() == before  # never replaced or rewritten
    if database is not None:  # restore refused before it swapped anything
        assert (project / "newsletter.db").read_bytes() == database
    assert not (project / "newsletter.journal.new").exists()


def test_a_journal_with_a_torn_last_line_keeps_it_and_the_next_fact_stands_alone(
    project, cli, members
):
    """Truncated mid-line by hand (or by a full disk): the next `remove` is not glued
    onto the torn line, so a restore of an older copy still knows who left."""
    assert cli("backup", str(project / "backups" / "older.db")).exit_code == 0
    with journal_file(project).open("ab") as journal:
        journal.write(TORN)
    assert cli("subscribers", "remove", members[1]).exit_code == 0
    data = journal_file(project).read_bytes()
    assert TORN + b"\n" in data  # kept as it was, ended by the marker's newline
    assert b"# torn line above" in data
    result = cli("restore", str(project / "backups" / "older.db"), "--yes")
    assert result.exit_code == 0, result.output
    with open_project(project) as (_config, store):
        assert store.require(members[1]).status == "unsubscribed"


def test_a_short_write_leaves_no_half_line_for_the_next_fact_to_join(project, members, monkeypatch):
    """An injected short write (what a full disk does at a page boundary): the
    append reports the disk, and the next fact of the same process starts a new line."""
    real_write = os.write
    calls = []

    def short_then_full(fd, data):  # noqa: ANN001, ANN202
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data)[:10])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with open_project(project) as (_config, store):
        target = store.require(members[2])
        monkeypatch.setattr(os, "write", short_then_full)
        with pytest.raises(DatabaseError, match="disk is full"):
            store.journal.delivery("2026-12", "sent", 1, "a" * 64)
        monkeypatch.setattr(os, "write", real_write)
        store.unsubscribe(target.id, "cli")
    lines = journal_file(project).read_bytes().split(b"\n")
    left = [line for line in lines if line.startswith(b"L\t")]
    assert len(left) == 1 and left[0].endswith(b"\tcli"), lines[-4:]
    assert [e.kind for _end, e in Journal.open(journal_file(project)).entries() if e][-1] == "L"


@pytest.fixture
def tiny_disk(tmp_path):
    """A real 1 MiB tmpfs, where the machine lets this test mount one."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    if not shutil.which("mount") or os.name != "posix" or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root on Linux (the injected short write still runs)")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_full_disk_tears_no_fact_on_a_real_tmpfs(tiny_disk, cli):
    from newsletter.project import init_project

    from support.smtp import add_subscribers

    project = tiny_disk / "project"
    init_project(project, name="Tiny")
    with open_project(project) as (_config, store):
        emails = add_subscribers(store, 3)
    filler = tiny_disk / "filler"
    with filler.open("wb", buffering=0) as fill:
        try:
            while True:
                fill.write(b"x" * 512)
        except OSError as error:
            assert error.errno == errno.ENOSPC
    journal = Journal.open(journal_file(project))
    with pytest.raises(DatabaseError):
        for n in range(100_000):  # the journal's last page fills, then the disk refuses
            journal.delivery("2026-12", "sent", n, f"{n:064x}")
    journal.close()
    assert not journal_file(project).read_bytes().endswith(b"\n")  # torn, as in the report
    filler.unlink()
    assert cli("subscribers", "remove", emails[0], project_dir=project).exit_code == 0
    facts = [e for _end, e in Journal.open(journal_file(project)).entries() if e]
    assert facts[-1].kind == "L" and facts[-1].fields[4] == "cli"


def test_delivery_lines_reach_the_disk_within_the_sync_interval_and_at_close(tmp_path, monkeypatch):
    """What a power cut can cost is bounded: a person's fact is fsynced before it is
    answered, a delivery line within SYNC_SECONDS, and whatever is left at close.
    (fsync is watched, not replaced: no test can cut the power.)"""
    import threading

    import newsletter.db.journal as journal_module

    monkeypatch.setattr(journal_module, "SYNC_SECONDS", 0.05)
    real_fsync, synced = os.fsync, threading.Event()
    calls = []

    def watched(fd):  # noqa: ANN001, ANN202
        calls.append(fd)
        synced.set()
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", watched)
    journal = Journal.create(tmp_path / "newsletter.journal", "salt")
    journal.append([("L", "at", 1, "b" * 64, "web")], sync=True)
    assert len(calls) == 1  # before the unsubscribe is answered
    synced.clear()
    journal.delivery("2026-12", "sending", 1, "a" * 64)
    assert synced.wait(timeout=30)  # the timer's fsync
    assert len(calls) == 2
    journal.delivery("2026-12", "sent", 1, "a" * 64)
    journal.close()  # the pending line is synced now, not left to the timer
    assert len(calls) == 3
