"""The relay login, exactly as `send --dry-run` checks it (connect, TLS, AUTH, QUIT)."""

from __future__ import annotations

from newsletter.config import Config
from newsletter.doctor.findings import Finding, ok, problem, warning
from newsletter.errors import NewsletterError
from newsletter.sending.campaign import check_connection
from newsletter.sending.transport import plan_transport

TOPIC = "relay"


def check_relay(config: Config) -> list[Finding]:
    if config.smtp is None:
        return [
            warning(
                TOPIC,
                f"no [smtp] section: messages go to the outbox folder {config.outbox_dir}",
                "add an [smtp] section for your relay to send for real",
            )
        ]
    try:
        return [ok(TOPIC, check_connection(plan_transport(config)))]
    except NewsletterError as error:
        return [problem(TOPIC, error.message, error.hint or "check the [smtp] section")]
