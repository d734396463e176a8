"""What the columns of a subscriber CSV mean: header names -> fields and attributes.

Headers are matched by name, ignoring case, spaces, punctuation and accents,
so `Email`, `E-mail address` and `EMAIL_ADDRESS` are all the email column
(Welsh headers too: `E-bost`, `Enw`, `Sefydliad`, `Iaith`). Every other column
is kept as an attribute under an identifier-like key (`Membership type` ->
`membership_type`) that templates can use as `subscriber.attributes.membership_type`.
The export writes the same names back, so export -> import is a round trip.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from newsletter.errors import InputError
from newsletter.i18n.languages import NETWORK_LANGUAGES, language_hint, parse_language, says_both
from newsletter.subscribers.addresses import clean_field
from newsletter.subscribers.formats import PLAIN, ExportFormat
from newsletter.subscribers.formulas import unguard_cell

EXPORT_COLUMNS = ("email", "name", "organisation", "language", "status", "source", "subscribed_at")
# Every tool's word for a status (folded as header keys are: "Marked as spam" ->
# "markedasspam"), so a plain sheet may use any of them.
STATUS_WORDS = {
    **dict.fromkeys(
        ("active", "subscribed", "enabled", "confirmed", "regular", "premium", "trialed",
         "unpaid", "gifted", "churning", "paused", "pastdue"),
        "active",
    ),
    **dict.fromkeys(
        ("unsubscribed", "blocklisted", "blacklisted", "disabled", "removed", "spammy",
         "markedasspam", "complained", "complaint", "optedout"),
        "unsubscribed",
    ),
    **dict.fromkeys(
        ("bounced", "cleaned", "unreachable", "undeliverable", "hardbounce"), "bounced"
    ),
}  # fmt: skip
# People who never confirmed (or never opted in) there: not imported at all.
NEVER_CONFIRMED = frozenset({"unactivated", "unconfirmed", "pending", "nonsubscribed"})
YES = frozenset({"yes", "y", "true", "1", "ie", "oes", "do", "x"})
NO = frozenset({"no", "n", "false", "0", "na", "nacoes", "naddo"})
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
    "language": (
        "language", "lang", "preferredlanguage", "languagepreference", "iaith", "dewisiaith",
    ),
    "welsh": ("welsh", "cymraeg", "inwelsh", "yngnghymraeg"),  # a yes/no column
    "status": ("status",),
    "source": ("source",),
    "subscribed_at": ("subscribedat",),
}  # fmt: skip
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
    """Which column holds which field; the rest become attributes, or are dropped."""

    width: int
    fields: dict[str, int] = field(default_factory=dict)
    attributes: tuple[tuple[int, str], ...] = ()
    dropped: tuple[str, ...] = ()  # the headers not stored, as the file writes them
    kept: tuple[str, ...] = ()  # header keys --keep asked for that this file has
    names: tuple[str, ...] = ()  # the headers as the file writes them

    @property
    def has_email(self) -> bool:
        return "email" in self.fields

    def attribute_keys(self) -> list[str]:
        return [key for _index, key in self.attributes]


def map_header(
    header: list[str], export: ExportFormat = PLAIN, keep: frozenset[str] = frozenset()
) -> ColumnMap:
    """Map a header row; a repeated field (a second Email column) becomes an attribute.

    A column the format drops is stored only when its key is in `keep`, as an attribute
    (--keep never turns a field the import reads, such as the email, into an attribute).
    """
    fields: dict[str, int] = {}
    attributes: list[tuple[int, str]] = []
    dropped: list[str] = []
    kept: list[str] = []
    used: set[str] = set()
    for index, raw in enumerate(header):
        key = header_key(raw)
        keeping = key in keep and key in export.dropped
        name = None if keeping else export.columns.get(key) or _FIELD_BY_KEY.get(key)
        if name and name not in fields:
            fields[name] = index
            continue
        if keeping:
            kept.append(key)
        elif key in export.dropped:
            dropped.append(clean_field(raw))
            continue
        attribute = _unique_key(name or attribute_key(raw) or f"column_{index + 1}", used)
        used.add(attribute)
        attributes.append((index, attribute))
    names = tuple(clean_field(raw) for raw in header)
    return ColumnMap(len(header), fields, tuple(attributes), tuple(dropped), tuple(kept), names)


MAX_CELL = 128 * 1024  # characters: a cell longer than this is a mistake, its row a reject


class RowParser:
    """Turns the fields of one record into clean values, or raises InputError (a reject)."""

    def __init__(
        self,
        mapping: ColumnMap,
        source: str,
        source_wins: bool = False,
        languages: tuple[str, ...] = NETWORK_LANGUAGES,
        export: ExportFormat = PLAIN,
        status: str | None = None,
    ) -> None:
        self.mapping = mapping
        self.source = source
        self.source_wins = source_wins or bool(export.tool)
        self.languages = languages
        self.export_status = export.status
        self.default_status = status  # --status: for rows the file gives none
        self._index = mapping.fields

    def parse(self, fields: list[str]) -> dict[str, Any]:
        width = self.mapping.width
        if len(fields) > width and any(cell.strip() for cell in fields[width:]):
            raise InputError(
                f"{len(fields)} fields where the header has {width}"
                " (a delimiter inside an unquoted cell?)"
            )
        largest = max(map(len, fields), default=0)
        if largest > MAX_CELL:
            raise InputError(f"a cell of {largest // 1024} KB (at most {MAX_CELL // 1024} KB)")
        cells = [unguard_cell(_clean(cell)) for cell in fields[:width]]
        cells.extend([""] * (width - len(cells)))
        value = self._value
        source = value(cells, "source")
        language, note = self._language(cells)
        attributes = {key: cells[i] for i, key in self.mapping.attributes if cells[i]}
        json_text = value(cells, "json_attributes")
        if json_text:
            more, json_note = json_attributes(json_text)
            attributes = {**more, **attributes}
            note = "; ".join(filter(None, (note, json_note)))
        status = self._status(value(cells, "status"))
        left_at = ""
        if status not in (None, "active"):
            left_at = iso_timestamp(value(cells, "left_at") or value(cells, "changed_at"))
        consent_at = iso_timestamp(value(cells, "consent_at") or value(cells, "optin_at"))
        return {
            "email": value(cells, "email"),
            "profile": {
                "name": value(cells, "name") or self._joined_name(cells),
                "organisation": value(cells, "organisation"),
                "language": language,
            },
            "note": note,
            "attributes": attributes,
            "status": status,
            "source": self.source if self.source_wins or not source else source,
            "subscribed_at": iso_timestamp(value(cells, "subscribed_at")) or consent_at,
            "left_at": left_at,
            "consent_at": consent_at,
            "consent_ip": value(cells, "consent_ip") or value(cells, "optin_ip"),
            "cleared": ("language",) if says_both(value(cells, "language")) else (),
        }

    def _status(self, text: str) -> str | None:
        """The file's status (its format's for a file of leavers), else --status.

        Nobody a file says left becomes active: --status only fills in the rest.
        """
        status = self.export_status or parse_status(text)
        if status in (None, "active") and self.default_status:
            return self.default_status
        return status

    def _language(self, cells: list[str]) -> tuple[str, str]:
        """(code, note): a language we cannot read is stored empty and reported."""
        text = self._value(cells, "language")
        if not text:
            return _welsh_flag(self._value(cells, "welsh")), ""
        code = parse_language(text, self.languages)
        if code is not None:
            return code, ""
        return (
            "",
            f"language {text!r} not understood ({language_hint(self.languages)}); stored empty",
        )

    def _value(self, cells: list[str], name: str) -> str:
        index = self._index.get(name)
        return "" if index is None else cells[index]

    def _joined_name(self, cells: list[str]) -> str:
        parts = (self._value(cells, "first_name"), self._value(cells, "last_name"))
        return " ".join(part for part in parts if part)


def parse_status(text: str) -> str | None:
    """A status in any tool's words ('' -> None); InputError for one we do not know."""
    if not text:
        return None
    key = header_key(text)
    status = STATUS_WORDS.get(key)
    if status is not None:
        return status
    if key in NEVER_CONFIRMED:
        raise InputError(f"never confirmed their subscription there ({text}): not imported")
    raise InputError(
        f"unknown status {text!r} (use active, unsubscribed or bounced,"
        " or the other tool's own word: subscribed, cleaned, blocklisted, ...)"
    )


def json_attributes(text: str) -> tuple[dict[str, str], str]:
    """A JSON object of another tool's attributes, flattened to text values, and a note."""
    try:
        loaded = json.loads(text)
    except ValueError:
        loaded = None
    if not isinstance(loaded, dict):
        return {"attributes": text}, "attributes are not a JSON object; kept as text"
    flat = {}
    for key, item in loaded.items():
        name = attribute_key(str(key))
        if name and item not in (None, "", [], {}):
            flat[name] = item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
    return flat, ""


_GO_TIME = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(\.\d+)? ([+-]\d\d)(\d\d)(?: \S+)?")
_OTHER_TIMES = ("%Y/%m/%d, %I:%M%p", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y")


def iso_timestamp(text: str) -> str:
    """A timestamp from the file in the store's form (UTC, seconds), or '' if it is not one.

    ISO 8601 (Mailchimp, Buttondown), Go's time.String() (listmonk:
    `2024-02-01 09:05:00.123 +0000 UTC`) and Sendy's `2024/02/01, 09:05AM`.
    """
    if not text:
        return ""
    try:
        parsed: datetime | None = datetime.fromisoformat(text)
    except ValueError:
        parsed = _other_time(text)
    if parsed is None:
        return ""
    moment = parsed
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _other_time(text: str) -> datetime | None:
    go = _GO_TIME.fullmatch(text)
    if go:
        seconds, _fraction, hours, minutes = go.groups()
        return datetime.fromisoformat(f"{seconds}{hours}:{minutes}")
    for form in _OTHER_TIMES:
        try:
            return datetime.strptime(text, form)
        except ValueError:
            continue
    return None


def _welsh_flag(text: str) -> str:
    """A yes/no 'Welsh?' column: yes -> cy, no -> en, anything else -> no choice."""
    key = header_key(text)
    return "cy" if key in YES else "en" if key in NO else ""


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
