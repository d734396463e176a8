"""What an import did (or, with dry_run, would do): counts, line numbers, what was dropped."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# In display order; "unsubscribed" and "bounced" are rows this import marks as gone
# (new people who left the other tool, or people active here until now), "suppressed"
# those who had left already and whom the file would have made active.
OUTCOMES = (
    "added", "updated", "unchanged", "unsubscribed", "bounced", "resubscribed",
    "suppressed", "duplicates",
)  # fmt: skip
LINES_SHOWN = 5  # line numbers kept per outcome: enough to look at each kind of row
NAMES_SHOWN = 20  # people named who were active here and left by this import


def short_name(name: str) -> str:
    """A file inside a ZIP, briefly: `cleaned_members_export_4f1e.csv` -> `cleaned`."""
    stem = name.rsplit(".", 1)[0]
    return stem.split("_", 1)[0] if "_" in stem else stem[:20]


@dataclass(frozen=True)
class Reject:
    line: int
    reason: str
    file: str = ""  # the file inside a ZIP; '' for the file named on the command line

    @property
    def where(self) -> str:
        return f"{self.file} line {self.line}" if self.file else f"line {self.line}"


@dataclass(frozen=True)
class FileRead:
    """One CSV of the import (the file itself, or one inside a ZIP)."""

    name: str
    encoding: str
    delimiter: str
    format_name: str  # "a Mailchimp export (cleaned members)", "a spreadsheet"


@dataclass
class ImportReport:
    """Counts per outcome, with the first line numbers of each, and every reject and note."""

    path: Path
    dry_run: bool
    files: list[FileRead] = field(default_factory=list)
    attributes: list[str] = field(default_factory=list)  # attribute keys made from extra columns
    dropped: list[str] = field(default_factory=list)  # columns not stored, as the files name them
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    unsubscribed: int = 0
    bounced: int = 0
    resubscribed: int = 0  # people who had left, active again (only with resubscribe)
    suppressed: int = 0  # people who left earlier: not made active, nothing changed
    duplicates: int = 0  # rows for an address already seen earlier in the import, merged
    lines: dict[str, list[str]] = field(default_factory=dict)  # outcome -> first places
    rejects: list[Reject] = field(default_factory=list)
    notes: list[Reject] = field(default_factory=list)  # imported, with something to say
    left_here: list[str] = field(default_factory=list)  # active here, gone by this import
    left_here_count: int = 0

    @property
    def encoding(self) -> str:
        return self.files[0].encoding if self.files else ""

    @property
    def delimiter(self) -> str:
        return self.files[0].delimiter if self.files else ""

    @property
    def rejected(self) -> int:
        return len(self.rejects)

    def counts(self) -> dict[str, int]:
        """Every outcome in display order, rejected last."""
        return {**{name: getattr(self, name) for name in OUTCOMES}, "rejected": self.rejected}

    def count(self, outcome: str, where: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        shown = self.lines.setdefault(outcome, [])
        if len(shown) < LINES_SHOWN:
            shown.append(where)

    def recount(self, counted: str, settled: str, where: str) -> None:
        """A row counted as `counted` turned out, with a later row, to be `settled`."""
        setattr(self, counted, getattr(self, counted) - 1)
        shown = self.lines.get(counted, [])
        if where in shown:
            shown.remove(where)
        self.count(settled, where)

    def note_left_here(self, email: str) -> None:
        self.left_here_count += 1
        if len(self.left_here) < NAMES_SHOWN:
            self.left_here.append(email)

    def add_names(self, attributes: list[str], dropped: tuple[str, ...]) -> None:
        self.attributes.extend(key for key in attributes if key not in self.attributes)
        self.dropped.extend(name for name in dropped if name not in self.dropped)
