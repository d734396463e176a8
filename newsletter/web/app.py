"""The unsubscribe link handler: a plain WSGI application, no framework.

`GET /u/TOKEN` shows a page and changes nothing, because mail scanners, link
previews and corporate firewalls follow links. `POST /u/TOKEN` unsubscribes:
the page's button, or a mailbox provider's RFC 8058 one-click request. Tokens
are credentials: no page reflects one and the access log never holds one.

Any WSGI server can run `create_app(project_dir)`; `web.server.make_server`
puts it on waitress for `newsletter serve`.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

import jinja2

from newsletter.archive.site import HEADER_POLICY as ARCHIVE_POLICY
from newsletter.archive.site import Archive
from newsletter.config import Config, load_config
from newsletter.db.connection import connect_database
from newsletter.db.journal import Journal, journal_path
from newsletter.errors import DatabaseError, NewsletterError, TemplateError
from newsletter.i18n import N_
from newsletter.issue.editions import EVERY_LANGUAGE
from newsletter.issue.environment import Loaded, make_environment
from newsletter.issue.online import ARCHIVE_FOLDER, index_name
from newsletter.issue.template_rules import describe_error
from newsletter.project import open_store
from newsletter.sending.transport import plan_transport
from newsletter.subscribers.addresses import mask_address
from newsletter.subscribers.bounces import bounce_reason
from newsletter.subscribers.model import Subscriber
from newsletter.subscribers.signups import form_secret
from newsletter.subscribers.store import Store
from newsletter.subscribers.tokens import looks_like_token
from newsletter.web.access_log import AccessLog, redact_path
from newsletter.web.busy import (
    APPLY_NOW,
    SHORT_BUSY_TIMEOUT,
    DeferredUnsubscribes,
    is_busy,
    patiently,
)
from newsletter.web.form_guard import ClientLimiter, StampSigner
from newsletter.web.forms import HttpError, Intent, read_intent
from newsletter.web.joining import JOINING_SAMPLES, Joining
from newsletter.web.joining_mail import JoiningMail
from newsletter.web.mail_worker import MailWorker
from newsletter.web.pages import PageRenderer, Shown, language_choices, shown_languages

Environ = dict[str, Any]
StartResponse = Callable[..., Any]

HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
SECURITY_HEADERS = (
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self';"
        " frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    # No Referer to other sites (a page's URL can hold a token); to this one, so
    # that a form's POST carries its real Origin (no-referrer makes it "null",
    # which form_guard.from_allowed_site must refuse).
    ("Referrer-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
    ("X-Frame-Options", "DENY"),
)
ARCHIVE_HEADERS = (  # public pages: their images (https), and caches may keep them a while
    ("Content-Security-Policy", ARCHIVE_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "public, max-age=300"),
    ("X-Frame-Options", "DENY"),
)
STATUS_PAGES = {
    "active": "web/unsubscribe.html",
    "unsubscribed": "web/unsubscribed.html",
    "bounced": "web/bounced.html",
}
ERROR_PAGE = "web/error.html"
ERRORS = {  # translated on the page, in each language it is shown in
    400: (N_("Bad request"), N_("This request could not be understood.")),
    403: (
        N_("Form not accepted"),
        N_(
            "This form can only be sent from the newsletter's own pages"
            " or from the web sites that show its form."
        ),
    ),
    404: (
        N_("Link not found"),
        N_(
            "This link is not valid. If you copied it from an email,"
            " check that the whole link was copied."
        ),
    ),
    405: (N_("Not allowed"), N_("This address does not accept that kind of request.")),
    413: (N_("Request too large"), N_("This request is larger than this page accepts.")),
    429: (
        N_("Too many requests"),
        N_("Too many sign-ups came from your connection. Please try again in an hour."),
    ),
    503: (N_("Temporarily unavailable"), N_("Please try again in a minute.")),
}
# Used when even the error template cannot be rendered: fixed bytes, nothing reflected.
PLAIN_500 = (
    b"Aeth rhywbeth o'i le. Rhowch gynnig arall arni yn nes ymlaen.\n"
    b"Something went wrong. Please try again later.\n"
)

ERROR_LOG = logging.getLogger("newsletter.web")


@dataclass(frozen=True)
class Response:
    code: int
    body: bytes
    content_type: str = HTML
    extra_headers: tuple[tuple[str, str], ...] = ()
    security: tuple[tuple[str, str], ...] = SECURITY_HEADERS

    @property
    def status(self) -> str:
        return f"{self.code} {HTTPStatus(self.code).phrase}"

    def headers(self) -> list[tuple[str, str]]:
        return [
            ("Content-Type", self.content_type),
            ("Content-Length", str(len(self.body))),
            *self.security,
            *self.extra_headers,
        ]


def create_app(project_dir: Path | str, *, mail_worker: bool = True) -> AccessLog:
    """The WSGI application of a project, wrapped in its access log.

    Config, database, templates and the mail transport are checked here, so a
    mistake is one clear error before the server starts instead of a 500 on the
    first click. The mail worker (confirmation mails) starts here too, unless
    `mail_worker=False`; `close()` stops it.
    """
    config = load_config(Path(project_dir))
    open_store(config.database_path).close()  # made if new, and the journal replayed
    app = UnsubscribeApp(config)
    if mail_worker:
        app.worker.start()
    return AccessLog(app)


class UnsubscribeApp:
    """Routes /u/TOKEN, /subscribe, /confirm/TOKEN and /healthz; one Store (SQLite
    connection) per server thread."""

    def __init__(self, config: Config) -> None:
        self.config = config
        loaded: Loaded = {}
        self.env = make_environment(config.templates_dir, html=True, loaded=loaded)
        self.pages = PageRenderer(config, self.env)
        self._local = threading.local()
        self._stores: list[Store] = []
        self._lock = threading.Lock()
        self.journal = Journal.open(journal_path(config.database_path))
        self.later = DeferredUnsubscribes(self._new_store)
        mail = JoiningMail(config)
        self.worker = MailWorker(config, lambda: plan_transport(config), mail)
        self.joining = Joining(
            config,
            self.render,
            self.store,
            patiently,
            StampSigner(patiently(lambda: form_secret(self.store()))),
            ClientLimiter(config.subscribe.per_client_per_hour),
            self.worker.wake,
            mail,
        )
        self.joining.register_wordings()
        check_templates(self.pages, loaded, shown_languages(config, ""))
        self.archive = Archive(config)
        self.archive.check()
        mail.check()
        _warn_if_mail_cannot_go(config)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path = str(environ.get("PATH_INFO", ""))
        try:
            response = self.respond(method, path, environ)
        except Exception:  # logged here, path redacted: never by the server, with the token
            ERROR_LOG.exception("error serving %s %s", method, redact_path(path))
            response = Response(500, PLAIN_500, TEXT)
        start_response(response.status, response.headers())
        return [b"" if method == "HEAD" else response.body]

    def respond(self, method: str, path: str, environ: Environ) -> Response:
        """The response to one request; errors the client or the database caused become pages."""
        query = str(environ.get("QUERY_STRING", ""))
        try:
            return self._route(method, path, environ)
        except HttpError as error:
            return self._error(error.code, query, error.headers)
        except (sqlite3.OperationalError, DatabaseError):
            ERROR_LOG.exception("database unavailable: %s %s", method, redact_path(path))
            return self._error(503, query, (("Retry-After", "30"),))

    def _route(self, method: str, path: str, environ: Environ) -> Response:
        if path == "/healthz":
            _allow(method, "GET, HEAD")
            patiently(self.store().ping)
            return Response(200, b"ok\n", TEXT)
        if path == "/subscribe":
            _allow(method, "GET, HEAD, POST")
            if method == "POST":
                return self.joining.submit(environ)
            return self.joining.form_page(str(environ.get("QUERY_STRING", "")))
        if path.startswith("/confirm/"):
            _allow(method, "GET, HEAD, POST")
            token = path.removeprefix("/confirm/")
            if method == "POST":
                return self.joining.confirm(token, environ)
            return self.joining.confirm_page(token, str(environ.get("QUERY_STRING", "")))
        if path == f"/{ARCHIVE_FOLDER}" or path.startswith(f"/{ARCHIVE_FOLDER}/"):
            _allow(method, "GET, HEAD")
            return self._archive(path.removeprefix(f"/{ARCHIVE_FOLDER}"))
        if not path.startswith("/u/"):
            raise HttpError(404)
        _allow(method, "GET, HEAD, POST")
        intent = read_intent(environ) if method == "POST" else None
        subscriber = self._find(path.removeprefix("/u/"))
        if subscriber is None:
            raise HttpError(404)
        query = str(environ.get("QUERY_STRING", ""))
        if intent is None:
            return self._page(subscriber, query, just_now=False)
        return self._change(subscriber, intent, query)

    def _archive(self, rest: str) -> Response:
        """/archive/NAME: a page or feed of the public archive; /archive/ is its index."""
        if not rest:  # the pages' relative links need the slash
            return Response(301, b"", TEXT, ((("Location", f"{ARCHIVE_FOLDER}/"),)))
        name = rest.removeprefix("/") or index_name(EVERY_LANGUAGE)
        store = self.store()
        found = patiently(lambda: self.archive.file(store, name))
        if found is None:
            raise HttpError(404)
        return Response(200, found.body, found.content_type, security=ARCHIVE_HEADERS)

    def store(self) -> Store:
        """This thread's Store: sqlite3 connections must not be shared between threads."""
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._new_store()
            self._local.store = store
        return store

    def _new_store(self) -> Store:
        conn = connect_database(self.config.database_path, busy_timeout=SHORT_BUSY_TIMEOUT)
        store = Store(conn, journal=self.journal)
        with self._lock:
            self._stores.append(store)
        return store

    def close(self) -> None:
        """Close every thread's connection; call once the server has stopped."""
        self.later.stop()
        self.worker.stop()
        with self._lock:
            for store in self._stores:
                store.close()
            self._stores.clear()
            self._local = threading.local()

    def _find(self, token: str) -> Subscriber | None:
        if not looks_like_token(token):
            return None
        store = self.store()
        return patiently(lambda: store.get_by_token(token))

    def _change(self, subscriber: Subscriber, intent: Intent, query: str) -> Response:
        """Idempotent: a repeated POST answers the same page and records nothing new.

        Resubscribing only mails a confirmation link (double opt-in): whoever
        holds a forwarded issue cannot bring back someone who left.
        """
        store = self.store()
        if intent.action == "resubscribe":
            return self._request_return(subscriber, query)
        if intent.action == "language":
            if intent.language not in ("", *self.config.languages):
                raise HttpError(400)
            patiently(lambda: store.set_language(subscriber.id, intent.language, intent.via))
        else:
            self._unsubscribe(store, subscriber.id, intent.via)
        current = patiently(lambda: store.get_by_id(subscriber.id))
        if current is None:  # forgotten between the lookup and the change
            raise HttpError(404)
        saved = intent.action == "language"
        return self._page(current, query, just_now=not saved, saved=saved)

    def _unsubscribe(self, store: Store, subscriber_id: int, via: str) -> None:
        """Journalled (on disk) first, so the answer never waits for a busy database.

        While an import or a send holds the database for long, the database
        write is left to a background thread; every send checks the journal
        before each message, so nobody is mailed after this answer.
        """
        if not patiently(lambda: store.note_leaving(subscriber_id, via)):
            return  # not active: nothing to do
        if self.later.busy():  # the database is still held: no need to wait to find out
            self.later.add(subscriber_id, via)
            return
        try:
            patiently(lambda: store.unsubscribe(subscriber_id, via, journaled=True), APPLY_NOW)
        except sqlite3.OperationalError as error:
            if not is_busy(error):
                raise
            self.later.add(subscriber_id, via)

    def _request_return(self, subscriber: Subscriber, query: str) -> Response:
        if subscriber.status == "active":  # nothing to come back from
            return self._page(subscriber, query, just_now=False)
        self.joining.request_return(subscriber)
        return self.render(
            STATUS_PAGES["unsubscribed"],
            lang=subscriber.language,
            query=query,
            masked_email=mask_address(subscriber.email),
            confirmation_sent=True,
            choices=lambda _lang: [],
            saved=False,
        )

    def render(
        self, name: str, code: int = 200, *, lang: str = "", query: str = "", **values: Any
    ) -> Response:
        """A page in the reader's language (`lang`), or every language when it is
        unknown; `?lang=` in `query` picks one for display."""
        html = self.pages.render(name, shown_languages(self.config, lang, query), **values)
        return Response(code, html.encode("utf-8"))

    def _page(
        self, subscriber: Subscriber, query: str, *, just_now: bool, saved: bool = False
    ) -> Response:
        shown = shown_languages(self.config, subscriber.language, query)
        status = "unsubscribed" if self.later.pending(subscriber.id) else subscriber.status
        html = self.pages.render(
            STATUS_PAGES[status],
            shown,
            masked_email=mask_address(subscriber.email),
            just_now=just_now and status != "bounced",
            saved=saved,
            chosen=subscriber.language,
            choices=lambda lang: language_choices(self.config, lang, subscriber.language),
            confirmation_sent=False,
            reason=patiently(lambda: bounce_reason(self.store(), subscriber.id))
            if status == "bounced"
            else "",
        )
        return Response(200, html.encode("utf-8"))

    def _error(self, code: int, query: str, headers: tuple[tuple[str, str], ...] = ()) -> Response:
        title, message = ERRORS[code]
        shown = shown_languages(self.config, "", query)
        html = self.pages.render(
            ERROR_PAGE, shown, error_title=title, error_message=message,
            title=title, message=message,  # what an error.html copied by an older init uses
        )  # fmt: skip
        return Response(code, html.encode("utf-8"), HTML, headers)


def _allow(method: str, allowed: str) -> None:
    if method not in allowed.split(", "):
        raise HttpError(405, (("Allow", allowed),))


def _warn_if_mail_cannot_go(config: Config) -> None:
    """Unsubscribing must work even when mail cannot go: say so, and start anyway."""
    try:
        plan_transport(config)
    except NewsletterError as error:
        ERROR_LOG.warning(
            "confirmation mails will wait until this is fixed: %s%s",
            error.message,
            f" ({error.hint})" if error.hint else "",
        )


def check_templates(pages: PageRenderer, loaded: Loaded, shown: Shown) -> None:
    """Render every page once with sample values, so a broken override fails at start."""
    sample = {
        "masked_email": "r***@example.org",
        "choices": lambda _lang: [],
        "saved": True,
        "confirmation_sent": False,
        "reason": "550 5.1.1 no such user",
    }
    samples = [(name, sample) for name in STATUS_PAGES.values()]
    error = {"error_title": "Link not found", "error_message": "sample"}
    samples.append((ERROR_PAGE, {**error, "title": "Link not found", "message": "sample"}))
    samples.append((STATUS_PAGES["unsubscribed"], {**sample, "confirmation_sent": True}))
    samples.extend(JOINING_SAMPLES)
    for name, extra in samples:
        try:
            pages.render(name, shown, **extra)
        except jinja2.TemplateError as error:
            where, line, message = describe_error(error, loaded, name)
            raise TemplateError(
                f"{where}:{line}: {message}",
                hint="fix the page in your project's templates/web/, or delete it to use the default",
            ) from None
