"""`issue preview`: one recipient's finished message written to build/SLUG/."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from newsletter.config import Config
from newsletter.issue.checks import Finding, check_issue
from newsletter.issue.rendering import PreparedIssue, prepare_issue, sample_subscriber
from newsletter.mail.builder import MessageFactory
from newsletter.subscribers.addresses import normalise_address
from newsletter.subscribers.model import Subscriber
from newsletter.subscribers.store import Store


@dataclass(frozen=True)
class Preview:
    recipient: str
    sample: bool  # True when the recipient is made up (not in the database)
    files: dict[str, Path]  # html, text, eml (and html.cy, text.cy, ... for each language)
    sizes: dict[str, int]
    findings: list[Finding]


def write_preview(config: Config, store: Store, slug: str, to: str | None = None) -> Preview:
    """Render one recipient's message into build/SLUG/ and run the checks.

    Without `to`, a bilingual project's preview also holds each language's
    message (index.cy.html, message.cy.eml, ...) next to the bilingual one.
    """
    prepared = prepare_issue(config, slug)
    subscriber, sample = _preview_subscriber(store, to)
    factory = MessageFactory(config, prepared)
    folder = config.build_dir / slug
    folder.mkdir(parents=True, exist_ok=True)
    contents = _contents(prepared, factory, subscriber, "")
    if to is None:
        for key in prepared.editions:
            if key:
                contents |= _contents(prepared, factory, replace(subscriber, language=key), key)
    files: dict[str, Path] = {}
    for kind, (name, data) in contents.items():
        files[kind] = folder / name
        files[kind].write_bytes(data)
    sizes = {kind: len(data) for kind, (_name, data) in contents.items()}
    return Preview(
        subscriber.email,
        sample,
        files,
        sizes,
        check_issue(config, prepared, store.attribute_keys, store.count_by_language()),
    )


def _contents(
    prepared: PreparedIssue, factory: MessageFactory, subscriber: Subscriber, key: str
) -> dict[str, tuple[str, bytes]]:
    html, text = prepared.render(subscriber)
    infix, suffix = (f".{key}", f".{key}") if key else ("", "")
    return {
        f"html{suffix}": (f"index{infix}.html", html.encode("utf-8")),
        f"text{suffix}": (f"text{infix}.txt", text.encode("utf-8")),
        f"eml{suffix}": (f"message{infix}.eml", factory.build(subscriber).data),
    }


def _preview_subscriber(store: Store, to: str | None) -> tuple[Subscriber, bool]:
    if not to:
        return sample_subscriber(), True
    email = normalise_address(to)
    found = store.get_subscriber(email)
    return (found, False) if found is not None else (sample_subscriber(email), True)


def check_for_readers(config: Config, store: Store, slug: str) -> list[Finding]:
    """`issue check`: the checks, knowing which languages the active readers need."""
    return check_issue(
        config, prepare_issue(config, slug), store.attribute_keys, store.count_by_language()
    )
