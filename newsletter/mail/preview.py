"""`issue preview`: one recipient's finished message written to build/SLUG/."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from newsletter.config import Config
from newsletter.issue.active_content import with_preview_policy
from newsletter.issue.checks import Finding, check_issue
from newsletter.issue.rendering import prepare_issue, sample_subscriber
from newsletter.mail.builder import MessageFactory
from newsletter.subscribers.addresses import normalise_address
from newsletter.subscribers.model import Subscriber
from newsletter.subscribers.store import Store


@dataclass(frozen=True)
class Preview:
    recipient: str
    sample: bool  # True when the recipient is made up (not in the database)
    files: dict[str, Path]  # html, text, eml
    sizes: dict[str, int]
    findings: list[Finding]


def write_preview(config: Config, store: Store, slug: str, to: str | None = None) -> Preview:
    """Render one recipient's message into build/SLUG/ and run the checks.

    index.html is the message's HTML with a policy that stops a browser from
    running any script in it (the sizes shown are those of the message itself).
    """
    prepared = prepare_issue(config, slug)
    subscriber, sample = _preview_subscriber(store, to)
    html, text = prepared.render(subscriber)
    message = MessageFactory(config, prepared).build(subscriber)
    folder = config.build_dir / slug
    folder.mkdir(parents=True, exist_ok=True)
    sizes = {"html": len(html.encode("utf-8"))}
    contents = {
        "html": ("index.html", with_preview_policy(html).encode("utf-8")),
        "text": ("text.txt", text.encode("utf-8")),
        "eml": ("message.eml", message.data),
    }
    files: dict[str, Path] = {}
    for kind, (name, data) in contents.items():
        files[kind] = folder / name
        files[kind].write_bytes(data)
    sizes = {kind: len(data) for kind, (_name, data) in contents.items()} | sizes
    return Preview(
        subscriber.email, sample, files, sizes, check_issue(config, prepared, store.attribute_keys)
    )


def _preview_subscriber(store: Store, to: str | None) -> tuple[Subscriber, bool]:
    if not to:
        return sample_subscriber(), True
    email = normalise_address(to)
    found = store.get_subscriber(email)
    return (found, False) if found is not None else (sample_subscriber(email), True)
