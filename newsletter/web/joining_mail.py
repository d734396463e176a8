"""The confirmation and welcome emails, written from the project's templates.

Each is written in the reader's language, or in every language of the project
(first language first) when the reader has not chosen one. The bodies come
from templates/mail/{confirm,welcome}.{txt,html}, the HTML frame from
templates/mail/notice.html.
"""

from __future__ import annotations

from typing import Any

import jinja2
from markupsafe import Markup

from newsletter.config import Config
from newsletter.errors import TemplateError
from newsletter.i18n import N_, translator
from newsletter.issue.environment import make_environment
from newsletter.issue.markdown import wrap_text
from newsletter.mail.notices import build_notice
from newsletter.mail.outgoing import OutgoingMessage
from newsletter.mail.signing import project_signer
from newsletter.subscribers.model import Subscriber
from newsletter.subscribers.signups import Invitation, PendingSignup
from newsletter.subscribers.tokens import unsubscribe_url

# Subjects: gettext message ids, translated per language.
CONFIRM_SUBJECT = N_("Confirm your subscription to {name}")
WELCOME_SUBJECT = N_("Welcome to {name}")
TEXT_SEPARATOR = "\n\n----------------------------------------\n\n"


class JoiningMail:
    """Writes the two emails of joining; shares nothing mutable, so any thread may use it."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.html = make_environment(config.templates_dir, html=True)
        self.text = make_environment(config.templates_dir, html=False)
        self.signer = project_signer(config)  # signs as the issues are signed

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
        return self._build(
            "confirm",
            signup.email,
            signup.name,
            signup.language,
            context,
            CONFIRM_SUBJECT,
        )

    def welcome(self, subscriber: Subscriber) -> OutgoingMessage:
        context = {"preferences_url": unsubscribe_url(self.config.base_url, subscriber.token)}
        return self._build(
            "welcome",
            subscriber.email,
            subscriber.name,
            subscriber.language,
            context,
            WELCOME_SUBJECT,
        )

    def _build(
        self,
        kind: str,
        email: str,
        name: str,
        language: str,
        context: dict[str, Any],
        subject_msgid: str,
    ) -> OutgoingMessage:
        config = self.config
        languages = (language,) if language in config.languages else config.languages
        texts, parts, subjects = [], [], []
        for lang in languages:
            values = {**context, "lang": lang, "newsletter_name": config.text("name", lang)}
            texts.append(self.text.get_template(f"mail/{kind}.txt").render(values).strip())
            body = self.html.get_template(f"mail/{kind}.html").render(values)
            parts.append({"lang": lang, "body": Markup(body)})
            subjects.append(
                translator(lang).gettext(subject_msgid).format(name=config.text("name", lang))
            )
        subject = " / ".join(dict.fromkeys(subjects))
        html = self.html.get_template("mail/notice.html").render(
            subject=subjects[0],  # the page's <title>, in the first language (as an issue's)
            parts=parts,
            mastheads=_mastheads(config, languages),
        )
        return build_notice(
            config,
            to_email=email,
            to_name=name,
            subject=subject,
            text=wrap_text(TEXT_SEPARATOR.join(texts)) + "\n",
            html=html,
            languages=languages,
            signer=self.signer,
        )


def _mastheads(config: Config, languages: tuple[str, ...]) -> list[dict[str, str]]:
    """The newsletter's name and postal address in each language, each different pair once."""
    found: dict[tuple[str, str], str] = {}
    for lang in languages:
        found.setdefault((config.text("name", lang), config.text("postal_address", lang)), lang)
    return [
        {"lang": lang, "name": name, "postal_address": address}
        for (name, address), lang in found.items()
    ]
