"""Personal fields: rendered once as sentinels, filled in per recipient.

Templates are rendered once per issue with every personal field
(`subscriber.*`, `unsubscribe_url`) replaced by a sentinel: a lower-case
ASCII token that no HTML escaping, Markdown or CSS inliner changes. The result
is split at the sentinels into literal chunks and field slots (a `Skeleton`);
per recipient only the slots are filled, escaped for the part they are in.

The price: a template cannot branch on or transform a personal field (it would
branch on the sentinel). `substitution_differences` finds a template that does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from markupsafe import escape

from newsletter.subscribers.addresses import clean_field
from newsletter.subscribers.model import Subscriber

PROFILE_FIELDS = ("name", "organisation", "email", "language")
UNSUBSCRIBE_FIELD = "unsubscribe_url"


@dataclass(frozen=True)
class Skeleton:
    """Literal chunks around field slots: chunks[0] slot[0] chunks[1] ... chunks[-1]."""

    chunks: tuple[str, ...]
    slots: tuple[str, ...]

    def fill(self, values: Mapping[str, str]) -> str:
        parts = [self.chunks[0]]
        for slot, chunk in zip(self.slots, self.chunks[1:], strict=True):
            parts.append(values[slot])
            parts.append(chunk)
        return "".join(parts)

    def shape(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return self.chunks, self.slots


class Sentinels:
    """Hands out one sentinel per field name and splits rendered text at them."""

    def __init__(self, nonce: str) -> None:
        self._prefix = f"zqnl{nonce}f"
        self._pattern = re.compile(rf"{self._prefix}(\d+)q")
        self.fields: list[str] = []

    def token(self, field: str) -> str:
        if field not in self.fields:
            self.fields.append(field)
        return f"{self._prefix}{self.fields.index(field)}q"

    def split(self, text: str) -> Skeleton:
        pieces = self._pattern.split(text)
        chunks = tuple(pieces[0::2])
        slots = tuple(self.fields[int(number)] for number in pieces[1::2])
        return Skeleton(chunks, slots)


class FieldView:
    """What a template sees as `subscriber`: each read asks `value_for`."""

    def __init__(self, value_for: Callable[[str], str]) -> None:
        self._value_for = value_for
        self.attributes = _AttributeView(value_for)

    @property
    def name(self) -> str:
        return self._value_for("name")

    @property
    def organisation(self) -> str:
        return self._value_for("organisation")

    @property
    def email(self) -> str:
        return self._value_for("email")

    @property
    def language(self) -> str:
        return self._value_for("language")


class _AttributeView:
    """`subscriber.attributes.X` (or `["X"]`): any key, missing ones are empty."""

    def __init__(self, value_for: Callable[[str], str]) -> None:
        self._value_for = value_for

    def __getitem__(self, key: str) -> str:
        return self._value_for(f"attributes.{key}")

    def __getattr__(self, key: str) -> str:
        if key.startswith("_"):
            raise AttributeError(key)
        return self[key]


def field_values(
    subscriber: Subscriber, unsubscribe_url: str, fields: tuple[str, ...]
) -> dict[str, str]:
    """The raw (unescaped, line-break free) value of every field a skeleton uses."""
    values: dict[str, str] = {}
    for field in fields:
        if field == UNSUBSCRIBE_FIELD:
            raw: Any = unsubscribe_url
        elif field.startswith("attributes."):
            raw = subscriber.attributes.get(field[len("attributes.") :], "")
        else:
            raw = getattr(subscriber, field)
        values[field] = clean_field(raw)
    return values


def html_values(values: Mapping[str, str]) -> dict[str, str]:
    """The same escaping Jinja's autoescape applies (markupsafe)."""
    return {field: str(escape(value)) for field, value in values.items()}


def probe_values(fields: list[str], style: str) -> dict[str, str]:
    """Sample values that expose a template branching on or changing a field."""
    if style == "empty":
        return dict.fromkeys(fields, "")
    return {field: f'Ŷ <b>"O\'{field}" & co</b> {index}' for index, field in enumerate(fields)}
