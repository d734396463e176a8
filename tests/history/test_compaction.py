"""Compaction: a finished issue's delivery lines fold into one line, so the journal
grows with people rather than with every send; an older database restored after
it still sends nobody an issue twice and mails no one who left."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from newsletter.db.journal import Journal
from newsletter.project import open_project

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
    listed = cli("subscribers", "list", "--json")
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
