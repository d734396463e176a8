"""Helpers for the issue tests: write issue files and templates into a project."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from newsletter.config import Config, load_config
from newsletter.subscribers.model import Subscriber

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

SIMPLE_BODY = """\
Hello from the network.

## News

Read [the report](https://example.org/report) before Friday.

[Book a place](https://example.org/book)
"""


def write_issue(
    project: Path,
    slug: str = "2026-12",
    body: str = SIMPLE_BODY,
    front: str = "subject: December news\npreheader: What is on\ndate: 2026-12-01\n",
) -> Path:
    path = project / "issues" / f"{slug}.md"
    path.write_text(f"---\n{front}---\n\n{body}", encoding="utf-8")
    return path


def fill_in(project: Path, slug: str = "2026-12") -> None:
    """Write over what `issue new` scaffolded (its sample is refused by `check` and
    `send`), keeping the front matter's subject and date, as a coordinator would."""
    for path in (project / "issues").glob(f"{slug}*.md"):
        text = path.read_text(encoding="utf-8")
        end = text.index("\n---\n", 3) + len("\n---\n")
        front = "\n".join(
            "preheader: What is on" if line.startswith("preheader:") else line
            for line in text[:end].splitlines()
        )
        path.write_text(f"{front}\n\n{SIMPLE_BODY}", encoding="utf-8")


def write_template(project: Path, name: str, text: str) -> Path:
    path = project / "templates" / name
    path.write_text(text, encoding="utf-8")
    return path


def set_config(project: Path, **values: str) -> Config:
    """Rewrite keys of [newsletter] in the project's newsletter.toml."""
    path = project / "newsletter.toml"
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        key = line.lstrip("# ").split(" ", 1)[0]
        if key in values:
            continue
        lines.append(line)
        if line.strip() == "[newsletter]":
            lines.extend(f'{k} = "{v}"' for k, v in values.items())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_config(project)


def subscriber(**fields: object) -> Subscriber:
    values: dict = {"id": 7, "email": "reader@example.org", "token": "T" * 24, **fields}
    return Subscriber(**values)


def parse(data: bytes) -> EmailMessage:
    return message_from_bytes(data, policy=policy.default)  # type: ignore[return-value]


def bodies(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()
