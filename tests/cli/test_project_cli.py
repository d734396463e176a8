"""`newsletter init`, the entry points, and the one-line error path."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

import newsletter.db.connection as db
from newsletter.cli import app

from support.render import write_issue

ROOT = Path(__file__).resolve().parents[2]


def run_module(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "newsletter", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_init_creates_a_project_that_every_command_can_open(tmp_path):
    result = run_module("init", "copro", "--name", "Co-pro Newsletter", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    project = tmp_path / "copro"
    assert (project / "newsletter.toml").is_file()
    assert (project / "newsletter.db").is_file()
    assert (project / "issues").is_dir()
    assert (project / "templates" / "base.html").is_file()
    assert (project / "templates" / "web" / "unsubscribe.html").is_file()
    listed = run_module("subscribers", "list", "--json", "--project", str(project), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr


def test_init_refuses_an_existing_project_and_changes_nothing(project):
    config = project / "newsletter.toml"
    config.write_text(config.read_text() + "\n# my edit\n", encoding="utf-8")
    before = config.read_bytes()
    result = CliRunner().invoke(app, ["init", str(project)])
    assert result.exit_code == 1
    assert "already holds a newsletter project" in result.stderr
    assert config.read_bytes() == before


def test_python_m_newsletter_lists_every_command_group(tmp_path):
    result = run_module("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("init", "subscribers", "issue", "send", "status", "serve"):
        assert command in result.stdout


def test_a_missing_project_is_one_line_with_a_hint(tmp_path):
    result = run_module("status", "--project", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("error: no newsletter.toml in")
    assert "Traceback" not in result.stderr


def test_a_database_kept_busy_by_another_writer_is_one_line(project, cli, monkeypatch):
    monkeypatch.setattr(db, "BUSY_TIMEOUT_SECONDS", 0.05)
    other = sqlite3.connect(project / "newsletter.db")
    other.execute("BEGIN IMMEDIATE")
    try:
        result = cli("subscribers", "add", "rhys@example.org")
    finally:
        other.rollback()
        other.close()
    assert result.exit_code == 1
    assert "database stayed busy" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_init_keeps_personal_data_and_keys_out_of_git(project, cli):
    write_issue(project, "2026-12")
    cli("subscribers", "add", "sian@example.org")
    assert cli("issue", "preview", "2026-12").exit_code == 0
    assert cli("send", "2026-12", "--yes").exit_code == 0
    (project / "dkim").mkdir()
    (project / "dkim" / "newsletter.pem").write_text("private", encoding="utf-8")
    (project / "backups").mkdir(exist_ok=True)  # the send made one
    (project / "backups" / "newsletter-2026-12-01.db").write_bytes(b"")
    git = ["git", "-C", str(project)]
    subprocess.run([*git, "init", "-q"], check=True, timeout=60)
    subprocess.run([*git, "add", "-A"], check=True, timeout=60)
    staged = subprocess.run(
        [*git, "diff", "--cached", "--name-only"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "newsletter.toml" in staged and ".gitignore" in staged
    assert "issues/2026-12.md" in staged and "templates/issue.html" in staged
    leaked = [
        name
        for name in staged
        if name.startswith(
            (
                "newsletter.db",
                "newsletter.journal",
                "outbox/",
                "build/",
                "dkim/",
                "backups/",
                ".newsletter",
            )
        )
    ]
    assert leaked == []


def test_init_adds_its_ignores_to_an_existing_gitignore(tmp_path):
    folder = tmp_path / "copro"
    folder.mkdir()
    (folder / ".gitignore").write_text("notes.txt", encoding="utf-8")
    assert CliRunner().invoke(app, ["init", str(folder)]).exit_code == 0
    lines = (folder / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "notes.txt" and "newsletter.db" in lines and "outbox/" in lines


def test_setup_script_names_python3_venv_when_venv_creation_fails(tmp_path):
    # A python3 whose venv module is missing, as on Debian and Ubuntu without python3-venv.
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "python3").write_text(
        "#!/bin/sh\necho 'The virtual environment was not created successfully"
        " because ensurepip is not available.' >&2\nexit 1\n",
        encoding="utf-8",
    )
    (fake / "python3").chmod(0o755)
    venv = tmp_path / "venv"
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "setup.sh")],
        env={**os.environ, "PATH": f"{fake}:{os.environ['PATH']}", "NEWSLETTER_VENV": str(venv)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "apt-get install python3-venv" in result.stderr
    assert not venv.exists()
