"""Fixtures for the subscriber tests: other tools' exports as people download them."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from support.subscribers import EXPORTS, MAILCHIMP_FILES


@pytest.fixture
def mailchimp_zip(tmp_path: Path) -> Path:
    """Mailchimp's audience export ZIP as downloaded: its three CSVs, nothing else."""
    path = tmp_path / "audience_export_4f1e2d3c9b.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in MAILCHIMP_FILES.values():
            archive.write(EXPORTS / "mailchimp" / name, name)
    return path
