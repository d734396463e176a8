"""Changing newsletter.toml for the coordinator: one section's keys, comments kept.

Used by commands that make something the config must name (`dkim keygen`), so
that the next command finds it without a paste. tomlkit keeps the file's
comments, order and layout; the file is replaced whole (a temporary file
renamed over it), so a crash leaves the old file or the new one.
"""

from __future__ import annotations

import os
import shutil
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

from newsletter.config.model import CONFIG_NAME
from newsletter.errors import ConfigError


def update_section(
    project_dir: Path,
    section: str,
    values: Mapping[str, str],
    drop: Iterable[str] = (),
) -> None:
    """Set `values` in [section] (made at the end when missing) and remove `drop`."""
    import tomlkit  # only the commands that edit the file need it

    path = project_dir / CONFIG_NAME
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read {path}: {error}") from None
    document = tomlkit.parse(text)
    table = document.get(section)
    if table is None:
        table = tomlkit.table()
        document.add(tomlkit.nl())
        document.add(section, table)
    for key in drop:
        table.pop(key, None)
    for key, value in values.items():
        table[key] = value
    updated = tomlkit.dumps(document)
    tomllib.loads(updated)  # what we write must read back
    _replace_text(path, updated)


def _replace_text(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_bytes(text.encode("utf-8"))
        shutil.copymode(path, partial)
        os.replace(partial, path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise ConfigError(
            f"cannot write {path}: {error.strerror or error}; it was left as it was"
        ) from None
