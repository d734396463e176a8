"""What rendering an issue produces: its language versions, its editions, and the
issue prepared once (`PreparedIssue`), which fills in one recipient in microseconds.

`rendering.prepare_issue` makes them; the checks, the message builder and the
preview read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from newsletter.errors import InputError
from newsletter.issue.online import OnlineEdition
from newsletter.issue.personal_fields import Skeleton, field_values, html_values
from newsletter.subscribers.model import Subscriber
from newsletter.subscribers.tokens import unsubscribe_url

EVERY_LANGUAGE = ""  # the edition key of the message for readers with no (known) choice
SAMPLE_TOKEN = "SampleTokenForPreview000"  # shaped like a real token, matches no one


@dataclass(frozen=True)
class Edition:
    """One message kind, rendered once: a language, or every language in one message."""

    key: str  # a language code, or EVERY_LANGUAGE
    languages: tuple[str, ...]  # the versions it holds, in order
    subject: str
    preheader: str
    base_url: str
    html: Skeleton
    text: Skeleton

    @property
    def lang(self) -> str:
        """<html lang>: the language, or the first one of a bilingual message."""
        return self.languages[0]

    @property
    def content_language(self) -> str:
        """The Content-Language header (RFC 3282): every language the message holds."""
        return ", ".join(self.languages)

    @cached_property
    def fields(self) -> tuple[str, ...]:
        """Every personal field either part uses, in first-use order (computed once)."""
        return tuple(dict.fromkeys(self.html.slots + self.text.slots))

    def unsubscribe_url(self, subscriber: Subscriber) -> str:
        return unsubscribe_url(self.base_url, subscriber.token)

    def render(self, subscriber: Subscriber) -> tuple[str, str]:
        """(html, text) for one recipient: values escaped for HTML, line breaks removed."""
        values = field_values(subscriber, self.unsubscribe_url(subscriber), self.fields)
        return self.html.fill(html_values(values)), self.text.fill(values)


@dataclass(frozen=True)
class IssueVersion:
    """One language's issue file, read and parsed once."""

    lang: str
    path: Path
    issue: dict[str, str]  # subject, preheader, date, slug, date_label
    html: str
    text: str
    has_subject: bool = True  # False: the file has none and borrows another version's


@dataclass(frozen=True)
class PreparedIssue:
    """One issue, rendered once per edition; `render` fills in one recipient."""

    slug: str
    editions: dict[str, Edition]  # by language; EVERY_LANGUAGE for readers with no choice
    versions: tuple[IssueVersion, ...]  # the language files found, in the project's order
    missing: tuple[str, ...]  # languages of the project with no file
    templates: tuple[str, ...]
    content_hash: str  # sha256 of the issue files, the templates used and the rendered result
    online: dict[str, OnlineEdition] = field(default_factory=dict)  # the archive's copy, by key

    def edition_for(self, language: str) -> Edition:
        """The edition a reader gets: their language's, else the one with every language."""
        edition = self.editions.get(language) or self.editions.get(EVERY_LANGUAGE)
        if edition is None:
            needed = language if language in self.missing else ", ".join(self.missing)
            raise InputError(
                f"issue {self.slug} has no version in {needed}",
                hint=f"write issues/{self.slug}.{self.missing[0]}.md",
            )
        return edition

    @property
    def default(self) -> Edition:
        """The message for a reader with no choice (in a one-language project, the only one)."""
        return self.editions.get(EVERY_LANGUAGE) or next(iter(self.editions.values()))

    @property
    def subject(self) -> str:
        return self.default.subject

    @property
    def preheader(self) -> str:
        return self.default.preheader

    @property
    def html(self) -> Skeleton:
        return self.default.html

    @property
    def text(self) -> Skeleton:
        return self.default.text

    @property
    def fields(self) -> tuple[str, ...]:
        return self.default.fields

    def render(self, subscriber: Subscriber) -> tuple[str, str]:
        """(html, text) of the edition this recipient gets."""
        return self.edition_for(subscriber.language).render(subscriber)


def sample_subscriber(email: str = "reader@example.org", language: str = "") -> Subscriber:
    """The made-up reader of previews and checks (no language chosen: every language)."""
    return Subscriber(
        id=0,
        email=email,
        name="Sample Reader",
        organisation="Sample Organisation",
        language=language,
        token=SAMPLE_TOKEN,
    )
