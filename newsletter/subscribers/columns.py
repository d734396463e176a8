"""What the columns of a subscriber CSV mean: header names -> fields and attributes.

Headers are matched by name, ignoring case, spaces, punctuation and accents,
so `Email`, `E-mail address` and `EMAIL_ADDRESS` are all the email column
(Welsh headers too: `E-bost`, `Enw`, `Sefydliad`, `Iaith`). Every other column
is kept as an attribute under an identifier-like key (`Membership type` ->
`membership_type`) that templates can use as `subscriber.attributes.membership_type`.
The export writes the same names back, so export -> import is a round trip.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from newsletter.errors import InputError
from newsletter.i18n.languages import NETWORK_LANGUAGES, accepted_codes, parse_language
from newsletter.subscribers.addresses import clean_field
from newsletter.subscribers.formulas import unguard_cell

EXPORT_COLUMNS = ("email", "name", "organisation", "language", "status", "source", "subscribed_at")
STATUS_WORDS = {
    "active": "active",
    "subscribed": "active",
    "unsubscribed": "unsubscribed",
    "bounced": "bounced",
}
_ALIASES = {
    "email": ("email", "emailaddress", "mail", "mailaddress", "ebost", "cyfeiriadebost"),
    "name": ("name", "fullname", "displayname", "enw", "enwllawn"),
    "first_name": ("firstname", "givenname", "forename", "enwcyntaf"),
    "last_name": ("lastname", "surname", "familyname", "cyfenw"),
    "organisation": (
        "organisation",
        "organization",
        "organisationname",
        "organizationname",
        "company",
        "sefydliad",
    ),
    "language": ("language", "lang", "preferredlanguage", "iaith"),
    "status": ("status",),
    "source": ("source",),
    "subscribed_at": ("subscribedat",),
}
_FIELD_BY_KEY = {alias: name for name, aliases in _ALIASES.items() for alias in aliases}
_NOT_IDENTIFIER = re.compile(r"[^a-z0-9]+")


def header_key(text: str) -> str:
    """`E-mail Address` -> `emailaddress`: what a header is matched by."""
    return "".join(ch for ch in _fold(text) if ch.isalnum())


def attribute_key(text: str) -> str:
    """`Côd post (home)` -> `cod_post_home`: ASCII letters, digits and `_`, not starting with a digit."""
    key = _NOT_IDENTIFIER.sub("_", _fold(text)).strip("_")
    return f"_{key}" if key[:1].isdigit() else key


@dataclass(frozen=True)
class ColumnMap:
    """Which column holds which field; the rest become attributes."""

    width: int
    fields: dict[str, int] = field(default_factory=dict)
    attributes: tuple[tuple[int, str], ...] = ()

    @property
    def has_email(self) -> bool:
        return "email" in self.fields

    def attribute_keys(self) -> list[str]:
        return [key for _index, key in self.attributes]


def map_header(header: list[str]) -> ColumnMap:
    """Map a header row; a repeated field (a second Email column) becomes an attribute."""
    fields: dict[str, int] = {}
    attributes: list[tuple[int, str]] = []
    used: set[str] = set()
    for index, raw in enumerate(header):
        name = _FIELD_BY_KEY.get(header_key(raw))
        if name and name not in fields:
            fields[name] = index
            continue
        key = _unique_key(name or attribute_key(raw) or f"column_{index + 1}", used)
        used.add(key)
        attributes.append((index, key))
    return ColumnMap(width=len(header), fields=fields, attributes=tuple(attributes))


class RowParser:
    """Turns the fields of one record into clean values, or raises InputError (a reject)."""

    def __init__(
        self,
        mapping: ColumnMap,
        source: str,
        source_wins: bool = False,
        languages: tuple[str, ...] = NETWORK_LANGUAGES,
    ) -> None:
        self.mapping = mapping
        self.source = source
        self.source_wins = source_wins
        self.languages = languages
        self._index = mapping.fields

    def parse(self, fields: list[str]) -> dict[str, Any]:
        width = self.mapping.width
        if len(fields) > width and any(cell.strip() for cell in fields[width:]):
            raise InputError(
                f"{len(fields)} fields where the header has {width}"
                " (a delimiter inside an unquoted cell?)"
            )
        cells = [unguard_cell(_clean(cell)) for cell in fields[:width]]
        cells.extend([""] * (width - len(cells)))
        value = self._value
        source = value(cells, "source")
        language, note = self._language(value(cells, "language"))
        return {
            "email": value(cells, "email"),
            "profile": {
                "name": value(cells, "name") or self._joined_name(cells),
                "organisation": value(cells, "organisation"),
                "language": language,
            },
            "note": note,
            "attributes": {key: cells[i] for i, key in self.mapping.attributes if cells[i]},
            "status": _status(value(cells, "status")),
            "source": self.source if self.source_wins or not source else source,
            "subscribed_at": iso_timestamp(value(cells, "subscribed_at")),
        }

    def _language(self, text: str) -> tuple[str, str]:
        """(code, note): a language we cannot read is stored empty and reported."""
        code = parse_language(text, self.languages)
        if code is not None:
            return code, ""
        known = ", ".join(accepted_codes(self.languages))
        return (
            "",
            f"language {text!r} not understood (use {known}, Cymraeg or English); stored empty",
        )

    def _value(self, cells: list[str], name: str) -> str:
        index = self._index.get(name)
        return "" if index is None else cells[index]

    def _joined_name(self, cells: list[str]) -> str:
        parts = (self._value(cells, "first_name"), self._value(cells, "last_name"))
        return " ".join(part for part in parts if part)


def iso_timestamp(text: str) -> str:
    """A timestamp from the file in the store's form (UTC, seconds), or '' if it is not one."""
    if not text:
        return ""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _status(text: str) -> str | None:
    if not text:
        return None
    status = STATUS_WORDS.get(text.casefold())
    if status is None:
        raise InputError(f"unknown status {text!r} (use active, unsubscribed or bounced)")
    return status


def _clean(cell: str) -> str:
    """clean_field, with a fast path for the usual cell that has nothing to remove."""
    return cell.strip() if cell.isprintable() else clean_field(cell)


def _fold(text: str) -> str:
    """Accents dropped, case folded: `Côd` -> `cod`."""
    decomposed = unicodedata.normalize("NFKD", clean_field(text).replace("\ufeff", ""))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _unique_key(base: str, used: set[str]) -> str:
    """A key not used yet and not read back as a field: `email` -> `email_2`."""
    key, number = base, 1
    while key in used or header_key(key) in _FIELD_BY_KEY:
        number += 1
        key = f"{base}_{number}"
    return key
