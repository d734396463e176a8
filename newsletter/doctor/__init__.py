"""`newsletter doctor`: what stands between this project and the inbox.

One check family per module, each returning findings (ok / warning / problem,
with what to do): the config, the relay login, the DKIM key against DNS, SPF of
the envelope domain, DMARC of the From domain and alignment, a mail host for
the bounce address, base_url over https. DNS goes through dnspython, and is
read only once the resolver shows it can answer at all (doctor/resolver.py).
"""

from __future__ import annotations

from pathlib import Path

from newsletter.config import load_config
from newsletter.doctor.base_url import check_base_url
from newsletter.doctor.dkim_record import check_dkim
from newsletter.doctor.dmarc import check_dmarc
from newsletter.doctor.dns import make_dns
from newsletter.doctor.findings import Finding, Level, ok, problem
from newsletter.doctor.mail_host import check_mail_host
from newsletter.doctor.relay import check_relay
from newsletter.doctor.resolver import check_resolver
from newsletter.doctor.spf import check_spf
from newsletter.errors import ConfigError

__all__ = ["Finding", "Level", "run_doctor"]


def run_doctor(project_dir: Path, nameserver: str | None = None) -> list[Finding]:
    """Every check, in the order a coordinator would fix things."""
    try:
        config = load_config(project_dir)
    except ConfigError as error:
        return [problem("config", error.message, error.hint or "fix newsletter.toml")]
    dns = make_dns(nameserver)
    envelope = config.return_address
    envelope_domain = envelope.rpartition("@")[2].encode("idna").decode("ascii")
    sender_domain = config.sender_domain.encode("idna").decode("ascii")
    blind = check_resolver(dns, sender_domain)
    return [
        ok("config", "newsletter.toml is valid"),
        *check_relay(config),
        *(
            blind
            or [
                *check_dkim(config, dns),
                *check_spf(dns, envelope_domain),
                *check_dmarc(config, dns, envelope_domain),
                *check_mail_host(dns, envelope),
            ]
        ),
        *check_base_url(config.base_url),
    ]
