"""Fixtures every test file may use: a real project folder and the real CLI.

Fixtures for one area (SMTP servers, the web server, the browser) live in
their own `tests/fixtures_*.py` modules and are imported where needed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.project import init_project, open_project


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh project folder made by `init`, with the package's templates."""
    directory = tmp_path / "project"
    init_project(directory, name="Co-pro Newsletter")
    return directory


@pytest.fixture
def store(project: Path):
    with open_project(project) as (_config, store):
        yield store


@pytest.fixture
def cli(project: Path):
    """Run `newsletter ...` in-process against the project; returns the Result."""
    runner = CliRunner()

    def run(*args: str, input: str | None = None, project_dir: Path | None = None):
        return runner.invoke(
            app, [*args], input=input, env={"NEWSLETTER_PROJECT": str(project_dir or project)}
        )

    return run
