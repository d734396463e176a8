"""`issue new`: new issue files with front matter and a sample body to write over.

A one-language project gets `issues/SLUG.md`; a bilingual one gets one file
per language (`issues/SLUG.cy.md`, `issues/SLUG.en.md`), each with its own
subject and a sample body in its language (from the gettext catalogs).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import yaml

from newsletter.config import Config
from newsletter.errors import InputError
from newsletter.i18n import N_, translator
from newsletter.i18n.dates import month_label
from newsletter.issue.online import archive_clash
from newsletter.issue.source import display_path, issue_paths
from newsletter.subscribers.addresses import clean_field, has_line_break

SAMPLE_PREHEADER = N_("One sentence shown after the subject in the inbox.")
SAMPLE_BODY = N_("""\
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
""")


def scaffold_issue(
    config: Config, slug: str, subject: str | None = None, today: date | None = None
) -> list[Path]:
    """Create the issue's file(s) with front matter and a sample body; never overwrite.

    Either every language's file is created or none is.
    """
    if subject is not None and has_line_break(subject):
        raise InputError("the subject must be one line")
    paths = issue_paths(config, slug)
    clash = archive_clash(slug)
    if clash:
        raise InputError(
            f"an issue cannot be called {slug!r}: {clash}", hint="use a name like 2026-12"
        )
    for path in paths.values():
        if path.exists():
            raise InputError(
                f"{display_path(config, path)} already exists; nothing was changed",
                hint="edit it, or choose another name",
            )
    day = _issue_date(slug, today or date.today())
    created: list[Path] = []
    try:
        for language, path in paths.items():
            _write_new(path, _contents(config, slug, language, subject, day))
            created.append(path)
    except BaseException:
        for path in created:
            path.unlink(missing_ok=True)
        raise
    return created


def _contents(config: Config, slug: str, language: str, subject: str | None, day: date) -> str:
    translate = translator(language).gettext
    if subject is None:
        monthly = config.bilingual and day.isoformat().startswith(slug)
        subject = (
            f"{config.text('name', language)}: {month_label(day, language) if monthly else slug}"
        )
    front = yaml.safe_dump(
        {
            "subject": clean_field(subject),
            "preheader": translate(SAMPLE_PREHEADER),
            "date": day.isoformat(),
        },
        allow_unicode=True,
        sort_keys=False,
        width=1000,
    )
    return f"---\n{front}---\n\n{translate(SAMPLE_BODY)}"


def _write_new(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("x", encoding="utf-8") as handle:
        handle.write(text)


def _issue_date(slug: str, today: date) -> date:
    """The first of the month for a YYYY-MM slug (a monthly issue), else today."""
    try:
        return date.fromisoformat(f"{slug}-01")
    except ValueError:
        return today
