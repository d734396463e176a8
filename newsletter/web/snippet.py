"""`newsletter subscribe-form`: the sign-up form as an HTML snippet for another site.

The snippet posts to this project's /subscribe. It carries no signed time
stamp (it is written once and pasted anywhere), so the first press brings the
person to the project's own form, filled in, where one more press sends it:
the minimum fill time and the honeypot still stop bots, with no JavaScript.
The site it is pasted into must be listed in `[subscribe] allowed_origins`:
a POST from any other site is refused (web/form_guard.py).
"""

from __future__ import annotations

from pathlib import Path

from newsletter.config import load_config
from newsletter.errors import InputError
from newsletter.i18n import language_name, translator
from newsletter.issue.environment import make_environment
from newsletter.web.joining import consent_wording


def subscribe_snippet(project_dir: Path, language: str | None = None) -> str:
    """The form in `language`, or in every language of the project when None.

    The consent wording is shown for information; the wording recorded is the
    one on the project's own form, where the sign-up is sent from.
    """
    config = load_config(project_dir)
    if language is not None and language not in config.languages:
        raise InputError(
            f"--language {language!r} is not a language of this project",
            hint=f"its languages: {', '.join(config.languages)} (leave --language out for all)",
        )
    languages = (language,) if language else config.languages
    env = make_environment(config.templates_dir, html=True)

    def say(message: str) -> str:
        return " / ".join(dict.fromkeys(translator(lang).gettext(message) for lang in languages))

    return env.get_template("web/subscribe_snippet.html").render(
        form_action=f"{config.base_url}/subscribe",
        say=say,
        wordings=[{"language": lang, "text": consent_wording(config, lang)} for lang in languages],
        language_choices=[  # named as on the project's own form: in each language shown
            {
                "code": code,
                "label": " / ".join(dict.fromkeys(language_name(code, lang) for lang in languages)),
            }
            for code in languages
        ],
    )
