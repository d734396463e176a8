"""Joining: GET/POST /subscribe and GET/POST /confirm/TOKEN.

POST /subscribe answers the same page whatever the address (new, waiting,
subscribed, unsubscribed, bounced, forgotten): it only checks the form and
records the request (one INSERT), and the mail worker decides the rest out of
the client's sight. So neither the page nor its timing says who is on the list.
GET of a confirmation link shows a button; its POST subscribes and records the
consent to the wording shown beside that button (stored, named by its digest).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from newsletter.config import Config
from newsletter.errors import InputError
from newsletter.sending.mail_queue import enqueue
from newsletter.subscribers.addresses import clean_field, mask_address, normalise_address
from newsletter.subscribers.consent import Wording, find_wording, register_wording
from newsletter.subscribers.model import Subscriber
from newsletter.subscribers.signups import (
    SignupRequest,
    confirm,
    find_pending,
    later,
    queue_request,
)
from newsletter.subscribers.store import Store
from newsletter.web.form_guard import HONEYPOT_FIELD, ClientLimiter, StampSigner, client_address
from newsletter.web.forms import HttpError, read_form
from newsletter.web.i18n import gettext_for, language_label, project_languages
from newsletter.web.joining_mail import JoiningMail

Environ = dict[str, Any]
Render = Callable[..., Any]  # (template, code=200, lang=..., **values) -> Response
StoreOf = Callable[[], Store]
Patiently = Callable[[Callable[[], Any]], Any]
RESEND_STAMP_SECONDS = 1  # a form shown again, filled in, needs only a deliberate press
MAX_FIELD = 200
WELCOME_KEPT_FOR = timedelta(days=7)

# The default consent wording (a gettext message id); `newsletter.consent` replaces it.
DEFAULT_CONSENT = (
    "I agree to receive {name} by email, about once a month. I can unsubscribe at any"
    " time with the link in every issue. My details are used for nothing else."
)


def consent_wording(config: Config, language: str) -> str:
    """The consent text shown in `language`, exactly as it is stored and recorded."""
    if config.consent:
        return config.consent
    return gettext_for(language)(DEFAULT_CONSENT).format(name=config.name)


@dataclass
class Joining:
    config: Config
    render: Render
    store: StoreOf
    patiently: Patiently
    signer: StampSigner
    limiter: ClientLimiter
    wake_worker: Callable[[], None]
    mail: JoiningMail

    def register_wordings(self) -> dict[str, Wording]:
        """Store today's wording in each language, so a form can name it by digest."""
        store = self.store()
        self.wordings = {
            lang: self.patiently(
                lambda lang=lang: register_wording(store, lang, consent_wording(self.config, lang))
            )
            for lang in project_languages(self.config)
        }
        return self.wordings

    # --- the form -------------------------------------------------------------------

    def form_page(self, lang: str | None) -> Any:
        return self._form(lang, {}, {}, note=None, minimum=self.config.subscribe.min_fill_seconds)

    def submit(self, environ: Environ) -> Any:
        fields = read_form(environ)
        lang = fields.get("lang") if fields.get("lang") in project_languages(self.config) else None
        if not self.limiter.allow(client_address(environ)):
            raise HttpError(429, (("Retry-After", "3600"),))
        values = {key: clean_field(fields.get(key, ""))[:MAX_FIELD] for key in
                  ("email", "name", "organisation", "language")}  # fmt: skip
        if fields.get(HONEYPOT_FIELD):  # a bot: it is told what a person is told
            return self._sent(lang, values["email"])
        verdict = self.signer.verdict(fields.get("stamp", ""))
        if verdict == "fast":
            return self._sent(lang, values["email"])
        errors = self._errors(values, lang)
        if errors or verdict == "stale":
            note = (
                None
                if errors
                else gettext_for(lang or "en")("Please check your details and press Subscribe.")
            )
            return self._form(lang, values, errors, note=note, minimum=RESEND_STAMP_SECONDS)
        request = SignupRequest(
            email=normalise_address(values["email"]),
            name=values["name"],
            organisation=values["organisation"],
            language=values["language"],
            wording_id=self._wording_for(fields.get("wording", ""), lang or "").id,
            source="web-form",
            client_ip=client_address(environ) if self.config.subscribe.record_ip else None,
        )
        store = self.store()
        self.patiently(lambda: queue_request(store, request))
        self.wake_worker()
        return self._sent(lang, request.email)

    def _errors(self, values: dict[str, str], lang: str | None) -> dict[str, str]:
        _ = gettext_for(lang or "en")
        errors = {}
        try:
            normalise_address(values["email"])
        except InputError:
            errors["email"] = _("Please enter your email address, like name@example.org.")
        if not values["name"]:
            errors["name"] = _("Please enter your name.")
        if values["language"] not in project_languages(self.config):
            errors["language"] = _("Please choose a language.")
        return errors

    def _wording_for(self, digest: str, language: str) -> Wording:
        """The wording a page showed (named by its digest), else today's in `language`."""
        store = self.store()
        shown = self.patiently(lambda: find_wording(store, digest=digest)) if digest else None
        return shown or self._current_wording(language)

    def _form(
        self,
        lang: str | None,
        values: dict[str, str],
        errors: dict[str, str],
        *,
        note: str | None,
        minimum: int,
    ) -> Any:
        languages = project_languages(self.config)
        chosen = {"email": "", "name": "", "organisation": "", "language": lang or "", **values}
        return self.render(
            "web/subscribe.html",
            400 if errors else 200,
            lang=lang,
            per_language=lambda code: {
                "wording_digest": self.wordings[code].digest,
                "consent": self.wordings[code].text,
                "values": {**chosen, "language": chosen["language"] or code},
            },
            stamp=self.signer.stamp(minimum),
            errors=errors,
            note=note,
            language_choices=[{"code": code, "label": language_label(code)} for code in languages],
        )

    def _sent(self, lang: str | None, email: str) -> Any:
        return self.render(
            "web/subscribe_sent.html",
            lang=lang,
            email=email,
            confirm_hours=self.config.subscribe.confirm_hours,
        )

    # --- the confirmation link -----------------------------------------------------------

    def confirm_page(self, token: str) -> Any:
        store = self.store()
        pending = self.patiently(lambda: find_pending(store, token))
        if pending is None:
            return self._invalid(None)
        wording = self._current_wording(pending.language)
        return self.render(
            "web/confirm.html",
            lang=pending.language,
            masked_email=mask_address(pending.email),
            consent=wording.text,
            wording_digest=wording.digest,
        )

    def confirm(self, token: str, environ: Environ) -> Any:
        fields = read_form(environ)
        store = self.store()
        pending = self.patiently(lambda: find_pending(store, token))
        if pending is None:
            return self._invalid(None)
        wording = self._wording_for(fields.get("wording", ""), pending.language)
        subscriber = self.patiently(lambda: confirm(store, token, wording.id))
        if subscriber is None:  # confirmed by another request a moment ago
            return self._invalid(pending.language)
        if self.config.subscribe.welcome:
            self._queue_welcome(store, subscriber)
        return self.render(
            "web/confirmed.html",
            lang=subscriber.language,
            masked_email=mask_address(subscriber.email),
        )

    def _current_wording(self, language: str) -> Wording:
        return self.wordings.get(language) or self.wordings[project_languages(self.config)[0]]

    def _queue_welcome(self, store: Store, subscriber: Subscriber) -> None:
        message = self.mail.welcome(subscriber)

        def queue() -> None:
            with store.write():
                enqueue(
                    store,
                    "welcome",
                    subscriber.email,
                    message,
                    later(store.clock(), WELCOME_KEPT_FOR),
                )

        self.patiently(queue)
        self.wake_worker()

    def _invalid(self, lang: str | None) -> Any:
        return self.render(
            "web/confirm_invalid.html",
            404,
            lang=lang,
            subscribe_url="../subscribe",  # relative: right behind any proxy path
        )

    # --- the way back from the unsubscribe page ----------------------------------------------

    def request_return(self, subscriber: Subscriber, environ: Environ) -> None:
        """The resubscribe button: mail a confirmation instead of acting (a forwarded
        issue must not bring back someone who left)."""
        request = SignupRequest(
            email=subscriber.email,
            name=subscriber.name,
            organisation=subscriber.organisation,
            language=subscriber.language,
            wording_id=None,  # they consent on the confirmation page
            source="web-resubscribe",
            client_ip=client_address(environ) if self.config.subscribe.record_ip else None,
        )
        store = self.store()
        self.patiently(lambda: queue_request(store, request))
        self.wake_worker()
