"""Debian's chromium, as every browser test here starts it.

The flags keep a headless chromium from reaching for the network (this machine
has none) and from needing a sandbox as root. Tests are skipped only when the
binary is missing; `.ci/run` installs it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Set to a folder to keep the screenshots and look at them.
SCREENSHOTS_ENV = "NEWSLETTER_SCREENSHOTS"

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium"
)
