"""Single mails to one person (the sign-up confirmation, the welcome): built the plain way.

They are few, so the email package lays out the body (text and HTML
alternatives, UTF-8, quoted-printable, `Content-Language` naming every language
the mail is written in). The headers are written by the project's own encoder,
as a newsletter's are, with `Auto-Submitted: auto-generated` (RFC 3834: no
auto-replies back). With [dkim] they are signed by the key that signs the
issues, so a confirmation is as trustworthy to a receiver as the newsletter.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING

from newsletter.config import Config
from newsletter.mail.headers import CRLF, from_header, subject_header, to_header
from newsletter.mail.outgoing import OutgoingMessage
from newsletter.subscribers.addresses import ascii_address

if TYPE_CHECKING:
    from newsletter.mail.dkim import DkimSigner


def build_notice(
    config: Config,
    *,
    to_email: str,
    to_name: str,
    subject: str,
    text: str,
    html: str,
    languages: tuple[str, ...],
    signer: DkimSigner | None = None,
) -> OutgoingMessage:
    """One finished message, ready for any transport; DKIM-signed when `signer` is given.

    The headers go through the project's own encoder (`mail.headers`), as every
    newsletter's do; the email package only lays out the two alternatives.
    """
    sender = ascii_address(config.from_address)
    recipient = ascii_address(to_email)
    message_id = f"<{secrets.token_hex(12)}@{sender.rpartition('@')[2]}>"
    head = "".join(
        [
            from_header(config),
            to_header(to_name, recipient),
            f"Reply-To: {ascii_address(config.reply_to)}{CRLF}" if config.reply_to else "",
            subject_header(subject),
            f"Date: {format_datetime(datetime.now(UTC).replace(microsecond=0))}{CRLF}",
            f"Message-ID: {message_id}{CRLF}",
            f"Auto-Submitted: auto-generated{CRLF}",
        ]
    )
    body = EmailMessage(policy=policy.SMTP)
    body.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    body.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    if languages:  # after the bodies: set_content drops every Content-* header
        body["Content-Language"] = ", ".join(languages)
    data = head.encode("ascii") + body.as_bytes()
    if signer is not None:
        data = signer.sign(data)
    return OutgoingMessage(message_id, sender, recipient, data)
