"""The Jinja environment: the project's templates first, the package's second.

Strict about undefined names, so a typo is an error at preview time and never
a blank in a sent message.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from newsletter.i18n import install, text_direction

TEMPLATES_PACKAGE = "newsletter.templates"  # the repository's templates/, packaged into the wheel


def default_templates() -> Path:
    """The folder of the default templates (mail and web) shipped with the package."""
    return Path(str(resources.files(TEMPLATES_PACKAGE)))


Loaded = dict[str, tuple[str, str]]  # template name -> (file it came from, source)


def make_environment(
    project_templates: Path | None, *, html: bool = True, loaded: Loaded | None = None
) -> jinja2.Environment:
    """An environment that loads project overrides, then package defaults.

    html=True escapes every substituted value (HTML pages and email HTML);
    html=False is for the plain-text part. Interface strings come from the
    gettext catalogs, in the language named by the template's `lang`; `lang | direction`
    is its writing direction. `loaded`, when given, records every
    template read, so an error can be traced to its file and line
    (`template_rules.locate_error`).
    """
    loaders: list[jinja2.BaseLoader] = []
    if project_templates is not None and project_templates.is_dir():
        loaders.append(jinja2.FileSystemLoader(str(project_templates)))
    loaders.append(jinja2.FileSystemLoader(str(default_templates())))
    loader: jinja2.BaseLoader = jinja2.ChoiceLoader(loaders)
    if loaded is not None:
        loader = _RecordingLoader(loader, loaded)
    env = jinja2.Environment(
        loader=loader,
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    install(env)  # {% trans %} and _() speak the template's `lang`
    env.filters["direction"] = text_direction  # dir="{{ lang | direction }}": ltr or rtl
    return env


class _RecordingLoader(jinja2.BaseLoader):
    """Wraps a loader and remembers what it loaded, and from which file."""

    def __init__(self, inner: jinja2.BaseLoader, loaded: Loaded) -> None:
        self.inner = inner
        self.loaded = loaded

    def get_source(self, environment: jinja2.Environment, template: str) -> Any:
        source, filename, uptodate = self.inner.get_source(environment, template)
        self.loaded[template] = (filename or template, source)
        return source, filename, uptodate
