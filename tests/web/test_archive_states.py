"""The archive's edges: what is published when, an empty archive, and a user's mistakes."""

from __future__ import annotations

from pathlib import Path

import feedparser
import pytest

from newsletter.archive.site import Archive
from newsletter.config import load_config
from newsletter.errors import TemplateError
from newsletter.issue.rendering import prepare_issue
from newsletter.project import open_project
from newsletter.sending.ledger import Ledger
from newsletter.web.app import create_app

ISSUE = """---
subject: December news
date: 2026-12-01
---

Hello all. Read [the report](https://copro.org.uk/report).
"""


def index(project: Path) -> str:
    with open_project(project) as (config, store):
        found = Archive(config).file(store, "index.html")
    assert found is not None
    return found.body.decode("utf-8")


def test_an_issue_is_published_when_its_first_message_is_sent(project: Path) -> None:
    (project / "issues" / "2026-12.md").write_text(ISSUE, encoding="utf-8")
    prepared = prepare_issue(load_config(project), "2026-12")
    with open_project(project) as (_config, store):
        store.add_subscriber("rosa@example.org", name="Rosa")
        ledger = Ledger(store)
        ledger.begin(
            "2026-12", prepared.subject, prepared.content_hash, online=prepared.online.values()
        )
    assert "December news" not in index(project)  # frozen, nothing sent yet
    with open_project(project) as (_config, store):
        ledger = Ledger(store)
        delivery = ledger.queued_after("2026-12", 0, 10)[0]
        assert ledger.claim(delivery.id, "<m@example.org>")
        assert "December news" not in index(project)  # in flight: not known to have gone
        ledger.mark_sent(delivery.id)
    assert '<a href="2026-12.html">December news</a>' in index(project)


def test_an_empty_archive_says_so_and_its_feed_is_valid(cli, project: Path) -> None:
    result = cli("archive", "build", str(project / "site"))
    assert result.exit_code == 0, result.output
    assert "wrote 2 files (0 sent issues)" in " ".join(result.output.split())
    page = (project / "site" / "index.html").read_text(encoding="utf-8")
    assert "No issue has been sent yet." in page
    feed = feedparser.parse((project / "site" / "feed.atom").read_bytes())
    assert not feed.bozo and feed.version == "atom10" and feed.entries == []


def test_a_folder_that_cannot_be_written_is_one_clear_line(cli, project: Path) -> None:
    result = cli("archive", "build", str(project / "newsletter.toml" / "site"))
    assert result.exit_code == 1
    assert "error: cannot write the archive into" in result.output
    assert "Traceback" not in result.output


def test_a_broken_archive_template_stops_serve_before_it_starts(cli, project: Path) -> None:
    broken = project / "templates" / "archive" / "list.html"
    broken.parent.mkdir(exist_ok=True)
    broken.write_text("<ul>\n{{ no_such_name }}</ul>", encoding="utf-8")
    with pytest.raises(TemplateError) as caught:
        create_app(project, mail_worker=False)
    assert caught.value.message == f"{broken}:2: undefined name 'no_such_name'"
    result = cli("serve", "--port", "0")
    assert result.exit_code == 1 and "Traceback" not in result.output


def test_an_issue_sent_before_the_archive_kept_copies_is_added_as_sent(cli, project: Path) -> None:
    path = project / "issues" / "2026-12.md"
    path.write_text(ISSUE, encoding="utf-8")
    cli("subscribers", "add", "rosa@example.org")
    assert cli("send", "2026-12", "--yes").exit_code == 0
    with open_project(project) as (_config, store):  # what an older version left
        store.conn.execute("DELETE FROM archived_editions")
    built = cli("archive", "build", str(project / "site"))
    assert "December news" not in index(project)
    assert "warning: 2026-12 was sent but has no public copy" in " ".join(built.output.split())

    path.write_text(ISSUE.replace("Hello all.", "Edited later."), encoding="utf-8")
    refused = cli("archive", "add", "2026-12")
    assert refused.exit_code == 1 and "is not as it was sent" in refused.output
    assert "December news" not in index(project)
    path.write_text(ISSUE, encoding="utf-8")
    added = cli("archive", "add", "2026-12")
    assert added.exit_code == 0 and added.output == "2026-12 is in the archive\n"
    assert '<a href="2026-12.html">December news</a>' in index(project)

    path.write_text(ISSUE.replace("Hello all.", "Edited later."), encoding="utf-8")
    allowed = cli("archive", "add", "2026-12", "--allow-changes")
    assert allowed.exit_code == 0 and "not as it was sent" in allowed.output
    with open_project(project) as (config, store):
        page = Archive(config).file(store, "2026-12.html")
    assert page is not None and "Edited later." in page.body.decode("utf-8")


def test_an_issue_never_sent_cannot_be_added(cli, project: Path) -> None:
    (project / "issues" / "2026-12.md").write_text(ISSUE, encoding="utf-8")
    cli("subscribers", "add", "rosa@example.org")
    assert cli("send", "2026-12", "--test-to", "me@example.org", "--yes").exit_code == 0
    result = cli("archive", "add", "2026-12")
    assert result.exit_code == 1
    assert "error: issue 2026-12 has not been sent" in result.output
    assert "Traceback" not in result.output


def test_the_preview_shows_the_public_copy_beside_the_message(cli, project: Path) -> None:
    (project / "issues" / "2026-12.md").write_text(ISSUE, encoding="utf-8")
    cli("subscribers", "add", "rosa@example.org", "--name", "Rosa")
    result = cli("issue", "preview", "2026-12", "--to", "rosa@example.org")
    assert result.exit_code == 0, result.output
    assert "build/2026-12/online.html" in result.output
    folder = project / "build" / "2026-12"
    message = (folder / "index.html").read_text(encoding="utf-8")
    online = (folder / "online.html").read_text(encoding="utf-8")
    assert "rosa@example.org" in message and "/u/" in message
    assert "rosa@example.org" not in online and "/u/" not in online
    assert "Hello all." in online and "https://news.example.org/subscribe" in online
