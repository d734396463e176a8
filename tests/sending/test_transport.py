"""Transports against real aiosmtpd servers, the outbox Maildir, and reply classification."""

from __future__ import annotations

import email
import mailbox
import smtplib
import ssl
from email import policy

import pytest

from newsletter.config import SmtpConfig
from newsletter.mail.outgoing import OutgoingMessage
from newsletter.sending.outbox import MaildirTransport
from newsletter.sending.pipelining import Unsent
from newsletter.sending.replies import Kind, ReplyLost, classify, enhanced_code
from newsletter.sending.smtp import SmtpTransport

from support.mailservers import free_port
from support.smtp import PASSWORD, USER

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def message(n: int, domain: str = "example.org") -> OutgoingMessage:
    data = (
        f"From: a@example.org\r\nTo: p{n}@{domain}\r\nSubject: n{n}\r\n"
        f"Message-ID: <m{n}@example.org>\r\n\r\nbody {n}\r\n.leading dot\r\nCaf\u00e9\r\n"
    ).encode()
    return OutgoingMessage(f"<m{n}@example.org>", "a@example.org", f"p{n}@{domain}", data)


def smtp(server, **options) -> SmtpConfig:  # noqa: ANN001
    return SmtpConfig(host="127.0.0.1", port=server.port, security="none", **options)


def test_one_session_carries_many_messages_then_renews(smtp_server):
    transport = SmtpTransport(smtp(smtp_server, messages_per_connection=2), local_hostname="t")
    for n in range(5):
        transport.open()
        transport.send(message(n))
    transport.close()
    sessions = [received.session for received in smtp_server.handler.messages]
    assert len(sessions) == 5
    assert sessions[0] == sessions[1] != sessions[2] == sessions[3] != sessions[4]


def test_message_bytes_arrive_intact_with_dot_stuffing(smtp_server):
    transport = SmtpTransport(smtp(smtp_server), local_hostname="t")
    transport.open()
    transport.send(message(1))
    transport.close()
    received = smtp_server.handler.messages[0]
    assert received.rcpt_to == "p1@example.org"
    assert received.data.endswith(b"\r\n.leading dot\r\nCaf\xc3\xa9\r\n")


def test_starttls_with_a_trusted_certificate_and_auth(tls_server):
    context = ssl.create_default_context(cafile=str(tls_server.ca_file))
    config = smtp(tls_server, username=USER, password_env="X")
    config = SmtpConfig(**{**config.__dict__, "security": "starttls"})
    transport = SmtpTransport(config, password=PASSWORD, ssl_context=context, local_hostname="t")
    transport.open()
    transport.send(message(2))
    transport.close()
    assert tls_server.handler.recipients() == ["p2@example.org"]


def test_untrusted_certificate_is_fatal(tls_server):
    config = SmtpConfig(host="127.0.0.1", port=tls_server.port, security="starttls")
    transport = SmtpTransport(config, local_hostname="t")  # the system CAs only
    with pytest.raises(ssl.SSLCertVerificationError) as caught:
        transport.open()
    verdict = classify(caught.value)
    assert verdict.kind is Kind.FATAL and "certificate" in verdict.reason


def test_starttls_refused_by_a_plain_server_is_fatal(smtp_server):
    config = SmtpConfig(host="127.0.0.1", port=smtp_server.port, security="starttls")
    with pytest.raises(smtplib.SMTPNotSupportedError) as caught:
        SmtpTransport(config, local_hostname="t").open()
    assert classify(caught.value).kind is Kind.FATAL


def test_wrong_password_is_fatal(auth_server):
    config = smtp(auth_server, username=USER, password_env="X")
    with pytest.raises(smtplib.SMTPAuthenticationError) as caught:
        SmtpTransport(config, password="wrong", local_hostname="t").open()
    verdict = classify(caught.value)
    assert verdict.kind is Kind.FATAL and verdict.reason.startswith("login refused: 535")


def test_right_password_sends(auth_server):
    config = smtp(auth_server, username=USER, password_env="X")
    transport = SmtpTransport(config, password=PASSWORD, local_hostname="t")
    transport.open()
    transport.send(message(3))
    transport.close()
    assert auth_server.handler.recipients() == ["p3@example.org"]


def test_connection_refused_is_fatal():
    port = free_port()  # nothing listens on it once the probe closed
    config = SmtpConfig(host="127.0.0.1", port=port, security="none", timeout=5)
    with pytest.raises(ConnectionRefusedError) as caught:
        SmtpTransport(config, local_hostname="t").open()
    assert classify(caught.value).kind is Kind.FATAL


def test_refusal_keeps_the_session_and_the_next_message_goes_through(faulty_server):
    transport = SmtpTransport(smtp(faulty_server), local_hostname="t")
    transport.open()
    with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
        transport.send(message(1, domain="nowhere.example"))
    verdict = classify(caught.value)
    assert verdict.kind is Kind.HARD_BOUNCE and "5.1.1" in verdict.reason
    transport.send(message(2))
    transport.close()
    assert faulty_server.handler.recipients() == ["p2@example.org"]


def test_temporary_refusal_and_dropped_connection_are_temporary(faulty_server):
    faulty_server.handler.temp_fail_every = 1
    transport = SmtpTransport(smtp(faulty_server), local_hostname="t")
    transport.open()
    with pytest.raises(smtplib.SMTPDataError) as caught:
        transport.send(message(1))
    assert classify(caught.value).kind is Kind.TEMPORARY
    faulty_server.handler.temp_fail_every = 0
    faulty_server.handler.drop_every = 1
    with pytest.raises(smtplib.SMTPException) as dropped:
        transport.send(message(2))
    assert classify(dropped.value).kind is Kind.TEMPORARY
    assert faulty_server.handler.messages == []


def test_lost_reply_after_data_is_uncertain(faulty_server):
    faulty_server.handler.lose_reply_for = {"p1@example.org"}
    transport = SmtpTransport(smtp(faulty_server), local_hostname="t")
    transport.open()
    with pytest.raises(ReplyLost) as caught:
        transport.send(message(1))
    assert classify(caught.value).kind is Kind.UNCERTAIN
    assert faulty_server.handler.recipients() == ["p1@example.org"]
    transport.open()  # a fresh session after the lost one
    transport.send(message(2))
    transport.close()
    assert faulty_server.handler.recipients() == ["p1@example.org", "p2@example.org"]


def test_outbox_files_are_readable_by_a_mail_client(tmp_path):
    transport = MaildirTransport(tmp_path / "outbox")
    transport.open()
    for n in range(3):
        transport.send(message(n))
    transport.close()
    box = mailbox.Maildir(tmp_path / "outbox", factory=None, create=False)
    parsed = sorted(
        (email.message_from_bytes(item.as_bytes(), policy=policy.default) for item in box),
        key=lambda m: m["Subject"],
    )
    assert [m["To"] for m in parsed] == ["p0@example.org", "p1@example.org", "p2@example.org"]
    assert parsed[0].get_content().startswith("body 0\n.leading dot")
    assert len(list((tmp_path / "outbox" / "new").iterdir())) == 3


def test_sender_refused_5xx_is_fatal_and_4xx_temporary():
    fatal = classify(smtplib.SMTPSenderRefused(553, b"5.7.1 not yours", "a@example.org"))
    assert fatal.kind is Kind.FATAL and "a@example.org" in fatal.reason
    assert classify(smtplib.SMTPSenderRefused(451, b"later", "a@x")).kind is Kind.TEMPORARY


def test_unknown_exceptions_are_not_classified():
    assert classify(ValueError("bug")) is None
    assert classify(TimeoutError()).kind is Kind.TEMPORARY
    assert enhanced_code("5.1.10 bad") == "5.1.10"
    assert enhanced_code("550 no code") is None


def test_a_refused_claim_abandons_the_message_and_keeps_the_session(smtp_server):
    transport = SmtpTransport(smtp(smtp_server), local_hostname="t")
    transport.open()
    calls: list[int] = []
    assert transport.send(message(1), lambda: calls.append(1) or False) is False
    assert transport.send(message(2), lambda: calls.append(2) or True) is True
    transport.close()
    assert calls == [1, 2]
    assert smtp_server.handler.recipients() == ["p2@example.org"]


def test_a_final_dot_is_answered_when_the_next_message_is_submitted(smtp_server):
    """Without pipelining too, the reply to a message's final dot is read when the
    next message is submitted (the loop builds that one meanwhile), and before the
    next claim; `flush` reads the last one."""
    transport = SmtpTransport(smtp(smtp_server), local_hostname="t")
    transport.open()
    events: list[str] = []

    def submit(n: int) -> None:
        def claim() -> bool:
            events.append(f"claim {n}")
            return True

        transport.submit(message(n), claim, lambda taken, error: events.append(f"{n}: {taken}"))

    submit(1)
    assert events == ["claim 1"]
    submit(2)
    assert events == ["claim 1", "1: True", "claim 2"]
    transport.flush()
    assert events[-1] == "2: True"
    transport.close()
    assert smtp_server.handler.recipients() == ["p1@example.org", "p2@example.org"]


def test_a_reply_lost_before_the_next_submit_leaves_only_that_message_in_doubt(faulty_server):
    faulty_server.handler.lose_reply_for = {"p1@example.org"}
    transport = SmtpTransport(smtp(faulty_server), local_hostname="t")
    transport.open()
    results: dict[int, tuple[bool, Exception | None]] = {}
    claims: list[int] = []
    for n in (1, 2):
        transport.submit(
            message(n),
            lambda n=n: claims.append(n) or True,
            lambda taken, error, n=n: results.__setitem__(n, (taken, error)),
        )
    assert claims == [1] and not transport.is_open
    assert isinstance(results[1][1], ReplyLost) and classify(results[1][1]).kind is Kind.UNCERTAIN
    assert isinstance(results[2][1], Unsent)  # never claimed: the loop tries it again
    transport.open()
    transport.submit(
        message(2), lambda: True, lambda taken, error: results.update({2: (taken, error)})
    )
    transport.close()
    assert results[2] == (True, None)
    assert faulty_server.handler.recipients() == ["p1@example.org", "p2@example.org"]
