"""`newsletter --help` and `status` start fast because they import none of the heavy
libraries: the speed is measured by benchmarks/startup.py; this keeps the imports lazy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# What a send, a render or an import needs, and a status or --help must not load.
HEAVY = (
    "sqlite_utils",  # reads go through sqlite3; sqlite-utils only migrates (db.connection)
    "pydantic",  # typer 0.29 imports it for every command run: pinned below that
    "jinja2",
    "premailer",
    "lxml",
    "babel.messages",
    "dns",
    "cryptography",
    "email.mime",
)

REPORT = """
import json, sys
from newsletter.cli import app
try:
    app(sys.argv[1:])
except SystemExit:
    pass
with open({path!r}, "w") as out:
    json.dump(sorted(sys.modules), out)
"""


def modules_loaded(tmp_path: Path, *args: str) -> set[str]:
    report = tmp_path / "modules.json"
    env = {**os.environ}
    env.pop("NEWSLETTER_TESTS_CLOCK_OFFSET", None)  # `pytest --clock` would load time_machine
    subprocess.run(
        [sys.executable, "-c", REPORT.format(path=str(report)), *args],
        check=True,
        capture_output=True,
        timeout=60,
        env=env,
    )
    return set(json.loads(report.read_text()))


def heavy_among(modules: set[str]) -> list[str]:
    return sorted(
        name for name in modules for heavy in HEAVY if name == heavy or name.startswith(heavy + ".")
    )


@pytest.mark.parametrize("args", [["--help"], ["status"], ["status", "--json"]])
def test_help_and_status_load_no_heavy_library(project: Path, tmp_path: Path, args) -> None:
    project_option = [] if args == ["--help"] else ["--project", str(project)]
    loaded = modules_loaded(tmp_path, *args, *project_option)
    assert "newsletter.cli" in loaded  # the report ran after the command
    assert heavy_among(loaded) == []


def test_status_loads_only_what_reading_the_counts_needs(project: Path, tmp_path: Path) -> None:
    """Not the other commands, the send's modules, email-validator (status leaves the
    config's addresses unchecked) or filelock (every issue is finished here)."""
    loaded = modules_loaded(tmp_path, "status", "--project", str(project))
    commands = {name for name in loaded if name.startswith("newsletter.cli.")}
    assert commands == {"newsletter.cli.common", "newsletter.cli.status"}
    unwanted = {"email_validator", "filelock", "newsletter.sending.ledger", "hashlib", "secrets"}
    assert unwanted & loaded == set()


def test_a_command_that_renders_does_load_them(project: Path, tmp_path: Path) -> None:
    """The check above can fail: the same report sees Jinja when a command needs it."""
    loaded = modules_loaded(tmp_path, "issue", "new", "2026-12", "--project", str(project))
    assert "jinja2" in heavy_among(loaded)
