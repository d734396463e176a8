"""The check that keeps `issue new`'s sample from being mailed to the whole list.

The scaffold is written to be written over: its sample lines (in the file's
language) and its example.org links, left in, mean the coordinator has not
finished. Each error names the file and line to edit.
"""

from __future__ import annotations

import functools
import re

from newsletter.config import Config
from newsletter.i18n import translator
from newsletter.issue.editions import IssueVersion, PreparedIssue
from newsletter.issue.scaffold import SAMPLE_BODY, SAMPLE_PREHEADER
from newsletter.issue.source import display_path

Finding = tuple[str, str]  # (level, message); `checks` makes them its Findings
_URL = re.compile(r"https?://[^\s)\]>\"'`]+")


def check_placeholders(config: Config, prepared: PreparedIssue) -> list[Finding]:
    return [finding for version in prepared.versions for finding in _check_file(config, version)]


def _check_file(config: Config, version: IssueVersion) -> list[Finding]:
    try:
        lines = version.path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):  # it was read moments ago; reading says why
        return []
    where = display_path(config, version.path)
    sample = _sample(version.lang)
    left = [number for number, line in enumerate(lines, 1) if _in_sample(line, sample)]
    sample_urls = set(_URL.findall(sample))
    links = [
        (number, url)
        for number, line in enumerate(lines, 1)
        for url in _URL.findall(line)
        if url in sample_urls
    ]
    found = []
    if left:
        first = lines[left[0] - 1].strip()
        more = f" and {len(left) - 1} more lines" if len(left) > 1 else ""
        found.append(
            (
                "error",
                f"{where}:{left[0]}: the sample text of `issue new` is still there"
                f" ({first[:60]!r}{more}): write over it",
            )
        )
    if links:
        number, url = links[0]
        more = f" and {len(links) - 1} more" if len(links) > 1 else ""
        found.append(
            (
                "error",
                f"{where}:{number}: {url} is the sample's placeholder link{more}:"
                " link to the real page",
            )
        )
    return found


def _sample(language: str) -> str:
    gettext = translator(language).gettext
    return f"{gettext(SAMPLE_BODY)}\n{gettext(SAMPLE_PREHEADER)}"


def _in_sample(line: str, sample: str) -> bool:
    stripped = line.strip()
    if stripped.startswith("preheader:"):
        stripped = stripped.removeprefix("preheader:").strip().strip("\"'")
    return stripped in _sample_lines(sample)


@functools.cache
def _sample_lines(sample: str) -> frozenset[str]:
    """The sample's sentences: long enough that a real issue does not share them by
    chance (a heading such as "Dates for your diary" may well stay)."""
    lines = (line.strip() for line in sample.splitlines())
    return frozenset(line for line in lines if len(line) >= 25 and not line.startswith("#"))
