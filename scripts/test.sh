#!/usr/bin/env bash
# The test command: installs what the tests need (Debian's chromium for the
# browser tests when missing and we are root), then lint, the import contract,
# the types (mypy) and the whole suite.
# the manual (a broken link or anchor fails it) and the whole suite.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
bash "$ROOT/scripts/setup.sh" test
VENV="${NEWSLETTER_VENV:-$ROOT/.venv}"
cd "$ROOT"
"$VENV/bin/ruff" check newsletter tests benchmarks
"$VENV/bin/ruff" format --check newsletter tests benchmarks
"$VENV/bin/lint-imports"  # the one-way layers of pyproject.toml [tool.importlinter]
"$VENV/bin/mypy"  # pyproject.toml [tool.mypy]: strict on archive, db, history, sending, subscribers
# not --quiet: it would hide the warnings that --strict turns into a failure
NO_MKDOCS_2_WARNING=1 "$VENV/bin/mkdocs" build --strict --site-dir "$ROOT/site"
"$VENV/bin/python" -m pytest "$@"
