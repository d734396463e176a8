"""Dates in the reader's language, from Babel's CLDR data (never the process locale)."""

from __future__ import annotations

from datetime import date

from babel.dates import format_date

from newsletter.i18n.languages import SOURCE_LANGUAGE


def month_label(day: date, language: str) -> str:
    """'December 2026', 'Rhagfyr 2026': the month an issue is for."""
    try:
        return format_date(day, "LLLL y", locale=language or SOURCE_LANGUAGE)
    except (ValueError, LookupError):
        return format_date(day, "LLLL y", locale=SOURCE_LANGUAGE)


def day_label(day: date, language: str) -> str:
    """'6 December 2026', '6 Rhagfyr 2026': the day an issue was sent."""
    try:
        return format_date(day, "d MMMM y", locale=language or SOURCE_LANGUAGE)
    except (ValueError, LookupError):
        return format_date(day, "d MMMM y", locale=SOURCE_LANGUAGE)
