"""Email address validation and the text hygiene every stored field gets.

One place decides what an address is (email-validator, no DNS) and how it is
compared (`address_key`), and one place removes the control characters that
could otherwise smuggle a header into a message later.
"""

from __future__ import annotations

import re

from newsletter.errors import InputError

_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\x0b\x0c\x85\u2028\u2029]")  # CRLF is one break


def normalise_address(text: str) -> str:
    """The canonical form of an address: domain lower-cased, IDN as Unicode.

    International domains are fine (sent in their xn-- form); a non-ASCII part
    before the @ is refused, because sending it would need SMTPUTF8.

    Raises InputError with email-validator's reason when the address is bad.
    """
    candidate = text.strip()
    if not candidate:
        raise InputError("empty email address")
    if _CONTROL.search(candidate):
        raise InputError(f"control character in email address {candidate!r}")
    from email_validator import EmailNotValidError, validate_email  # here: `status` starts fast

    try:
        # No SMTPUTF8: a non-ASCII local part could be stored but never sent,
        # so it is refused here, where the coordinator sees the line and reason.
        result = validate_email(candidate, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        raise InputError(f"invalid email address {candidate!r}: {error}") from None
    return result.normalized


def address_key(address: str) -> str:
    """The comparison key: two addresses are the same subscriber when keys match."""
    return address.casefold()


_DOTLESS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def mailbox_key(address: str) -> str:
    """The mailbox an address delivers to, for limits that count mail to a person:
    `name+anything@` is `name@`; at Gmail the dots do not count either."""
    local, _, domain = address_key(address).rpartition("@")
    local = local.partition("+")[0]
    if domain in _DOTLESS:
        local, domain = local.replace(".", ""), _DOTLESS[domain]
    return f"{local}@{domain}"


def ascii_address(address: str) -> str:
    """The address with its domain in IDNA form, for SMTP envelopes and headers."""
    local, _, domain = address.rpartition("@")
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        return address


def clean_field(value: object) -> str:
    """A stored text field: line breaks become spaces, other controls vanish."""
    text = "" if value is None else str(value)
    text = _LINE_BREAKS.sub(" ", text)
    return _CONTROL.sub("", text).strip()


def has_line_break(text: str) -> bool:
    """True when the text could start a new header line."""
    return bool(_LINE_BREAKS.search(text))


def mask_address(email: str) -> str:
    """r***@example.org: enough for a person to recognise, little for anyone else."""
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}***@{domain}"
