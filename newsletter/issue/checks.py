"""What `issue check` reports about a prepared issue: errors and warnings.

Pure: it looks at one sample recipient's HTML and text and at the skeletons,
never at the network or the database. Problems that stop an issue from being
rendered at all (an undefined name, a template testing a subscriber field)
are raised by `prepare_issue` instead, with their file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import lxml.html
from markupsafe import escape

from newsletter.config import Config
from newsletter.issue.personal_fields import UNSUBSCRIBE_FIELD
from newsletter.issue.rendering import PreparedIssue, sample_subscriber

GMAIL_CLIP_BYTES = 102 * 1024
TEXT_RATIO_WARNING = 0.5  # text part shorter than half the HTML's visible text
_ABSOLUTE = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|#)")


@dataclass(frozen=True)
class Finding:
    level: str  # "error" | "warning"
    message: str


def check_issue(config: Config, prepared: PreparedIssue) -> list[Finding]:
    """Every finding for this issue, errors first."""
    html, text = prepared.render(sample_subscriber())
    findings = [
        *_check_required(config, prepared, html, text),
        *_check_size(html),
        *_check_links(html),
        *_check_text_length(html, text),
    ]
    return sorted(findings, key=lambda finding: finding.level != "error")


def has_errors(findings: list[Finding]) -> bool:
    return any(finding.level == "error" for finding in findings)


def _check_required(config: Config, prepared: PreparedIssue, html: str, text: str) -> list[Finding]:
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
    if not config.postal_address:
        found.append(
            Finding("error", "no postal address: set newsletter.postal_address in newsletter.toml")
        )
    else:
        if str(escape(config.postal_address)) not in html:
            found.append(Finding("error", "the HTML part does not show the postal address"))
        if config.postal_address not in text:
            found.append(Finding("error", "the text part does not show the postal address"))
    return found


def _unsubscribe_is_a_link(prepared: PreparedIssue) -> bool:
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
