"""Every kind of message a reader can get, as files a browser or a validator opens.

The example issue's three editions (cy, en, and both for readers who made no
choice) come from `issue preview`; the confirmation and welcome mails are
written by the serving process's own JoiningMail, and the probe `bounces`
sends by the same NoticeWriter, for a Welsh, an English and an undecided reader. The HTML part of each is saved beside the preview.
"""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from newsletter.config import load_config
from newsletter.mail.notice_writer import NoticeWriter
from newsletter.returns.probes import PROBE_SUBJECT
from newsletter.subscribers.model import Subscriber
from newsletter.subscribers.signups import Invitation, PendingSignup
from newsletter.web.joining_mail import JoiningMail

EDITIONS = {"cy": "index.cy.html", "en": "index.en.html", "both": "index.html"}
READERS = {"cy": "cy", "en": "en", "both": ""}  # notice name suffix -> the reader's language


def notices(project: Path) -> dict[str, bytes]:
    """'confirm-cy', 'welcome-both', 'probe-en', ...: each notice's bytes as queued."""
    config = load_config(project)
    mail, writer = JoiningMail(config), NoticeWriter(config)
    written = {}
    for suffix, language in READERS.items():
        email = f"reader-{suffix}@example.org"
        pending = PendingSignup(email, "Siân Reader", "", language, None, "web-form", None, "")
        written[f"confirm-{suffix}"] = mail.confirmation(Invitation("C" * 24, pending)).data
        reader = Subscriber(
            id=9, email=email, name="Siân Reader", language=language, token="T" * 24
        )
        written[f"welcome-{suffix}"] = mail.welcome(reader).data
        preferences = {"preferences_url": f"{config.base_url}/u/{reader.token}"}
        written[f"probe-{suffix}"] = writer.write(
            "probe", email=email, name=reader.name, language=language,
            context=preferences, subject_msgid=PROBE_SUBJECT,
        ).data  # fmt: skip
    return written


def parse(data: bytes) -> EmailMessage:
    return message_from_bytes(data, policy=policy.default)  # type: ignore[return-value]


def html_part(data: bytes) -> str:
    part = parse(data).get_body(("html",))
    assert part is not None
    return part.get_content()


def every_page(preview: Path) -> dict[str, Path]:
    """Name -> HTML file: the previewed editions and the notices written beside them."""
    folder = preview.parent
    pages = {f"issue-{name}": folder / file for name, file in EDITIONS.items()}
    for name, data in notices(folder.parents[1]).items():
        path = folder / f"{name}.html"
        path.write_text(html_part(data), encoding="utf-8")
        pages[name] = path
    return pages
