"""Tools nobody here wrote pass the example issue's messages as the outbox holds
them (Welsh, English and bilingual ones): html-validate finds nothing in any HTML
part, and SpamAssassin (Debian's, local rules only: no network tests) fires no
rule the tool could avoid.

The rules that stay are about where the message is, not what it is: a message
taken straight from the outbox was never relayed (NO_RECEIVED, NO_RELAYS, both
-0.0), and a newsletter has an HTML part (HTML_MESSAGE, 0.0).
"""

from __future__ import annotations

import mailbox
import re
import shutil
import subprocess
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli import app

from support.html import validate
from support.render import EXAMPLES

SPAMASSASSIN = shutil.which("spamassassin")
UNAVOIDABLE = {"HTML_MESSAGE", "NO_RECEIVED", "NO_RELAYS"}
STATUS = re.compile(r"^X-Spam-Status: \w+, score=(-?[\d.]+) .*?tests=(\S*)", re.M | re.S)

needs_spamassassin = pytest.mark.skipif(
    SPAMASSASSIN is None, reason="spamassassin is not installed (.ci/run installs it)"
)


@pytest.fixture(scope="module")
def sent(tmp_path_factory) -> list[bytes]:
    """The example project's issue, sent to its members into the outbox by the real CLI."""
    folder = tmp_path_factory.mktemp("spam") / "example"
    shutil.copytree(EXAMPLES, folder, ignore=shutil.ignore_patterns("outbox", "build", "*.db*"))
    runner = CliRunner()
    for command in (
        ["subscribers", "import", str(folder / "members.csv")],
        ["send", "2026-12", "--yes"],
    ):
        result = runner.invoke(app, [*command, "--project", str(folder)])
        assert result.exit_code == 0, result.output
    messages = [path.read_bytes() for path in sorted((folder / "outbox" / "new").iterdir())]
    assert len(messages) >= 10
    return messages


def scores(messages: list[bytes], home: Path) -> list[tuple[float, set[str]]]:
    """(score, rules hit) for each message, from one `spamassassin -L --mbox` run."""
    box = mailbox.mbox(home / "messages.mbox")
    for data in messages:
        box.add(data.replace(b"\r\n", b"\n"))
    box.flush()
    result = subprocess.run(
        [str(SPAMASSASSIN), "-L", "--mbox", str(home / "messages.mbox")],
        capture_output=True,
        timeout=300,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    statuses = [
        (float(score), {rule for rule in re.split(r"[,\s]+", tests) if rule})
        for score, tests in STATUS.findall(result.stdout.decode("utf-8", "replace"))
    ]
    assert len(statuses) == len(messages)
    return statuses


@needs_spamassassin
def test_spamassassin_finds_nothing_the_tool_could_avoid(sent: list[bytes], tmp_path: Path) -> None:
    for score, rules in scores(sent, tmp_path):
        assert rules <= UNAVOIDABLE and score <= 0, (score, sorted(rules))


def test_the_preheader_is_hidden_without_a_low_contrast_colour(sent: list[bytes]) -> None:
    """HTML_FONT_LOW_CONTRAST fired when the hidden text had the background's colour."""
    message = message_from_bytes(sent[0], policy=policy.default)
    html = message.get_body(("html",)).get_content()
    preheader = re.search(r'<div class="preheader" style="([^"]*)"', html)
    assert preheader and "color" not in preheader[1].replace("-color", "")


def test_every_edition_passes_html_validate(
    sent: list[bytes], html_validate: Path, tmp_path: Path
) -> None:
    editions = {}
    for data in sent:
        message = message_from_bytes(data, policy=policy.default)
        editions.setdefault(str(message["Content-Language"]), message)
    assert len(editions) >= 2  # the example is bilingual: cy, en and both
    for language, message in editions.items():
        page = tmp_path / f"{language.replace(',', '-').replace(' ', '')}.html"
        page.write_text(message.get_body(("html",)).get_content(), encoding="utf-8")
        code, rules, report = validate(html_validate, page)
        assert (code, rules) == (0, set()), f"{language}:\n{report}"
