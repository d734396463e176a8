"""Compaction: a finished issue's delivery lines fold into one line, so the journal
grows with people rather than with every send; an older database restored after
it still sends nobody an issue twice and mails no one who left."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from newsletter.db.journal import Journal
from newsletter.history.compaction import compact
from newsletter.project import open_project
from newsletter.sending.lock import send_lock
from newsletter.subscribers.addresses import address_key

from support.render import fill_in
from support.smtp import add_subscribers, configure_smtp

QUOTA = re.compile(r"^quota = .*$", re.MULTILINE)


def journal_bytes(project: Path) -> bytes:
    return (project / "newsletter.journal").read_bytes()


def delivery_lines(project: Path, slug: str) -> int:
    return journal_bytes(project).count(Journal.delivery_prefix(slug))


def folded_line(project: Path, slug: str) -> str | None:
    found = re.search(rf"^F\t[^\t]+\t{slug}\t\d+\t\d+$", journal_bytes(project).decode(), re.M)
    return found.group(0) if found else None


def new_issue(cli, project: Path, slug: str) -> None:  # noqa: ANN001
    assert cli("issue", "new", slug, "--subject", slug).exit_code == 0
    fill_in(project, slug)


def set_quota(project: Path, quota: str) -> None:
    """Five messages a day: a send stops with rows still queued (an unfinished issue)."""
    config = project / "newsletter.toml"
    config.write_text(QUOTA.sub(f'quota = ["{quota}"]', config.read_text()), encoding="utf-8")


def statuses(cli) -> dict[str, str]:  # noqa: ANN001
    return statuses_in(cli, None)


def statuses_in(cli, project: Path | None) -> dict[str, str]:  # noqa: ANN001
    listed = cli("subscribers", "list", "--json", project_dir=project)
    assert listed.exit_code == 0, listed.output
    return {row["email"]: row["status"] for row in json.loads(listed.output)}


@pytest.fixture
def quota_project(project, store, smtp_server) -> tuple[Path, list[str]]:
    """Ten subscribers, a relay, and a quota of five a day (sends stop at once)."""
    emails = add_subscribers(store, 10)
    store.close()
    configure_smtp(
        project, smtp_server, connections=1, rate=0, quota=["5/1d"], sending_give_up_after=1
    )
    return project, emails


def test_a_finished_issue_folds_into_one_line_and_an_unfinished_one_keeps_its_lines(
    cli, quota_project
):
    project, _emails = quota_project
    set_quota(project, "15/1d")
    for slug in ("2026-10", "2026-11", "2026-12"):
        new_issue(cli, project, slug)
    assert cli("send", "2026-10", "--yes").exit_code == 0  # the newest finished: kept
    assert delivery_lines(project, "2026-10") == 20  # sending and sent, ten times
    assert cli("send", "2026-11", "--yes").exit_code == 75  # five sent, five queued
    set_quota(project, "100/1d")
    assert cli("send", "2026-12", "--yes").exit_code == 0  # 2026-10 is folded now
    assert delivery_lines(project, "2026-10") == 0
    assert folded_line(project, "2026-10").endswith("\t2026-10\t10\t0")
    assert delivery_lines(project, "2026-11") == 10  # not finished: kept as they were
    assert delivery_lines(project, "2026-12") == 20 and folded_line(project, "2026-12") is None
    before = len(journal_bytes(project))
    assert cli("send", "2026-11", "--yes").exit_code == 0  # finished: 2026-12 is folded
    assert len(journal_bytes(project)) < before  # ten more lines written, twenty folded
    assert delivery_lines(project, "2026-12") == 0
    assert folded_line(project, "2026-12").endswith("\t2026-12\t10\t0")
    assert folded_line(project, "2026-10")  # folded once, kept
    assert b"gen=2" in journal_bytes(project).split(b"\n", 1)[0]
    with open_project(project) as (_config, store):  # the database follows the new file
        assert store.catch_up() == 0


@pytest.mark.parametrize("taken", ["mid-send", "before the freeze"])
def test_an_older_database_restored_after_compaction_sends_nobody_anything_twice(
    cli, quota_project, smtp_server, tmp_path, taken
):
    """The folded line stands for the delivery lines: a copy with rows still queued
    holds them as uncertain; a copy from before the freeze does not freeze again."""
    project, emails = quota_project
    older = tmp_path / "older.zip"
    new_issue(cli, project, "2026-12")
    if taken == "before the freeze":
        assert cli("backup", str(older)).exit_code == 0
    assert cli("send", "2026-12", "--yes").exit_code == 75  # five sent, five queued
    if taken == "mid-send":
        assert cli("backup", str(older)).exit_code == 0
    assert cli("subscribers", "remove", emails[9]).exit_code == 0  # before their turn
    set_quota(project, "100/1d")
    assert cli("send", "2026-12", "--yes").exit_code == 0
    new_issue(cli, project, "2027-01")
    assert cli("send", "2027-01", "--yes").exit_code == 0  # 2026-12 is folded now
    assert delivery_lines(project, "2026-12") == 0 and folded_line(project, "2026-12")
    restored = cli("restore", str(older), "--yes")
    assert restored.exit_code == 0, restored.output
    set_quota(project, "100/1d")  # the archive's newsletter.toml came back too
    for slug in ("2026-12", "2027-01"):
        again = cli("send", slug, "--yes")
        assert again.exit_code == 0, again.output
    got = smtp_server.handler.recipients()
    assert sorted(got) == sorted(emails[:9] * 2)  # each issue once; the leaver never
    assert statuses(cli)[emails[9]] == "unsubscribed"
    status = json.loads(cli("status", "2026-12", "--json").output)
    assert status["counts"]["uncertain"] == (5 if taken == "mid-send" else 0), status
    new_issue(cli, project, "2027-02")
    assert cli("send", "2027-02", "--yes").exit_code == 0
    assert sorted(smtp_server.handler.recipients()[len(got) :]) == emails[:9]


# A second process that removes one person per line it reads (`subscribers remove`'s
# own code path), so the test runs compactions while removals are under way.
REMOVER = """
import sys
from pathlib import Path
from newsletter.project import open_project
with open_project(Path(sys.argv[1])) as (_config, store):
    print("ready", flush=True)
    for email in sys.argv[2:]:
        sys.stdin.readline()
        store.remove(email)
"""


def left_hashes(project: Path) -> set[str]:
    """The address hashes of every L line in the journal."""
    lines = journal_bytes(project).decode().splitlines()
    return {line.split("\t")[3] for line in lines if line.startswith("L\t")}


def hashes_of(project: Path, emails: list[str]) -> set[str]:
    journal = Journal.open(project / "newsletter.journal")
    assert journal is not None
    return {journal.hash(address_key(email)) for email in emails}


@pytest.fixture
def sent_twice(project, store, cli, smtp_server) -> list[str]:
    """Sixty people who had two issues: the first is foldable."""
    emails = add_subscribers(store, 60)
    store.close()
    configure_smtp(project, smtp_server, connections=1, rate=0)
    for slug in ("2026-11", "2026-12"):
        new_issue(cli, project, slug)
        assert cli("send", slug, "--yes").exit_code == 0
    return emails


def refold(store, slug: str) -> None:  # noqa: ANN001
    """Delivery lines of a finished issue again (as a resend of it would journal),
    so that each round has something to fold."""
    rows = store.query("SELECT id, email_key FROM subscribers LIMIT 20")
    store.journal.append(
        [("D", slug, "sent", r["id"], store.journal.hash(r["email_key"])) for r in rows],
        sync=False,
    )


def test_unsubscribes_from_another_process_survive_compactions_meanwhile(
    project, cli, sent_twice, tmp_path
):
    older = tmp_path / "older.db"
    assert cli("backup", str(older)).exit_code == 0
    leaving = sent_twice[:40]
    remover = subprocess.Popen(
        [sys.executable, "-c", REMOVER, str(project), *leaving],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert remover.stdout.readline() == "ready\n"
    compacted = 0
    with open_project(project) as (config, store):
        for _round in range(8):
            remover.stdin.write("go\n" * 5)  # five removals, under way as it compacts
            remover.stdin.flush()
            with send_lock(config.project_dir):
                refold(store, "2026-11")
                compacted += compact(store, "2026-12") is not None
    remover.stdin.close()
    assert remover.wait() == 0
    assert compacted == 8
    assert hashes_of(project, leaving) <= left_hashes(project)
    assert cli("restore", str(older), "--yes").exit_code == 0  # replayed into a copy
    after = statuses(cli)
    assert all(after[email] == "unsubscribed" for email in leaving)
    assert all(after[email] == "active" for email in sent_twice[40:])


# Runs `newsletter backup` (which compacts first) and dies, as kill -9 would (no
# cleanup, no finally), at the Nth call into the journal's or the compaction's code
# or to os.replace / os.fsync; with N = 0 it runs through and writes how many there
# were, and at which one the journal was replaced, to the file named by argv[2].
KILLED_AT_NTH_CALL = """
import os, sys
limit, calls, replaced = int(sys.argv[1]), [0], [0]
WATCHED = ("history/compaction.py", "db/journal.py")
def profile(frame, event, arg):
    name = getattr(arg, "__name__", "")
    if (event == "call" and frame.f_code.co_filename.endswith(WATCHED)) or (
        event == "c_call" and name in ("replace", "fsync")
    ):
        calls[0] += 1
        if name == "replace":
            replaced[0] = calls[0]
        if calls[0] == limit:
            os._exit(9)
from newsletter.cli import app
sys.argv = ["newsletter", "backup"]
sys.setprofile(profile)
try:
    app()
finally:
    sys.setprofile(None)
    if limit == 0:
        with open(sys.argv_file, "w") as out:
            out.write(f"{calls[0]} {replaced[0]}")
""".replace("sys.argv_file", "COUNTS")


def backup_killed_at(project: Path, nth: int, counts: Path) -> int:
    script = KILLED_AT_NTH_CALL.replace("COUNTS", repr(str(counts)))
    run = subprocess.run(
        [sys.executable, "-c", script, str(nth)],
        env={**os.environ, "NEWSLETTER_PROJECT": str(project)},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode in (0, 9), run.stderr
    return run.returncode


def test_a_compaction_killed_at_any_moment_leaves_a_whole_journal_with_every_fact(
    project, cli, sent_twice, smtp_server, tmp_path
):
    older = tmp_path / "older.db"
    assert cli("backup", str(older)).exit_code == 0
    leaving = sent_twice[:3]
    for email in leaving:
        assert cli("subscribers", "remove", email).exit_code == 0
    counts = tmp_path / "counts"
    dry = tmp_path / "dry"
    shutil.copytree(project, dry)
    assert backup_killed_at(dry, 0, counts) == 0
    total, replaced = map(int, counts.read_text().split())
    assert 0 < replaced < total and b"D\t2026-11\t" not in journal_bytes(dry)
    around_the_swap = range(replaced - 2, min(replaced + 3, total + 1))
    moments = sorted({*range(1, total, max(1, total // 8)), *around_the_swap})
    for nth in moments:
        copy = tmp_path / f"killed-at-{nth}"
        shutil.copytree(project, copy)
        died = backup_killed_at(copy, nth, counts) == 9
        assert Journal.open(copy / "newsletter.journal") is not None, nth
        assert hashes_of(copy, leaving) <= left_hashes(copy), nth
        data = journal_bytes(copy)
        assert (b"D\t2026-11\t" in data) != (b"\t2026-11\t60\t0\n" in data), nth  # one or other
        restored = cli("restore", str(older), "--yes", project_dir=copy)
        assert restored.exit_code == 0, (nth, restored.output)
        after = statuses_in(cli, copy)
        assert all(after[email] == "unsubscribed" for email in leaving), nth
        messages = len(smtp_server.handler.messages)
        assert cli("send", "2026-11", "--yes", project_dir=copy).exit_code == 0, nth
        assert len(smtp_server.handler.messages) == messages, nth  # nobody had it twice
        assert died, nth


@pytest.mark.parametrize("fault", ["a full disk", "a replace refused"])
def test_a_compaction_that_cannot_write_leaves_the_journal_and_the_send_as_they_were(
    cli, project, sent_twice, monkeypatch, fault
):
    """A full disk while the folded copy is synced, or (as on Windows, for a file
    another process holds open) a refused replace: the old journal stays byte for
    byte, no partial copy is left, and the send ends as it would have."""
    partial = project / "newsletter.journal.compact"
    seen: list[bytes] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        if partial.exists() and os.path.samestat(os.fstat(fd), os.stat(partial)):
            seen.append(journal_bytes(project))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    def replace(source, target) -> None:  # noqa: ANN001
        if Path(source) == partial:
            seen.append(journal_bytes(project))
            raise PermissionError(errno.EACCES, "the file is in use by another process")
        real_replace(source, target)

    if fault == "a full disk":
        monkeypatch.setattr(os, "fsync", fsync)
    else:
        monkeypatch.setattr(os, "replace", replace)
    new_issue(cli, project, "2027-01")
    result = cli("send", "2027-01", "--yes")
    assert result.exit_code == 0 and "error" not in result.output.lower(), result.output
    assert len(seen) == 1 and journal_bytes(project) == seen[0]  # byte for byte
    assert not partial.exists()
    assert delivery_lines(project, "2026-12") == 120  # not folded: tried again next time
    monkeypatch.undo()
    new_issue(cli, project, "2027-02")
    assert cli("send", "2027-02", "--yes").exit_code == 0  # next time
    assert delivery_lines(project, "2026-12") == delivery_lines(project, "2027-01") == 0


def test_after_compaction_a_forgotten_person_is_only_their_suppression_line(cli, quota_project):
    """`forget` blanks their lines; compaction drops the blanks, and the lines of a
    forget that did not get as far as blanking them (killed in between)."""
    project, emails = quota_project
    new_issue(cli, project, "2026-12")
    assert cli("send", "2026-12", "--yes").exit_code == 75  # unfinished: lines kept
    assert cli("subscribers", "remove", emails[0]).exit_code == 0
    assert cli("subscribers", "forget", emails[0], "--yes").exit_code == 0
    with open_project(project) as (_config, store):  # a forget killed before blanking
        (person,) = hashes_of(project, [emails[1]])
        store.journal.append([("L", "2026-12-06", 0, person, "forgotten")], sync=True)
    assert cli("backup").exit_code == 0  # compacts: blanked lines dropped
    data = journal_bytes(project).decode()
    for email in emails[:2]:
        (hashed,) = hashes_of(project, [email])
        assert [line.split("\t")[-1] for line in data.splitlines() if hashed in line] == [
            "forgotten"
        ]
    assert "--" not in data  # no blanked line is left
