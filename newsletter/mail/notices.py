"""Single mails to one person (the sign-up confirmation, the welcome): built as the issues are.

The same pieces as a newsletter's: the project's header encoder, the two
alternatives (text, then HTML) as UTF-8 quoted-printable with lines of at most
76 characters (RFC 2045), one `MIME-Version`, `Content-Language` naming every
language the mail is written in, and the envelope sender of `[bounces]`, so a
confirmation that bounces comes back to the return mailbox and not to the
coordinator's inbox. `Auto-Submitted: auto-generated` (RFC 3834) keeps
auto-replies away. With [dkim] they are signed by the key that signs the
issues, so a confirmation is as trustworthy to a receiver as the newsletter.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import TYPE_CHECKING

from newsletter.config import Config
from newsletter.mail.builder import part_head, quoted_printable
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
    """One finished message, ready for any transport; DKIM-signed when `signer` is given."""
    sender = ascii_address(config.from_address)
    recipient = ascii_address(to_email)
    message_id = f"<{secrets.token_hex(12)}@{sender.rpartition('@')[2]}>"
    boundary = f"=_nl{secrets.token_hex(12)}"
    head = "".join(
        [
            from_header(config),
            to_header(to_name, recipient),
            f"Reply-To: {ascii_address(config.reply_to)}{CRLF}" if config.reply_to else "",
            subject_header(subject),
            f"Date: {format_datetime(datetime.now(UTC).replace(microsecond=0))}{CRLF}",
            f"Message-ID: {message_id}{CRLF}",
            f"Auto-Submitted: auto-generated{CRLF}",
            f"Content-Language: {', '.join(languages)}{CRLF}" if languages else "",
            f"MIME-Version: 1.0{CRLF}",
            f'Content-Type: multipart/alternative; boundary="{boundary}"{CRLF}{CRLF}',
            part_head(boundary, "plain"),
        ]
    )
    data = b"".join(
        [
            head.encode("ascii"),
            quoted_printable(text),
            (CRLF + part_head(boundary, "html")).encode("ascii"),
            quoted_printable(html),
            f"{CRLF}--{boundary}--{CRLF}".encode("ascii"),
        ]
    )
    if signer is not None:
        data = signer.sign(data)
    return OutgoingMessage(message_id, ascii_address(config.return_address), recipient, data)
