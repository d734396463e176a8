"""docs/moving-in.md, followed as a coordinator would: every `sh` line of the page is
run, in order, in a fresh project, with the downloads it names in ~/Downloads, and
what the page says came out is checked (tests/docs runs every page; this one also
reads what the commands printed and what the database holds afterwards)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from newsletter.project import init_project

from support.docs import DOCS, blocks, shell_commands
from support.subscribers import moving_in_downloads, statuses

PAGE = DOCS / "moving-in.md"


def test_every_command_of_the_moving_in_page_runs(tmp_path: Path) -> None:
    commands = shell_commands(PAGE)
    assert len(commands) >= 10 and all(c.startswith("newsletter ") for c in commands)
    project = tmp_path / "project"
    init_project(project, name="Co-pro Newsletter")
    home = tmp_path / "home"
    moving_in_downloads(home / "Downloads")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSLETTER_", "PYTEST_"))}
    env.update(HOME=str(home), PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}")
    outputs = []
    for command in commands:
        result = subprocess.run(
            ["bash", "-c", command], cwd=project, env=env, capture_output=True, text=True,
            timeout=120, check=False,
        )  # fmt: skip
        assert result.returncode == 0, f"`{command}` exited {result.returncode}:\n{result.stderr}"
        assert "Traceback" not in result.stdout + result.stderr, command
        outputs.append(result.stdout)
    shown = next(block.text for block in blocks(PAGE) if block.language == "text")
    assert outputs[0] == shown  # the page shows what the dry run really prints
    assert "rhodri.evans@example.org" in outputs[commands.index(
        "newsletter subscribers list --status unsubscribed"
    )]  # fmt: skip
    final = {email.lower(): status for email, (status, _at) in statuses(project).items()}
    gone = {"rhodri.evans@example.org", "iolo@example.org", "mair@example.org", "bryn@example.org"}
    assert {email for email in gone if final[email] == "active"} == set()
    assert final["llyr@example.org"] == "unsubscribed"  # the leavers' list
    assert final["someone.else@example.org"] == "unsubscribed"
    assert final["sian.jones@example.org"] == "active"
