"""The checks of a bilingual issue: versions readers need, versions that differ.

- a language some active readers need has no file: an error (a reader who
  chose Welsh needs the Welsh version; a reader with no choice, or with a
  language the project does not write in, needs every version);
- versions that differ in shape (number of links, headings, images): a
  warning, because one language's readers may miss something;
- a version without its own subject (it borrows another's): a warning.
"""

from __future__ import annotations

import lxml.html

from newsletter.config import Config
from newsletter.i18n import language_name
from newsletter.issue.editions import IssueVersion, PreparedIssue
from newsletter.issue.source import display_path, issue_path

Finding = tuple[str, str]  # (level, message); `checks` makes them its Findings
SHAPE = {"links": "//a[@href]", "headings": "//h1|//h2|//h3|//h4|//h5|//h6", "images": "//img"}


def check_languages(
    config: Config, prepared: PreparedIssue, readers: dict[str, int] | None
) -> list[Finding]:
    if not config.bilingual:
        return []
    return [
        *_missing_versions(config, prepared, readers),
        *_different_shapes(prepared.versions),
        *_borrowed_subjects(config, prepared.versions),
    ]


def _missing_versions(
    config: Config, prepared: PreparedIssue, readers: dict[str, int] | None
) -> list[Finding]:
    found = []
    for language in prepared.missing:
        path = display_path(config, issue_path(config, prepared.slug, language))
        name = language_name(language, "en")
        if readers is None:
            found.append(("error", f"no {name} version: {path} does not exist"))
            continue
        chose = readers.get(language, 0)
        both = sum(n for lang, n in readers.items() if lang not in config.languages)
        if chose or both:
            found.append(
                (
                    "error",
                    f"no {name} version: {path} does not exist, and {chose + both} active"
                    f" readers need it ({chose} chose {language}, {both} get every language)",
                )
            )
    return found


def _different_shapes(versions: tuple[IssueVersion, ...]) -> list[Finding]:
    if len(versions) < 2:
        return []
    shapes = {version.lang: _shape(version.html) for version in versions}
    found = []
    for kind in SHAPE:
        counts = {lang: shape[kind] for lang, shape in shapes.items()}
        if len(set(counts.values())) > 1:
            listed = ", ".join(f"{lang} {count}" for lang, count in counts.items())
            found.append(("warning", f"the versions have different numbers of {kind}: {listed}"))
    return found


def _shape(html: str) -> dict[str, int]:
    if not html.strip():
        return dict.fromkeys(SHAPE, 0)
    document = lxml.html.document_fromstring(f"<div>{html}</div>")
    return {kind: len(document.xpath(path)) for kind, path in SHAPE.items()}


def _borrowed_subjects(config: Config, versions: tuple[IssueVersion, ...]) -> list[Finding]:
    return [
        (
            "warning",
            f"{display_path(config, version.path)} has no subject; the message uses"
            f" {version.issue['subject']!r} from another version",
        )
        for version in versions
        if not version.has_subject
    ]
