"""The Jinja environment: the project's templates first, the package's second.

Strict about undefined names, so a typo is an error at preview time and never
a blank in a sent message.
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from newsletter.project import package_templates


def make_environment(project_templates: Path | None, *, html: bool = True) -> jinja2.Environment:
    """An environment that loads project overrides, then package defaults.

    html=True escapes every substituted value (HTML pages and email HTML);
    html=False is for the plain-text part.
    """
    loaders: list[jinja2.BaseLoader] = []
    if project_templates is not None and project_templates.is_dir():
        loaders.append(jinja2.FileSystemLoader(str(project_templates)))
    loaders.append(jinja2.FileSystemLoader(str(package_templates())))
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
