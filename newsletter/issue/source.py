"""The issue file: YAML front matter between '---' lines, then Markdown.

Every value is read as the text it is written as (YAML's base schema): no
YAML 1.1 surprises such as `subject: On` becoming True or `No` becoming False.
The date is then checked as a date. Every error names the file and, where YAML
knows it, the line.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from newsletter.config import Config
from newsletter.errors import InputError
from newsletter.subscribers.addresses import clean_field, has_line_break

KEYS = ("subject", "preheader", "date")
FENCES = ("---", "...")


def read_issue_file(
    path: Path, display: str, *, require_subject: bool = True
) -> tuple[dict[str, str], str]:
    """({subject, preheader, date}, markdown body); raises InputError naming file:line.

    require_subject=False: one language's file of a bilingual issue, which may
    borrow another version's subject (`check` warns).
    """
    try:
        text = path.read_text(encoding="utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise InputError(f"{display}: not UTF-8 text") from None
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise InputError(
            f"{display}:1: the file must start with front matter",
            hint="a '---' line, 'subject: ...', another '---' line, then the Markdown",
        )
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in FENCES), None)
    if end is None:
        raise InputError(f"{display}:1: the front matter is not closed by a '---' line")
    meta = _load_yaml("".join(lines[1:end]), display, last_line=max(end, 2))
    values = _check_meta(meta, display, lines[1:end])
    if require_subject and not values["subject"]:
        raise InputError(
            f"{display}: the front matter has no subject",
            hint="add a line 'subject: ...' between the '---' lines",
        )
    return values, "".join(lines[end + 1 :])


_QUOTE_HINT = (
    'put the value in double quotes, e.g. subject: "Co-pro Newsletter: December 2026"'
    " (a value with ': ' or ' #' in it, or one that starts with a quote, [, {, &, *, !, |,"
    " >, % or @, needs them)"
)


def _load_yaml(text: str, display: str, last_line: int) -> dict[str, Any]:
    try:
        meta = yaml.load(text, Loader=yaml.BaseLoader)  # every scalar stays text
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = (
            min(mark.line + 2, last_line) if mark is not None else 2
        )  # 'at stream end' -> last line
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise InputError(
            f"{display}:{line}: the front matter is not valid YAML: {problem}",
            hint=_QUOTE_HINT,
        ) from None
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise InputError(f"{display}:2: the front matter must be 'key: value' lines")
    return meta


def _check_meta(meta: dict[str, Any], display: str, lines: list[str]) -> dict[str, str]:
    unknown = [str(key) for key in meta if key not in KEYS]
    if unknown:
        raise InputError(
            f"{display}:{_line_of(unknown[0], lines)}: unknown front matter key '{unknown[0]}'",
            hint=f"known keys: {', '.join(KEYS)}",
        )
    values = {}
    for key in KEYS:
        value = meta.get(key) or ""
        if not isinstance(value, str):
            raise InputError(
                f"{display}:{_line_of(key, lines)}: '{key}' must be one line of text",
                hint=_QUOTE_HINT,
            )
        if has_line_break(value):
            raise InputError(f"{display}:{_line_of(key, lines)}: '{key}' must be one line")
        values[key] = clean_field(value)
    values["date"] = _checked_date(values["date"], f"{display}:{_line_of('date', lines)}")
    return values


def _checked_date(value: str, where: str) -> str:
    """'' or YYYY-MM-DD (a time after it is allowed and dropped)."""
    if not value:
        return ""
    try:
        return datetime.fromisoformat(value).date().isoformat()
    except ValueError as error:
        reason = "not a date" if str(error).startswith("Invalid isoformat") else str(error)
        raise InputError(
            f"{where}: 'date' must be a real date written YYYY-MM-DD: {value!r} ({reason})",
            hint="for example date: 2026-12-01, or leave the date out",
        ) from None


def _line_of(key: str, lines: list[str]) -> int:
    """The file line (front matter starts on line 2) where `key:` appears."""
    for number, line in enumerate(lines, start=2):
        if line.lstrip().startswith(f"{key}:"):
            return number
    return 2


SLUG_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_slug(slug: str) -> str:
    """A slug is a safe file name: letters, digits, '.', '_', '-'."""
    if slug.lower().endswith(".md"):  # the file's name, perhaps with its folder
        name = re.split(r"[\\/]", slug)[-1][:-3]
        raise InputError(
            f"invalid issue name {slug!r}: the name is the file's name without '.md'",
            hint=f"use {name}" if SLUG_PATTERN.fullmatch(name) else None,
        )
    if not SLUG_PATTERN.fullmatch(slug) or ".." in slug:
        raise InputError(
            f"invalid issue name {slug!r}",
            hint="use letters, digits, '-', '_' and '.', for example 2026-12",
        )
    return slug


def issue_path(config: Config, slug: str, language: str | None = None) -> Path:
    """issues/SLUG.md, or issues/SLUG.LANG.md for one language of a bilingual project."""
    suffix = f".{language}.md" if language and config.bilingual else ".md"
    return config.issues_dir / f"{check_slug(slug)}{suffix}"


def issue_paths(config: Config, slug: str) -> dict[str, Path]:
    """Every language's file (one file, SLUG.md, in a one-language project)."""
    if not config.bilingual:
        return {config.languages[0]: issue_path(config, slug)}
    return {language: issue_path(config, slug, language) for language in config.languages}


def display_path(config: Config, path: Path | str) -> str:
    """A path as the coordinator knows it: relative to the project when inside it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(config.project_dir))
    except ValueError:
        return str(path)
