"""Issue files -> inlined HTML and real text, prepared once per issue.

`prepare_issue` does all the expensive work exactly once: it reads the front
matter, parses the Markdown, renders `issue.html` and `issue.txt` with
sentinels in place of the personal fields, inlines the CSS with premailer and
splits both parts into skeletons (see `newsletter.issue.personal_fields`). Per recipient,
`PreparedIssue.render` only fills the slots: microseconds, not milliseconds.

A bilingual project (`newsletter.languages = ["cy", "en"]`) has one file per
language (`issues/SLUG.cy.md`, `issues/SLUG.en.md`) and three editions, each
prepared once: one per language, and the bilingual one (every version, first
language first) for readers who made no choice. Per recipient, only the
edition is picked by the reader's language.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from newsletter.config import Config
from newsletter.errors import InputError, NotFoundError, TemplateError
from newsletter.i18n import language_name, translator
from newsletter.i18n.dates import month_label
from newsletter.issue import markdown
from newsletter.issue.editions import EVERY_LANGUAGE, Edition, IssueVersion, PreparedIssue
from newsletter.issue.environment import make_environment
from newsletter.issue.inlining import inline_css_remembered
from newsletter.issue.limits import check_limits
from newsletter.issue.online import (
    OnlineEdition,
    archive_url,
    index_name,
    online_url,
    subscribe_url,
)
from newsletter.issue.personal_fields import (
    UNSUBSCRIBE_FIELD,
    FieldView,
    Sentinels,
    Skeleton,
    field_values,
    html_values,
    probe_values,
)
from newsletter.issue.source import display_path, issue_paths, read_issue_file
from newsletter.issue.template_rules import branching_lines, describe_error
from newsletter.subscribers.model import Subscriber
from newsletter.subscribers.tokens import unsubscribe_url

HTML_TEMPLATE = "issue.html"
TEXT_TEMPLATE = "issue.txt"
TEMPLATES = {  # kind -> (the whole message, one language's version, one language's footer)
    "html": (HTML_TEMPLATE, "version.html", "footer.html"),
    "text": (TEXT_TEMPLATE, "version.txt", "footer.txt"),
    "online": (HTML_TEMPLATE, "version.html", "archive/footer.html"),  # the archive's page
}


def prepare_issue(config: Config, slug: str) -> PreparedIssue:
    """Read, parse, render and inline one issue: the once-per-issue work, per edition."""
    versions, missing = _load_versions(config, slug)
    renderer = _Renderer(config, versions)
    kinds: dict[str, tuple[IssueVersion, ...]] = {}
    if config.bilingual:
        kinds.update((version.lang, (version,)) for version in versions)
    if not missing:
        kinds[EVERY_LANGUAGE] = versions
    editions = {key: renderer.edition(key, chosen) for key, chosen in kinds.items()}
    online = {key: renderer.online(key, chosen) for key, chosen in kinds.items()}
    digest = hashlib.sha256(
        json.dumps(
            [
                [version.path.read_text(encoding="utf-8") for version in versions],
                sorted((name, source) for name, (_file, source) in renderer.loaded.items()),
                [(key, e.html.shape(), e.text.shape()) for key, e in editions.items()],
            ],
            ensure_ascii=False,
        ).encode("utf-8")
    ).hexdigest()
    return PreparedIssue(
        slug=slug,
        editions=editions,
        versions=versions,
        missing=missing,
        templates=tuple(renderer.loaded),
        content_hash=digest,
        online=online,
    )


def render_directly(config: Config, slug: str, subscriber: Subscriber) -> tuple[str, str]:
    """(html before CSS inlining, text) rendered with the real values.

    What a naive sender does for every recipient; kept for the benchmark's
    baseline (pass the HTML to `inlining.inline_css` to complete it).
    """
    versions, _missing = _load_versions(config, slug)
    renderer = _Renderer(config, versions)
    url = unsubscribe_url(config.base_url, subscriber.token)
    chosen = tuple(v for v in versions if v.lang == subscriber.language) or versions
    key = chosen[0].lang if len(chosen) == 1 and config.bilingual else EVERY_LANGUAGE

    def value_for(field: str) -> str:
        return field_values(subscriber, url, (field,))[field]

    return (
        renderer.render("html", value_for, url, chosen, key),
        renderer.render("text", value_for, url, chosen, key),
    )


def _load_versions(config: Config, slug: str) -> tuple[tuple[IssueVersion, ...], tuple[str, ...]]:
    """The language files that exist, and the languages without one (at least one must exist)."""
    paths = issue_paths(config, slug)
    found = {language: path for language, path in paths.items() if path.is_file()}
    if not found:
        shown = " and ".join(display_path(config, path) for path in paths.values())
        raise NotFoundError(
            f"no issue {slug}: {shown} {'does' if len(paths) == 1 else 'do'} not exist",
            hint=f"create it with `newsletter issue new {slug}`",
        )
    versions = tuple(_load(config, slug, language, path) for language, path in found.items())
    return _fill_missing_subjects(versions), tuple(lang for lang in paths if lang not in found)


def _load(config: Config, slug: str, language: str, path: Path) -> IssueVersion:
    meta, body = read_issue_file(
        path, display_path(config, path), require_subject=not config.bilingual
    )
    tokens = markdown.parse(body)
    html = markdown.to_html(tokens)
    check_limits(display_path(config, path), tokens, html)
    issue = {**meta, "slug": slug, "date_label": _date_label(meta["date"], slug, language)}
    return IssueVersion(language, path, issue, html, markdown.to_text(tokens))


def _fill_missing_subjects(versions: tuple[IssueVersion, ...]) -> tuple[IssueVersion, ...]:
    """A version without a subject borrows another's (`check` warns about it)."""
    subjects = [version.issue["subject"] for version in versions if version.issue["subject"]]
    if not subjects:
        raise InputError(
            f"{versions[0].path.name}: the front matter has no subject",
            hint="add a line 'subject: ...' between the '---' lines",
        )
    return tuple(
        version
        if version.issue["subject"]
        else replace(version, issue={**version.issue, "subject": subjects[0]}, has_subject=False)
        for version in versions
    )


class _Renderer:
    """Renders the templates with sentinels and with probes; checks they agree."""

    def __init__(self, config: Config, versions: tuple[IssueVersion, ...]) -> None:
        self.config = config
        self.versions = versions
        self.loaded: dict[str, tuple[str, str]] = {}
        nonce = hashlib.sha256("".join(v.html for v in versions).encode()).hexdigest()[:10]
        self.sentinels = Sentinels(nonce)
        self.envs = {kind: self._environment(kind == "html") for kind in ("html", "text")}
        self.envs["online"] = self.envs["html"]

    def _environment(self, html: bool) -> jinja2.Environment:
        return make_environment(self.config.templates_dir, html=html, loaded=self.loaded)

    def _newsletter(self, language: str) -> dict[str, str]:
        config = self.config
        return {
            "name": config.text("name", language),
            "postal_address": config.text("postal_address", language),
            "footer": config.text("footer", language),
            "base_url": config.base_url,
            "from_name": config.from_name,
            "from_address": config.from_address,
            "reply_to": config.reply_to or config.from_address,
            "list_id": config.list_id,
        }

    def edition(self, key: str, versions: tuple[IssueVersion, ...]) -> Edition:
        html, text = self.skeletons(key, versions)
        return Edition(
            key=key,
            languages=tuple(version.lang for version in versions),
            subject=_joined(version.issue["subject"] for version in versions),
            preheader=_joined(version.issue["preheader"] for version in versions),
            base_url=self.config.base_url,
            html=html,
            text=text,
        )

    def online(self, key: str, versions: tuple[IssueVersion, ...]) -> OnlineEdition:
        """The public copy: every personal field empty, the sign-up form where the
        unsubscribe link was (the default archive footer has neither)."""
        html = self.render(
            "online", lambda _field: "", subscribe_url(self.config.base_url), versions, key
        )
        return OnlineEdition(
            key=key,
            languages=tuple(version.lang for version in versions),
            subject=_joined(version.issue["subject"] for version in versions),
            preheader=_joined(version.issue["preheader"] for version in versions),
            html=html,
            content="\n<hr>\n".join(
                f'<div lang="{version.lang}">\n{version.html}</div>' for version in versions
            ),
        )

    def skeletons(self, key: str, versions: tuple[IssueVersion, ...]) -> tuple[Skeleton, Skeleton]:
        token = self.sentinels.token
        rendered = {
            kind: self.render(kind, token, token(UNSUBSCRIBE_FIELD), versions, key)
            for kind in ("html", "text")
        }
        self._refuse_branching()
        for style in ("empty", "hostile"):
            self._probe(style, rendered, versions, key)
        inlined = self._inline(rendered["html"])
        html = self.sentinels.split(inlined)
        if sorted(html.slots) != sorted(self.sentinels.split(rendered["html"]).slots):
            raise TemplateError(
                f"{HTML_TEMPLATE}: a personal field (subscriber.* or unsubscribe_url) is used"
                " inside CSS, where it cannot be filled in per recipient"
            )
        return html, self.sentinels.split(rendered["text"])

    def render(
        self,
        kind: str,
        value_for: Any,
        unsubscribe: str,
        versions: tuple[IssueVersion, ...],
        key: str,
    ) -> str:
        """One edition's part: each version (and its footer) in its language, then the frame.

        `key` names the edition, for its "read online" link (`online_url`).
        """
        frame, _version, _footer = TEMPLATES[kind]
        base_url = self.config.base_url
        common = {
            "subscriber": FieldView(value_for),
            "unsubscribe_url": unsubscribe,
            "online_url": online_url(base_url, versions[0].issue["slug"], key),
            "subscribe_url": subscribe_url(base_url),
        }
        parts = [self._version(kind, version, versions, common) for version in versions]
        first = versions[0]
        context = {
            **common,
            "lang": first.lang,
            "languages": [version.lang for version in versions],
            "subject": _joined(version.issue["subject"] for version in versions),
            "preheader": _joined(version.issue["preheader"] for version in versions),
            "newsletter": self._newsletter(first.lang),
            "issue": first.issue,
            "content": parts[0]["content"],
            "versions": parts,
            "mastheads": _distinct(
                parts, lambda part: (part["newsletter"]["name"], part["issue"]["date_label"])
            ),
        }
        return self._render_template(frame, kind, context)

    def _version(
        self,
        kind: str,
        version: IssueVersion,
        versions: tuple[IssueVersion, ...],
        common: dict[str, Any],
    ) -> dict[str, Any]:
        """One language's version and footer, rendered with `lang` set to it."""
        _frame, body_template, footer_template = TEMPLATES[kind]
        wrap = str if kind == "text" else Markup
        index = index_name(version.lang if self.config.bilingual else EVERY_LANGUAGE)
        context = {
            **common,
            "lang": version.lang,
            "newsletter": self._newsletter(version.lang),
            "issue": version.issue,
            "content": wrap(version.text if kind == "text" else version.html),
            # the archive in this language: relative on the archive's own pages
            "archive_url": index if kind == "online" else archive_url(self.config.base_url) + index,
            "other_versions": [
                _link_to(other, version, after=index > versions.index(version))
                for index, other in enumerate(versions)
                if other is not version
            ],
        }
        return {
            "lang": version.lang,
            "anchor": version.lang,
            "newsletter": context["newsletter"],
            "issue": version.issue,
            "content": context["content"],
            "body": wrap(self._render_template(body_template, kind, context)),
            "footer": wrap(self._render_template(footer_template, kind, context)),
        }

    def _render_template(self, name: str, kind: str, context: dict[str, Any]) -> str:
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
                    hint="see 'Personal fields' in the manual, docs/issues.md",
                )

    def _probe(
        self, style: str, rendered: dict[str, str], versions: tuple[IssueVersion, ...], key: str
    ) -> None:
        """Render with real sample values; it must equal filling the sentinel render."""
        values = probe_values(self.sentinels.fields, style)
        for kind in ("html", "text"):
            actual = self.render(
                kind, lambda field: values.get(field, ""), values[UNSUBSCRIBE_FIELD], versions, key
            )
            fill = html_values(values) if kind == "html" else values
            if actual != self.sentinels.split(rendered[kind]).fill(fill):
                name = HTML_TEMPLATE if kind == "html" else TEXT_TEMPLATE
                raise TemplateError(
                    f"{name} (or a template it uses) changes or tests a personal field"
                    " (subscriber.* or unsubscribe_url); they can only be printed as they are",
                    hint="see 'Personal fields' in the manual, docs/issues.md",
                )

    def _inline(self, html: str) -> str:
        try:
            return inline_css_remembered(html, self.config.build_dir)
        except Exception as error:  # premailer/cssutils/lxml raise many types
            raise TemplateError(f"{HTML_TEMPLATE}: cannot inline the CSS: {error}") from None


def _link_to(version: IssueVersion, here: IssueVersion, *, after: bool) -> dict[str, Any]:
    """What leads to `version` from `here`, another language's version of the message.

    The HTML link is said in `version`'s own language (it is marked with its lang,
    cy "Darllen yn Gymraeg"); the text part's "below" line is said in both, each
    naming the language in its own words: "Saesneg isod / English below"."""
    translate = translator(version.lang)
    below = [
        translator(lang).gettext("%(language)s below")
        % {"language": language_name(version.lang, lang)}
        for lang in (here.lang, version.lang)
    ]
    return {
        "lang": version.lang,
        "anchor": version.lang,
        "after": after,  # `version` comes later in the message
        "read_label": translate.pgettext("link to this language's version", "Read in English"),
        "below_label": " / ".join(dict.fromkeys(below)),
    }


def _joined(texts: Any, separator: str = " / ") -> str:
    """Every distinct non-empty text, in order: the subject of a bilingual message."""
    return separator.join(dict.fromkeys(text for text in texts if text))


def _distinct(parts: list[dict[str, Any]], key: Any) -> list[dict[str, Any]]:
    first: dict[Any, dict[str, Any]] = {}
    for part in parts:
        first.setdefault(key(part), part)
    return list(first.values())


def _date_label(value: str, slug: str, language: str) -> str:
    """'Rhagfyr 2026' / 'December 2026' (a monthly letter) from the date, or a YYYY-MM slug."""
    try:
        return month_label(date.fromisoformat(value), language)
    except ValueError:
        pass
    match = re.fullmatch(r"(\d{4})-(\d{2})", slug)
    if value or not match or not 1 <= int(match[2]) <= 12:
        return value
    return month_label(date(int(match[1]), int(match[2]), 1), language)
