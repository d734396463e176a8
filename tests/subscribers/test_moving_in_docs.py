"""docs/moving-in.md, followed as a coordinator would: every `sh` line of the page is
run, in order, in a fresh project, with the downloads it names in ~/Downloads."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from newsletter.project import init_project

from support.subscribers import moving_in_downloads, statuses

PAGE = Path(__file__).resolve().parents[2] / "docs" / "moving-in.md"
SH_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)
TEXT_BLOCK = re.compile(r"^```text\n(.*?)^```", re.MULTILINE | re.DOTALL)


def page_commands() -> list[str]:
    return [
        line.strip()
        for block in SH_BLOCK.findall(PAGE.read_text(encoding="utf-8"))
        for line in block.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def test_every_command_of_the_moving_in_page_runs(tmp_path: Path) -> None:
    commands = page_commands()
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
    shown = TEXT_BLOCK.findall(PAGE.read_text(encoding="utf-8"))[0]
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
