"""No state of the database files re-mails anyone: emptied, deleted, restored from an
older copy, corrupted, or a project copied without it. Each case is a real send
to aiosmtpd from a real project folder, then the fault, then every command."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

import newsletter.db.journal as journal_module
from newsletter.cli import app
from newsletter.db.journal import Journal
from newsletter.db.recovery import delivered_hashes
from newsletter.project import open_project

from support.render import fill_in
from support.smtp import Received, Sink, add_subscribers, configure_smtp, start_server
from support.subscribers import one_error_line, write_csv

SLUG = "2026-12"
NEXT = "2027-01"


@pytest.fixture(scope="module")
def sent_snapshot(
    tmp_path_factory: pytest.TempPathFactory, project_template: Path
) -> tuple[Path, list[str], list[Received]]:
    """20 people; issue SLUG sent to all; then 1 unsubscribed by link, 1 removed, 1
    forgotten: made once (a real send), as (project, emails, what the relay received)."""
    project = tmp_path_factory.mktemp("sent") / "project"
    shutil.copytree(project_template, project)
    config = (project / "newsletter.toml").read_text(encoding="utf-8")

    def cli(*args: str) -> int:
        result = CliRunner().invoke(app, [*args], env={"NEWSLETTER_PROJECT": str(project)})
        assert result.exit_code == 0, result.output
        return result.exit_code

    controller, server = start_server(Sink())
    try:
        configure_smtp(project, server, connections=2, rate=0)
        with open_project(project) as (_config, store):
            emails = add_subscribers(store, 20)
            for slug in (SLUG, NEXT):
                cli("issue", "new", slug, "--subject", f"Issue {slug}")
                fill_in(project, slug)
            cli("send", SLUG, "--yes")
            assert len(server.handler.messages) == 20
            store.unsubscribe(store.require(emails[0]).id, "one-click")
        cli("subscribers", "remove", emails[1])
        cli("subscribers", "forget", emails[2], "--yes")
    finally:
        controller.stop()
    (project / "newsletter.toml").write_text(config, encoding="utf-8")  # the relay is gone
    return project, emails, list(server.handler.messages)


@pytest.fixture
def sent_once(project, smtp_server, sent_snapshot):
    """`sent_snapshot` copied into `project`, sending to this test's `smtp_server`, which
    holds the first send's messages as if it had taken them itself."""
    snapshot, emails, messages = sent_snapshot
    shutil.rmtree(project)
    shutil.copytree(snapshot, project)
    configure_smtp(project, smtp_server, connections=2, rate=0)
    smtp_server.handler.messages.extend(messages)
    return list(emails)


def remove_database(project: Path, how: str) -> None:
    for suffix in ("-wal", "-shm"):
        (project / f"newsletter.db{suffix}").unlink(missing_ok=True)
    if how == "emptied":
        (project / "newsletter.db").write_bytes(b"")
    else:
        (project / "newsletter.db").unlink()


def received(smtp_server) -> Counter:
    return Counter(smtp_server.handler.recipients())


@pytest.mark.parametrize("how", ["emptied", "deleted"])
def test_a_lost_database_is_refused_by_every_command_not_taken_for_a_new_project(
    project, cli, smtp_server, sent_once, tmp_path, how
):
    remove_database(project, how)
    members = write_csv(tmp_path, "Email\n" + "\n".join(sent_once) + "\n")
    for command in (
        ["status", SLUG],
        ["subscribers", "list"],
        ["subscribers", "import", str(members)],
        ["send", SLUG, "--yes"],
        ["send", NEXT, "--yes"],
        ["backup"],
    ):
        line = one_error_line(cli(*command))
        assert "missing or empty, but this project has a history" in line, command
    assert len(smtp_server.handler.messages) == 20  # nobody mailed again


def test_restoring_the_newest_backup_after_a_loss_keeps_every_promise(
    project, cli, smtp_server, sent_once
):
    remove_database(project, "emptied")
    result = cli("restore", "--yes")  # the newest backup: taken before the first send
    assert result.exit_code == 0, result.output
    assert "journal entries applied" in result.output
    listed = cli("subscribers", "list", "--json").output
    assert sent_once[2] not in listed  # forgotten stays forgotten
    with open_project(project) as (_config, store):
        assert store.require(sent_once[0]).status == "unsubscribed"
        assert store.require(sent_once[1]).status == "unsubscribed"
        # the rows the backup lacked come back frozen with a language, as a send makes them
        # (but the forgotten person's: `forget` blanked their lines in the journal)
        languages = store.query("SELECT language, count(*) AS n FROM deliveries GROUP BY 1")
        assert [(row["language"], row["n"]) for row in languages] == [("", 19)]
    again = cli("send", SLUG, "--yes")
    assert again.exit_code == 0 and "nothing to send" in again.output, again.output
    assert cli("send", NEXT, "--yes").exit_code == 0
    counts = received(smtp_server)
    assert [counts[e] for e in sent_once[:3]] == [1, 1, 1]  # the first issue only
    assert all(counts[e] == 2 for e in sent_once[3:])


def test_an_empty_database_started_on_purpose_honours_the_journal_after_a_reimport(
    project, cli, smtp_server, sent_once, tmp_path
):
    remove_database(project, "deleted")
    shutil.rmtree(project / "backups")  # no backup at all: the worst case
    result = cli("restore", "--empty", "--yes")
    assert result.exit_code == 0, result.output
    newcomer = "newcomer@example.org"
    members = write_csv(tmp_path, "Email\n" + "\n".join([*sent_once, newcomer]) + "\n")
    imported = cli("subscribers", "import", str(members))
    assert imported.exit_code == 0, imported.output
    assert "suppressed" in imported.output
    with open_project(project) as (_config, store):
        assert store.count_by_status()["active"] == 18  # 17 who stayed + the newcomer
    assert cli("send", SLUG, "--yes").exit_code == 0
    counts = received(smtp_server)
    assert counts[newcomer] == 1  # only the newcomer gets the issue the others have
    assert all(counts[e] == 1 for e in sent_once)


def test_restoring_an_older_backup_replays_the_unsubscribes_recorded_since(
    project, cli, smtp_server, sent_once
):
    older = sorted((project / "backups").glob("newsletter-*.db"))[-1]
    with open_project(project) as (_config, store):
        later = [store.require(e).id for e in sent_once[3:6]]
        for subscriber_id in later:
            store.unsubscribe(subscriber_id, "one-click")
    result = cli("restore", str(older), "--yes")
    assert result.exit_code == 0, result.output
    assert "replaced-" in result.output  # the database it replaced is kept
    assert cli("send", SLUG, "--yes").exit_code == 0
    assert cli("send", NEXT, "--yes").exit_code == 0
    counts = received(smtp_server)
    gone = {*sent_once[:6]}
    assert all(counts[e] == 1 for e in gone)
    assert all(counts[e] == 2 for e in sent_once if e not in gone)


def test_a_project_copied_without_its_database_refuses_to_start_blank(
    project, cli, sent_once, tmp_path
):
    copy = tmp_path / "copy"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("newsletter.db*", "backups"))
    line = one_error_line(cli("send", SLUG, "--yes", project_dir=copy))
    assert "newsletter.journal records its history" in line


@pytest.mark.parametrize("damage", ["random bytes", "truncated"])
def test_a_damaged_database_is_one_line_and_nothing_is_sent(
    project, store, cli, smtp_server, damage
):
    add_subscribers(store, 3000)
    configure_smtp(project, smtp_server, connections=1, rate=0)
    assert cli("issue", "new", SLUG, "--subject", "December").exit_code == 0
    fill_in(project, SLUG)
    store.close()  # checkpoints the WAL into the file
    path = project / "newsletter.db"
    size = path.stat().st_size
    with path.open("r+b") as file:
        if damage == "truncated":
            file.truncate(size // 2)
        else:
            file.seek(size // 2)
            file.write(os.urandom(8192))
    for command in (["backup"], ["send", SLUG, "--yes"]):
        line = one_error_line(cli(*command))
        assert "damaged" in line or "malformed" in line or "not a database" in line, line
    assert smtp_server.handler.messages == []
    assert not list((project / "backups").glob("newsletter-*.db"))  # no bad copy kept


def test_backup_is_a_checked_copy_and_old_ones_are_pruned(project, store, cli):
    add_subscribers(store, 5)
    for _ in range(7):
        assert cli("backup").exit_code == 0
    kept = sorted((project / "backups").glob("newsletter-*.zip"))  # whole-project archives
    assert len(kept) == 5
    target = project / "elsewhere.db"
    result = cli("backup", str(target))
    assert result.exit_code == 0 and "integrity check: ok" in result.output  # the database alone
    with sqlite3.connect(target) as copy:
        assert copy.execute("SELECT count(*) FROM subscribers").fetchone()[0] == 5


def test_the_freeze_finds_an_issues_deliveries_in_a_long_journal_across_read_chunks(
    tmp_path, monkeypatch
):
    """The journal is read in chunks, and chunks without the issue are passed over unsplit:
    every delivery line of the issue is still found, the last word counting."""
    monkeypatch.setattr(journal_module, "READ_CHUNK", 512)
    journal = Journal.create(tmp_path / "newsletter.journal", "salt")
    for n in range(300):
        journal.delivery("2026-11", "sent", n, f"{n:064x}")
    journal.delivery("2026-12", "sending", 7, f"{7:064x}")
    for n in range(300):
        journal.delivery("2026-11", "sent", n, f"{n:064x}")
    journal.delivery("2026-12", "sent", 7, f"{7:064x}")
    journal.delivery("2026-12", "sending", 8, f"{8:064x}")
    assert delivered_hashes(journal, "2026-12") == {f"{7:064x}": "sent", f"{8:064x}": "sending"}
    assert delivered_hashes(journal, "2027-01") == {}
    assert len(delivered_hashes(journal, "2026-11")) == 300
    *_, (end, _entry) = journal.entries(only=Journal.delivery_prefix("2027-01"))
    assert end == journal.size()
