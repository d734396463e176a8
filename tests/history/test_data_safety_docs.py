"""docs/data-safety.md: every command it shows, run as shown (asked questions
answered y), in a project that sent an issue; and the error line it quotes."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

from support.docs import fenced, shell_commands
from support.render import fill_in

PAGE = Path(__file__).resolve().parents[2] / "docs" / "data-safety.md"


def newsletter(command: str, project: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newsletter", *shlex.split(command)[1:]],
        cwd=project,
        input="y\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def statuses(project: Path) -> dict[str, str]:
    listed = newsletter("newsletter subscribers list --json", project)
    assert listed.returncode == 0, listed.stderr
    return {row["email"]: row["status"] for row in json.loads(listed.stdout)}


def test_the_data_safety_page_commands_run_as_shown(cli, project: Path) -> None:
    for email in ("gwen@example.org", "rhys@example.org", "nia@example.org"):
        assert cli("subscribers", "add", email).exit_code == 0
    assert cli("issue", "new", "2026-12", "--subject", "December").exit_code == 0
    fill_in(project, "2026-12")
    assert cli("send", "2026-12", "--yes").exit_code == 0  # into the outbox
    commands = shell_commands(PAGE)
    assert commands == [
        "newsletter backup",
        "newsletter backup ../copro-2026-12.zip",
        "newsletter restore --list",
        "newsletter restore ../copro-2026-12.zip",
        "newsletter restore ../copro-2026-12.zip --project ../copro-laptop",
        "newsletter restore --empty",
        "newsletter subscribers forget gwen@example.org",
        "newsletter status 2026-12",
    ]
    run = {command: (lambda c=command: newsletter(c, project)) for command in commands}

    made = run["newsletter backup"]()
    assert made.returncode == 0 and "integrity check: ok" in made.stdout, made.stderr
    archive = project.parent / "copro-2026-12.zip"
    assert run["newsletter backup ../copro-2026-12.zip"]().returncode == 0 and archive.is_file()
    listed = run["newsletter restore --list"]()
    assert listed.returncode == 0 and "-manual.zip" in listed.stdout

    assert newsletter("newsletter subscribers remove rhys@example.org", project).returncode == 0
    forgot = run["newsletter subscribers forget gwen@example.org"]()
    assert forgot.returncode == 0, forgot.stderr
    restored = run["newsletter restore ../copro-2026-12.zip"]()
    assert restored.returncode == 0, restored.stderr
    assert statuses(project) == {"rhys@example.org": "unsubscribed", "nia@example.org": "active"}
    status = run["newsletter status 2026-12"]()
    assert status.returncode == 0 and "2026-12" in status.stdout, status.stderr

    laptop = run["newsletter restore ../copro-2026-12.zip --project ../copro-laptop"]()
    assert laptop.returncode == 0, laptop.stderr
    assert statuses(project.parent / "copro-laptop")["nia@example.org"] == "active"

    empty = run["newsletter restore --empty"]()
    assert empty.returncode == 0, empty.stderr
    assert statuses(project) == {}
    again = newsletter("newsletter subscribers add rhys@example.org", project)
    assert again.returncode == 1 and "suppressed" in again.stderr  # the journal remembers


def test_the_quoted_journal_error_is_what_a_damaged_header_gives(project: Path) -> None:
    journal = project / "newsletter.journal"
    data = bytearray(journal.read_bytes())
    data[3] ^= 0x20
    journal.write_bytes(bytes(data))
    status = newsletter("newsletter status", project)
    (quoted,) = [block for block in fenced(PAGE, "text") if "cannot be read" in block]
    assert status.returncode == 1
    assert status.stderr == quoted.replace("/home/gwen/copro/newsletter.journal", str(journal))
