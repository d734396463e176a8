"""Every module a comment or docstring names exists: `newsletter.db.journal`,
`newsletter.cli.COMMANDS`, `newsletter/sending/ledger.py`.

A module that moves leaves its old name in prose nobody runs; this finds it.
A name that only looks like a module is left alone: the project's files
(`newsletter.toml`, `newsletter.db`), a DKIM selector's DNS name
(`newsletter._domainkey.example.org`) and the names a template sees under
`newsletter` (`{{ newsletter.name }}`). The journal file is "the journal" in
prose: its file name reads as the module it once was.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import io
import re
import tokenize
from pathlib import Path

import pytest

from newsletter.config.loading import _SCHEMA
from newsletter.config.model import CONFIG_NAME, DATABASE_NAME

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ["newsletter", "tests", "benchmarks", "scripts"]
DOTTED = re.compile(r"(?<![\w./-])newsletter(?:\.[A-Za-z_]\w*)+")
PATH = re.compile(r"(?<![\w./-])newsletter/[\w/]+\.py\b")
FILES = {CONFIG_NAME, DATABASE_NAME}
# what a template sees under `newsletter`: the [newsletter] table, and the
# undefined name template_rules' docstring takes as its example
TEMPLATE_NAMES = {f"newsletter.{key}" for key in _SCHEMA["newsletter"]} | {"newsletter.twitter"}


def prose(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every comment and docstring in a Python file; every
    comment line in a shell script or TOML file."""
    source = path.read_text(encoding="utf-8")
    if path.suffix != ".py":
        return [
            (number, line.split("#", 1)[1])
            for number, line in enumerate(source.splitlines(), 1)
            if "#" in line
        ]
    found = [
        (token.start[0], token.string)
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
    ]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                found.append((first.lineno, first.value.value))
    return found


def scanned_files() -> list[Path]:
    files = [ROOT / "pyproject.toml"]
    for folder in SCANNED:
        files += sorted(p for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".sh"))
    return [p for p in files if "__pycache__" not in p.parts]


@functools.cache
def resolves(dotted: str) -> bool:
    """A module, or a name inside one (`newsletter.cli.COMMANDS`)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module = ".".join(parts[:cut])
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if found:
            value: object = importlib.import_module(module)
            for name in parts[cut:]:
                if not hasattr(value, name):
                    return False
                value = getattr(value, name)
            return True
    return False


def named(text: str) -> set[str]:
    """The module names and paths in `text` that are not there."""
    dotted = {
        name.rstrip(".")
        for name in DOTTED.findall(text)
        if "._domainkey." not in name and name.rstrip(".") not in FILES | TEMPLATE_NAMES
    }
    return {name for name in dotted if not resolves(name)} | {
        path for path in PATH.findall(text) if not (ROOT / path).is_file()
    }


def broken_in(path: Path) -> list[tuple[int, str]]:
    """(line, name) of each module or file named in the file's prose that is not there."""
    if not named(path.read_text(encoding="utf-8")):  # nowhere in the file: no need to parse
        return []
    broken = []
    for line, text in prose(path):
        for dotted in DOTTED.findall(text):
            dotted = dotted.rstrip(".")
            if "._domainkey." in dotted or dotted in FILES or dotted in TEMPLATE_NAMES:
                continue
            if not resolves(dotted):
                broken.append((line, dotted))
        broken += [(line, named) for named in PATH.findall(text) if not (ROOT / named).is_file()]
    return broken


def test_every_module_named_in_comments_and_docstrings_exists() -> None:
    broken = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in scanned_files()
        for line, name in broken_in(path)
    ]
    assert broken == []


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("see newsletter.recovery", ["newsletter.recovery"]),
        ("see newsletter.db.recovery", []),
        ("newsletter.cli.COMMANDS lists them", []),
        ("newsletter.cli.NO_SUCH_NAME", ["newsletter.cli.NO_SUCH_NAME"]),
        ("kept in newsletter.toml and newsletter.db", []),
        ("see newsletter.journal", ["newsletter.journal"]),
        ("TXT at newsletter._domainkey.example.org", []),
        ("{{ newsletter.postal_address }}", []),
        ("moved from newsletter/backup.py", ["newsletter/backup.py"]),
        ("in newsletter/db/backup.py.", []),
    ],
)
def test_the_scan_tells_a_moved_module_from_a_file_or_a_template_name(
    tmp_path: Path, text: str, found: list[str]
) -> None:
    module = tmp_path / "example.py"
    module.write_text(f'"""{text}"""\n\n# and a comment: {text}\n', encoding="utf-8")
    assert [name for _line, name in broken_in(module)] == found * 2
