"""Helpers for the subscriber tests: hostile CSV files and looks into the real database."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from newsletter.project import init_project, open_project
from newsletter.subscribers.store import Store


def write_csv(
    directory: Path, text: str, name: str = "members.csv", encoding: str = "utf-8"
) -> Path:
    """Write `text` byte for byte (no newline translation) in `encoding`."""
    path = directory / name
    path.write_bytes(text.encode(encoding))
    return path


def table(project: Path, name: str) -> list[dict]:
    """Every row of a table, read with a plain sqlite3 connection (not the code under test)."""
    conn = sqlite3.connect(project / "newsletter.db")
    conn.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in conn.execute(f"SELECT * FROM {name} ORDER BY rowid")]
    finally:
        conn.close()


def snapshot(project: Path) -> dict[str, list[dict]]:
    """The whole state an import may touch, for 'nothing changed' assertions."""
    return {name: table(project, name) for name in ("subscribers", "events", "suppressions")}


def by_email(project: Path) -> dict[str, dict]:
    return {row["email"]: row for row in table(project, "subscribers")}


def one_error_line(result) -> str:  # noqa: ANN001 - click's Result
    """The CLI's single `error:` line; fails the test on a traceback or extra lines."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, lines
    return errors[0]


@contextmanager
def fresh_store() -> Iterator[tuple[Path, Store]]:
    """A throwaway project for hypothesis examples (function fixtures are shared across them)."""
    with tempfile.TemporaryDirectory(prefix="newsletter-test-") as tmp:
        project = Path(tmp) / "project"
        init_project(project, name="Co-pro Newsletter")
        with open_project(project) as (_config, store):
            yield project, store


# Other tools' exports, written from their documented columns (docs/moving-in.md
# says where each came from).
EXPORTS = Path(__file__).resolve().parents[1] / "subscribers" / "exports"
MAILCHIMP_FILES = {
    "subscribed": "subscribed_members_export_4f1e2d3c9b.csv",
    "unsubscribed": "unsubscribed_members_export_4f1e2d3c9b.csv",
    "cleaned": "cleaned_members_export_4f1e2d3c9b.csv",
}


def moving_in_downloads(folder: Path) -> None:
    """What docs/moving-in.md's coordinator has in ~/Downloads: Mailchimp's ZIP and its
    CSVs, the other tools' exports, and a list of people who left the old list."""
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / "audience_export_4f1e2d3c9b.zip", "w") as archive:
        for name in MAILCHIMP_FILES.values():
            archive.write(EXPORTS / "mailchimp" / name, name)
    for path in [*(EXPORTS / "mailchimp").iterdir(), *EXPORTS.glob("*.csv")]:
        shutil.copy(path, folder / path.name)
    leavers = "Email\nllyr@example.org\nhuw@example.org\nsomeone.else@example.org\n"
    (folder / "left-the-old-list.csv").write_text(leavers, encoding="utf-8")


def database_bytes(project: Path) -> bytes:
    """Every byte SQLite keeps for the project: the database, its WAL, and any backup."""
    files = [project / f"newsletter.db{suffix}" for suffix in ("", "-wal", "-shm")]
    files += sorted((project / "backups").glob("*")) if (project / "backups").exists() else []
    return b"".join(path.read_bytes() for path in files if path.is_file())


def statuses(project: Path) -> dict[str, tuple[str, str | None]]:
    """email -> (status, unsubscribed_at), read with plain sqlite3."""
    return {
        row["email"]: (row["status"], row["unsubscribed_at"])
        for row in table(project, "subscribers")
    }
