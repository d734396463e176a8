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
            "SELECT d.id, d.message_id, s.email, s.token FROM deliveries d"
            " JOIN subscribers s ON s.id = d.subscriber_id WHERE d.issue_slug = ?",
            [slug],
        )
        return {
            row["email"]: SentTo(
                row["id"],
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
