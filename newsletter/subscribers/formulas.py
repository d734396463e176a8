"""CSV formula injection: cells a spreadsheet would run as a formula, made inert.

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is a
formula to Excel, LibreOffice and Google Sheets (`=HYPERLINK(...)` can send the
row to a stranger's server). As OWASP recommends, `export` writes such a cell
with a leading `'`, which spreadsheets take as "this is text"; `import` removes
exactly that `'` again, so export -> import gives back the same values.

A value that itself starts with apostrophes before such a character gets one
more, so the rule can always be undone: `'=x` is written `''=x`.
"""

from __future__ import annotations

import re

_FORMULA = re.compile(r"'*[=+\-@\t\r]")


def guard_cell(value: str) -> str:
    """The value as a spreadsheet-safe CSV cell."""
    return "'" + value if _FORMULA.match(value) else value


def unguard_cell(cell: str) -> str:
    """Undo `guard_cell`: the value it was given."""
    if cell[:1] == "'" and _FORMULA.match(cell, 1):
        return cell[1:]
    return cell
