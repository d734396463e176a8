"""Static checks on templates, and where in a template an error happened.

Personal fields are filled in after rendering (see `newsletter.issue.personal_fields`), so a
template may print them but not test, loop over or filter them. This module
finds such uses with their line number; the probe renders in `render.py` catch
whatever it cannot see (a macro given a field, a `set` then an `if`).
"""

from __future__ import annotations

import re
import traceback

import jinja2
from jinja2 import nodes

PERSONAL_NAMES = frozenset({"subscriber", "unsubscribe_url"})
HARMLESS_FILTERS = frozenset({"e", "escape", "string"})
# The parts of a node that must not depend on a personal field.
_INSPECTED = {
    nodes.If: lambda n: [n.test],
    nodes.CondExpr: lambda n: [n.test],
    nodes.For: lambda n: [n.iter, n.test],
    nodes.Filter: lambda n: [] if n.name in HARMLESS_FILTERS else [n.node],
}


def branching_lines(env: jinja2.Environment, source: str) -> list[int]:
    """Line numbers where a template tests, loops over or filters a personal field."""
    try:
        tree = env.parse(source)
    except jinja2.TemplateSyntaxError:
        return []  # rendering reports syntax errors with their line
    found: set[int] = set()
    for node in tree.find_all(tuple(_INSPECTED)):
        inspected = _INSPECTED[type(node)](node)
        if any(_personal(part) for part in inspected if part is not None):
            found.add(node.lineno)
    for node in tree.find_all((nodes.Test, nodes.Compare, nodes.And, nodes.Or, nodes.Not)):
        if _personal(node):
            found.add(node.lineno)
    return sorted(found)


def _personal(node: nodes.Node) -> bool:
    if isinstance(node, nodes.Name):
        return node.name in PERSONAL_NAMES
    return any(name.name in PERSONAL_NAMES for name in node.find_all(nodes.Name))


def locate_error(
    error: Exception, loaded: dict[str, tuple[str, str]], fallback: str
) -> tuple[str, int]:
    """(file, line) of a template error: from the syntax error, or from the traceback.

    Jinja rewrites tracebacks so that frames point at template lines; the
    innermost frame in a loaded template is where the error happened.
    """
    if isinstance(error, jinja2.TemplateSyntaxError):
        return error.filename or error.name or fallback, error.lineno
    files = {filename for filename, _source in loaded.values()}
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if frame.filename in files:
            return frame.filename, frame.lineno or 1
    filename = loaded.get(fallback, (fallback, ""))[0]
    return filename, 1


_IS_UNDEFINED = re.compile(r"^'([^']*)' is undefined$")
_NO_MEMBER = re.compile(r"^'?[^']*?'? has no (?:attribute|element) '?([^']*?)'?$")


def describe_error(
    error: Exception, loaded: dict[str, tuple[str, str]], fallback: str
) -> tuple[str, int, str]:
    """(file, line, message) of a template error, in one wording for every kind.

    Jinja words a misspelt name three ways (`'x' is undefined`, `'dict object'
    has no attribute 'x'`, `'<class> object' has no attribute 'x'`); all
    become `undefined name 'issue.x'`, with the dotted name as the line spells it.
    """
    where, line = locate_error(error, loaded, fallback)
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    if match := _IS_UNDEFINED.match(message):
        message = f"undefined name '{match[1]}'"
    elif match := _NO_MEMBER.match(message):
        message = f"undefined name '{_dotted(match[1], _source_line(loaded, where, line))}'"
    return where, line, message


def _source_line(loaded: dict[str, tuple[str, str]], where: str, line: int) -> str:
    for filename, source in loaded.values():
        if filename == where:
            lines = source.splitlines()
            return lines[line - 1] if 0 < line <= len(lines) else ""
    return ""


def _dotted(name: str, line: str) -> str:
    """`twitter` -> `newsletter.twitter` when the line spells it so."""
    found = re.search(rf"([A-Za-z_][\w.]*)\.{re.escape(name)}\b", line)
    return f"{found[1]}.{name}" if found else name
