"""`issue preview`: one recipient's finished message written to build/SLUG/."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from newsletter.config import Config
from newsletter.issue.active_content import with_preview_policy
from newsletter.issue.checks import Finding, check_issue
from newsletter.issue.editions import PreparedIssue, sample_subscriber
from newsletter.issue.rendering import prepare_issue
from newsletter.mail.builder import MessageFactory
from newsletter.subscribers.addresses import normalise_address
from newsletter.subscribers.model import Subscriber
from newsletter.subscribers.store import Store


@dataclass(frozen=True)
class Preview:
    recipient: str
    sample: bool  # True when the recipient is made up (not in the database)
    files: dict[str, Path]  # html, text, eml, online (and html.cy, ... for each language)
    sizes: dict[str, int]
    findings: list[Finding]


def write_preview(config: Config, store: Store, slug: str, to: str | None = None) -> Preview:
    """Render one recipient's message into build/SLUG/ and run the checks.

    index.html is the message's HTML with a policy that stops a browser from
    running any script in it (the sizes shown are those of the message itself).

    Without `to`, a bilingual project's preview also holds each language's
    message (index.cy.html, message.cy.eml, ...) next to the bilingual one.
    online.html (online.cy.html, ...) is the public copy the archive will show
    once the issue is sent: the same for every reader, with nothing personal.
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
    for key, online in prepared.online.items():
        page = online.html.encode("utf-8")
        infix = f".{key}" if key else ""
        contents[f"online{infix}"] = (
            f"online{infix}.html",
            with_preview_policy(online.html).encode("utf-8"),
            len(page),
        )
    files: dict[str, Path] = {}
    for kind, (name, data, _size) in contents.items():
        files[kind] = folder / name
        files[kind].write_bytes(data)
    sizes = {kind: size for kind, (_name, _data, size) in contents.items()}
    return Preview(
        subscriber.email,
        sample,
        files,
        sizes,
        check_issue(config, prepared, store.attribute_keys, store.count_by_language()),
    )


def _contents(
    prepared: PreparedIssue, factory: MessageFactory, subscriber: Subscriber, key: str
) -> dict[str, tuple[str, bytes, int]]:
    """kind -> (file name, bytes, size shown): one edition's files (key '' = the default)."""
    html, text = prepared.render(subscriber)
    message = factory.build(subscriber).data
    infix = f".{key}" if key else ""
    files = {
        "html": (
            f"index{infix}.html",
            with_preview_policy(html).encode("utf-8"),
            len(html.encode()),
        ),
        "text": (f"text{infix}.txt", text.encode("utf-8"), len(text.encode())),
        "eml": (f"message{infix}.eml", message, len(message)),
    }
    return {f"{kind}{infix}": value for kind, value in files.items()}


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
