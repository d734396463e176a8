"""Property: no sequence of replies marks a recipient bounced for a refusal that
names the sender or the relay (real send loop, real SQLite, real SMTP)."""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsletter.config import SmtpConfig
from newsletter.db.connection import connect_database
from newsletter.sending.ledger import Ledger
from newsletter.sending.loop import Sender
from newsletter.sending.run import SendSettings
from newsletter.sending.smtp import SmtpTransport
from newsletter.subscribers.store import Store

from support.faults import (
    EXIM_RELAY_DENIED,
    GMAIL_SECURITY,
    MAILBOX_FULL,
    NO_SUCH_USER,
    O365_QUOTA,
    POLICY,
    SES_NOT_VERIFIED,
    TOO_BIG,
)
from support.smtp import add_subscribers, simple_builder

_WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ", min_size=0, max_size=30)
_KNOWN_SENDER_SIDE = st.sampled_from(
    [
        O365_QUOTA,
        SES_NOT_VERIFIED,
        EXIM_RELAY_DENIED,
        TOO_BIG,
        GMAIL_SECURITY,
        POLICY,
        "554 5.7.1 <{address}>: Relay access denied",
        "550 5.7.26 Unauthenticated email is not accepted due to domain's DMARC policy",
        "553 5.1.8 <newsletter@example.org>: Sender address rejected: Domain not found",
        "550 5.1.1 relay not permitted",
        "550 relaying denied",
        "535 5.7.8 authentication credentials invalid",
        "554 5.3.4 message too big for system",
    ]
)
_ENHANCED_SENDER_SIDE = st.builds(
    "{} 5.{}.{} {}".format,
    st.sampled_from([550, 551, 552, 553, 554]),
    st.sampled_from([3, 5, 6, 7]),
    st.integers(0, 30),
    _WORDS,
)
_NAMES_RELAY = st.builds(
    "{} {} relay access denied {}".format, st.sampled_from([550, 551, 553, 554]), _WORDS, _WORDS
)
SENDER_SIDE = st.one_of(_KNOWN_SENDER_SIDE, _ENHANCED_SENDER_SIDE, _NAMES_RELAY)
OTHER = st.sampled_from([None, None, NO_SUCH_USER, MAILBOX_FULL, "451 4.3.0 try again later"])
REPLY = st.tuples(st.sampled_from(["rcpt", "data"]), st.one_of(SENDER_SIDE, OTHER), st.booleans())
BARE_5XX_AT_DATA = st.builds("{} {}".format, st.sampled_from([550, 552, 554]), _WORDS)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    replies=st.lists(REPLY, min_size=1, max_size=8),
    bare_at_data=st.lists(BARE_5XX_AT_DATA, max_size=2),
    connections=st.integers(1, 2),
)
def test_no_refusal_naming_the_sender_or_relay_ever_bounces_anyone(
    shared_scripted_server, replies, bare_at_data, connections
):
    handler = shared_scripted_server.handler
    handler.rcpt, handler.data, handler.messages, handler.refusals = {}, {}, [], []
    with TemporaryDirectory() as folder:
        store = Store(connect_database(Path(folder) / "newsletter.db", create=True))
        emails = add_subscribers(store, len(replies) + len(bare_at_data))
        sender_side = set()
        for email, (stage, reply, _) in zip(emails, replies, strict=False):
            if reply is not None:
                getattr(handler, stage)[email] = reply
            if (
                reply is not None
                and reply not in (NO_SUCH_USER, MAILBOX_FULL)
                and "4.3.0" not in reply
            ):
                sender_side.add(email)
        for email, reply in zip(emails[len(replies) :], bare_at_data, strict=True):
            handler.data[email] = reply  # a 5xx at DATA with no recipient code: sender side
            sender_side.add(email)
        for slug in ("2026-11", "2026-12"):  # two issues: soft bounces could add up
            _send(store, slug, shared_scripted_server.port, connections)
        for email in sender_side:
            subscriber = store.get_subscriber(email)
            assert subscriber.status == "active", (email, handler.rcpt, handler.data)
            kinds = {event["kind"] for event in store.events_for(subscriber.id)}
            assert not kinds & {"bounced", "soft_bounce"}, (email, kinds)
        store.close()


def _send(store: Store, slug: str, port: int, connections: int) -> None:
    ledger = Ledger(store)
    ledger.begin(slug, "Subject", "h")
    smtp = SmtpConfig(host="127.0.0.1", port=port, security="none", timeout=5)
    tuned = SendSettings(
        connections=connections, max_attempts=2, soft_bounce_limit=2, backoff_base=0.001,
        backoff_max=0.001,
    )  # fmt: skip
    Sender(
        ledger, slug, simple_builder(), lambda: SmtpTransport(smtp, local_hostname="t"), tuned
    ).run()
