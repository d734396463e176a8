"""Single mails written from the project's templates: confirmation, welcome, probe.

Each is written in the reader's language, or in every language of the project
(first language first) when the reader has not chosen one. The body of KIND
comes from templates/mail/KIND.{txt,html}, the HTML frame from
templates/mail/notice.html; `build_notice` lays out and signs the message.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from newsletter.config import Config
from newsletter.i18n import translator
from newsletter.issue.environment import make_environment
from newsletter.issue.markdown import wrap_text
from newsletter.mail.notices import build_notice
from newsletter.mail.outgoing import OutgoingMessage
from newsletter.mail.signing import project_signer

TEXT_SEPARATOR = "\n\n----------------------------------------\n\n"


class NoticeWriter:
    """Shares nothing mutable, so any thread may use it."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.html = make_environment(config.templates_dir, html=True)
        self.text = make_environment(config.templates_dir, html=False)
        self.signer = project_signer(config)  # signs as the issues are signed

    def write(
        self,
        kind: str,
        *,
        email: str,
        name: str,
        language: str,
        context: dict[str, Any],
        subject_msgid: str,
    ) -> OutgoingMessage:
        """The KIND mail to one person; `subject_msgid` is translated per language."""
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
