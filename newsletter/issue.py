"""The issue workflow around rendering: scaffold a new issue, write a preview."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from newsletter.addresses import clean_field, has_line_break, normalise_address
from newsletter.checks import Finding, check_issue
from newsletter.config import Config
from newsletter.errors import InputError
from newsletter.message import MessageFactory
from newsletter.models import Subscriber
from newsletter.render import display_path, issue_path, prepare_issue, sample_subscriber
from newsletter.store import Store

SAMPLE_BODY = """\
A short welcome: what this issue is about, in two or three sentences.

## First story

Write in plain Markdown: **bold**, *italic*, [links](https://example.org),
lists and headings. Always use full `https://` links.

- one point
- another point

[Read the whole story](https://example.org/story)

A paragraph holding only a link, like the one above, becomes a button.

## Dates for your diary

1. 14 January: network meeting, Cardiff
2. 3 February: online workshop

A picture: `![what it shows, for people who cannot see it](https://example.org/photo.jpg)`
"""


def scaffold_issue(
    config: Config, slug: str, subject: str | None = None, today: date | None = None
) -> Path:
    """Create issues/SLUG.md with front matter and a sample body; never overwrite."""
    path = issue_path(config, slug)
    subject = subject if subject is not None else f"{config.name}: {slug}"
    if has_line_break(subject):
        raise InputError("the subject must be one line")
    front = yaml.safe_dump(
        {
            "subject": clean_field(subject),
            "preheader": "One sentence shown after the subject in the inbox.",
            "date": _issue_date(slug, today or date.today()).isoformat(),
        },
        allow_unicode=True,
        sort_keys=False,
        width=1000,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x", encoding="utf-8") as handle:
            handle.write(f"---\n{front}---\n\n{SAMPLE_BODY}")
    except FileExistsError:
        raise InputError(
            f"{display_path(config, path)} already exists; nothing was changed",
            hint="edit it, or choose another name",
        ) from None
    return path


def _issue_date(slug: str, today: date) -> date:
    """The first of the month for a YYYY-MM slug (a monthly issue), else today."""
    try:
        return date.fromisoformat(f"{slug}-01")
    except ValueError:
        return today


@dataclass(frozen=True)
class Preview:
    recipient: str
    sample: bool  # True when the recipient is made up (not in the database)
    files: dict[str, Path]  # html, text, eml
    sizes: dict[str, int]
    findings: list[Finding]


def write_preview(config: Config, store: Store, slug: str, to: str | None = None) -> Preview:
    """Render one recipient's message into build/SLUG/ and run the checks."""
    prepared = prepare_issue(config, slug)
    subscriber, sample = _preview_subscriber(store, to)
    html, text = prepared.render(subscriber)
    message = MessageFactory(config, prepared).build(subscriber)
    folder = config.build_dir / slug
    folder.mkdir(parents=True, exist_ok=True)
    contents = {
        "html": ("index.html", html.encode("utf-8")),
        "text": ("text.txt", text.encode("utf-8")),
        "eml": ("message.eml", message.data),
    }
    files: dict[str, Path] = {}
    for kind, (name, data) in contents.items():
        files[kind] = folder / name
        files[kind].write_bytes(data)
    sizes = {kind: len(data) for kind, (_name, data) in contents.items()}
    return Preview(
        subscriber.email, sample, files, sizes, check_issue(config, prepared, store.attribute_keys)
    )


def _preview_subscriber(store: Store, to: str | None) -> tuple[Subscriber, bool]:
    if not to:
        return sample_subscriber(), True
    email = normalise_address(to)
    found = store.get_subscriber(email)
    return (found, False) if found is not None else (sample_subscriber(email), True)
