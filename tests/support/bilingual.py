"""Helpers for the bilingual tests: a Welsh-first project, an issue in two files, readers."""

from __future__ import annotations

import re
from pathlib import Path

from newsletter.config import Config, load_config

SLUG = "2026-12"
NAMES = {"cy": "Cylchlythyr Cyd-gynhyrchu", "en": "Co-pro Newsletter"}
ADDRESSES = {
    "cy": "12 Stryd y Castell, Aberystwyth, Cymru",
    "en": "12 Castle Street, Aberystwyth, Wales",
}
SUBJECTS = {
    "cy": "Newyddion Rhagfyr: Gŵyl Dewi a'r Eisteddfod",
    "en": "December news: the Ŵyl and more",
}
BODIES = {
    "cy": "Croeso i rifyn Rhagfyr.\n\n## Y newyddion\n\nDarllenwch [yr adroddiad](https://example.org/adroddiad).\n",
    "en": "Welcome to the December issue.\n\n## The news\n\nRead [the report](https://example.org/report).\n",
}
READERS = {  # address -> language chosen ('' = none: the bilingual message)
    "cymraeg@example.org": "cy",
    "english@example.org": "en",
    "neither@example.org": "",
}


def make_bilingual(project: Path, languages: tuple[str, ...] = ("cy", "en")) -> Config:
    """Turn an `init`ed project into a bilingual one (Welsh first)."""
    path = project / "newsletter.toml"
    text = path.read_text(encoding="utf-8")
    table = ", ".join(f'{lang} = "{NAMES[lang]}"' for lang in languages)
    where = ", ".join(f'{lang} = "{ADDRESSES[lang]}"' for lang in languages)
    quoted = ", ".join(f'"{lang}"' for lang in languages)
    text = re.sub(r"(?m)^name = .*$", f"languages = [{quoted}]\nname = {{ {table} }}", text)
    text = re.sub(r"(?m)^postal_address = .*$", f"postal_address = {{ {where} }}", text)
    path.write_text(text, encoding="utf-8")
    return load_config(project)


def write_version(
    project: Path,
    lang: str,
    slug: str = SLUG,
    body: str | None = None,
    subject: str | None = None,
) -> Path:
    subject = SUBJECTS[lang] if subject is None else subject
    front = f'subject: "{subject}"\n' if subject else ""
    path = project / "issues" / f"{slug}.{lang}.md"
    path.write_text(
        f"---\n{front}preheader: P-{lang}\ndate: 2026-12-01\n---\n\n{BODIES[lang] if body is None else body}",
        encoding="utf-8",
    )
    return path


def write_bilingual_issue(project: Path, slug: str = SLUG) -> None:
    for lang in ("cy", "en"):
        write_version(project, lang, slug)


def add_readers(store) -> dict[str, int]:  # noqa: ANN001
    """One reader of each kind; returns their ids by address."""
    return {
        email: store.add_subscriber(
            email, name=email.split("@")[0].title(), language=lang
        ).subscriber.id
        for email, lang in READERS.items()
    }
