"""docs/security.md: every command it shows, run as shown, in the scenario it describes."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from support.docs import fenced, shell_commands
from support.joining import signup_body
from support.proxy import loopback_proxy
from support.returns import deliver, dsn, enable_returns, sample, sent_to
from support.smtp import add_subscribers
from support.web import Server, start_serve

PAGE = Path(__file__).resolve().parents[2] / "docs" / "security.md"
ISSUE = "---\nsubject: December news\n---\n\nHello all. Read [the report](https://copro.org.uk/report).\n"


def run(project: Path, command: str) -> subprocess.CompletedProcess[str]:
    """A line of the page, as the coordinator types it (`newsletter` is this package)."""
    words, target = shlex.split(command), None
    if ">" in words:
        words, target = words[: words.index(">")], words[words.index(">") + 1]
    done = subprocess.run(
        [sys.executable, "-m", "newsletter", *words[1:]],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},  # a wide terminal: a long path stays on its line
    )
    if target:
        (project / target).write_text(done.stdout, encoding="utf-8")
    return done


def test_the_security_page_commands_run_as_shown(project: Path, store) -> None:  # noqa: ANN001
    commands = shell_commands(PAGE)
    assert commands == [
        "newsletter bounces",
        "newsletter bounces --rotate-key",
        "newsletter serve",
        "newsletter subscribe-form --language en > subscribe-snippet.html",
    ]
    outputs = fenced(PAGE, "text")

    # One report to a VERP address, one quoting our Message-ID, one anyone could write.
    enable_returns(project)
    add_subscribers(store, 3)
    (project / "issues" / "2026-12.md").write_text(ISSUE, encoding="utf-8")
    assert run(project, "newsletter send 2026-12 --yes").returncode == 0
    sent = sent_to(project, "2026-12")
    first, second, third = (sent[address] for address in sorted(sent))
    deliver(
        project / "returns",
        sample("gmail-dsn.eml", first),
        sample("o365-ndr.eml", second),
        dsn("bounces@example.org", third.recipient),
    )
    bounces = run(project, commands[0])
    assert bounces.returncode == 0, bounces.stderr
    shown = bounces.stdout.replace(str(project.resolve()), "/srv/copro")
    assert [line.rstrip() for line in shown.splitlines()] == outputs[0].splitlines()

    rotated = run(project, commands[1])
    assert rotated.returncode == 0, rotated.stderr
    assert rotated.stdout.splitlines()[0] == outputs[1].strip()

    snippet = run(project, commands[3])
    assert snippet.returncode == 0, snippet.stderr
    assert snippet.stderr.strip() == outputs[2].strip()
    assert '<form method="post"' in (project / "subscribe-snippet.html").read_text()


def test_serve_as_the_page_shows_limits_each_client_behind_the_proxy(project: Path) -> None:
    """`newsletter serve` (on a free port) behind a proxy on loopback that sets
    X-Forwarded-For, as the page's nginx lines do: one client's 21st sign-up is
    refused, another client still signs up."""
    try:
        with socket.socket() as probe:
            probe.bind(("127.0.0.2", 0))
    except OSError:
        pytest.skip("this system has only 127.0.0.1 on loopback (macOS)")
    assert 'trusted_proxy = "127.0.0.1"' in fenced(PAGE, "toml")[0]
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in fenced(PAGE, "nginx")[0]
    serving = start_serve(project)
    try:
        with loopback_proxy(urlsplit(serving.url).port or 0) as port:
            bot = Server("127.0.0.1", port, source="127.0.0.2")
            person = Server("127.0.0.1", port, source="127.0.0.3")
            answers = [
                bot.post("/subscribe", signup_body(project, f"bot{n}@example.org")).status
                for n in range(21)
            ]
            assert answers == [200] * 20 + [429]
            assert person.post("/subscribe", signup_body(project, "nia@example.org")).status == 200
    finally:
        code, _out, err = serving.stop()
    assert code == 0, err
