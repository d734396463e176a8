"""Joining: GET/POST /subscribe and GET/POST /confirm/TOKEN.

POST /subscribe answers the same page whatever the address (new, waiting,
subscribed, unsubscribed, bounced, forgotten): it only checks the form and
records the request (one INSERT), and the mail worker decides the rest out of
the client's sight. So neither the page nor its timing says who is on the list.
GET of a confirmation link shows a button; its POST subscribes and records the
consent to the wording shown beside that button (stored, named by its digest).

Pages speak the reader's language: the form in the language asked for
(`?lang=cy`), or every language of the project, one form each; the answers in
the language of the form that was sent; the confirmation in the language chosen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from newsletter.config import Config
from newsletter.config.sections import origin_of
from newsletter.errors import InputError
from newsletter.i18n import N_, language_name, translator
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
    use_stamp,
)
from newsletter.subscribers.store import Store
from newsletter.web.form_guard import (
    HONEYPOT_FIELD,
    STAMP_VALID_FOR,
    ClientLimiter,
    StampSigner,
    client_address,
    from_allowed_site,
)
from newsletter.web.forms import HttpError, read_form
from newsletter.web.joining_mail import JoiningMail

Environ = dict[str, Any]
Render = Callable[..., Any]  # (template, code=200, *, lang="", query="", **values) -> Response
StoreOf = Callable[[], Store]
Patiently = Callable[[Callable[[], Any]], Any]
RESEND_STAMP_SECONDS = 1  # a form shown again, filled in, needs only a deliberate press
MAX_FIELD = 200
WELCOME_KEPT_FOR = timedelta(days=7)
FIELDS = ("email", "name", "organisation", "language")

# The default consent wording; `newsletter.consent` (a string, or a table by language) replaces it.
DEFAULT_CONSENT = N_(
    "I agree to receive {name} by email, about once a month. I can unsubscribe at any"
    " time with the link in every issue. My details are used for nothing else."
)
CHECK_AND_SEND = N_("Please check your details and press Subscribe.")
ERRORS = {
    "email": N_("Please enter your email address, like name@example.org."),
    "name": N_("Please enter your name."),
    "language": N_("Please choose a language."),
}

# Every joining page with made-up values, for check_templates (see app.py).
_SAMPLE = {"email": "", "name": "", "organisation": "", "language": ""}
JOINING_SAMPLES: list[tuple[str, dict[str, Any]]] = [
    ("web/subscribe.html", {"stamp": "0.3.x", "values": _SAMPLE, "note": CHECK_AND_SEND,
                            "errors": ERRORS, "wordings": {}, "choices": lambda _lang: []}),
    ("web/subscribe_sent.html", {"email": "reader@example.org", "confirm_hours": 48}),
    ("web/confirm.html", {"masked_email": "r***@example.org", "wordings": {}}),
    ("web/confirmed.html", {"masked_email": "r***@example.org"}),
    ("web/confirm_invalid.html", {"subscribe_url": "../subscribe"}),
]  # fmt: skip


def consent_wording(config: Config, language: str) -> str:
    """The consent text shown in `language`, exactly as it is stored and recorded."""
    own = config.text("consent", language)
    if own:
        return own
    return translator(language).gettext(DEFAULT_CONSENT).format(name=config.text("name", language))


def language_choices(config: Config, lang: str) -> list[dict[str, str]]:
    """The form's language options, then both (''); none in a one-language project.

    Named in the form's own language, as on the preferences page ("Cymraeg /
    Saesneg" on the Welsh form, "Welsh / English" on the English one): a form
    is read in one language. Only the switch to another language's page names
    that language in itself (it is a link for those who cannot read this one)."""
    if not config.bilingual:
        return []
    both = translator(lang).gettext("Both languages, in one message")
    return [{"code": code, "label": language_name(code, lang)} for code in config.languages] + [
        {"code": "", "label": both}
    ]


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

    @property
    def allowed_origins(self) -> frozenset[str]:
        """Sites whose pages may send the form: this one (base_url) and the listed ones."""
        return frozenset((origin_of(self.config.base_url), *self.config.subscribe.allowed_origins))

    def register_wordings(self) -> dict[str, Wording]:
        """Store today's wording in each language, so a page can name it by digest."""
        store = self.store()
        self.wordings = {
            lang: self.patiently(
                partial(register_wording, store, lang, consent_wording(self.config, lang))
            )
            for lang in self.config.languages
        }
        return self.wordings

    # --- the form -------------------------------------------------------------------

    def form_page(self, query: str) -> Any:
        return self._form(
            "", query, {}, {}, note=None, minimum=self.config.subscribe.min_fill_seconds
        )

    def submit(self, environ: Environ) -> Any:
        if not from_allowed_site(environ, self.allowed_origins):
            raise HttpError(403)
        fields = read_form(environ)
        lang = fields.get("lang", "") if fields.get("lang") in self.config.languages else ""
        if not self.limiter.allow(client_address(environ)):
            raise HttpError(429, (("Retry-After", "3600"),))
        values = {key: clean_field(fields.get(key, ""))[:MAX_FIELD] for key in FIELDS}
        if len(self.config.languages) == 1:
            values["language"] = self.config.languages[0]
        if fields.get(HONEYPOT_FIELD):  # a bot: it is told what a person is told
            return self._sent(lang, values["email"])
        verdict = self.signer.verdict(fields.get("stamp", ""))
        if verdict == "fast":
            return self._sent(lang, values["email"])
        errors = self._errors(values)
        if errors or verdict == "stale":
            note = None if errors else CHECK_AND_SEND
            return self._form(lang, "", values, errors, note=note, minimum=RESEND_STAMP_SECONDS)
        request = SignupRequest(
            email=normalise_address(values["email"]),
            name=values["name"],
            organisation=values["organisation"],
            language=values["language"],
            wording_id=self._wording_for(fields.get("wording", ""), lang).id,
            source="web-form",
            client_ip=client_address(environ) if self.config.subscribe.record_ip else None,
        )
        stamp = fields.get("stamp", "")
        if self.patiently(lambda: self._queue_once(request, stamp)):
            self.wake_worker()
        return self._sent(lang, request.email)  # a replayed form: the same page, nothing done

    def _queue_once(self, request: SignupRequest, stamp: str) -> bool:
        """Queue the request unless its form's stamp was used before (one write)."""
        store = self.store()
        with store.write():
            if not use_stamp(store, stamp, timedelta(seconds=STAMP_VALID_FOR)):
                return False
            queue_request(store, request)
        return True

    def _errors(self, values: dict[str, str]) -> dict[str, str]:
        """Field -> message id (each page version translates it)."""
        errors = {}
        try:
            normalise_address(values["email"])
        except InputError:
            errors["email"] = ERRORS["email"]
        if not values["name"]:
            errors["name"] = ERRORS["name"]
        if values["language"] not in ("", *self.config.languages):
            errors["language"] = ERRORS["language"]
        return errors

    def _wording_for(self, digest: str, language: str) -> Wording:
        """The wording a page showed (named by its digest), else today's in `language`."""
        store = self.store()
        shown = self.patiently(lambda: find_wording(store, digest=digest)) if digest else None
        return shown or self._current_wording(language)

    def _current_wording(self, language: str) -> Wording:
        return self.wordings.get(language) or self.wordings[self.config.languages[0]]

    def _form(
        self,
        lang: str,
        query: str,
        values: dict[str, str],
        errors: dict[str, str],
        *,
        note: str | None,
        minimum: int,
    ) -> Any:
        return self.render(
            "web/subscribe.html",
            400 if errors else 200,
            lang=lang,
            query=query,
            values={"email": "", "name": "", "organisation": "", "language": "", **values},
            wordings=self.wordings,
            stamp=self.signer.stamp(minimum),
            errors=errors,
            note=note,
            choices=lambda page_lang: language_choices(self.config, page_lang),
        )

    def _sent(self, lang: str, email: str) -> Any:
        return self.render(
            "web/subscribe_sent.html",
            lang=lang,
            email=email,
            confirm_hours=self.config.subscribe.confirm_hours,
        )

    # --- the confirmation link -----------------------------------------------------------

    def confirm_page(self, token: str, query: str = "") -> Any:
        store = self.store()
        pending = self.patiently(lambda: find_pending(store, token))
        if pending is None:
            return self._invalid("", query)
        return self.render(
            "web/confirm.html",
            lang=pending.language,
            query=query,
            masked_email=mask_address(pending.email),
            wordings=self.wordings,
        )

    def confirm(self, token: str, environ: Environ) -> Any:
        fields = read_form(environ)
        store = self.store()
        pending = self.patiently(lambda: find_pending(store, token))
        if pending is None:
            return self._invalid("")
        wording = self._wording_for(fields.get("wording", ""), pending.language)
        client_ip = client_address(environ) if self.config.subscribe.record_ip else None
        subscriber = self.patiently(lambda: confirm(store, token, wording.id, client_ip))
        if subscriber is None:  # confirmed by another request a moment ago
            return self._invalid(pending.language)
        if self.config.subscribe.welcome:
            self._queue_welcome(store, subscriber)
        return self.render(
            "web/confirmed.html",
            lang=subscriber.language,
            masked_email=mask_address(subscriber.email),
        )

    def _queue_welcome(self, store: Store, subscriber: Subscriber) -> None:
        message = self.mail.welcome(subscriber)

        def queue() -> None:
            with store.write():
                keep = later(store.clock(), WELCOME_KEPT_FOR)
                enqueue(store, "welcome", subscriber.email, message, keep)

        self.patiently(queue)
        self.wake_worker()

    def _invalid(self, lang: str, query: str = "") -> Any:
        """One page for a link that expired, was used, or never was (in every language:
        whose it was is not known)."""
        return self.render(
            "web/confirm_invalid.html",
            404,
            lang=lang,
            query=query,
            subscribe_url="../subscribe",  # relative: right behind any proxy path
        )

    # --- the way back from the unsubscribe page ----------------------------------------------

    def request_return(self, subscriber: Subscriber) -> None:
        """The resubscribe button: mail a confirmation instead of acting (a forwarded
        issue must not bring back someone who left). They consent on its page."""
        request = SignupRequest(
            email=subscriber.email,
            name=subscriber.name,
            organisation=subscriber.organisation,
            language=subscriber.language,
            source="web-resubscribe",
        )
        store = self.store()
        self.patiently(lambda: queue_request(store, request))
        self.wake_worker()
