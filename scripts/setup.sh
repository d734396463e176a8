#!/usr/bin/env bash
# Create .venv (once) and install the project into it. Sourced by the others.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${NEWSLETTER_VENV:-$ROOT/.venv}"
EXTRAS="${1:-}"
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT
# pip's chatter goes to a log that is shown only when something fails.
quietly() { "$@" >"$LOG" 2>&1 || { cat "$LOG" >&2; return 1; }; }
if [ ! -x "$VENV/bin/python" ]; then
    echo "creating $VENV and installing newsletter into it..."
    python3 -m venv "$VENV"
    quietly "$VENV/bin/pip" install --upgrade pip
fi
quietly "$VENV/bin/pip" install --disable-pip-version-check -e "$ROOT${EXTRAS:+[$EXTRAS]}"
