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
    if ! quietly python3 -m venv "$VENV"; then
        rm -rf "$VENV"
        echo "error: python3 could not create a virtual environment in $VENV" >&2
        echo "hint: on Debian and Ubuntu, install it first: sudo apt-get install python3-venv" >&2
        exit 1
    fi
    quietly "$VENV/bin/pip" install --upgrade pip
fi
quietly "$VENV/bin/pip" install --disable-pip-version-check -e "$ROOT${EXTRAS:+[$EXTRAS]}"
