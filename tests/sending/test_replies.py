"""Who a reply is about: the classification table (reply -> outcome) the send loop
and the return mailbox both act on."""

from __future__ import annotations

import smtplib

import pytest

from newsletter.sending.replies import Kind, Stage, classify, reply_verdict, returned_verdict

HARD, SOFT, REFUSED, TEMPORARY = (Kind.HARD_BOUNCE, Kind.SOFT_BOUNCE, Kind.REFUSED, Kind.TEMPORARY)
RCPT, DATA = Stage.RCPT, Stage.DATA

TABLE = [
    # about the recipient, permanently: a hard bounce
    (550, "5.1.1 <a@example.org>: Recipient address rejected: User unknown", RCPT, HARD),
    (550, "5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found", RCPT, HARD),
    (553, "5.1.3 bad destination mailbox address syntax", RCPT, HARD),
    (550, "no such user here", RCPT, HARD),
    (551, "user not local", RCPT, HARD),
    (553, "mailbox name not allowed", RCPT, HARD),
    (550, "5.1.1 user unknown", DATA, HARD),  # a recipient-specific code at DATA
    # about the recipient, for now: retried, then a soft bounce
    (452, "4.2.2 mailbox full", RCPT, SOFT),
    (552, "5.2.2 mailbox full", RCPT, SOFT),
    (552, "5.2.2 Mailbox quota exceeded", DATA, SOFT),
    (550, "5.2.1 The email account that you tried to reach is disabled", RCPT, SOFT),
    (450, "4.1.1 recipient address verification in progress", RCPT, SOFT),
    (450, "mailbox busy", RCPT, SOFT),
    # about the sender, the relay or the message: never a bounce
    (554, "5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException", DATA, REFUSED),
    (
        554,
        "Message rejected: Email address is not verified. The following identities"
        " failed the check in region EU-WEST-1: news@example.org",
        DATA,
        REFUSED,
    ),  # fmt: skip
    (550, "relay not permitted", RCPT, REFUSED),
    (554, "5.7.1 <a@example.org>: Relay access denied", RCPT, REFUSED),
    (550, "5.7.1 message refused by policy", RCPT, REFUSED),
    (
        552,
        "5.7.0 This message was blocked because its content presents a security issue",
        DATA,
        REFUSED,
    ),  # fmt: skip
    (552, "5.2.3 message size exceeds fixed maximum message size", DATA, REFUSED),
    (552, "5.3.4 message too big", DATA, REFUSED),
    (554, "5.6.0 content refused", DATA, REFUSED),
    (554, "transaction failed", DATA, REFUSED),  # any 5xx at DATA with no recipient code
    (550, "5.2.0 account over quota", DATA, REFUSED),
    (550, "5.1.8 bad sender's system address", RCPT, REFUSED),
    (550, "5.1.1 relay not permitted", RCPT, REFUSED),  # words about the relay win
    (550, "Sender address rejected: not owned by user", RCPT, REFUSED),
    # the relay, for now: retried; the breaker watches
    (451, "4.3.0 try again later", DATA, TEMPORARY),
    (454, "4.7.0 too many connections", RCPT, TEMPORARY),
    (452, "insufficient system storage", RCPT, TEMPORARY),
    (421, "4.4.2 closing connection", RCPT, TEMPORARY),
    (552, "too many recipients", RCPT, TEMPORARY),  # RFC 5321: a bare 552 to RCPT is a 452
]


@pytest.mark.parametrize(("code", "text", "stage", "kind"), TABLE)
def test_every_reply_is_classified_by_whom_it_is_about(code, text, stage, kind):
    verdict = reply_verdict(code, text, stage)
    assert verdict.kind is kind
    assert verdict.reason.startswith(str(code))


@pytest.mark.parametrize(
    ("status", "diagnostic", "kind"),
    [
        ("5.1.1", "550 5.1.1 <a@example.org>: Recipient address rejected: User unknown", HARD),
        ("5.0.0", "550 Unrouteable address", HARD),
        ("5.4.4", "Host or domain name not found. Name service error", HARD),
        ("4.2.2", "452 4.2.2 <a@example.org>: mailbox full", SOFT),
        ("5.2.2", "552 5.2.2 Mailbox full", SOFT),
        ("4.4.7", "delivery time expired", SOFT),
        ("5.7.1", "554 5.7.1 Message rejected as spam", REFUSED),
        (
            "5.7.26",
            "550 5.7.26 Unauthenticated email from example.org is not accepted due"
            " to domain's DMARC policy",
            REFUSED,
        ),  # fmt: skip
        ("5.0.0", "550 Message rejected as spam by Content Filtering", REFUSED),
        ("5.3.4", "552 5.3.4 Message size exceeds fixed limit", REFUSED),
    ],
)
def test_a_returned_status_is_classified_the_same_way(status, diagnostic, kind):
    assert returned_verdict(status, diagnostic).kind is kind


def test_the_event_detail_leads_with_the_status_code():
    assert reply_verdict(550, "5.1.1 no such user").detail == "550 5.1.1 no such user"
    assert reply_verdict(550, "no such user").detail == "550 no such user"
    assert returned_verdict("5.1.1", "Host said: gone").detail == "5.1.1 Host said: gone"


def test_session_replies_never_concern_a_recipient():
    greeting = classify(smtplib.SMTPConnectError(421, b"4.3.2 Service not available"))
    assert greeting.kind is TEMPORARY
    assert classify(smtplib.SMTPConnectError(554, b"no SMTP service here")).kind is Kind.FATAL
    auth = classify(smtplib.SMTPAuthenticationError(535, b"5.7.8 bad credentials"))
    assert auth.kind is Kind.FATAL
    quota_at_mail = smtplib.SMTPSenderRefused(554, b"5.2.0 SubmissionQuotaExceeded", "n@x.org")
    assert classify(quota_at_mail).kind is Kind.FATAL
