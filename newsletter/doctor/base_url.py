"""Does base_url answer over https? Every unsubscribe link and one-click POST goes there.

TLS is verified against the system's trusted certificates (Python's default
context, which also honours SSL_CERT_FILE and SSL_CERT_DIR)."""

from __future__ import annotations

import socket
import ssl
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from newsletter.doctor.findings import Finding, ok, problem

TOPIC = "base_url"
TIMEOUT = 10.0


def check_base_url(base_url: str, timeout: float = TIMEOUT) -> list[Finding]:
    if urlsplit(base_url).scheme != "https":
        return [
            problem(
                TOPIC,
                f"{base_url} is not https: mailbox providers and readers need https links",
                "put a TLS proxy in front of `newsletter serve` and set base_url to https://...",
            )
        ]
    url = f"{base_url}/healthz"
    context = ssl.create_default_context()
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=context), _NoRedirect()
    )
    try:
        with opener.open(urllib.request.Request(url, method="GET"), timeout=timeout) as answer:
            status, body = answer.status, answer.read(64)
    except urllib.error.HTTPError as error:
        status, body = error.code, b""
    except (urllib.error.URLError, OSError, ValueError) as error:
        return [problem(TOPIC, f"{url}: {_reason(error)}", _fix_for(error))]
    if status != 200 or body.strip() != b"ok":
        return [
            problem(
                TOPIC,
                f"{url} answered {status}, not newsletter's health check",
                "point the proxy at `newsletter serve` (it answers /healthz with ok)",
            )
        ]
    return [ok(TOPIC, f"{url} answers ok over verified https")]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is reported, not followed: one-click POSTs must not be redirected."""

    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        return None


def _reason(error: Exception) -> str:
    reason = getattr(error, "reason", error)
    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"its certificate cannot be verified ({reason.verify_message})"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, TimeoutError):
        return "no answer in time"
    if isinstance(reason, socket.gaierror):
        return "its host name is not found in DNS"
    return str(reason)


def _fix_for(error: Exception) -> str:
    if isinstance(getattr(error, "reason", error), ssl.SSLError):
        return "give the proxy a certificate from a public CA (e.g. Caddy's automatic one)"
    return "start `newsletter serve` behind your https proxy, and check base_url"
