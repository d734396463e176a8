"""The confirmation and welcome emails, written from the project's templates.

Each is written in the reader's language, or in every language of the project
(first language first) when the reader has not chosen one. The bodies come
from templates/mail/{confirm,welcome}.{txt,html} (mail/notice_writer.py).
"""

from __future__ import annotations

import jinja2

from newsletter.config import Config
from newsletter.errors import TemplateError
from newsletter.i18n import N_
from newsletter.mail.notice_writer import NoticeWriter
from newsletter.mail.outgoing import OutgoingMessage
from newsletter.subscribers.model import Subscriber
from newsletter.subscribers.signups import Invitation, PendingSignup
from newsletter.subscribers.tokens import unsubscribe_url

# Subjects: gettext message ids, translated per language.
CONFIRM_SUBJECT = N_("Confirm your subscription to {name}")
WELCOME_SUBJECT = N_("Welcome to {name}")


class JoiningMail:
    """Writes the two emails of joining; shares nothing mutable, so any thread may use it."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.writer = NoticeWriter(config)

    def check(self) -> None:
        """Write a sample of each email, so a broken template fails when `serve` starts."""
        sample = Subscriber(id=0, email="reader@example.org", token="x" * 24)
        pending = PendingSignup(sample.email, "", "", "", None, "web-form", None, "")
        for write in (lambda: self.confirmation(Invitation("x" * 24, pending)),
                      lambda: self.welcome(sample)):  # fmt: skip
            try:
                write()
            except jinja2.TemplateError as error:
                where = (
                    getattr(error, "filename", None)
                    or getattr(error, "name", None)
                    or "templates/mail"
                )
                raise TemplateError(
                    f"{where}: {getattr(error, 'message', None) or error}",
                    hint="fix the email in your project's templates/mail/, or delete it to use the default",
                ) from None

    def confirmation(self, invitation: Invitation) -> OutgoingMessage:
        signup = invitation.signup
        context = {
            "confirm_url": f"{self.config.base_url}/confirm/{invitation.token}",
            "confirm_hours": self.config.subscribe.confirm_hours,
        }
        return self.writer.write(
            "confirm",
            email=signup.email,
            name=signup.name,
            language=signup.language,
            context=context,
            subject_msgid=CONFIRM_SUBJECT,
        )

    def welcome(self, subscriber: Subscriber) -> OutgoingMessage:
        context = {"preferences_url": unsubscribe_url(self.config.base_url, subscriber.token)}
        return self.writer.write(
            "welcome",
            email=subscriber.email,
            name=subscriber.name,
            language=subscriber.language,
            context=context,
            subject_msgid=WELCOME_SUBJECT,
        )
