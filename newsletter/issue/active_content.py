"""Active content in an issue's HTML: scripts, frames, forms, event handlers, script URLs.

Markdown lets raw HTML through, so an issue (or a template) can carry
`<script>`, `<iframe>`, `<form>`, `onerror=` or `href="javascript:..."`. Mail
readers block most of it, spam filters punish all of it, and a preview opened
in a browser would run it. `issue check` reports each as an error, so nothing
with active content is ever sent; previews are written with a policy that
stops a browser from running any script (`PREVIEW_POLICY`).
"""

from __future__ import annotations

import re

import lxml.html

# Elements that run code, load other documents, or collect input.
ACTIVE_ELEMENTS = (
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "form",
    "input", "button", "textarea", "select", "base", "portal",
)  # fmt: skip
URL_ATTRIBUTES = ("href", "src", "action", "formaction", "background", "poster", "data", "srcset")
_SCRIPT_URL = re.compile(r"^\s*(?:javascript|vbscript|livescript)\s*:", re.I)
_DATA_URL = re.compile(r"^\s*data\s*:(?!image/(?:png|gif|jpe?g|webp)[;,])", re.I)
_REFRESH = re.compile(r"^\s*refresh\s*$", re.I)
_CSS_SCRIPT = re.compile(r"expression\s*\(|javascript\s*:|behavior\s*:|-moz-binding", re.I)

# For the preview file only (never the sent message): a browser runs no script,
# no plugin, no frame and submits no form, whatever the HTML holds.
PREVIEW_POLICY = (
    "script-src 'none'; object-src 'none'; frame-src 'none'; child-src 'none';"
    " form-action 'none'; base-uri 'none'"
)


def active_content(html: str) -> list[str]:
    """One line per piece of active content in `html`, in document order."""
    if not html.strip():
        return []
    found: list[str] = []
    for element in lxml.html.document_fromstring(html).iter():
        if not isinstance(element.tag, str):  # comments, processing instructions
            continue
        tag = element.tag.lower()
        if tag in ACTIVE_ELEMENTS:
            found.append(f"{'an' if tag[0] in 'aeiou' else 'a'} <{tag}> element")
        if tag == "meta" and _REFRESH.match(element.get("http-equiv", "")):
            found.append('a <meta http-equiv="refresh"> (it redirects the reader)')
        found.extend(_active_attributes(tag, dict(element.attrib)))
    return list(dict.fromkeys(found))


def _active_attributes(tag: str, attributes: dict[str, str]) -> list[str]:
    found = []
    for name, value in attributes.items():
        name = name.lower()
        if name.startswith("on"):
            found.append(f"an event handler {name}= on <{tag}>")
        elif name in URL_ATTRIBUTES and _SCRIPT_URL.match(value):
            found.append(f'a script URL in <{tag} {name}="{_short(value)}">')
        elif name in URL_ATTRIBUTES and _DATA_URL.match(value):
            found.append(f'a data: URL that is not an image in <{tag} {name}="{_short(value)}">')
        elif name == "style" and _CSS_SCRIPT.search(value):
            found.append(f"script in a style attribute on <{tag}>")
    return found


def _short(value: str, limit: int = 40) -> str:
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1] + "…"


def with_preview_policy(html: str) -> str:
    """`html` with a Content-Security-Policy that a browser enforces on the file.

    The policy must come before any markup it governs: at the top of <head>,
    or right after the doctype when anything else comes before <head>.
    """
    meta = f'<meta http-equiv="Content-Security-Policy" content="{PREVIEW_POLICY}">'
    head = re.search(r"<head\b[^>]*>", html, re.I)
    if head is not None and not re.search(r"<(?!!|html\b)", html[: head.start()], re.I):
        at = head.end()
    else:
        doctype = re.match(r"\s*<!doctype[^>]*>", html, re.I)
        at = doctype.end() if doctype else 0
    return html[:at] + meta + html[at:]
