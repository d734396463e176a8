"""CSS inlining with premailer, remembered from one command to the next.

`issue preview`, `send --test-to` and `send` inline the very same rendered
HTML, and premailer costs each of them ~0.3 s (loading it, with cssutils and
requests, then running it). Its result depends only on that HTML, the settings
below and the installed premailer and cssutils, so it is kept in
`build/.inlined/`, named by a hash of all of them, and read back by the next
command. Only a few are kept; a copy that cannot be read or written is simply
made again.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
from functools import cache
from pathlib import Path

KEEP = 8  # results kept: the issues in hand, and their languages
FOLDER = ".inlined"  # inside build/ (no issue name starts with a dot)
SETTINGS = {
    "strip_important": False,
    "keep_style_tags": False,
    # No CSS property becomes an HTML attribute: premailer would put bgcolor on
    # links and code, width on <body> and align on <th> (invalid HTML, and
    # height="auto" an invalid value). The attributes Outlook needs on the layout
    # tables are written in base.html itself; the inlined styles do the rest.
    "disable_basic_attributes": ["height", "width", "bgcolor", "align", "valign"],
    "allow_network": False,
    "disable_validation": True,
    "cssutils_logging_level": logging.CRITICAL,
}


def inline_css(html: str) -> str:
    """premailer with settings that keep media queries working and never fetch.

    Imported here: premailer (cssutils, requests) costs ~0.2 s at start-up that
    commands which never render should not pay.
    """
    from premailer import Premailer

    return Premailer(html, **SETTINGS).transform()


def inline_css_remembered(html: str, build_dir: Path) -> str:
    """`inline_css(html)`, read from build/.inlined/ when an earlier command made it."""
    folder = build_dir / FOLDER
    path = folder / f"{_key(html)}.html"
    with contextlib.suppress(OSError, UnicodeDecodeError):
        inlined = path.read_text(encoding="utf-8")
        os.utime(path)  # recently used: pruned last
        return inlined
    inlined = inline_css(html)
    with contextlib.suppress(OSError):
        _keep(folder, path, inlined)
    return inlined


def _key(html: str) -> str:
    digest = hashlib.sha256(repr(sorted(SETTINGS.items())).encode())
    for package in ("premailer", "cssutils"):
        digest.update(_installed(package).encode())
    digest.update(html.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


@cache
def _installed(package: str) -> str:
    """Which copy of `package` is installed (found, not imported): a new version is
    new files, with new sizes and times. Read once per process, not per edition."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return f"{package}: missing"
    folder = Path(spec.origin).parent
    stats = [entry.stat() for entry in os.scandir(folder) if entry.name.endswith(".py")]
    return f"{folder}:" + ",".join(sorted(f"{s.st_size}.{s.st_mtime_ns}" for s in stats))


def _keep(folder: Path, path: Path, inlined: str) -> None:
    """Written whole under a temporary name, then renamed; the oldest beyond KEEP go."""
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        partial.write_text(inlined, encoding="utf-8")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    kept = sorted(folder.glob("*.html"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for old in kept[KEEP:]:
        old.unlink(missing_ok=True)
