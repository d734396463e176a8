"""html-validate, as the tests run it (the npm package is installed by a fixture)."""

from __future__ import annotations

import json
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
