"""What `issue check` reports about a prepared issue: errors and warnings.

Pure: it looks at one sample recipient's HTML and text and at the skeletons,
never at the network or the database. Problems that stop an issue from being
rendered at all (an undefined name, a template testing a subscriber field)
are raised by `prepare_issue` instead, with their file and line.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

import lxml.html

from newsletter.config import Config
from newsletter.issue.active_content import active_content
from newsletter.issue.editions import Edition, PreparedIssue, sample_subscriber
from newsletter.issue.language_checks import check_languages
from newsletter.issue.online import archive_clash
from newsletter.issue.personal_fields import UNSUBSCRIBE_FIELD
from newsletter.issue.placeholders import check_placeholders

GMAIL_CLIP_BYTES = 102 * 1024
TEXT_RATIO_WARNING = 0.5  # text part shorter than half the HTML's visible text
_ABSOLUTE = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|#)")


@dataclass(frozen=True)
class Finding:
    level: str  # "error" | "warning"
    message: str


def check_issue(
    config: Config,
    prepared: PreparedIssue,
    attribute_keys: Callable[[], Collection[str]] | None = None,
    readers: dict[str, int] | None = None,
) -> list[Finding]:
    """Every finding for this issue, errors first.

    `attribute_keys` gives the attributes the subscribers have (the store's),
    so that a misspelt `subscriber.attributes.X` is an error, not a blank.
    Each edition is checked (in a bilingual project: each language and the
    message with both, which Gmail may clip); `readers` (active subscribers by
    language) tells which missing versions someone needs.
    """
    seen: dict[Finding, list[str]] = {}
    for edition in prepared.editions.values():
        for finding in _check_edition(config, edition):
            seen.setdefault(finding, []).append("+".join(edition.languages))
    findings = [
        Finding(f.level, f"{f.message} [{', '.join(labels)}]") if config.bilingual else f
        for f, labels in seen.items()
    ]
    findings += _check_attributes(prepared, attribute_keys)
    if clash := archive_clash(prepared.slug):
        findings.append(Finding("error", f"rename the issue's file: {clash}"))
    findings += [Finding(*pair) for pair in check_languages(config, prepared, readers)]
    findings += [Finding(*pair) for pair in check_placeholders(config, prepared)]
    return sorted(findings, key=lambda finding: finding.level != "error")


def _check_edition(config: Config, edition: Edition) -> list[Finding]:
    html, text = edition.render(sample_subscriber())
    return [
        *_check_required(config, edition, html, text),
        *_check_active_content(html),
        *_check_size(html),
        *_check_links(html),
        *_check_text_length(html, text),
    ]


def has_errors(findings: list[Finding]) -> bool:
    return any(finding.level == "error" for finding in findings)


def _check_required(config: Config, prepared: Edition, html: str, text: str) -> list[Finding]:
    found: list[Finding] = []
    if not prepared.subject.strip():
        found.append(Finding("error", "the issue has no subject"))
    if UNSUBSCRIBE_FIELD not in prepared.html.slots:
        found.append(
            Finding("error", "the HTML part has no unsubscribe link ({{ unsubscribe_url }})")
        )
    elif not _unsubscribe_is_a_link(prepared):
        found.append(
            Finding(
                "error",
                'the HTML part shows unsubscribe_url but not as href="{{ unsubscribe_url }}"',
            )
        )
    if UNSUBSCRIBE_FIELD not in prepared.text.slots:
        found.append(
            Finding("error", "the text part has no unsubscribe link ({{ unsubscribe_url }})")
        )
    addresses = [config.text("postal_address", lang) for lang in prepared.languages]
    if not all(addresses):
        found.append(
            Finding("error", "no postal address: set newsletter.postal_address in newsletter.toml")
        )
        return found
    if not all(_words(address) in _words(_visible_text(html)) for address in addresses):
        found.append(Finding("error", "the HTML part does not show the postal address"))
    if not all(_words(address) in _words(text) for address in addresses):  # wrapped lines too
        found.append(Finding("error", "the text part does not show the postal address"))
    return found


def _check_active_content(html: str) -> list[Finding]:
    return [
        Finding(
            "error",
            f"the HTML has {what}: remove it from the issue or the templates"
            " (mail must not carry scripts, frames or forms)",
        )
        for what in active_content(html)
    ]


def _check_attributes(
    prepared: PreparedIssue, attribute_keys: Callable[[], Collection[str]] | None
) -> list[Finding]:
    used = [
        field.removeprefix("attributes.")
        for field in prepared.fields
        if field.startswith("attributes.")
    ]
    if not used or attribute_keys is None:
        return []
    known = set(attribute_keys())
    if not known:  # no subscriber has any attribute yet: nothing to compare with
        return []
    found = []
    for key in used:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            guess = f"did you mean {close[0]}?" if close else f"they have {_some(known)}"
            found.append(
                Finding(
                    "error",
                    f"subscriber.attributes.{key}: no subscriber has this attribute, so it"
                    f" would print blank ({guess})",
                )
            )
    return found


def _some(names: Collection[str], limit: int = 8) -> str:
    shown = sorted(names)[:limit]
    return ", ".join(shown) + (", ..." if len(names) > limit else "")


def _visible_text(html: str) -> str:
    """The text a reader sees: entities decoded however the inliner wrote them."""
    return lxml.html.document_fromstring(html).text_content()


def _words(text: str) -> str:
    return " ".join(text.split())


def _unsubscribe_is_a_link(prepared: Edition) -> bool:
    chunks, slots = prepared.html.chunks, prepared.html.slots
    return any(
        slot == UNSUBSCRIBE_FIELD and re.search(r"href\s*=\s*[\"']?$", chunks[index], re.I)
        for index, slot in enumerate(slots)
    )


def _check_size(html: str) -> list[Finding]:
    size = len(html.encode("utf-8"))
    if size <= GMAIL_CLIP_BYTES:
        return []
    return [
        Finding(
            "warning",
            f"the HTML is {size / 1024:.0f} KB; Gmail clips messages over 102 KB"
            " (the unsubscribe link would be hidden)",
        )
    ]


def _check_links(html: str) -> list[Finding]:
    document = lxml.html.document_fromstring(html)
    found: list[Finding] = []
    for image in document.iter("img"):
        if not (image.get("alt") or "").strip():
            found.append(Finding("warning", f"image without alt text: {image.get('src', '')}"))
    for element, attribute, url, _pos in document.iterlinks():
        if element.tag not in ("a", "img") or attribute not in ("href", "src"):
            continue
        url = url.strip()
        if url.lower().startswith("http:"):
            found.append(Finding("warning", f"http: link (use https): {url}"))
        elif not _ABSOLUTE.match(url):
            found.append(
                Finding("warning", f"relative URL (mail readers need a full https:// URL): {url}")
            )
    return found


def _check_text_length(html: str, text: str) -> list[Finding]:
    body = lxml.html.document_fromstring(html).find("body")
    visible = " ".join((body.text_content() if body is not None else "").split())
    words = " ".join(text.split())
    if visible and len(words) < TEXT_RATIO_WARNING * len(visible):
        return [
            Finding(
                "warning",
                f"the text part ({len(words)} characters) is much shorter than the HTML"
                f" ({len(visible)} characters of text)",
            )
        ]
    return []
