"""Sorting one returned message: bounce, complaint, unsubscribe request, auto-reply, other.

In that order, because each later kind can look like an earlier one: a DSN
carries `Auto-Submitted: auto-replied`, an out-of-office can quote a subject
with "unsubscribe" in it. Pure: nothing here touches the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses
from enum import StrEnum

from newsletter.returns.reports import (
    Original,
    RecipientReport,
    delivery_reports,
    feedback_fields,
    nonstandard_reports,
    original_message,
)


class Category(StrEnum):
    BOUNCE = "bounce"
    COMPLAINT = "complaint"
    UNSUBSCRIBE = "unsubscribe"
    AUTO_REPLY = "auto-reply"
    OTHER = "other"


@dataclass(frozen=True)
class Sorted:
    category: Category
    reports: tuple[RecipientReport, ...] = ()
    original: Original = field(default_factory=Original)
    addressed_to: tuple[
        str, ...
    ] = ()  # where the message was delivered: a VERP address names its delivery
    token: str | None = None  # an unsubscribe request's token
    detail: str = ""  # a complaint's Feedback-Type, for the event


_ADDRESSED_TO = ("Delivered-To", "X-Original-To", "Envelope-To", "To")
_BOUNCE_SENDER = re.compile(r"mailer-daemon|postmaster|mail delivery", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|returned mail|delivery (status notification|failure|has failed)|failure notice"
    r"|mail delivery failed|could not be delivered|non.?delivery",
    re.IGNORECASE,
)
_UNSUBSCRIBE_SUBJECT = re.compile(
    r"\bunsubscribe\s+([A-Za-z0-9_-]{24})(?![A-Za-z0-9_-])", re.IGNORECASE
)
_OUT_OF_OFFICE = re.compile(
    r"out of (the )?office|automatic reply|auto.?reply|autoreply|abwesenheit|absence|on vacation"
    r"|allan o'r swyddfa|ateb awtomatig",
    re.IGNORECASE,
)


def sort_message(message: Message) -> Sorted:
    """What this returned message is, with the clues that tie it to a delivery."""
    addressed_to = _addressed_to(message)
    arf = feedback_fields(message)
    if arf is not None:
        return Sorted(
            Category.COMPLAINT,
            original=_with_envelope(original_message(message), arf),
            addressed_to=addressed_to,
            detail=" ".join(str(arf.get("Feedback-Type", "abuse")).split()).lower(),
        )
    reports = delivery_reports(message)
    if reports is None and _looks_like_bounce(message):
        reports = nonstandard_reports(message)
    if reports:
        return Sorted(Category.BOUNCE, tuple(reports), original_message(message), addressed_to)
    unsubscribe = _UNSUBSCRIBE_SUBJECT.search(" ".join(str(message.get("Subject", "")).split()))
    if unsubscribe and not _is_automatic(message):
        return Sorted(Category.UNSUBSCRIBE, addressed_to=addressed_to, token=unsubscribe.group(1))
    if _is_automatic(message):
        return Sorted(Category.AUTO_REPLY, addressed_to=addressed_to)
    return Sorted(Category.OTHER, addressed_to=addressed_to)


def _addressed_to(message: Message) -> tuple[str, ...]:
    values = [value for name in _ADDRESSED_TO for value in message.get_all(name, [])]
    return tuple(dict.fromkeys(address.lower() for _, address in getaddresses(values) if address))


def _with_envelope(original: Original, arf: Message) -> Original:
    """ARF's Original-Mail-From is our envelope sender: with VERP it names the delivery."""
    senders = [address for _, address in getaddresses(arf.get_all("Original-Mail-From", []))]
    return Original(original.message_ids, original.tokens, (*original.envelope_senders, *senders))


def _looks_like_bounce(message: Message) -> bool:
    sender = str(message.get("From", ""))
    return_path = str(message.get("Return-Path", "")).strip()
    return (
        (message.get("Return-Path") is not None and return_path in ("<>", ""))
        or bool(_BOUNCE_SENDER.search(sender))
        or bool(_BOUNCE_SUBJECT.search(str(message.get("Subject", ""))))
    )


def _is_automatic(message: Message) -> bool:
    """RFC 3834 Auto-Submitted, or the headers and subjects vacation responders use."""
    submitted = str(message.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(message.get("Precedence", "")).strip().lower()
    return (
        submitted != "no"
        or precedence in ("auto_reply", "bulk", "junk")
        or any(message.get(name) for name in ("X-Autoreply", "X-Autorespond"))
        or bool(_OUT_OF_OFFICE.search(str(message.get("Subject", ""))))
    )
