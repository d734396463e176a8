"""`newsletter init`, the entry points, and the one-line error path."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

import newsletter.db.connection as db
from newsletter.cli import app


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
