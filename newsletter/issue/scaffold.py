"""`issue new`: a new issue file with front matter and a sample body to write over."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import yaml

from newsletter.config import Config
from newsletter.errors import InputError
from newsletter.issue.source import display_path, issue_path
from newsletter.subscribers.addresses import clean_field, has_line_break

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
