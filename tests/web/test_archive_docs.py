"""docs/archive.md: every command it shows, run as shown, in a project that sent an issue."""

from __future__ import annotations

import shlex
import subprocess
import sys
import urllib.request
from pathlib import Path

from support.docs import fenced, shell_commands
from support.web import start_serve

PAGE = Path(__file__).resolve().parents[2] / "docs" / "archive.md"
ISSUE = """---
subject: December news
preheader: What happened in December
date: 2026-12-01
---

Hello all. Read [the report](https://copro.org.uk/report).
"""


def test_the_archive_page_commands_run_as_shown(cli, project: Path) -> None:
    (project / "issues" / "2026-12.md").write_text(ISSUE, encoding="utf-8")
    cli("subscribers", "add", "rosa@example.org", "--name", "Rosa")
    sent = cli("send", "2026-12", "--yes")
    assert sent.exit_code == 0, sent.output
    assert "in the public archive: https://news.example.org/archive/" in sent.output
    commands = shell_commands(PAGE)
    assert commands == ["newsletter serve", "newsletter archive build site"]

    serving = start_serve(project)  # `newsletter serve`, on a free port (--port 0)
    try:
        with urllib.request.urlopen(serving.url + "/archive/", timeout=10) as response:
            index = response.read().decode("utf-8")
        with urllib.request.urlopen(serving.url + "/archive/2026-12.html", timeout=10) as response:
            page = response.read().decode("utf-8")
        said = [serving.process.stdout.readline() for _line in range(2)]
    finally:
        code, _out, err = serving.stop()
    assert code == 0, err
    assert said[1] == "the archive of sent issues: https://news.example.org/archive/\n"
    assert '<a href="2026-12.html">December news</a>' in index
    assert "Hello all." in page and "rosa@example.org" not in page

    build = subprocess.run(
        [sys.executable, "-m", "newsletter", *shlex.split(commands[1])[1:]],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert build.returncode == 0, build.stderr
    assert build.stdout == fenced(PAGE, "text")[0]
    built = sorted(path.name for path in (project / "site").iterdir())
    assert built == ["2026-12.html", "feed.atom", "index.html"]
    assert (project / "site" / "2026-12.html").read_text(encoding="utf-8") == page
