"""The wheel carries every subpackage and the top-level templates/ that `init` copies."""

from __future__ import annotations

import tomllib
from pathlib import Path

from newsletter.issue.environment import default_templates

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_for_the_wheel() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "newsletter").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert on_disk <= listed, f"add to [tool.setuptools] packages: {sorted(on_disk - listed)}"


def test_the_default_templates_come_from_the_top_level_folder(cli, project: Path) -> None:
    names = {
        path.relative_to(default_templates()).as_posix()
        for path in default_templates().rglob("*.*")
        if "__pycache__" not in path.parts  # Python's own, where it writes bytecode
    }
    assert {"base.html", "issue.html", "issue.txt", "web/unsubscribe.html"} <= names
    copied = {
        path.relative_to(project / "templates").as_posix()
        for path in (project / "templates").rglob("*.*")
    }
    assert copied == names - {"__init__.py"}
