"""One line of the doctor's report: what was checked, how it stands, what to do."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Level(StrEnum):
    OK = "ok"
    WARNING = "warning"
    PROBLEM = "problem"


@dataclass(frozen=True)
class Finding:
    level: Level
    topic: str  # "config", "relay", "DKIM", "SPF", "DMARC", "alignment", "bounces", "base_url"
    message: str
    action: str | None = None  # what to do; None when nothing needs doing


def ok(topic: str, message: str) -> Finding:
    return Finding(Level.OK, topic, message)


def warning(topic: str, message: str, action: str) -> Finding:
    return Finding(Level.WARNING, topic, message, action)


def problem(topic: str, message: str, action: str) -> Finding:
    return Finding(Level.PROBLEM, topic, message, action)
