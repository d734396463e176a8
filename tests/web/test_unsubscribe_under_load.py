"""An unsubscribe is answered at once and honoured, even while an import holds the
database: the one-click POST is journalled (on disk) before the answer, the
database catches up when the import commits, and a send checks the journal."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from newsletter.project import open_project

from support.render import fill_in
from support.smtp import configure_smtp
from support.waiting import wait_for
from support.web import ONE_CLICK_URLENCODED

ROWS = 200_000


def database_is_held(path: Path) -> bool:
    """True while another connection holds the write lock (the import's transaction)."""
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        conn.close()


def big_csv(path: Path, rows: int) -> Path:
    lines = ["Email,Name"] + [f"member{n:07d}@example.net,Member {n}" for n in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def status_of(project: Path, subscriber_id: int) -> str:
    with open_project(project) as (_config, store):
        return store.get_by_id(subscriber_id).status


def test_one_click_during_a_long_import_is_answered_quickly_and_honoured(
    project, people, server, tmp_path
):
    csv = big_csv(tmp_path / "big.csv", ROWS)
    importer = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "subscribers", "import", str(csv),
         "--project", str(project)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for(lambda: database_is_held(project / "newsletter.db"), timeout=60)
        reply = server.post(f"/u/{people.active.token}", ONE_CLICK_URLENCODED)
        still_importing = importer.poll() is None  # answered without waiting for the import
    finally:
        out, err = importer.communicate(timeout=300)
    assert reply.status == 200
    assert still_importing, "the import ended before the POST: nothing was tested"
    assert importer.returncode == 0, err
    assert "added" in out  # the import committed: all or nothing, and here all
    wait_for(lambda: status_of(project, people.active.id) == "unsubscribed", timeout=30)


def test_a_send_skips_someone_whose_unsubscribe_is_only_in_the_journal_yet(
    project, cli, smtp_server
):
    with open_project(project) as (_config, store):
        stays = store.add_subscriber("stays@example.org").subscriber
        leaves = store.add_subscriber("leaves@example.org").subscriber
        store.note_leaving(leaves.id, "one-click")  # journalled; the database not written
        assert store.get_by_id(leaves.id).status == "active"
    configure_smtp(project, smtp_server, connections=1, rate=0)
    assert cli("issue", "new", "2026-12", "--subject", "December").exit_code == 0
    fill_in(project, "2026-12")
    result = cli("send", "2026-12", "--yes")
    assert result.exit_code == 0, result.output
    assert smtp_server.handler.recipients() == [stays.email]
