"""Returned mail for the `bounces` tests: samples filled in with a real delivery's
identifiers, and a project that sent an issue with VERP on."""

from __future__ import annotations

import mailbox
from dataclasses import dataclass
from pathlib import Path

from newsletter.project import open_project
from newsletter.sending.return_path import return_path_for

SLUG = "2026-12"
SAMPLES = Path(__file__).parent.parent / "returns" / "samples"
BOUNCES_CONFIG = """
[bounces]
address = "bounces@example.org"
verp = true
soft_limit = 2
"""


@dataclass(frozen=True)
class SentTo:
    """What a returned message can quote about one delivery."""

    delivery_id: int
    subscriber_id: int
    recipient: str
    message_id: str
    token: str
    verp: str
    issue: str


def enable_returns(project: Path, extra: str = "") -> None:
    """[bounces] with VERP, and a mailto in List-Unsubscribe."""
    path = project / "newsletter.toml"
    text = path.read_text().replace(
        '# unsubscribe_mailto = "unsubscribe@example.org"',
        'unsubscribe_mailto = "unsubscribe@example.org"',
    )
    path.write_text(text + BOUNCES_CONFIG + extra)


def sent_to(project: Path, slug: str) -> dict[str, SentTo]:
    """Every delivery of an issue, by recipient address."""
    with open_project(project) as (config, store):
        return_path = return_path_for(config, store)
        rows = store.query(
            "SELECT d.id, d.subscriber_id, d.message_id, s.email, s.token FROM deliveries d"
            " JOIN subscribers s ON s.id = d.subscriber_id WHERE d.issue_slug = ?",
            [slug],
        )
        return {
            row["email"]: SentTo(
                row["id"],
                row["subscriber_id"],
                row["email"],
                row["message_id"],
                row["token"],
                return_path.for_delivery(row["id"]),
                slug,
            )  # fmt: skip
            for row in rows
        }


def sample(name: str, to: SentTo, subject: str = "Co-pro Newsletter, December") -> bytes:
    """A hand-written sample (tests/returns/samples) about the delivery `to`."""
    text = (SAMPLES / name).read_text(encoding="utf-8")
    values = {
        "recipient": to.recipient, "recipient_local": to.recipient.partition("@")[0],
        "message_id": to.message_id, "token": to.token, "verp": to.verp, "subject": subject,
    }  # fmt: skip
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text.replace("\n", "\r\n").encode()


def deliver(maildir: Path, *messages: bytes) -> None:
    """What the mail server does: each message lands in the Maildir's new/."""
    box = mailbox.Maildir(maildir, create=True)
    for message in messages:
        box.add(message)


def files(folder: Path) -> list[Path]:
    return sorted(p for sub in ("new", "cur") for p in (folder / sub).glob("*") if p.is_file())


def probes_sent(project: Path) -> dict[str, SentTo]:
    """Every probe sent, by recipient address, with what its bounce would quote."""
    with open_project(project) as (config, store):
        return_path = return_path_for(config, store)
        rows = store.query(
            "SELECT p.id, p.subscriber_id, p.message_id, p.issue_slug, s.email, s.token"
            " FROM probes p JOIN subscribers s ON s.id = p.subscriber_id ORDER BY p.id"
        )
        return {
            row["email"]: SentTo(
                row["id"],
                row["subscriber_id"],
                row["email"],
                row["message_id"],
                row["token"],
                return_path.for_probe(row["id"]),
                row["issue_slug"],
            )  # fmt: skip
            for row in rows
        }


def dsn(to: str, *recipients: str, status: str = "5.1.1", quoting: str = "") -> bytes:
    """An RFC 3464 report to `to`, one failed block per recipient, quoting the
    Message-ID `quoting` (or nothing)."""
    reply = f"{status[0]}50 {status} no such user"
    blocks = "".join(
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; {reply}\r\n\r\n"
        for recipient in recipients
    )
    if quoting:
        blocks += (
            "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
            f"From: newsletter@example.org\r\nMessage-ID: {quoting}\r\n\r\n"
        )
    return (
        f"From: MAILER-DAEMON@mx.example.net\r\nTo: {to}\r\nReturn-Path: <>\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.example.net\r\n\r\n{blocks}--B--\r\n"
    ).encode()
