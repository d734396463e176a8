"""An issue file -> inlined HTML and real text, prepared once per issue.

`prepare_issue` does all the expensive work exactly once: it reads the front
matter, parses the Markdown, renders `issue.html` and `issue.txt` with
sentinels in place of the personal fields, inlines the CSS with premailer and
splits both parts into skeletons (see `newsletter.issue.personal_fields`). Per recipient,
`PreparedIssue.render` only fills the slots: microseconds, not milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from newsletter.config import Config
from newsletter.errors import NotFoundError, TemplateError
from newsletter.issue import markdown
from newsletter.issue.environment import make_environment
from newsletter.issue.personal_fields import (
    UNSUBSCRIBE_FIELD,
    FieldView,
    Sentinels,
    Skeleton,
    field_values,
    html_values,
    probe_values,
)
from newsletter.issue.source import display_path, issue_path, read_issue_file
from newsletter.issue.template_rules import branching_lines, describe_error
from newsletter.subscribers.model import Subscriber
from newsletter.subscribers.tokens import unsubscribe_url

HTML_TEMPLATE = "issue.html"
TEXT_TEMPLATE = "issue.txt"
SAMPLE_TOKEN = "SampleTokenForPreview000"  # shaped like a real token, matches no one


@dataclass(frozen=True)
class PreparedIssue:
    """One issue, rendered once; `render` fills in one recipient."""

    slug: str
    subject: str
    preheader: str
    date: str
    source_path: Path
    base_url: str
    html: Skeleton
    text: Skeleton
    templates: tuple[str, ...]
    content_hash: str  # sha256 of the issue file, the templates used and the rendered result

    @cached_property
    def fields(self) -> tuple[str, ...]:
        """Every personal field either part uses, in first-use order (computed once)."""
        return tuple(dict.fromkeys(self.html.slots + self.text.slots))

    def unsubscribe_url(self, subscriber: Subscriber) -> str:
        return unsubscribe_url(self.base_url, subscriber.token)

    def render(self, subscriber: Subscriber) -> tuple[str, str]:
        """(html, text) for one recipient: values escaped for HTML, line breaks removed."""
        values = field_values(subscriber, self.unsubscribe_url(subscriber), self.fields)
        return self.html.fill(html_values(values)), self.text.fill(values)


def sample_subscriber(email: str = "reader@example.org") -> Subscriber:
    """The made-up reader of previews and checks."""
    return Subscriber(
        id=0,
        email=email,
        name="Sample Reader",
        organisation="Sample Organisation",
        language="en",
        token=SAMPLE_TOKEN,
    )


def prepare_issue(config: Config, slug: str) -> PreparedIssue:
    """Read, parse, render and inline one issue: the once-per-issue work."""
    path, issue, renderer = _load(config, slug)
    html_skeleton, text_skeleton = renderer.skeletons()
    digest = hashlib.sha256(
        json.dumps(
            [
                path.read_text(encoding="utf-8"),
                sorted((name, source) for name, (_file, source) in renderer.loaded.items()),
                html_skeleton.shape(),
                text_skeleton.shape(),
            ],
            ensure_ascii=False,
        ).encode("utf-8")
    ).hexdigest()
    return PreparedIssue(
        slug=slug,
        subject=issue["subject"],
        preheader=issue["preheader"],
        date=issue["date"],
        source_path=path,
        base_url=config.base_url,
        html=html_skeleton,
        text=text_skeleton,
        templates=tuple(renderer.loaded),
        content_hash=digest,
    )


def render_directly(config: Config, slug: str, subscriber: Subscriber) -> tuple[str, str]:
    """(html before CSS inlining, text) rendered with the real values.

    What a naive sender does for every recipient; kept for the benchmark's
    baseline (pass the HTML to `inline_css` to complete it).
    """
    _path, _issue, renderer = _load(config, slug)
    url = unsubscribe_url(config.base_url, subscriber.token)

    def value_for(field: str) -> str:
        return field_values(subscriber, url, (field,))[field]

    return renderer.render("html", value_for, url), renderer.render("text", value_for, url)


def _load(config: Config, slug: str) -> tuple[Path, dict[str, str], _Renderer]:
    path = issue_path(config, slug)
    if not path.is_file():
        raise NotFoundError(
            f"no issue {slug}: {display_path(config, path)} does not exist",
            hint=f"create it with `newsletter issue new {slug}`",
        )
    meta, body = read_issue_file(path, display_path(config, path))
    tokens = markdown.parse(body)
    issue = {**meta, "slug": slug, "date_label": _date_label(meta["date"], slug)}
    return path, issue, _Renderer(config, issue, markdown.to_html(tokens), markdown.to_text(tokens))


class _Renderer:
    """Renders both templates with sentinels and with probes; checks they agree."""

    def __init__(self, config: Config, issue: dict[str, str], html: str, text: str) -> None:
        self.config = config
        self.loaded: dict[str, tuple[str, str]] = {}
        self.sentinels = Sentinels(hashlib.sha256(html.encode()).hexdigest()[:10])
        self.newsletter = {
            "name": config.name,
            "postal_address": config.postal_address,
            "base_url": config.base_url,
            "from_name": config.from_name,
            "from_address": config.from_address,
            "reply_to": config.reply_to or config.from_address,
            "list_id": config.list_id,
        }
        self.issue = issue
        self.envs = {kind: self._environment(kind == "html") for kind in ("html", "text")}
        self.contents = {"html": Markup(html), "text": text}

    def _environment(self, html: bool) -> jinja2.Environment:
        return make_environment(self.config.templates_dir, html=html, loaded=self.loaded)

    def skeletons(self) -> tuple[Skeleton, Skeleton]:
        rendered = {
            kind: self.render(kind, self.sentinels.token, self.sentinels.token(UNSUBSCRIBE_FIELD))
            for kind in ("html", "text")
        }
        self._refuse_branching()
        for style in ("empty", "hostile"):
            self._probe(style, rendered)
        inlined = self._inline(rendered["html"])
        html = self.sentinels.split(inlined)
        if sorted(html.slots) != sorted(self.sentinels.split(rendered["html"]).slots):
            raise TemplateError(
                f"{HTML_TEMPLATE}: a personal field (subscriber.* or unsubscribe_url) is used"
                " inside CSS, where it cannot be filled in per recipient"
            )
        return html, self.sentinels.split(rendered["text"])

    def render(self, kind: str, value_for: Any, unsubscribe: str) -> str:
        name = HTML_TEMPLATE if kind == "html" else TEXT_TEMPLATE
        context = {
            "newsletter": self.newsletter,
            "issue": self.issue,
            "content": self.contents[kind],
            "subscriber": FieldView(value_for),
            "unsubscribe_url": unsubscribe,
        }
        try:
            return self.envs[kind].get_template(name).render(context)
        except jinja2.TemplateNotFound as error:
            raise TemplateError(
                f"template {error.name} not found in {display_path(self.config, self.config.templates_dir)}"
                " or the package defaults"
            ) from None
        except Exception as error:  # a user's template can raise anything
            raise self._located(error, name) from None

    def _located(self, error: Exception, name: str) -> TemplateError:
        where, line, message = describe_error(error, self.loaded, name)
        return TemplateError(f"{display_path(self.config, where)}:{line}: {message}")

    def _refuse_branching(self) -> None:
        for _name, (filename, source) in self.loaded.items():
            lines = branching_lines(self.envs["text"], source)
            if lines:
                raise TemplateError(
                    f"{display_path(self.config, filename)}:{lines[0]}: a template may print"
                    " subscriber fields and unsubscribe_url but not test, loop over or"
                    " filter them (they are filled in after rendering)",
                    hint="see 'Personal fields' in the README",
                )

    def _probe(self, style: str, rendered: dict[str, str]) -> None:
        """Render with real sample values; it must equal filling the sentinel render."""
        values = probe_values(self.sentinels.fields, style)
        for kind in ("html", "text"):
            actual = self.render(
                kind, lambda field: values.get(field, ""), values[UNSUBSCRIBE_FIELD]
            )
            fill = html_values(values) if kind == "html" else values
            if actual != self.sentinels.split(rendered[kind]).fill(fill):
                name = HTML_TEMPLATE if kind == "html" else TEXT_TEMPLATE
                raise TemplateError(
                    f"{name} (or a template it uses) changes or tests a personal field"
                    " (subscriber.* or unsubscribe_url); they can only be printed as they are",
                    hint="see 'Personal fields' in the README",
                )

    @staticmethod
    def _inline(html: str) -> str:
        try:
            return inline_css(html)
        except Exception as error:  # premailer/cssutils/lxml raise many types
            raise TemplateError(f"{HTML_TEMPLATE}: cannot inline the CSS: {error}") from None


def inline_css(html: str) -> str:
    """premailer with settings that keep media queries working and never fetch.

    Imported here: premailer (cssutils, requests) costs ~0.2 s at start-up that
    commands which never render should not pay.
    """
    from premailer import Premailer

    return Premailer(
        html,
        strip_important=False,
        keep_style_tags=False,
        # CSS heights become no attribute: `height: auto` would be the invalid
        # height="auto"; the inlined style keeps the height.
        disable_basic_attributes=["height"],
        allow_network=False,
        disable_validation=True,
        cssutils_logging_level=logging.CRITICAL,
    ).transform()


def _date_label(value: str, slug: str) -> str:
    """'December 2026' (a monthly letter) from the date, or from a YYYY-MM slug."""
    try:
        return date.fromisoformat(value).strftime("%B %Y")
    except ValueError:
        pass
    match = re.fullmatch(r"(\d{4})-(\d{2})", slug)
    if value or not match or not 1 <= int(match[2]) <= 12:
        return value
    return date(int(match[1]), int(match[2]), 1).strftime("%B %Y")
