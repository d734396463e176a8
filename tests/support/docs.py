"""Reading the README and the manual: their pages, fenced blocks and shell commands.

The convention the docs tests follow is written for people in docs/development.md,
"How these pages are tested".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
README = REPOSITORY / "README.md"
DOCS = REPOSITORY / "docs"

FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
_MARKER = re.compile(r"^<!--\s*docs-test:\s*(?P<words>[^>]*?)\s*-->\s*$", re.MULTILINE)
# Fences that look like a shell but would not be run: refused, so nothing escapes the test.
SHELL_LOOKALIKES = {"bash", "shell", "console", "shell-session", "zsh", "sh-session"}


@dataclass(frozen=True)
class Block:
    page: Path
    language: str
    text: str
    line: int  # of the opening fence, 1-based

    def commands(self) -> list[str]:
        """The block's command lines: `\\` continuations joined, blanks and comments dropped."""
        commands: list[str] = []
        pending = ""
        for raw in self.text.splitlines():
            line = pending + raw
            if line.endswith("\\"):
                pending = line[:-1] + " "
                continue
            pending = ""
            if line.strip() and not line.lstrip().startswith("#"):
                commands.append(line.strip())
        return commands


def pages() -> list[Path]:
    """README.md and every page of the manual, including pages added later."""
    return [README, *sorted(DOCS.rglob("*.md"))]


def page_id(page: Path) -> str:
    return page.relative_to(REPOSITORY).as_posix()


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        indent = match["indent"]
        body = "".join(
            line.removeprefix(indent) for line in match["body"].splitlines(keepends=True)
        )
        language = (match["info"].strip().split() or [""])[0].lower()
        found.append(Block(page, language, body, text.count("\n", 0, match.start()) + 1))
    return found


def fenced(page: Path, language: str) -> list[str]:
    """The text of each of the page's blocks fenced as `language` (e.g. "text": an
    output a page quotes, for a test to compare with the real one)."""
    return [block.text for block in blocks(page) if block.language == language]


def shell_commands(page: Path) -> list[str]:
    return [
        command for block in blocks(page) if block.language == "sh" for command in block.commands()
    ]


def markers(page: Path) -> set[str]:
    """The page's `<!-- docs-test: ... -->` words, e.g. {"start=examples", "relay"}."""
    text = page.read_text(encoding="utf-8")
    return {word for match in _MARKER.finditer(text) for word in match["words"].split()}
