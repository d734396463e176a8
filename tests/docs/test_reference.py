"""The README is a short front door, and the reference pages keep up with the code:
every command and option in docs/commands.md, every key in docs/configuration.md,
and no page names a command that does not exist."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from newsletter.cli import app
from newsletter.config.loading import _SCHEMA

from support.docs import DOCS, FENCE, README, blocks, page_id, pages

README_MOST_LINES = 250


def test_the_readme_is_a_front_door() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MOST_LINES


def test_the_readmes_first_block_is_the_demo_then_the_test_command() -> None:
    """CI (and a hook) take the test command from here."""
    first = blocks(README)[0]
    assert first.language == "sh"
    assert [command.split("#")[0].strip() for command in first.commands()] == [
        "bash scripts/demo.sh",
        "bash scripts/test.sh",
    ]


def test_every_command_and_option_is_in_the_commands_page() -> None:
    sections = _sections((DOCS / "commands.md").read_text(encoding="utf-8"))
    missing = []
    for path, command in _commands():
        if _is_group(command):
            continue
        title = f"`newsletter {path}`"
        if title not in sections:
            missing.append(title)
            continue
        for option in _options(command):
            if f"`{option}" not in sections[title]:
                missing.append(f"{title} {option}")
    assert not missing, "docs/commands.md lacks: " + ", ".join(missing)


def test_every_configuration_key_is_in_the_configuration_page() -> None:
    sections = _sections((DOCS / "configuration.md").read_text(encoding="utf-8"))
    missing = []
    for section, keys in _SCHEMA.items():
        title = f"`[{section}]`"
        if title not in sections:
            missing.append(title)
            continue
        missing += [f"{section}.{key}" for key in keys if f"| `{key}` |" not in sections[title]]
    assert not missing, "docs/configuration.md lacks: " + ", ".join(missing)


_NAMED = re.compile(r"(?:^|\$ |[/\\`])newsletter ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?")


def test_no_page_names_a_command_that_does_not_exist() -> None:
    known = dict(_commands())
    groups = {path for path, command in known.items() if _is_group(command)}
    wrong = []
    for page in pages():
        for line in _code(page):
            for first, second in _NAMED.findall(line):
                name = f"{first} {second}" if first in groups else first
                if name not in known:
                    wrong.append(f"{page_id(page)}: newsletter {name}")
    assert not wrong


# --- helpers -----------------------------------------------------------------------------


def _commands() -> Iterator[tuple[str, Any]]:
    """(path, click command) for every command and subcommand (typer's own click classes)."""
    root = typer.main.get_command(app)
    for name in root.commands:  # type: ignore[attr-defined]
        command = root.commands[name]  # type: ignore[attr-defined]
        yield name, command
        if _is_group(command):
            for sub in command.commands:
                yield f"{name} {sub}", command.commands[sub]


def _is_group(command: Any) -> bool:
    return hasattr(command, "commands")


def _options(command: Any) -> list[str]:
    """The long option names a reader types (not --help or the shared --project)."""
    return [
        name
        for parameter in command.params
        if parameter.param_type_name == "option"
        for name in (*parameter.opts, *parameter.secondary_opts)
        if name.startswith("--") and name not in ("--help", "--project")
    ]


def _sections(text: str) -> dict[str, str]:
    """Heading text -> the text under it (up to the next heading), fenced blocks left out."""
    found: dict[str, str] = {}
    title = None
    for line in FENCE.sub("", text).splitlines():
        heading = re.match(r"#{1,6} (.+)", line)
        if heading:
            title = heading[1].strip()
            found[title] = ""
        elif title is not None:
            found[title] += line + "\n"
    return found


def _code(page: Path) -> Iterator[str]:
    """Lines of code: every fenced block's lines, and every inline `code span`."""
    text = page.read_text(encoding="utf-8")
    for block in blocks(page):
        yield from block.text.splitlines()
    for span in re.findall(r"`([^`\n]+)`", text):
        yield "`" + span
