#!/usr/bin/env bash
# The whole monthly flow on the example project, with the embedded defaults
# (no mail server: messages go into the outbox Maildir):
#   import the members, check and preview the issue, send it, show the status,
#   list the outbox.
# Safe to run twice: the import changes nothing and the second send sends nothing.
#
#   bash scripts/demo.sh [PROJECT_DIR]      # default: examples/
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${NEWSLETTER_VENV:-$ROOT/.venv}"
PROJECT="${1:-$ROOT/examples}"
SLUG=2026-12

[ -x "$VENV/bin/newsletter" ] || bash "$ROOT/scripts/setup.sh"

run() {
    echo
    echo "\$ newsletter $* --project $PROJECT"
    "$VENV/bin/newsletter" "$@" --project "$PROJECT"
}

run subscribers import "$PROJECT/members.csv"
run issue check "$SLUG"
run issue preview "$SLUG"
run send "$SLUG" --yes
run status "$SLUG"

OUTBOX="$PROJECT/outbox"
echo
echo "outbox: $(find "$OUTBOX/new" -type f | wc -l) messages in $OUTBOX (a Maildir; open it with"
echo "a mail client, e.g. \`mutt -f $OUTBOX\`). The first three:"
find "$OUTBOX/new" -type f | sort | head -n 3 | while read -r message; do
    echo "  $message"
    grep -m 2 -E '^(To|Subject):' "$message" | sed 's/^/    /'
done
