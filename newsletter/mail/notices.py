"""Single mails to one person (the sign-up confirmation, the welcome): built the plain way.

They are few, so the obvious `EmailMessage` path is fast enough: text and HTML
alternatives, UTF-8, quoted-printable, `Auto-Submitted: auto-generated` (RFC
3834: no auto-replies back), and `Content-Language` naming every language the
mail is written in.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage

from newsletter.config import Config
from newsletter.mail.headers import display_name
from newsletter.mail.outgoing import OutgoingMessage
from newsletter.subscribers.addresses import ascii_address, clean_field


def build_notice(
    config: Config,
    *,
    to_email: str,
    to_name: str,
    subject: str,
    text: str,
    html: str,
    languages: tuple[str, ...],
) -> OutgoingMessage:
    """One finished message, ready for any transport."""
    sender = ascii_address(config.from_address)
    recipient = ascii_address(to_email)
    message_id = f"<{secrets.token_hex(12)}@{sender.rpartition('@')[2]}>"
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = Address(config.from_name, addr_spec=sender)
    message["To"] = Address(display_name(to_name), addr_spec=recipient)
    if config.reply_to:
        message["Reply-To"] = ascii_address(config.reply_to)
    message["Subject"] = clean_field(subject)
    message["Date"] = datetime.now(UTC)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    if languages:  # after the bodies: set_content drops every Content-* header
        message["Content-Language"] = ", ".join(languages)
    return OutgoingMessage(message_id, sender, recipient, message.as_bytes())
