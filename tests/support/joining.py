"""Helpers for the joining tests: filled-in forms, the outbox, waiting for the worker."""

from __future__ import annotations

import mailbox
import re
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from newsletter.project import open_project
from newsletter.subscribers.signups import form_secret
from newsletter.web.form_guard import StampSigner

from support.web import Server

CONFIRM_LINK = re.compile(r"/confirm/([A-Za-z0-9_-]{24})(?![A-Za-z0-9_-])")
STAMP = re.compile(r'name="stamp" value="([^"]+)"')
WORDING = re.compile(r'name="wording" value="([^"]+)"')


def aged_stamp(project: Path, seconds: float = 30, minimum: int = 3) -> str:
    """A genuine stamp issued `seconds` ago, as if a person had taken that long."""
    with open_project(project) as (_config, store):
        secret = form_secret(store)
    return StampSigner(secret, clock=lambda: time.time() - seconds).stamp(minimum)


def signup_body(project: Path, email: str, **fields: Any) -> bytes:
    """The urlencoded body of a form a person filled in properly."""
    values = {
        "stamp": aged_stamp(project),
        "lang": "en",
        "email": email,
        "name": "Nia Jones",
        "organisation": "",
        "language": "en",
        "website": "",
        **fields,
    }
    return urlencode(values).encode()


def sign_up(server: Server, project: Path, email: str, **fields: Any):  # noqa: ANN201
    """POST the form, filled in properly, as a person would."""
    return server.post("/subscribe", signup_body(project, email, **fields))


def confirm_link(server: Server, token: str):  # noqa: ANN201
    """Open the link, then press its button: (the page, the answer to the button)."""
    page = server.request("GET", f"/confirm/{token}")
    digest = WORDING.search(page.text)
    body = f"wording={digest.group(1)}".encode() if digest else b""
    return page, server.post(f"/confirm/{token}", body)


def outbox_messages(project: Path) -> list[EmailMessage]:
    folder = project / "outbox"
    if not (folder / "cur").exists():  # not yet (or not wholly) made by the first delivery
        return []
    box = mailbox.Maildir(folder, create=False)
    return [
        message_from_bytes(box.get_bytes(key), policy=policy.default)
        for key in sorted(box.iterkeys(), key=_delivered)
    ]  # type: ignore[misc]


def confirmation_tokens(messages: list[EmailMessage], to: str) -> list[str]:
    """The confirmation tokens mailed to `to`, from the text part of each message."""
    tokens = []
    for message in messages:
        if to in str(message["To"]):
            text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
            tokens.extend(dict.fromkeys(CONFIRM_LINK.findall(text)))  # once per mail
    return tokens


def mail_queue(project: Path) -> list[dict[str, Any]]:
    with open_project(project) as (_config, store):
        return list(store.query("SELECT kind, recipient, attempts, last_error FROM mail_queue"))


def _delivered(key: str) -> tuple[int, int]:
    """Maildir keys start `SECONDS.M<microseconds>P...`: delivery order."""
    seconds, _, rest = key.partition(".")
    micro = rest[1:].split("P", 1)[0] if rest.startswith("M") else "0"
    return int(seconds), int(micro) if micro.isdigit() else 0
