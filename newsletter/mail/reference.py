"""The reference message: the slow, obvious `EmailMessage` path.

The tests hold `MessageFactory`'s bytes equal to this, so the fast builder can
never drift from what the email package would produce.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage

from newsletter.config import Config
from newsletter.issue.editions import PreparedIssue
from newsletter.issue.online import archive_url
from newsletter.mail.headers import (
    ONE_CLICK,
    display_name,
    header_text,
    list_id_value,
    list_unsubscribe_header,
    mailto_uri,
    recipient_address,
)
from newsletter.subscribers.addresses import ascii_address
from newsletter.subscribers.model import Subscriber


class _UriListHeader(str):
    """A List-Unsubscribe value the email package emits as given (folded between URIs)."""

    name = "List-Unsubscribe"
    uris: tuple[str, str | None]  # (https URL, mailto URI), set by `of`

    def fold(self, *, policy: object) -> str:  # noqa: ARG002 - the email package's signature
        return list_unsubscribe_header(*self.uris)

    @classmethod
    def of(cls, url: str, mailto: str | None) -> _UriListHeader:
        header = cls(f"<{url}>" + (f", <{mailto}>" if mailto else ""))
        header.uris = (url, mailto)
        return header


def build_reference_message(
    config: Config,
    prepared: PreparedIssue,
    subscriber: Subscriber,
    *,
    message_id: str | None = None,
    date: datetime | None = None,
) -> EmailMessage:
    """The slow, obviously-correct message: a fresh EmailMessage (policy SMTP)."""
    edition = prepared.edition_for(subscriber.language)
    html, text = edition.render(subscriber)
    url = edition.unsubscribe_url(subscriber)
    sender = ascii_address(config.from_address)
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = Address(display_name(config.from_name), addr_spec=sender)
    message["To"] = Address(display_name(subscriber.name), addr_spec=recipient_address(subscriber))
    if config.reply_to:
        message["Reply-To"] = ascii_address(config.reply_to)
    message["Subject"] = header_text(edition.subject)
    message["Date"] = date or datetime.now(UTC)
    message["Message-ID"] = message_id or f"<{secrets.token_hex(12)}@{sender.rpartition('@')[2]}>"
    message["List-Id"] = list_id_value(config)
    message["List-Archive"] = f"<{archive_url(config.base_url)}>"
    message["List-Unsubscribe"] = _UriListHeader.of(url, mailto_uri(config, subscriber.token))
    message["List-Unsubscribe-Post"] = ONE_CLICK
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    # set_content clears Content-* headers, so this one comes last here (the fast path
    # puts it after Subject; header order carries no meaning).
    message["Content-Language"] = edition.content_language
    return message
