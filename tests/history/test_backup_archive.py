"""`newsletter backup` is one archive of the whole project, and `restore` puts it
back: onto a new laptop (an empty folder), or over the project, replaying the journal."""

from __future__ import annotations

import json
import os
import shutil
import stat
import zipfile
from pathlib import Path

from support.render import fill_in
from support.smtp import add_subscribers
from support.subscribers import one_error_line

SLUG = "2026-12"


def enable_dkim(cli, project: Path) -> None:  # noqa: ANN001
    assert cli("dkim", "keygen").exit_code == 0  # writes the key and names it in [dkim]


def listed(cli, project: Path) -> dict[str, str]:  # noqa: ANN001
    result = cli("subscribers", "list", "--json", project_dir=project)
    assert result.exit_code == 0, result.output
    return {row["email"]: row["status"] for row in json.loads(result.output)}


def test_backup_writes_one_archive_of_the_whole_project_and_warns_of_the_key(project, cli, members):
    enable_dkim(cli, project)
    assert cli("issue", "new", SLUG, "--subject", "December").exit_code == 0
    fill_in(project, SLUG)
    result = cli("backup")
    assert result.exit_code == 0, result.output
    assert "integrity check: ok" in result.output
    assert "holds the DKIM private key (dkim/newsletter.pem)" in result.stderr
    (archive,) = (project / "backups").glob("newsletter-*-manual.zip")
    names = set(zipfile.ZipFile(archive).namelist())
    assert {
        "newsletter.db",
        "newsletter.journal",
        "newsletter.toml",
        "dkim/newsletter.pem",
    } <= names
    assert f"issues/{SLUG}.md" in names and "templates/issue.html" in names
    if os.name == "posix":
        assert stat.S_IMODE(archive.stat().st_mode) == 0o600  # personal data and a secret


def test_an_archive_restores_onto_a_new_laptop_and_nobody_is_mailed_twice(
    project, cli, members, tmp_path
):
    enable_dkim(cli, project)
    assert cli("issue", "new", SLUG, "--subject", "December").exit_code == 0
    fill_in(project, SLUG)
    assert cli("send", SLUG, "--yes").exit_code == 0  # into the outbox
    assert cli("subscribers", "remove", members[0]).exit_code == 0
    archive = tmp_path / "project.zip"
    assert cli("backup", str(archive)).exit_code == 0
    laptop = tmp_path / "laptop"
    result = cli("restore", str(archive), "--yes", project_dir=laptop)
    assert result.exit_code == 0, result.output
    assert "project files written" in result.output
    assert listed(cli, laptop) == listed(cli, project)
    assert (laptop / "issues" / f"{SLUG}.md").read_bytes() == (
        project / "issues" / f"{SLUG}.md"
    ).read_bytes()
    if os.name == "posix":
        assert stat.S_IMODE((laptop / "dkim" / "newsletter.pem").stat().st_mode) == 0o600
    again = cli("send", SLUG, "--yes", project_dir=laptop)
    assert again.exit_code == 0 and "nothing to send" in again.output, again.output


def test_an_older_archive_over_the_project_keeps_what_happened_since(project, store, cli, tmp_path):
    emails = add_subscribers(store, 6)
    store.close()
    archive = tmp_path / "older.zip"
    assert cli("backup", str(archive)).exit_code == 0
    assert cli("subscribers", "remove", emails[0]).exit_code == 0
    assert cli("subscribers", "forget", emails[1], "--yes").exit_code == 0
    edited = project / "templates" / "issue.txt"
    edited.write_text("my own text template\n", encoding="utf-8")
    result = cli("restore", str(archive), "--yes")
    assert result.exit_code == 0, result.output
    statuses = listed(cli, project)
    assert statuses[emails[0]] == "unsubscribed" and emails[1] not in statuses
    assert "my own" not in edited.read_text(encoding="utf-8")  # the archive's template is back
    (kept,) = (project / "backups").glob("replaced-*/templates/issue.txt")
    assert kept.read_text(encoding="utf-8") == "my own text template\n"


def test_an_archive_of_another_project_or_a_damaged_one_changes_nothing(
    project, cli, members, tmp_path
):
    other = tmp_path / "other"
    assert cli("init", str(other)).exit_code == 0
    foreign = tmp_path / "other.zip"
    assert cli("backup", str(foreign), project_dir=other).exit_code == 0
    before = {p: p.read_bytes() for p in project.rglob("*") if p.is_file()}
    line = one_error_line(cli("restore", str(foreign), "--yes"))
    assert "a backup of another project" in line
    damaged = tmp_path / "damaged.zip"
    assert cli("backup", str(damaged)).exit_code == 0
    data = bytearray(damaged.read_bytes())
    middle = data.index(b"newsletter.db") + 200  # inside the database's compressed bytes
    data[middle] ^= 0xFF
    damaged.write_bytes(bytes(data))
    line = one_error_line(cli("restore", str(damaged), "--yes"))
    assert "damaged" in line
    after = {p: p.read_bytes() for p in project.rglob("*") if p.is_file()}
    # `backup` compacts the journal under the send lock, whose files stay
    locks = {project / ".newsletter-send.lock", project / ".newsletter-send.holder"}
    assert {p for p in after if "backups" not in p.parts} - locks == set(before)
    assert all(after[p] == before[p] for p in before if "backups" not in p.parts)
    assert not list(project.glob("*.restoring*"))


def test_a_database_copy_from_an_older_version_still_restores(project, cli, members, tmp_path):
    copy = tmp_path / "older.db"
    assert cli("backup", str(copy)).exit_code == 0  # a name ending .db: the database alone
    assert cli("subscribers", "remove", members[2]).exit_code == 0
    shutil.rmtree(project / "backups", ignore_errors=True)
    result = cli("restore", str(copy), "--yes")
    assert result.exit_code == 0, result.output
    assert listed(cli, project)[members[2]] == "unsubscribed"
